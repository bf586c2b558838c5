"""A property-based search for paid mutations.

Hypothesis takes generated incidents (any template, any stage), rewrites them the ways an attacker would try
(other path forms, domain prefixes and FQDNs, roll-ups and uploads split up, rates changed, events moved to a
Linux host or in time, padding, duplicates) and claims either the original verdict or whatever the mutated
incident is judged. A defender that answers what the original incident means is right; the attacker must never be
paid against it: the mutated incident keeps the original verdict, or it is refused (implausible, contested or
mislabelled).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from support.incident_helpers import as_dict, rebuild

from opensoc.adjudication.gate import adjudicate
from opensoc.generator import TEMPLATES, generate_from_template
from opensoc.rubric import score_incident
from opensoc.schema import BENIGN_CATEGORIES, MALICIOUS_CATEGORIES
from opensoc.verifier import CATEGORY_DEPICTIONS, Window
from opensoc.world.inventory import INVENTORY

_FMT = "%Y-%m-%dT%H:%M:%SZ"
_PATH_FIELDS = ("process.executable", "process.parent.name", "winlog.event_data.TargetImage")


def _time(ev: dict) -> datetime:
    return datetime.strptime(ev["timestamp"][:19] + "Z", _FMT).replace(tzinfo=UTC)


def _resort(data: dict) -> dict:
    data["events"].sort(key=_time)
    return data


def path_form(data: dict, i: int, style: int) -> dict:
    ev = data["events"][i % len(data["events"])]
    for f in _PATH_FIELDS:
        value = ev.get(f)
        if not value:
            continue
        if f == "process.parent.name" and "\\" not in value:
            value = f"C:\\Program Files\\Microsoft Office\\root\\Office16\\{value}" if value.upper() in (
                "WINWORD.EXE", "EXCEL.EXE", "POWERPNT.EXE") else f"C:\\Windows\\System32\\{value}"
        ev[f] = [value.replace("\\", "/"), "\\\\?\\" + value, value.upper(), value.lower(),
                 value.replace("C:\\", "\\Device\\HarddiskVolume3\\")][style % 5]
    return data


def prefixes(data: dict, i: int, style: int) -> dict:
    ev = data["events"][i % len(data["events"])]
    if ev.get("user") and ev["user"] != "SYSTEM":
        ev["user"] = [f"CORP\\{ev['user']}", f"{ev['user']}@corp.example.com", ev["user"].upper()][style % 3]
    if style % 2:
        ev["host"] = [ev["host"].lower(), f"{ev['host'].lower()}.corp.example.com"][style % 2]
    if ev.get("group.name"):
        ev["group.name"] = f"CORP\\{ev['group.name']}"
    return data


def split(data: dict, i: int, parts: int) -> dict:
    events = data["events"]
    ev = events[i % len(events)]
    key = "file.count" if ev.get("event_type") == "file_activity" else "source.bytes" if ev.get("source.bytes", 0) > 1 else None
    if key is None or ev[key] < parts:
        return data
    share, rest = divmod(ev[key], parts)
    copies = []
    for k in range(parts):
        c = dict(ev, log_id=f"{ev['log_id']}s{k}")
        c[key] = share + (rest if k == 0 else 0)
        c["timestamp"] = (_time(ev) + timedelta(seconds=k)).strftime(_FMT)
        copies.append(c)
    events[i % len(events):i % len(events) + 1] = copies
    return _resort(data)


def rate(data: dict, factor: float) -> dict:
    t0 = min(_time(e) for e in data["events"])
    for ev in data["events"]:
        ev["timestamp"] = (t0 + (_time(ev) - t0) * factor).strftime(_FMT)
    return _resort(data)


def os_mismatch(data: dict, i: int) -> dict:
    data["events"][i % len(data["events"])]["host"] = "WEB01"
    return data


def time_shift(data: dict, i: int, seconds: int) -> dict:
    ev = data["events"][i % len(data["events"])]
    ev["timestamp"] = (_time(ev) + timedelta(seconds=seconds)).strftime(_FMT)
    return _resort(data)


def pad(data: dict, i: int) -> dict:
    anchor = data["events"][i % len(data["events"])]
    owner = next(h for h in INVENTORY.hosts if h.owner == "alice.chen")
    word = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
    data["events"].append({"log_id": f"P-{len(data['events'])}", "event_type": "process_start", "source": "sysmon",
                           "winlog.event_id": 1, "timestamp": anchor["timestamp"], "host": owner.name, "user": "alice.chen",
                           "process.name": "WINWORD.EXE", "process.executable": word,
                           "process.command_line": f'"{word}" /n "C:\\Users\\alice.chen\\Documents\\notes.docx"'})
    return _resort(data)


def duplicate(data: dict, i: int) -> dict:
    ev = data["events"][i % len(data["events"])]
    data["events"].append(dict(ev, log_id=f"{ev['log_id']}d"))
    return _resort(data)


def _aim(data: dict, mutate, args: list) -> list:
    """Point an event index at the events that matter: those a verdict or context rule fired on, when any do."""
    if mutate in (rate,) or not args:
        return args
    try:
        truth = adjudicate(rebuild(data)).truth
    except ValidationError:
        return args
    fired = {i for f in truth.rules_fired for i in f.log_ids}
    relevant = [k for k, e in enumerate(data["events"]) if e["log_id"] in fired] or list(range(len(data["events"])))
    return [relevant[args[0] % len(relevant)], *args[1:]]


def _depicted_category(params, verdict: str) -> str:
    """A category of the verdict's kind (benign for dismiss) that the events depict, as a gaming attacker would pick."""
    kinds = BENIGN_CATEGORIES if verdict == "dismiss" else MALICIOUS_CATEGORIES
    window = Window(params)
    return next((c for c in kinds if CATEGORY_DEPICTIONS[c][1](window)), params.category)


