"""The data model is strict, bounded and round-trips generated incidents as attacker crafts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from support.incident_helpers import as_dict, rebuild

from opensoc.families.registry import action_model
from opensoc.generator import generate
from opensoc.schema import MAX_EVENTS, IncidentParams, SubmitTriage
from opensoc.tasks import task_names

OpenSOCAction = action_model()


def _errors(exc: pytest.ExceptionInfo) -> list[tuple]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


@pytest.mark.parametrize("task", task_names())
def test_generated_incident_replays_as_craft(task):
    params = generate(task, 3)
    action = OpenSOCAction.model_validate({"craft_incident": params.model_dump(mode="json")})
    assert action.craft_incident == params
    assert action.name == "craft_incident"


def test_dotted_field_names_on_the_wire():
    data = as_dict(generate("stage2_multi", 11))
    keys = {k for ev in data["events"] for k in ev}
    assert {"log_id", "timestamp", "event_type", "source", "host"} <= keys
    assert any("." in k for k in keys)
    assert not any(k in keys for k in ("source_ip", "process_command_line", "destination_port"))


def test_python_attribute_names_are_not_accepted(incident):
    data = incident("bulk_upload")
    ev = data["events"][0]
    ev["source_ip"] = ev.pop("source.ip")
    with pytest.raises(ValidationError) as exc:
        rebuild(data)
    assert any("source_ip" in loc or "source.ip" in loc for loc in map(str, _errors(exc)))


def test_unknown_event_field_rejected(incident):
    data = incident("lsass_memory_read")
    data["events"][0]["label"] = "benign"
    with pytest.raises(ValidationError) as exc:
        rebuild(data)
    assert exc.value.errors()[0]["type"] == "extra_forbidden"


def test_unknown_incident_field_rejected(incident):
    data = incident("lsass_memory_read")
    data["verdict"] = "dismiss"
    with pytest.raises(ValidationError):
        rebuild(data)


def test_event_type_vocabulary_is_closed(incident):
    data = incident("lsass_memory_read")
    data["events"][0]["event_type"] = "kernel_exploit"
    with pytest.raises(ValidationError) as exc:
        rebuild(data)
    assert exc.value.errors()[0]["type"] == "union_tag_invalid"


def test_category_vocabulary_is_closed(incident):
    data = incident("lsass_memory_read")
    data["category"] = "apt_campaign"
    with pytest.raises(ValidationError):
        rebuild(data)


def test_event_count_bounds(incident):
    data = incident("dns_tunnel")
    data["events"] = []
    with pytest.raises(ValidationError):
        rebuild(data)
    one = data | {"events": [incident("dns_tunnel")["events"][0]]}
    many = [dict(one["events"][0], log_id=f"X-{i}") for i in range(MAX_EVENTS + 1)]
    with pytest.raises(ValidationError) as exc:
        rebuild(one | {"events": many})
    assert exc.value.errors()[0]["type"] == "too_long"
    assert len(rebuild(one | {"events": many[:MAX_EVENTS]}).events) == MAX_EVENTS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "2026-13-01T00:00:00Z"),
        ("timestamp", "2026-03-01 10:00:00"),
        ("timestamp", "2026-03-01T10:00:00+02:00"),
        ("log_id", "L1-0; DROP TABLE"),
        ("log_id", ""),
        ("host", "x" * 65),
    ],
)
def test_base_fields_are_checked(incident, field, value):
    data = incident("lsass_memory_read")
    data["events"][0][field] = value
    with pytest.raises(ValidationError) as exc:
        rebuild(data)
    assert exc.value.errors()[0]["loc"][-1] == field


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("destination.port", "443", "int_type"),
        ("destination.port", 70000, "less_than_equal"),
        ("source.bytes", -1, "greater_than_equal"),
        ("destination.ip", "010.010.001.011", "value_error"),
        ("destination.ip", "999.1.1.1", "value_error"),
        ("destination.ip", "::FFFF:1.2.3.4", "value_error"),
        ("network.transport", "sctp", "literal_error"),
    ],
)
def test_network_fields_are_typed(incident, field, value, error):
    data = incident("external_port_scan")
    data["events"][0][field] = value
    with pytest.raises(ValidationError) as exc:
        rebuild(data)
    err = exc.value.errors()[0]
    assert err["type"] == error
    assert err["loc"][-1] == field


def test_text_fields_are_bounded(incident):
    data = incident("lolbin_download")
    data["events"][0]["process.command_line"] = "A" * 1025
    with pytest.raises(ValidationError):
        rebuild(data)
    data = incident("lolbin_download")
    data["narrative"] = "n" * 4001
    with pytest.raises(ValidationError):
        rebuild(data)


def test_submit_triage_contract():
    ok = SubmitTriage.model_validate({"action": "monitor", "cited_log_id": "L1-0", "rationale": "r", "confidence": 0.5})
    assert ok.confidence == 0.5
    assert SubmitTriage.model_validate({"action": "dismiss", "cited_log_id": "L1-0"}).rationale == ""
    for bad in (
        {"action": "isolate", "cited_log_id": "L1-0"},
        {"action": "monitor", "cited_log_id": "L1-0,L1-1"},
        {"action": "monitor", "cited_log_id": ["L1-0"]},
        {"action": "monitor", "cited_log_id": "L1-0", "confidence": 1.5},
        {"action": "monitor", "cited_log_id": "L1-0", "rationale": "x" * 2001},
        {"action": "monitor", "cited_log_id": "L1-0", "reward": 1.0},
        {"action": "monitor"},
    ):
        with pytest.raises(ValidationError):
            SubmitTriage.model_validate(bad)


def test_action_holds_exactly_one_role():
    triage = {"action": "monitor", "cited_log_id": "L1-0"}
    craft = generate("stage1_basic", 1).model_dump(mode="json")
    assert OpenSOCAction.model_validate({"submit_triage": triage}).name == "submit_triage"
    for bad in ({}, {"submit_triage": triage, "craft_incident": craft}, {"submit_triage": None}):
        with pytest.raises(ValidationError) as exc:
            OpenSOCAction.model_validate(bad)
        assert "exactly one" in str(exc.value)


def test_incident_json_schema_is_serialisable():
    schema = IncidentParams.model_json_schema()
    assert "events" in schema["properties"]
    assert schema["properties"]["events"]["maxItems"] == MAX_EVENTS


@pytest.mark.parametrize("timestamp", ["２０２６-03-02T09:15:00Z", "2026-03-02T09:15:00.٣Z", "2026-03-02T0९:15:00Z"])
def test_timestamps_take_ascii_digits_only(incident, timestamp):
    # Unicode digits once passed the pattern and then broke the verifier's datetime parsing.
    data = incident("lsass_memory_read")
    data["events"][0]["timestamp"] = timestamp
    with pytest.raises(ValidationError, match="String should match pattern"):
        IncidentParams.model_validate(data)
