"""Self-play: alternate attacker and defender GRPO phases against one running OpenSOC server.

Each round trains the attacker in ``attacker_only`` episodes (the server records every sound
incident, plausible, uncontested and correctly labelled, in the stage-4 replay pool of this
self-play's run), then trains the defender on ``stage4_adversarial`` over the service with
``use_replay_pool`` on the same run, so the attacker's sound incidents join the defender's
curriculum. The run id is random, so no other client of the server can add to or read that pool.

    python -m opensoc.train.selfplay --rounds 3 --defender-adapter runs/adapters/stage4
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import replace
from pathlib import Path

from .config import CONFIG_DIR, StageConfig
from .grpo import run_grpo


def selfplay_phases(defender: StageConfig, attacker: StageConfig, rounds: int, out: Path,
                    run_id: str | None = None) -> list[StageConfig]:
    """The phase configs in order: attacker then defender, each round continuing from the last adapters, all on
    one server-side attacker run (``run_id``, random unless given)."""
    run_id = run_id or f"selfplay-{uuid.uuid4().hex}"
    phases, d_adapter, a_adapter = [], defender.init_adapter, attacker.init_adapter
    for r in range(1, rounds + 1):
        a = replace(attacker, name=f"attacker_r{r}", init_adapter=a_adapter, output_dir=str(out / f"attacker_r{r}"),
                    role="attacker", reward="service", run_id=run_id)
        d = replace(defender, name=f"defender_r{r}", init_adapter=d_adapter, output_dir=str(out / f"defender_r{r}"),
                    role="defender", reward="service", task="stage4_adversarial", use_replay_pool=True, run_id=run_id)
        phases += [a, d]
        a_adapter, d_adapter = a.output_dir, d.output_dir
    return phases


def run_selfplay(defender: StageConfig, attacker: StageConfig, rounds: int, out: Path, models=None) -> list[Path]:
    """Run every phase; ``models`` optionally maps role → (model, tokenizer) for tests."""
    outputs = []
    for phase in selfplay_phases(defender, attacker, rounds, out):
        model, tokenizer = (models or {}).get(phase.role, (None, None))
        outputs.append(run_grpo(phase, model, tokenizer))
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--defender-config", default=str(CONFIG_DIR / "stage4.yaml"))
    parser.add_argument("--attacker-config", default=str(CONFIG_DIR / "attacker.yaml"))
    parser.add_argument("--defender-adapter")
    parser.add_argument("--out", default="runs/selfplay")
    args = parser.parse_args()
    defender = StageConfig.load(args.defender_config, init_adapter=args.defender_adapter)
    run_selfplay(defender, StageConfig.load(args.attacker_config), args.rounds, Path(args.out))


if __name__ == "__main__":
    main()
