"""Regenerate data/holdout.jsonl, data/sft_train.jsonl and data/investigation_holdout.jsonl from their seeds
(``--check``: fail if they drift)."""

from __future__ import annotations

import argparse
import sys

from opensoc.eval.frozen import holdout_rows, investigation_rows, render, sft_rows
from opensoc.tasks.frozen import HOLDOUT_PATH, INVESTIGATION_HOLDOUT_PATH, SFT_PATH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = 0
    for path, rows in ((HOLDOUT_PATH, holdout_rows()), (SFT_PATH, sft_rows()),
                       (INVESTIGATION_HOLDOUT_PATH, investigation_rows())):
        content = render(rows)
        if path.exists() and path.read_bytes() == content:
            print(f"up to date: {path.name} ({len(rows)} rows)")
            continue
        stale += 1
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        print(f"{'stale' if args.check else 'wrote'}: {path.name} ({len(rows)} rows)")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
