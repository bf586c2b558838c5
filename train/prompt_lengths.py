"""Token lengths of what each training stage feeds the model, as the trainer renders it, for sizing the stage configs.

``python -m opensoc.train.prompt_lengths --tokenizer Qwen/Qwen2.5-3B-Instruct [--n 1024] [--out FILE]`` renders,
with the tokenizer's own chat template and generation prompt, the prompts of every config in ``train/configs/``
(GRPO stages: the first ``n`` training seeds, the alert in the prompt for ``reward: in_process``; for ``reward:
service``, the attacker and the investigator, the role's instructions with ``reset``'s text appended, as TRL appends
it, and the role's tools in the template; an investigator's tool outputs are part of its completion), the SFT rows (prompt and answer), and, for the attacker, its answer: a ``craft_incident`` call
holding a real incident from each template. TRL's GRPO never truncates a prompt, so these maxima are what
``vllm_max_model_length`` (prompt + completion) and SFT's ``max_length`` (which does truncate) must cover.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

from tqdm import tqdm

from ..env import OpenSOCEnv
from ..generator import TEMPLATES_BY_NAME, generate_from_template
from .config import CONFIG_DIR, StageConfig
from .datasets import GRPO_SEEDS_START, sft_dataset
from .trl_env import (
    ATTACKER_INSTRUCTIONS,
    DEFENDER_INSTRUCTIONS,
    INVESTIGATOR_INSTRUCTIONS,
    OpenSOCAttackerEnv,
    OpenSOCDefenderEnv,
    OpenSOCInvestigatorEnv,
)


def _stats(lengths: list[int]) -> dict:
    """Count, mean, maximum and the 50th, 90th, 95th and 99th percentiles (nearest rank) of ``lengths``."""
    ordered = sorted(lengths)
    rank = {f"p{q}": ordered[max(0, -(-q * len(ordered) // 100) - 1)] for q in (50, 90, 95, 99)}
    return {"n": len(ordered), "mean": round(sum(ordered) / len(ordered), 1), **rank, "max": ordered[-1]}


def _rendered(tokenizer, messages: list[dict], tools: list | None = None, generation_prompt: bool = True) -> int:
    ids = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=generation_prompt, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
        ids = ids["input_ids"]
    return len(ids)


def _tools(env_class) -> list:
    """The role's public methods as TRL passes them to the chat template: bound, so ``self`` is not a parameter."""

    env = object.__new__(env_class)  # no connection: only the methods' signatures and docstrings are read
    names = [n for n, _ in inspect.getmembers(env_class, inspect.isfunction)
             if not n.startswith("_") and n not in ("reset", "get_reward")]
    return [getattr(env, name) for name in names]


def grpo_prompt_lengths(tokenizer, config: StageConfig, n: int) -> list[int]:
    """The rendered prompt length of each of the stage's first ``n`` training rows."""

    seeds = range(GRPO_SEEDS_START, GRPO_SEEDS_START + n)
    mode = "attacker_only" if config.role == "attacker" else "defender_only"
    shown = (OpenSOCEnv().reset(task=config.task, seed=s, mode=mode).prompt for s in seeds)
    if config.reward == "in_process":
        return [_rendered(tokenizer, [{"role": "user", "content": text}]) for text in shown]
    instructions, env_class = {"attacker": (ATTACKER_INSTRUCTIONS, OpenSOCAttackerEnv),
                               "investigator": (INVESTIGATOR_INSTRUCTIONS, OpenSOCInvestigatorEnv),
                               "defender": (DEFENDER_INSTRUCTIONS, OpenSOCDefenderEnv)}[config.role]
    tools = _tools(env_class)
    return [_rendered(tokenizer, [{"role": "user", "content": instructions + "\n\n" + text}], tools) for text in shown]


def sft_row_lengths(tokenizer, limit: int | None = None) -> list[int]:
    """The rendered length of each SFT row, prompt and answer, as SFT's ``max_length`` counts it."""

    return [_rendered(tokenizer, row["prompt"] + row["completion"], generation_prompt=False)
            for row in sft_dataset(limit)]


def attacker_answer_lengths(tokenizer, task: str) -> list[int]:
    """Tokens of a ``craft_incident`` tool call holding a real incident of ``task`` from each template (three seeds
    each), as the model writes it."""

    calls = [json.dumps({"name": "craft_incident", "arguments": {
        "incident_json": generate_from_template(name, seed, task).model_dump_json(exclude_none=True)}})
        for name in TEMPLATES_BY_NAME for seed in range(3)]
    return [len(tokenizer(f"<tool_call>\n{call}\n</tool_call>", add_special_tokens=False)["input_ids"]) for call in calls]


def measure(tokenizer, n: int, configs: list[Path] | None = None, progress=None) -> dict:
    """Per config: the prompt (GRPO) or row (SFT) length statistics, and the attacker's answer lengths."""
    out: dict = {}
    for path in configs or sorted(CONFIG_DIR.glob("*.yaml")):
        config = StageConfig.load(path)
        lengths = sft_row_lengths(tokenizer, n) if config.kind == "sft" else grpo_prompt_lengths(tokenizer, config, n)
        out[config.name] = {"kind": config.kind, "role": config.role, "task": config.task, "reward": config.reward,
                            "tokens": _stats(lengths)}
        if config.role == "attacker":
            out[config.name]["answer_tokens"] = _stats(attacker_answer_lengths(tokenizer, config.task))
        if progress is not None:
            progress.update(1)
    return out


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoTokenizer  # optional heavy dependency: transformers

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True, help="a Hub name or local folder with a chat template")
    parser.add_argument("--n", type=int, default=1024, help="rows per config (the GRPO configs train on 1,024)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--label", help="how to name the tokenizer in the JSON (default: --tokenizer)")
    args = parser.parse_args(argv)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    configs = sorted(CONFIG_DIR.glob("*.yaml"))
    with tqdm(total=len(configs), desc="configs", unit="config") as bar:
        figures = {"tokenizer": args.label or args.tokenizer, "n": args.n, "configs": measure(tokenizer, args.n, configs, bar)}
    print("| config | what | max | p99 | mean |\n|---|---|---|---|---|")
    for name, f in figures["configs"].items():
        what = "prompt + answer" if f["kind"] == "sft" else f"prompt ({f['reward']})"
        print(f"| {name} | {what} | {f['tokens']['max']} | {f['tokens']['p99']} | {f['tokens']['mean']} |")
        if "answer_tokens" in f:
            a = f["answer_tokens"]
            print(f"| {name} | craft_incident answer | {a['max']} | {a['p99']} | {a['mean']} |")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
