"""The investigation tasks: a curriculum stage's incident inside a log store, and the tools' call budget."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvestigationTaskSpec:
    """An investigation task: a curriculum stage's incident inside a log store, and the tools' call budget."""

    name: str
    stage: int
    title: str
    description: str
    curriculum_task: str  # the stage whose incidents are planted
    store_hours: float  # the span of background telemetry around the incident
    store_events: int  # about how many events the store holds
    call_budget: int  # tool calls allowed before the triage


INVESTIGATION_TASKS: dict[str, InvestigationTaskSpec] = {
    spec.name: spec
    for spec in (
        InvestigationTaskSpec("investigate_stage1", 1, "Investigate: single events",
                              "A stage-1 incident in two hours of an office's telemetry.", "stage1_basic", 2.0, 400, 6),
        InvestigationTaskSpec("investigate_stage2", 2, "Investigate: multi-event windows",
                              "A stage-2 incident in four hours of telemetry.", "stage2_multi", 4.0, 800, 10),
        InvestigationTaskSpec("investigate_stage3", 3, "Investigate: decoys interleaved",
                              "A stage-3 incident, decoys and all, in six hours of telemetry.", "stage3_mixed", 6.0, 1500, 12),
        InvestigationTaskSpec("investigate_stage4", 4, "Investigate: adversarial incidents",
                              "A stage-4 incident in eight hours of telemetry.", "stage4_adversarial", 8.0, 2500, 15),
    )
}
