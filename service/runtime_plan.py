"""OpenEnv 0.10's runtime validation plan for OpenSOC: ``validation/runtime.json``, written from code.

``openenv validate .`` builds the image, starts it, and replays this plan on one WebSocket session: a reset with a
fixed ``episode_id`` and seed, then each action in turn, asking for the state after every frame. Its graders check
that every observation matches ``/schema``, that every reward is a finite number inside the range openenv.yaml
declares, and that the state echoes the reset's ``episode_id`` with an exact ``step_count``. The plan plays a whole
``self_play`` episode, so both roles' frames and a mid-episode reward are measured: the attacker crafts the incident
``generate(PLAN_TASK, CRAFT_SEED)``, and the defender answers it as the verifier would.

``python -m opensoc.service.runtime_plan`` rewrites the file; a test fails when it drifts from this module.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..generator import generate
from ..verifier import compute_ground_truth

PLAN_PATH = Path(__file__).resolve().parent.parent / "validation" / "runtime.json"
PLAN_TASK = "stage2_multi"
PLAN_SEED = 7
CRAFT_SEED = 11
PLAN_EPISODE_ID = "openenv-validate-1"


def runtime_plan() -> dict:
    """OpenEnv's runtime plan (``plan_schema_version`` 1): one reset, then the attacker's and the defender's action."""
    craft = generate(PLAN_TASK, CRAFT_SEED)
    truth = compute_ground_truth(craft)
    triage = {"action": truth.action, "cited_log_id": truth.triggering_log_ids[0],
              "rationale": "the verifier's answer to the crafted incident", "confidence": 1.0}
    return {
        "plan_schema_version": "1",
        "reset": {"episode_id": PLAN_EPISODE_ID, "seed": PLAN_SEED, "options": {"task": PLAN_TASK, "mode": "self_play"}},
        "actions": [{"craft_incident": craft.model_dump(mode="json")}, {"submit_triage": triage}],
    }


def plan_text() -> str:
    return json.dumps(runtime_plan(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    PLAN_PATH.parent.mkdir(parents=True, exist_ok=True)
    PLAN_PATH.write_text(plan_text(), encoding="utf-8")
    print(f"wrote {PLAN_PATH}")


if __name__ == "__main__":
    main()
