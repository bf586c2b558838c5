"""OpenSOC: attacker-crafted security incidents, defender triage, deterministic verification.

The core (``schema`` → ``generator`` → ``verifier`` → ``rubric``, with the curriculum in
``tasks``) is pure and deterministic: no I/O, no wall clock, no global random state.
"""

# The one place the version is written: pyproject.toml reads it (dynamic), and the service, the CLI, the MCP
# server info and /openapi.json report it; tests hold openenv.yaml and CHANGELOG.md to it.
__version__ = "0.2.0"
