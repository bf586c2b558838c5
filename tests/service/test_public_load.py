"""The server with its defaults, under each of the audit's seven attacks from another client: ``/health`` answers
under 100 ms (median of its probes), and the victim's own episodes go through.

The attacks are in ``load_attacks`` (each in a process of its own, from 127.0.0.2; the probe and the victim are
127.0.0.1). Before the fixes, the JSON reproducer held ``/health`` for 11-20 s, the idle connections made it a 503,
the reset flood left the victim 8 resets of 134, and the MCP flood took its reset-and-step from 5.7 ms to 1.8 s.
"""

from __future__ import annotations

import pytest
from support.load_attacks import ATTACKS, probe, under_attack
from support.server import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        probe(url, 2.0)  # warm: the first incidents and the worker's threads
        yield url, probe(url, 4.0)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_health_and_the_victim_hold_under_attack(server, attack):
    url, idle = server
    figures = under_attack(url, attack)
    assert figures["health_failures"] == 0, figures
    assert figures["health_ms_median"] < 100, figures
    assert figures["victim_statuses"] == [200], figures  # every reset and step of the victim went through
    if attack in ("mcp_investigate_flood", "reset_flood"):
        # Another client's flood costs the victim a few times its idle latency, not a queue of the flood's work.
        assert figures["victim_ms_median"] <= 5 * idle["victim_ms_median"] + 30, (idle, figures)
