"""OpenSOC: attacker-crafted security incidents, defender triage, deterministic verification.

The core (``schema`` → ``generator`` → ``verifier`` → ``rubric``, with the curriculum in
``tasks``) is pure and deterministic: no I/O, no wall clock, no global random state.
"""

__version__ = "0.1.0"
