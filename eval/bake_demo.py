"""Bake ``data/demo_examples.json``: before/after pairs on hold-out incidents for the demo's baked mode.

Each example holds the incident's alert, the ground truth, and the decisions and rewards of a
baseline policy ("before") and a trained policy ("after"), by default ``heuristic`` and
``cpu_defender``. ``python -m opensoc.eval.bake_demo [--before P] [--after P] [--n 50]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..families.triage.family import materialized_incident
from ..tasks.frozen import DATA_DIR
from .policies import make_policy
from .runner import load_items, run_policy

DEMO_PATH = DATA_DIR / "demo_examples.json"


def bake(before: str = "heuristic", after: str = "cpu_defender", n: int = 50, hf_model: str | None = None,
         hf_adapter: str | None = None, hf_device: str | None = None, hf_batch_size: int | None = None,
         hf_max_new_tokens: int = 256) -> dict:

    items = load_items("holdout")
    per_task = -(-n // 4)  # round up, then cut to n
    items = [i for k, i in enumerate(items) if sum(j["task"] == i["task"] for j in items[:k]) < per_task][:n]
    hf = dict(hf_model=hf_model, hf_adapter=hf_adapter, hf_device=hf_device, hf_batch_size=hf_batch_size,
              hf_max_new_tokens=hf_max_new_tokens)
    policies = {"before": make_policy(before), "after": make_policy(after, **hf) if after == "hf" else make_policy(after)}
    records = {side: run_policy(p, items, show_progress=False) for side, p in policies.items()}
    examples = []
    for k, item in enumerate(items):
        m = materialized_incident(item["task"], item["seed"])
        examples.append({
            "id": item["id"], "task": item["task"], "seed": item["seed"],
            "alert": m.alert.model_dump(mode="json"),
            "truth": {"action": m.truth.action, "triggering_log_ids": m.truth.triggering_log_ids,
                      "deciding_rule_ids": m.truth.deciding_rule_ids},
            **{side: {"policy": policies[side].name, "action": records[side][k]["predicted"],
                      "cited_log_id": records[side][k]["cited_log_id"], "reward": records[side][k]["reward"],
                      "outcome": records[side][k]["outcome"]} for side in ("before", "after")},
        })
    return {"before": policies["before"].name, "after": policies["after"].name, "examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", default="heuristic")
    parser.add_argument("--after", default="cpu_defender")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--hf-model")
    parser.add_argument("--hf-adapter")
    parser.add_argument("--hf-device", help="cpu, cuda or cuda:N (default: CUDA when present, in bf16; else the CPU)")
    parser.add_argument("--hf-batch-size", type=int, help="prompts per generate call (default: 32 on CUDA, 8 on CPU)")
    parser.add_argument("--hf-max-new-tokens", type=int, default=256, help="the longest answer generated")
    parser.add_argument("--out", type=Path, default=DEMO_PATH)
    args = parser.parse_args()
    data = bake(args.before, args.after, args.n, args.hf_model, args.hf_adapter, args.hf_device, args.hf_batch_size,
                args.hf_max_new_tokens)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(data['examples'])} examples to {args.out}")


if __name__ == "__main__":
    main()
