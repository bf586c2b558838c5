"""Characters no log shows as written, written into the values of honest incidents: a zero-width space before
``C:\\Windows``, a right-to-left override in a file name, a no-break space after ``svchost.exe``. A reader skims past
them; the system that would have logged the value would not (that ``svchost.exe`` is no file in System32). The
variants are generated from Unicode's own categories, put at the start, the end and before the extension of every
string value of every event, and each must be refused as UNMODELLED_VALUE, never read as if the character were not
there. Before this check, 11,350 of 20,880 such variants of 240 honest incidents were admitted, and a benign verdict
they kept (``svchost.exe`` and a no-break space, read as svchost) paid an attacker whenever a defender distrusted the
odd name."""

from __future__ import annotations

import unicodedata

import pytest

from opensoc.adjudication.admission import check_plausibility, unreadable_character
from opensoc.adjudication.gate import adjudicate
from opensoc.generator import generate
from opensoc.schema import IncidentParams
from opensoc.tasks.registry import TASKS

UNSHOWN = [chr(c) for c in range(0x80, 0x10000)
           if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp") or (unicodedata.category(chr(c)) == "Zs" and c != 0x20)]
COMBINING = [chr(c) for c in range(0x300, 0x370)]  # combining diacritical marks
FIXED = {"log_id", "timestamp", "event_type", "source"}  # held by the schema's own patterns and literals


def _variants(value: str, n: int):
    """Three placements of three characters drawn (deterministically, by ``n``) from the generated lists."""
    dot = value.rfind(".")
    for ch in (UNSHOWN[(7 * n) % len(UNSHOWN)], UNSHOWN[(7 * n + 3) % len(UNSHOWN)], COMBINING[n % len(COMBINING)]):
        yield ch + value
        yield value + ch
        if dot > 0:
            yield value[:dot] + ch + value[dot:]


@pytest.mark.parametrize("task", TASKS)
def test_every_value_with_an_unshown_character_is_refused(task):
    tried = 0
    for seed in range(3):
        honest = generate(task, seed)
        assert adjudicate(honest).sound
        data = honest.model_dump(mode="json", by_alias=True, exclude_none=True)
        for i, event in enumerate(data["events"]):
            for n, (field, value) in enumerate(event.items()):
                if field in FIXED or not isinstance(value, str) or not value:
                    continue
                for variant in _variants(value, seed * 101 + i * 13 + n):
                    mutated = {**data, "events": [dict(e) for e in data["events"]]}
                    mutated["events"][i][field] = variant
                    try:
                        params = IncidentParams.model_validate(mutated)
                    except ValueError:
                        continue  # the schema refuses it already
                    tried += 1
                    report = check_plausibility(params)
                    assert any(v.code == "UNMODELLED_VALUE" and f"{field} holds" in v.message
                               for v in report.violations), (task, seed, field, ascii(variant))
                    assert not adjudicate(params).sound
    assert tried > 100


def test_what_a_log_shows_as_written_is_read():
    assert unreadable_character("C:\\Windows\\System32\\svchost.exe") is None
    assert unreadable_character("José Núñez") is None  # composed letters (NFC)
    assert unreadable_character("powershell -c \"a\"\n\tb", text=True) is None  # a script's new lines and tabs
    assert unreadable_character("a\nb") is not None  # but not in a path or a name
    assert "not in Unicode's NFC form" in unreadable_character(unicodedata.normalize("NFD", "José"))
    assert "zero width space" in unreadable_character("\u200bC:\\Windows\\System32\\svchost.exe")
    assert "right-to-left override" in unreadable_character("invoice\u202efdp.exe")
    assert "no-break space" in unreadable_character("svchost.exe\u00a0")
    assert "combining" in unreadable_character("svchost\u0301.exe")
    assert unreadable_character("re\u0301sume\u0301", text=True) is not None  # decomposed, so not NFC either way
    assert unreadable_character("x\u036ey", text=True) is not None  # a mark no letter composes with


def test_a_defender_that_distrusts_the_odd_name_pays_the_attacker_nothing():
    from opensoc.rubric import score_incident

    data = generate("stage1_basic", 40).model_dump(mode="json", by_alias=True, exclude_none=True)
    event = next(e for e in data["events"] if e.get("process.executable"))
    event["process.executable"] += "\u00a0"  # was read as the trusted program: dismiss, and 1.2 paid for an escalate
    score = score_incident(IncidentParams.model_validate(data), "escalate")
    assert score.outcome == "implausible" and score.reward == 0.0 and score.violation_codes == ["UNMODELLED_VALUE"]
