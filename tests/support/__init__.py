"""Helpers the tests share: built with the tests, imported by them (never through conftest).

- ``REPO``, ``SHARED_DATA``: the checkout, and the real dataset samples beside it;
- ``server``: a free port, ``python server.py`` as the README runs it, an app served in a thread;
- ``timing``: what a call costs, without a shared machine's random pauses;
- ``incident_helpers``, ``crafting``: incidents as dicts and crafted incidents;
- ``tiny_lm``: the tokenizer and smallest model the training tests build, with nothing downloaded;
- ``load_attacks``: the costliest requests a public server must take;
- ``imports``: the package's import graph; ``toy_family``: a task family written in the tests alone.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
