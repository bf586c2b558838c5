"""The ``opensoc`` command line.

    opensoc --version
    opensoc serve [--host 0.0.0.0] [--port 8000]
    opensoc tasks [--json]
    opensoc eval --policy P [P ...] --split holdout|investigation|<e1 task>:<split> [--out DIR]
    opensoc regenerate [--check | --into DIR]
    opensoc audit [--seeds N] [--attacker-episodes N] [--json FILE]
    opensoc train cpu [--out DIR]
    opensoc train selfplay [--rounds N] [--out DIR]
    opensoc data build-e1 --iot23 DIR [DIR ...] --unsw FILE [FILE ...] --unsw-features FILE \\
                          --cic FILE [FILE ...] --out DIR [--seed 42]

Runs write to a working folder under the current directory (``runs/``) unless ``--out`` says otherwise; only
``opensoc regenerate`` writes the results committed with the repository. A rerun of ``opensoc eval`` into a folder
that holds a run replaces it and says so on stderr. Every refusal (a policy that does not play the split, a server
that does not answer or wants its token, an extra that is not installed) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from . import __version__
from .audit import report as audit_report
from .client import OpenSOCClient
from .eval.runner import load_items, make_policy_for, policy_names, request_failures, run_policy, split_names, summarize
from .families.e1.builder import build_e1
from .families.registry import task_overview
from .models import OpenSOCError
from .tasks.catalog import CATALOG
from .train import cpu_attacker, cpu_defender, cpu_selfplay
from .train.scratch import ScratchConfig, run_scratch

RUNS = Path("runs")  # the working folder, relative to where the command runs


def _with_ci(figure: dict) -> str:
    lo, hi = figure["ci95"]
    return f"{figure['accuracy']:.1%} ({lo:.1%}–{hi:.1%})"


def _build_e1(args: argparse.Namespace) -> int:
    manifest = build_e1(
        iot23=args.iot23, unsw=args.unsw, unsw_features=args.unsw_features, cic=args.cic, out=args.out,
        seed=args.seed, iot23_rows=args.iot23_rows, ood_rows=args.ood_rows, match_ports=args.match_ports,
        allow_unmatched=args.allow_unmatched, progress=lambda items: tqdm(items, desc="reading", unit="file"),
    )
    print(f"wrote {args.out}")
    print("| file | rows | benign | malicious | best single-field rule | best two-field rule | k-NN over all fields |")
    print("|---|---|---|---|---|---|---|")
    for name, info in manifest["files"].items():
        audit = info["shortcut_audit"]
        if audit.get("applicable"):
            one, two, knn = audit["best_single_field_rule"], audit["best_two_field_rule"], audit["classifier"]
            figures = [f"{one['field']} {_with_ci(one)}", f"{' × '.join(two['fields'])} {_with_ci(two)}", _with_ci(knn)]
        else:
            figures = [f"n/a ({info['purpose']})"] + ["n/a"] * 2
        labels = info["by_label"]
        print(f"| {name} | {info['rows']} | {labels.get('Benign', 0)} | {labels.get('Malicious', 0)} | {' | '.join(figures)} |")
    for note in manifest["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _failed_requests(records: dict, out: Path, allowed: bool) -> int:
    """The exit status of an evaluation: 1 when a request to a model endpoint failed and failures are not allowed.

    Failed requests are scored as format violations, which is no measurement of the model: the run's files keep each
    failure's text (``error`` in records.jsonl), and only ``--allow-failures`` makes such a run a success.
    """

    failed = {name: request_failures(rows) for name, rows in records.items()}
    for name, rows in failed.items():
        if rows:
            print(f"opensoc: {'warning' if allowed else 'error'}: {len(rows)} of {len(records[name])} requests of "
                  f"{name} got no answer from the endpoint, scored as format violations (first: {rows[0]['error']}); "
                  f"see {out / 'records.jsonl'}" + ("" if allowed else "; --allow-failures accepts such a run"),
                  file=sys.stderr)
    return 1 if any(failed.values()) and not allowed else 0


def _check_policies(split: str, names: list[str]) -> None:
    """Refuse, before any work, a policy that does not play ``split``, naming the ones that do."""

    fits = policy_names(split)  # an unknown split is refused here, listing the splits
    known = {name for other in split_names() for name in policy_names(other)}
    for name in names:
        if name not in fits:
            what = f"does not play split {split!r}" if name in known else "does not exist"
            raise ValueError(f"policy {name!r} {what}; expected one of the policies that play {split!r}: "
                             f"{', '.join(fits)}")


def _replacing(out: Path) -> bool:
    """Warn that ``out`` already holds a run, which this one replaces (``--out`` keeps both); True when it does."""

    previous = out / "results.json"
    if not previous.is_file():
        return False
    try:
        policies = ", ".join(json.loads(previous.read_text())["policies"])
    except (ValueError, KeyError, TypeError):
        policies = "unreadable results.json"
    when = datetime.fromtimestamp(previous.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    print(f"opensoc: warning: {out} holds a previous run ({policies}; {when}), which this run replaces; "
          "--out DIR writes it elsewhere", file=sys.stderr)
    return True


def _left_over(out: Path, written: list[Path]) -> None:
    """Name the files of the previous run in ``out`` that this run did not rewrite (they are left as they were)."""
    kept = sorted(p.name for p in out.iterdir() if p.is_file() and p not in written)
    if kept:
        print(f"opensoc: warning: left from the previous run in {out}, not rewritten by this one: {', '.join(kept)}",
              file=sys.stderr)


def _eval(args: argparse.Namespace) -> int:
    from .eval.report import markdown_table, write_run  # optional heavy dependency: matplotlib, for the plots

    out = args.out or RUNS / "eval" / args.split.replace(":", "_")
    _check_policies(args.split, args.policy)
    if "llm" in args.policy and not (args.base_url and args.model):
        raise ValueError("--policy llm needs --base-url and --model")
    if "hf" in args.policy and not args.hf_model:
        raise ValueError("--policy hf needs --hf-model (and optionally --hf-adapter)")
    if "hf" in args.policy:
        _require_train_extra("opensoc eval --policy hf", ("torch", "transformers", *(("peft",) if args.hf_adapter else ())))
    if args.url:

        OpenSOCClient.connect(args.url).close()  # a server that is not there, or wants a token, fails here
    items = load_items(args.split, args.tasks, args.limit)
    rerun = _replacing(out)
    model_args = dict(base_url=args.base_url, model=args.model, api_key_env=args.api_key_env, concurrency=args.concurrency,
                      timeout_s=args.timeout, retries=args.retries, cache_dir=args.cache_dir, hf_model=args.hf_model,
                      hf_adapter=args.hf_adapter, hf_device=args.hf_device, hf_batch_size=args.hf_batch_size,
                      hf_max_new_tokens=args.hf_max_new_tokens)
    policies = [make_policy_for(args.split, name, **model_args) for name in args.policy]
    results, records = {}, {}
    for policy in policies:
        rows = run_policy(policy, items, url=args.url)
        records[policy.name], results[policy.name] = rows, summarize(rows)
        if getattr(policy, "generation", None):  # hf: where and how fast it generated, kept with its results
            results[policy.name]["generation"] = policy.generation
            g = policy.generation
            print(f"{policy.name}: {g['new_tokens']} new tokens in {g['seconds']} s ({g['tokens_per_s']} tokens/s) on "
                  f"{g['device']} in {g['dtype']}, batch {g['batch_size']}", file=sys.stderr)
    written = write_run(out, args.split, results, records)
    if rerun:
        _left_over(out, written)
    print(markdown_table(results))
    print(f"wrote {len(written)} files to {out}")
    return _failed_requests(records, out, args.allow_failures)


def _audit(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.attacker_episodes < 0:
        print("opensoc audit: --seeds must be at least 1 and --attacker-episodes at least 0", file=sys.stderr)
        return 2
    seeds = range(args.seeds)
    with tqdm(total=4 * args.seeds, desc="honest play", unit="incident", file=sys.stderr) as bar:
        honest = audit_report.honest_play(seeds, bar.update)
    with tqdm(total=4 * args.seeds, desc="rewrites", unit="incident", file=sys.stderr) as bar:
        rewrites = audit_report.rewrites(seeds, bar.update)
    report = {"catalog": audit_report.catalog_size(), "honest_play": honest, "rewrites": rewrites,
              "sigma_corpus": audit_report.sigma_corpus(), "before": audit_report.before()}
    if args.attacker_episodes:
        with tqdm(total=2 * args.attacker_episodes, desc="CPU attacker", unit="craft", file=sys.stderr) as bar:
            report["attacker"] = audit_report.attacker_rates(args.attacker_episodes, progress=bar.update)
    print(audit_report.render(report), end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    bad = (sum(honest["refused"].values()) + honest["mislabelled"]
           + sum(r["paid_flips"] for r in rewrites.values())
           + len((report["sigma_corpus"] or {}).get("paid_as_dismiss", [])))
    return 1 if bad else 0


def _regenerate(args: argparse.Namespace) -> int:
    from .reference.committed import (  # optional heavy dependency: matplotlib
        COMMITTED_RUNS,
        drift,
        regenerate,
        source_checkout,
    )

    if args.check:
        stale = drift(args.into or source_checkout())
        for rel in stale:
            print(f"differs from a fresh regeneration: {rel}", file=sys.stderr)
        print(f"{len(stale)} committed result files differ" if stale else "the committed results regenerate byte for byte")
        return 1 if stale else 0
    root = args.into or source_checkout()
    written = regenerate(root)
    for run in COMMITTED_RUNS:
        print(f"{run.folder}: {run.command()}")
    print(f"wrote {len(written)} files under {root}")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({"tasks": task_overview(), "splits": CATALOG.list_splits()}, indent=1))
        return 0
    print("| task | family | stage | title |\n|---|---|---|---|")
    for t in task_overview():
        print(f"| {t['name']} | {t['family']} | {t['stage'] if t['stage'] is not None else '-'} | {t['title']} |")
    print("\nTask API splits (GET /opensoc/splits; reset(split=..., index=...) starts a task):")
    for split in CATALOG.list_splits():
        print(f"  {split['name']:<18} {split['type']:<10} {split['num_tasks']:>6}  {split['description']}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    # The flags given override $HOST and $PORT, as for ``python server.py``; those not given leave them be.
    from . import server  # optional heavy dependency: gradio and uvicorn (importing it builds the app and the demo)

    flags = [*(["--host", args.host] if args.host else []), *(["--port", str(args.port)] if args.port else [])]
    server.main(flags)
    return 0


def _train_cpu(args: argparse.Namespace) -> int:
    out = args.out or RUNS / "train" / "cpu"
    out.mkdir(parents=True, exist_ok=True)
    if args.role in ("defender", "both"):
        _train_cpu_defender(args, out)
    if args.role in ("attacker", "both"):
        _train_cpu_attacker(args, out)
    return 0


def _train_cpu_defender(args: argparse.Namespace, out: Path) -> None:
    config = cpu_defender.DefenderTrainConfig(incidents_per_stage=args.incidents_per_stage, seed=args.seed)
    with tqdm(total=config.incidents_per_stage * len(config.stages), desc="defender", unit="incident") as bar:
        policy, log = cpu_defender.train_defender(config, bar)
    policy.save(out / "cpu_defender.npz")
    before, after = (cpu_defender.holdout_scores(p) for p in (cpu_defender.LinearPolicy(), policy))
    cpu_defender.save_log(log, config, out / "cpu_defender_log.json", {"holdout_before": before, "holdout_after": after})
    cpu_defender.plot_curve(log, out / "cpu_defender_curve.png")
    print(f"defender on the hold-out: accuracy {before['accuracy']:.1%} → {after['accuracy']:.1%}, mean reward "
          f"{before['mean_reward']:+.3f} → {after['mean_reward']:+.3f}; saved {out / 'cpu_defender.npz'}")


def _train_cpu_attacker(args: argparse.Namespace, out: Path) -> None:
    config = cpu_attacker.AttackerTrainConfig(steps=args.attacker_steps, seed=args.seed)
    before = cpu_attacker.evasion_rate(cpu_attacker.CategoricalAttacker(), config.eval_episodes, config.defender, 99)
    with tqdm(total=config.steps, desc="attacker", unit="update") as bar:
        attacker, log = cpu_attacker.train_attacker(config, bar)
    after = cpu_attacker.evasion_rate(attacker, config.eval_episodes, config.defender, 99)
    attacker.save(out / "cpu_attacker.json", {"evasion_rate_before": before, "evasion_rate_after": after,
                                              "defender": config.defender})
    cpu_attacker.save_log(log, config, out / "cpu_attacker_log.json",
                          {"evasion_rate_before": before, "evasion_rate_after": after, "top": attacker.top(10)})
    cpu_attacker.plot_curve(log, before, out / "cpu_attacker_curve.png", config.defender)
    print(f"attacker: evasion rate against {config.defender} {before:.1%} → {after:.1%}; saved {out / 'cpu_attacker.json'}")


def _train_selfplay(args: argparse.Namespace) -> int:
    out = args.out or RUNS / "train" / "selfplay"
    config = cpu_selfplay.config_from({k: v for k, v in vars(args).items() if k != "out"})
    result, *_ = cpu_selfplay.run_selfplay(config, out)
    for r in result.rounds:
        print(f"round {r.round}: evasion {r.evasion} against the defender it trained against, {r.evasion_after} "
              f"after; unsound {r.training.unsound}; hold-out accuracy {r.holdout['accuracy']['rate']:.1%}")
    print(f"wrote {out} (selfplay.md: the rounds and the cross-play matrix)")
    return 0


# What the train extra brings (pyproject's [train]), by import name; torch comes from its own index.
TRAIN_MODULES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")
TRAIN_INSTALL = ("pip install torch --index-url https://download.pytorch.org/whl/cpu (or the build for your GPU), "
                 "then pip install -e '.[train]'")


class MissingExtra(Exception):
    """A command needs an extra that is not installed; the message names it and how to install it."""


def _require_train_extra(command: str, modules: tuple[str, ...] = TRAIN_MODULES) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"{command} needs the train extra (missing: {', '.join(missing)}): {TRAIN_INSTALL}")


def _train_scratch(args: argparse.Namespace) -> int:
    _require_train_extra("opensoc train scratch")

    if args.threads:
        import torch  # optional heavy dependency: the train extra

        torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in vars(args).items() if k in ScratchConfig.__dataclass_fields__ and v is not None}
    results = run_scratch(ScratchConfig(**overrides), args.out)
    points, change = results["points"], results["grpo_change"]
    for point in ("before_sft", "after_sft", "after_grpo"):
        p = points[point]
        print(f"{point}: format violations {p['format_violation_rate']:.0%}, accuracy {p['accuracy']:.0%}, "
              f"mean reward {p['mean_reward']:+.3f} on {p['n']} hold-out items")
    print(f"GRPO change in mean reward {change['mean']:+.3f} (95% CI {change['ci95'][0]:+.3f} to {change['ci95'][1]:+.3f}); "
          f"{results['seconds']['total']:.0f} s; wrote {args.out}")
    return 0


def _policy_help() -> str:
    by_policies: dict[tuple[str, ...], list[str]] = {}
    for split in split_names():
        by_policies.setdefault(tuple(policy_names(split)), []).append(split)
    return "; ".join(f"{', '.join(splits)}: {', '.join(names)}" for names, splits in by_policies.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensoc", description="OpenSOC command line")
    parser.add_argument("--version", action="version", version=f"opensoc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and the demo (what the container runs)")
    serve.add_argument("--host", help="address to listen on (default: $HOST, else 127.0.0.1; 0.0.0.0 for every "
                       "interface)")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT, else 8000)")
    serve.set_defaults(func=_serve)
    tasks = sub.add_parser("tasks", help="list the curriculum tasks and the Task API's splits")
    tasks.add_argument("--json", action="store_true", help="print JSON (the /tasks overview and the splits)")
    tasks.set_defaults(func=_tasks)
    ev = sub.add_parser("eval", help="evaluate policies on a frozen split and write tables and plots")
    ev.add_argument("--policy", nargs="+", default=["heuristic"], help=_policy_help())
    ev.add_argument("--split", default="holdout", help="holdout, investigation (the frozen investigation cases), or an "
                    "E1 task and split such as e1_iot23:test")
    ev.add_argument("--tasks", nargs="*", help="only these tasks")
    ev.add_argument("--limit", type=int, help="at most this many examples per task")
    ev.add_argument("--out", type=Path, help="output folder (default: runs/eval/<split> under the current directory)")
    ev.add_argument("--url", help="evaluate against a running server (default: in-process); $OPENSOC_API_TOKEN is "
                    "sent when set")
    ev.add_argument("--base-url", help="llm: OpenAI-compatible base URL, e.g. http://localhost:8001/v1")
    ev.add_argument("--model", help="llm: model name")
    ev.add_argument("--api-key-env", default="OPENAI_API_KEY", help="llm: environment variable holding the key")
    ev.add_argument("--concurrency", type=int, default=8)
    ev.add_argument("--timeout", type=float, default=60.0)
    ev.add_argument("--retries", type=int, default=3, help="llm: retries of a failed request, with exponential backoff")
    ev.add_argument("--allow-failures", action="store_true", help="llm: exit 0 even when requests to the endpoint "
                    "failed after their retries (they are scored as format violations either way)")
    ev.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "opensoc" / "llm")
    ev.add_argument("--hf-model", help="hf: a local or Hub model for transformers")
    ev.add_argument("--hf-adapter", help="hf: a LoRA adapter folder to load on top")
    ev.add_argument("--hf-device", help="hf: cpu, cuda or cuda:N (default: CUDA when present, in bf16; else the CPU)")
    ev.add_argument("--hf-batch-size", type=int, help="hf: prompts per generate call (default: 32 on CUDA, 8 on CPU)")
    ev.add_argument("--hf-max-new-tokens", type=int, default=256, help="hf: the longest answer generated")
    ev.set_defaults(func=_eval)
    regen = sub.add_parser("regenerate", help="rewrite the committed results (docs/eval, docs/eval_investigation, "
                           "the demo's examples) byte for byte")
    regen.add_argument("--check", action="store_true", help="write nothing; fail naming every committed file that a "
                       "fresh regeneration would change")
    regen.add_argument("--into", type=Path, help="another root to write (or check) instead of this source checkout")
    regen.set_defaults(func=_regenerate)
    aud = sub.add_parser("audit", help="measure what the verifier reads: catalog size, refusals and contests of honest "
                         "play, semantics-preserving rewrites, the SigmaHQ corpus, the CPU attacker (exit 1 if honest "
                         "play is refused or a rewrite is paid)")
    aud.add_argument("--seeds", type=int, default=100, help="generated incidents per stage (default 100)")
    aud.add_argument("--attacker-episodes", type=int, default=400, help="crafts per CPU attacker policy (0 skips)")
    aud.add_argument("--json", type=Path, help="also write the report as JSON here")
    aud.set_defaults(func=_audit)
    tr = sub.add_parser("train", help="train policies").add_subparsers(dest="train_command", required=True)
    cpu = tr.add_parser("cpu", help="train the numpy defender and attacker on the CPU (71 s on 2 cores)")
    cpu.add_argument("--role", choices=["defender", "attacker", "both"], default="both")
    cpu.add_argument("--out", type=Path, help="output folder (default: runs/train/cpu under the current directory; "
                     "the committed policies in train/artifacts/ are what the cpu_defender policy loads)")
    cpu.add_argument("--incidents-per-stage", type=int, default=5000)
    cpu.add_argument("--attacker-steps", type=int, default=600)
    cpu.add_argument("--seed", type=int, default=0)
    cpu.set_defaults(func=_train_cpu)
    sp = tr.add_parser("selfplay", help="the numpy attacker and defender in self-play, round by round on one run, "
                       "with a cross-play matrix of every round's pair (about 4 min on 2 cores)")
    sp.add_argument("--out", type=Path, help="output folder (default: runs/train/selfplay under the current directory; "
                    "the committed run is train/artifacts/selfplay/)")
    sp.add_argument("--rounds", type=int, help="rounds of attacker then defender training (default 5)")
    sp.add_argument("--seed", type=int, help="seed of every draw (default 0): the same seed writes the same selfplay.json")
    sp.add_argument("--attacker-steps", type=int, help="groups of crafts the attacker trains on per round")
    sp.add_argument("--defender-incidents", type=int, help="incidents the defender trains on per round")
    sp.add_argument("--initial-incidents-per-stage", type=int, help="curriculum incidents per stage before round 1")
    sp.add_argument("--initial-defender", help="a saved linear defender (.npz) to start from instead of training one")
    sp.add_argument("--eval-episodes", type=int, help="crafts per attacker for each figure and cross-play cell")
    sp.set_defaults(func=_train_selfplay)
    scratch = tr.add_parser("scratch", help="build a small LLM from scratch (no downloads), train it with SFT then GRPO "
                            "on stage 1, and evaluate it on the hold-out before, between and after (about 18 min on 2 cores)")
    scratch.add_argument("--out", type=Path, default=Path("runs/scratch"), help="output folder")
    scratch.add_argument("--seed", type=int, help="seed of the model's initialisation and of both trainers (0)")
    scratch.add_argument("--size", choices=["tiny", "small", "base", "large"],
                         help="model shape: tiny (tests), small (1.3M parameters, default), base (6M), large (30M)")
    scratch.add_argument("--sft-steps", type=int)
    scratch.add_argument("--sft-learning-rate", type=float)
    scratch.add_argument("--sft-batch-size", type=int, help="SFT rows per optimizer step (8)")
    scratch.add_argument("--grpo-steps", type=int)
    scratch.add_argument("--grpo-learning-rate", type=float)
    scratch.add_argument("--grpo-prompts-per-step", type=int, help="prompts per GRPO optimizer step")
    scratch.add_argument("--num-generations", type=int, help="completions sampled per prompt")
    scratch.add_argument("--temperature", type=float, help="GRPO sampling temperature")
    scratch.add_argument("--eval-every", type=int, help="hold-out evaluations during training, every this many steps")
    scratch.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (auto: CUDA when present)")
    scratch.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    scratch.set_defaults(func=_train_scratch)
    data = sub.add_parser("data", help="build datasets").add_subparsers(dest="data_command", required=True)
    e1 = data.add_parser("build-e1", help="build the E1 network-flow datasets from the public downloads")
    e1.add_argument("--iot23", nargs="+", type=Path, required=True, help="IoT-23 capture folders or conn.log.labeled files")
    e1.add_argument("--unsw", nargs="*", type=Path, default=[], help="UNSW-NB15 CSV files (raw or train/test partition)")
    e1.add_argument("--unsw-features", type=Path, help="NUSW-NB15_features.csv, needed for raw UNSW files")
    e1.add_argument("--cic", nargs="*", type=Path, default=[], help="CIC-IDS-2017 CSV files")
    e1.add_argument("--out", type=Path, required=True, help="output folder (keep it outside the repository)")
    e1.add_argument("--seed", type=int, default=42)
    e1.add_argument("--iot23-rows", type=int, default=1800)
    e1.add_argument("--ood-rows", type=int, default=600)
    e1.add_argument("--no-match-ports", dest="match_ports", action="store_false",
                    help="do not match classes on the destination port (more rows, but a port may then decide alone)")
    e1.add_argument("--allow-unmatched", action="store_true", help="top short classes up with unmatched rows")
    e1.set_defaults(func=_build_e1)
    args = parser.parse_args(argv)

    try:
        return args.func(args)
    except (OSError, ValueError, OpenSOCError, MissingExtra) as exc:
        print(f"opensoc: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional dependency met after the checks above
        root = (exc.name or "").split(".")[0]
        if root in TRAIN_MODULES:
            print(f"opensoc: error: {args.command} needs the train extra (missing: {root}): {TRAIN_INSTALL}",
                  file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
