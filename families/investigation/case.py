"""One investigation case: a log store with an incident inside it, the incident's ground truth, and the alert that
opened the case.

``build_case(spec, seed)`` is deterministic for a task and seed: the curriculum stage's incident (``generate``),
hours of background telemetry around it (``world.build_store_events``), every event renumbered in time order with
the store's one id scheme (so nothing marks the incident's events), and the verdict computed on the incident's
events alone. Background is benign by construction, so the verdict on the whole store is the same (tested).

Memory: a case is the largest thing an episode reads (a stage-4 store holds about 2,700 events: 4.3 MB, and 9 MB
once its search index is built). Episodes therefore never hold one: they name it (``CaseKey``), and ``case_for``
rebuilds it on demand. The generated case of a (task, seed) and an attacker's craft planted in a store are cached,
each in a small LRU (``CASE_CACHE_SIZE``, ``PLANTED_CACHE_SIZE``), so the memory all investigations cost is bounded
by the caches, not by the number of episodes held, and every episode of the same case shares one store.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from pydantic import Field, TypeAdapter

from ...generator import generate, seed_material
from ...incidents.alerting import materialize_alert
from ...schema import Event, IncidentParams, Severity, StrictModel
from ...verifier import GroundTruth, compute_ground_truth
from .store import LogStore
from .tasks import INVESTIGATION_TASKS
from .world import build_store_events

_EVENTS = TypeAdapter(list[Event])

CASE_CACHE_SIZE = 16  # generated cases kept (at most about 9 MB each, search index included)
PLANTED_CACHE_SIZE = 8  # attackers' crafts planted in a store, kept


class CaseAlert(StrictModel):
    """What opens an investigation: the detection that fired and the one event it fired on. Nothing else of the
    incident is shown; the rest is in the store."""

    alert_id: str
    rule_name: str
    severity: Severity
    technique_ids: list[str]
    time: str = Field(description="When the event that fired the detection happened.")
    host: str = Field(description="The host of that event.")
    user: str | None = None
    event: Event = Field(description="The event the detection fired on.")
    store_start: str = Field(description="Earliest event time in the store.")
    store_end: str = Field(description="Latest event time in the store.")
    store_events: int = Field(description="How many events the store holds.")


@dataclass(frozen=True)
class Case:
    task: str
    seed: int
    store: LogStore
    incident: IncidentParams
    truth: GroundTruth
    alert: CaseAlert
    call_budget: int


def plant(incident: IncidentParams, *, stage: int, hours: float, target_size: int, rng: random.Random,
          call_budget: int, task: str, seed: int) -> Case:
    """Surround ``incident`` with background telemetry and renumber everything: the case an investigator works."""
    incident_events = [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in incident.events]
    background = build_store_events(incident_events, rng, hours=hours, target_size=target_size)
    for i, ev in enumerate(background):
        ev["log_id"] = f"bg-{i}"
    background = _without_interference(incident, _EVENTS.validate_python(background))
    tagged = [(e, True) for e in incident.events] + [(e, False) for e in background]
    tagged.sort(key=lambda pair: pair[0].timestamp)  # ISO UTC strings sort by time; stable keeps build order
    renumbered = [(e.model_copy(update={"log_id": f"E{stage}-{i}"}), mine) for i, (e, mine) in enumerate(tagged)]
    events = [e for e, _ in renumbered]
    planted = IncidentParams.model_validate({"category": incident.category, "target_label": incident.target_label,
                                             "events": [e.model_dump(mode="json", by_alias=True, exclude_none=True)
                                                        for e, mine in renumbered if mine], "narrative": ""})
    store = LogStore(events)
    truth = compute_ground_truth(planted)
    full = materialize_alert(planted)
    primary_id = full.summary.rsplit("(log ", 1)[1].split(")", 1)[0] if "(log " in full.summary else planted.events[0].log_id
    primary = store.by_id[primary_id]
    alert = CaseAlert(alert_id=full.alert_id, rule_name=full.rule_name, severity=full.severity,
                      technique_ids=full.technique_ids, time=primary.timestamp, host=primary.host, user=primary.user,
                      event=primary, store_start=store.events[0].timestamp, store_end=store.events[-1].timestamp,
                      store_events=len(store))
    return Case(task, seed, store, planted, truth, alert, call_budget)


def _without_interference(incident: IncidentParams, background: list) -> list:
    """The background minus any event that, beside the incident, would join a finding the incident alone does not
    have (an ordinary logon of a sprayed account from the spraying host turns a spray into a break-in). Background
    is benign on its own by construction; this keeps it from changing what the incident means."""
    alone = {(f.rule_id, f.action) for f in compute_ground_truth(incident).rules_fired if f.malicious}
    for _ in range(4):
        whole = IncidentParams.model_construct(category=incident.category, target_label=incident.target_label,
                                               events=[*incident.events, *background], narrative="")
        extra = {i for f in compute_ground_truth(whole).rules_fired if f.malicious and (f.rule_id, f.action) not in alone
                 for i in f.log_ids if i.startswith("bg-")}
        if not extra:
            break
        background = [e for e in background if e.log_id not in extra]
    return background


@lru_cache(maxsize=CASE_CACHE_SIZE)
def build_case(task: str, seed: int) -> Case:
    """The case for an investigation task and seed (built once per process; cases are immutable)."""

    spec = INVESTIGATION_TASKS[task]
    incident = generate(spec.curriculum_task, seed)
    rng = random.Random(seed_material(f"{task}/store", seed))
    return plant(incident, stage=spec.stage, hours=spec.store_hours, target_size=spec.store_events, rng=rng,
                 call_budget=spec.call_budget, task=task, seed=seed)



@dataclass(frozen=True)
class CaseKey:
    """What names a case without holding it: the task and seed, and for a planted craft the digest of its JSON."""

    task: str
    seed: int
    craft_digest: str | None = None


def craft_digest(params: IncidentParams) -> str:
    return hashlib.sha256(params.model_dump_json().encode()).hexdigest()


_planted: OrderedDict[CaseKey, Case] = OrderedDict()
_planted_lock = threading.Lock()


def planted_case(key: CaseKey, params: IncidentParams) -> Case:
    """The case of the craft ``params`` planted in the store of (task, seed), built once while it stays cached."""
    with _planted_lock:
        case = _planted.get(key)
        if case is not None:
            _planted.move_to_end(key)
            return case

    spec = INVESTIGATION_TASKS[key.task]
    case = plant(params, stage=spec.stage, hours=spec.store_hours, target_size=spec.store_events,
                 rng=random.Random(seed_material(f"{key.task}/store", key.seed)), call_budget=spec.call_budget,
                 task=key.task, seed=key.seed)
    with _planted_lock:
        _planted[key] = case
        _planted.move_to_end(key)
        while len(_planted) > PLANTED_CACHE_SIZE:
            _planted.popitem(last=False)
    return case


def case_for(key: CaseKey, params: IncidentParams | None = None) -> Case:
    """The case ``key`` names (``params``: the planted craft, for a key with a digest), from a cache or rebuilt."""
    if key.craft_digest is None:
        return build_case(key.task, key.seed)
    assert params is not None
    return planted_case(key, params)
