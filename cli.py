"""The ``opensoc`` command line.

    opensoc data build-e1 --iot23 DIR [DIR ...] --unsw FILE [FILE ...] --unsw-features FILE \\
                          --cic FILE [FILE ...] --out DIR [--seed 42]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _build_e1(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .e1.builder import build_e1

    manifest = build_e1(
        iot23=args.iot23, unsw=args.unsw, unsw_features=args.unsw_features, cic=args.cic, out=args.out,
        seed=args.seed, iot23_rows=args.iot23_rows, ood_rows=args.ood_rows, match_ports=args.match_ports,
        allow_unmatched=args.allow_unmatched, progress=lambda items: tqdm(items, desc="reading", unit="file"),
    )
    print(f"wrote {args.out}")
    print("| file | rows | benign | malicious | best single-field rule | k-NN over all fields |")
    print("|---|---|---|---|---|---|")
    for name, info in manifest["files"].items():
        audit = info["shortcut_audit"]
        rule = (f"{audit['best_single_field_rule']['field']}: {audit['best_single_field_rule']['accuracy']:.1%}"
                if audit.get("applicable") else "n/a (one class)")
        knn = f"{audit['knn_classifier_accuracy']:.1%}" if audit.get("applicable") else "n/a"
        labels = info["by_label"]
        print(f"| {name} | {info['rows']} | {labels.get('Benign', 0)} | {labels.get('Malicious', 0)} | {rule} | {knn} |")
    for note in manifest["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .eval.policies import make_policy
    from .eval.report import markdown_table, write_run
    from .eval.runner import load_items, run_policy, summarize

    items = load_items(args.split, args.tasks, args.limit)
    llm_args = dict(base_url=args.base_url, model=args.model, api_key_env=args.api_key_env, concurrency=args.concurrency,
                    timeout_s=args.timeout, retries=args.retries, cache_dir=args.cache_dir)
    if "llm" in args.policy and not (args.base_url and args.model):
        raise ValueError("--policy llm needs --base-url and --model")
    results, records = {}, {}
    for name in args.policy:
        policy = make_policy(name, **llm_args) if name == "llm" else make_policy(name)
        rows = run_policy(policy, items, url=args.url)
        records[policy.name], results[policy.name] = rows, summarize(rows)
    written = write_run(args.out, args.split, results, records)
    print(markdown_table(results))
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensoc", description="OpenSOC command line")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="evaluate policies on a frozen split and write tables and plots")
    ev.add_argument("--policy", nargs="+", default=["heuristic"], help="always_dismiss, random, heuristic, "
                    "verifier_oracle, llm; for E1: always_benign, always_malicious, always_abstain, random, e1_oracle, llm")
    ev.add_argument("--split", default="holdout", help="holdout, or an E1 task and split such as e1_iot23:test")
    ev.add_argument("--tasks", nargs="*", help="only these tasks")
    ev.add_argument("--limit", type=int, help="at most this many examples per task")
    ev.add_argument("--out", type=Path, default=Path("eval_runs/latest"), help="output folder")
    ev.add_argument("--url", help="evaluate against a running server (default: in-process)")
    ev.add_argument("--base-url", help="llm: OpenAI-compatible base URL, e.g. http://localhost:8001/v1")
    ev.add_argument("--model", help="llm: model name")
    ev.add_argument("--api-key-env", default="OPENAI_API_KEY", help="llm: environment variable holding the key")
    ev.add_argument("--concurrency", type=int, default=8)
    ev.add_argument("--timeout", type=float, default=60.0)
    ev.add_argument("--retries", type=int, default=3)
    ev.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "opensoc" / "llm")
    ev.set_defaults(func=_eval)
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
    except (OSError, ValueError) as exc:
        print(f"opensoc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
