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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensoc", description="OpenSOC command line")
    sub = parser.add_subparsers(dest="command", required=True)
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
