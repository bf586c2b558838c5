"""GRPO through the OpenSOC service with TRL's ``environment_factory``, on a CPU, downloading nothing.

    pip install torch --index-url https://download.pytorch.org/whl/cpu && pip install -e '.[train]'
    python examples/trl_grpo_scratch.py --url http://localhost:8000   # a server you started (opensoc serve)
    python examples/trl_grpo_scratch.py                                # starts one on a free port, stops it after

The model is the one ``opensoc train scratch`` builds, at its tiny size (a byte-level BPE trained on the SFT set and
a randomly initialised Qwen3-shaped decoder of about 100k parameters), so the run takes a minute and shows the
plumbing, not learning: swap in ``AutoModelForCausalLM.from_pretrained(...)`` and its tokenizer for a real model.

How TRL and OpenSOC meet: ``GRPOTrainer`` builds one ``OpenSOCDefenderEnv`` per rollout (with no arguments: the
server is ``$OPENSOC_URL``, the token ``$OPENSOC_API_TOKEN``), calls its ``reset(**row)`` with the dataset row's
columns, so every row carries ``task`` and ``seed`` besides the ``prompt``; ``reset`` returns the alert, which TRL
appends to the prompt. The model answers by calling the environment's one tool, ``submit_triage(action,
cited_log_id, rationale)``, and ``get_reward()`` is the service's verifier-grounded reward (a rollout that never
calls the tool is scored as a format violation). TRL logs it as ``rewards/OpenSOCDefenderEnv/mean``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

INSTALL = ("pip install torch --index-url https://download.pytorch.org/whl/cpu (or the build for your GPU), then "
           "pip install -e '.[train]'")


@contextlib.contextmanager
def served(url: str | None):
    """``url`` as given, or a server started here on a free loopback port (``opensoc serve``) and stopped after."""
    if url:
        yield url
        return
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "opensoc.cli", "serve", "--port", str(port)],
                            env=dict(os.environ, LOG_LEVEL="warning"), stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for the server to answer
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with status {proc.returncode} before answering")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"no server answered at {url} within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running OpenSOC server (default: start one here)")
    parser.add_argument("--task", default="stage1_basic", help="the curriculum task the episodes come from")
    parser.add_argument("--steps", type=int, default=3, help="GRPO optimizer steps")
    parser.add_argument("--out", type=Path, default=Path("runs/trl_grpo_scratch"),
                        help="where the trained model goes (default: runs/trl_grpo_scratch under the current directory)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        from opensoc.tasks.frozen import SFT_PATH
        from opensoc.tasks.seeds import TRAIN_SEEDS_START
        from opensoc.train.scratch_lm import (
            TINY_SHAPE,
            build_model,
            build_tokenizer,
            sft_texts,
        )
        from opensoc.train.trl_env import DEFENDER_INSTRUCTIONS, OpenSOCDefenderEnv
    except ModuleNotFoundError as exc:
        print(f"trl_grpo_scratch.py needs the train extra (missing: {exc.name}): {INSTALL}", file=sys.stderr)
        return 2
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # environment_factory is marked experimental in TRL

    # The model: a tokenizer trained on the SFT set's text and a random tiny decoder (no downloads).
    tokenizer = build_tokenizer(sft_texts(SFT_PATH, limit=40), vocab_size=1500, chat_template="qwen2.5")
    model = build_model(tokenizer, TINY_SHAPE, seed=args.seed)

    # The data: one row per episode. `prompt` is the instructions; `task` and `seed` are what TRL hands to
    # OpenSOCDefenderEnv.reset(**row), which starts that incident on the server and returns its alert. Training seeds
    # start at TRAIN_SEEDS_START, clear of the frozen hold-out's.
    per_step, generations = 2, 2  # prompts per optimizer step, completions sampled per prompt
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": DEFENDER_INSTRUCTIONS}], "task": args.task,
                                  "seed": TRAIN_SEEDS_START + i} for i in range(args.steps * per_step)])

    with served(args.url) as url:
        os.environ["OPENSOC_URL"] = url  # TRL builds each OpenSOCDefenderEnv with no arguments: it reads this
        out = args.out
        config = GRPOConfig(output_dir=str(out), max_steps=args.steps, per_device_train_batch_size=per_step * generations,
                            num_generations=generations, max_completion_length=24, learning_rate=1e-4,
                            logging_steps=1, use_cpu=True, bf16=False, report_to=[], save_strategy="no", seed=args.seed)
        trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=config, train_dataset=dataset,
                              environment_factory=OpenSOCDefenderEnv)
        trainer.train()
        trainer.save_model(str(out))
        logged = [h for h in trainer.state.log_history if "rewards/OpenSOCDefenderEnv/mean" in h]
        for h in logged:
            print(f"step {h['step']}: mean reward from the service {h['rewards/OpenSOCDefenderEnv/mean']:+.3f}")
        print(f"{len(logged)} GRPO steps against {url}; model saved to {out}")
    return 0 if len(logged) == args.steps else 1


if __name__ == "__main__":
    sys.exit(main())