MUTATIONS = st.one_of(
    st.tuples(st.just(path_form), st.integers(0, 63), st.integers(0, 4)),
    st.tuples(st.just(prefixes), st.integers(0, 63), st.integers(0, 5)),
    st.tuples(st.just(split), st.integers(0, 63), st.integers(2, 5)),
    st.tuples(st.just(rate), st.sampled_from([0.05, 0.2, 0.5, 2.0, 5.0, 20.0])),
    st.tuples(st.just(os_mismatch), st.integers(0, 63)),
    st.tuples(st.just(time_shift), st.integers(0, 63), st.integers(-7200, 7200)),
    st.tuples(st.just(pad), st.integers(0, 63)),
    st.tuples(st.just(duplicate), st.integers(0, 63)),
)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.sampled_from([t.name for t in TEMPLATES]),
    seed=st.integers(0, 10_000),
    task=st.sampled_from(["stage2_multi", "stage3_mixed", "stage4_adversarial"]),
    mutations=st.lists(MUTATIONS, min_size=1, max_size=3),
    claim_mutated_verdict=st.booleans(),
)
@pytest.mark.slow
def test_no_mutation_is_paid_against_a_right_defender(template, seed, task, mutations, claim_mutated_verdict):
    original = generate_from_template(template, seed, task=task)
    meaning = adjudicate(original).truth.action
    data = as_dict(original)
    for mutate, *args in mutations:
        data = mutate(data, *_aim(data, mutate, args))
    try:
        mutated = rebuild(data)
    except ValidationError:
        return  # the schema refused it: the attacker pays -0.5
    review = adjudicate(mutated)
    if claim_mutated_verdict:  # claim whatever the verifier now says, under a category the events depict
        mutated = mutated.model_copy(update={"target_label": review.truth.action,
                                             "category": _depicted_category(mutated, review.truth.action)})
        review = adjudicate(mutated)
    score = score_incident(mutated, meaning, adjudication=review)
    assert score.reward <= 0.0, (template, seed, task, [m[0].__name__ for m in mutations], review.truth.action, meaning,
                                 review.outcome, review.truth.deciding_rule_ids)
