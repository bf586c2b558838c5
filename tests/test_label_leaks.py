"""No label leaks through fields the verifier does not read.

A defender must not be able to learn the answer from how the generator writes an incident rather than from what
happens in it: how long the window lasts, which user agents appear, the log-id prefix (replays included) and
Windows logs on Linux hosts. A simple classifier (a lookup table over the field, with a minimum support per cell)
trained on such fields must do no better than one trained on the incident's structure alone (event count and
types), and where every window has decoys, no better than the base rate.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import pytest

from opensoc.generator import generate, generate_from_template
from opensoc.parsing.timestamps import parse_timestamp
from opensoc.verifier import compute_ground_truth
from opensoc.world.inventory import INVENTORY

N_TRAIN, N_TEST, MIN_SUPPORT = 2000, 800, 15
SLACK = 0.03

# Sound crafts with known verdicts, so stage 4 draws replays the way a self-play run feeds it.
REPLAY_POOL = {action: tuple(generate_from_template(t, s, task="stage2_multi") for s in range(6))
               for t, action in (("bulk_upload", "escalate"), ("https_beacon", "quarantine_host"),
                                 ("backup_upload", "dismiss"), ("external_port_scan", "block_ip"),
                                 ("malicious_attachment", "monitor"))}


def _features(params) -> dict:
    times = [parse_timestamp(e.timestamp) for e in params.events]
    span = (max(times) - min(times)).total_seconds()
    n = len(params.events)
    return {
        "structure": (min(n, 40) // 4 if n > 1 else -1, tuple(sorted({e.event_type for e in params.events}))),
        "span": 0 if span == 0 else int(math.log2(span) * 2),
        "user_agents": tuple(sorted({e.user_agent for e in params.events if getattr(e, "user_agent", None)})),
        "prefix": tuple(sorted({e.log_id.rsplit("-", 1)[0] for e in params.events})),
        "os_mismatch": any(e.source in ("sysmon", "windows_security") and INVENTORY.host(e.host).os_family == "linux"
                           for e in params.events),
    }


def _lookup_accuracy(train, test, keys, fallback) -> float:
    """Accuracy of predicting the majority label of each cell of ``keys`` seen ≥ MIN_SUPPORT times; other cells
    use ``fallback`` (a function of the features)."""
    cells: dict[tuple, Counter] = defaultdict(Counter)
    for f, y in train:
        cells[tuple(f[k] for k in keys)][y] += 1
    right = 0
    for f, y in test:
        cell = cells.get(tuple(f[k] for k in keys))
        guess = cell.most_common(1)[0][0] if cell and sum(cell.values()) >= MIN_SUPPORT else fallback(f)
        right += guess == y
    return right / len(test)


@pytest.fixture(scope="module", params=["stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial"])
def stage(request):
    pool = REPLAY_POOL if request.param == "stage4_adversarial" else None
    rows = []
    for seed in range(N_TRAIN + N_TEST):
        params = generate(request.param, seed, pool)
        rows.append((_features(params), compute_ground_truth(params).action))
    return request.param, rows[:N_TRAIN], rows[N_TRAIN:]


@pytest.mark.slow  # more than a second
def test_leak_fields_add_nothing_to_the_structure(stage):
    task, train, test = stage
    majority = Counter(y for _, y in train).most_common(1)[0][0]
    structure_cells: dict[tuple, Counter] = defaultdict(Counter)
    for f, y in train:
        structure_cells[f["structure"]][y] += 1

    def by_structure(f):
        cell = structure_cells.get(f["structure"])
        return cell.most_common(1)[0][0] if cell else majority

    baseline = sum(by_structure(f) == y for f, y in test) / len(test)
    for field in ("span", "user_agents", "prefix", "os_mismatch"):
        with_field = _lookup_accuracy(train, test, ["structure", field], by_structure)
        assert with_field <= baseline + SLACK, (task, field, with_field, baseline)
    everything = _lookup_accuracy(train, test, ["structure", "span", "user_agents", "prefix", "os_mismatch"], by_structure)
    assert everything <= baseline + SLACK, (task, everything, baseline)


def test_window_length_alone_is_the_base_rate_where_windows_have_decoys(stage):
    task, train, test = stage
    if task not in ("stage3_mixed", "stage4_adversarial"):
        pytest.skip("without decoys a single event's window has no length, which is structure")
    majority = Counter(y for _, y in train).most_common(1)[0][0]
    base = sum(y == majority for _, y in test) / len(test)
    for field in ("span", "prefix", "os_mismatch"):
        assert _lookup_accuracy(train, test, [field], lambda f: majority) <= base + SLACK, (task, field)


def test_upload_user_agents_say_nothing():
    """The leak found before: on large uploads the backup agent meant dismiss and a browser meant escalate. Every web
    upload's agent, method and path shape are now drawn from one pool: the distributions for benign and malicious
    uploads match (total variation distance, on about a thousand uploads each)."""
    def uploads(templates):
        fields: dict[str, Counter] = {"agent": Counter(), "method": Counter(), "path": Counter()}
        for template in templates:
            for seed in range(250):
                for e in generate_from_template(template, seed).events:
                    if e.event_type == "http_request" and e.source_bytes >= 1_000_000:
                        fields["agent"][e.user_agent] += 1
                        fields["method"][e.method] += 1
                        fields["path"][e.url_path.split("/")[1]] += 1
        return fields

    benign = uploads(["backup_upload", "backup_window"])
    malicious = uploads(["bulk_upload", "chunked_upload", "lookalike_vault_upload", "fan_out_exfiltration"])
    for name in ("agent", "method", "path"):
        b, m = benign[name], malicious[name]
        distance = 0.5 * sum(abs(b[k] / sum(b.values()) - m[k] / sum(m.values())) for k in set(b) | set(m))
        assert distance < 0.08, (name, distance)


def test_every_log_id_carries_the_stage_prefix_and_windows_logs_stay_on_windows(stage):
    task, train, test = stage
    assert all(f["prefix"] == (f"L{task[5]}",) for f, _ in train + test)
    assert not any(f["os_mismatch"] for f, _ in train + test)
