"""The shells around the core that speak HTTP, WebSocket and JSON-RPC.

- ``wire``: the one JSON parser for every body and frame, and the error body every 4xx carries.
- ``middleware``: who may call, from where, and how much they may send.
- ``episodes``: what the service holds between requests (HTTP episodes, attacker runs).
- ``mcp``: the MCP tools over JSON-RPC.
- ``metadata``: ``/metadata`` and the index at ``/``.
- ``runtime_plan``: OpenEnv's runtime validation plan, written from code.
"""
