"""Shared fixtures for the test suite."""

from __future__ import annotations

import pytest
from incident_helpers import as_dict

from opensoc.generator import generate_from_template


@pytest.fixture
def incident():
    """Factory: a template's incident as a mutable dict."""
    return lambda template, seed=0: as_dict(generate_from_template(template, seed))
