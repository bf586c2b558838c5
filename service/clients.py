"""Who a request comes from, for every share the service keeps per client.

A client is the peer address of the connection: one host, however many connections, WebSocket sessions or threads
it uses. Behind a reverse proxy listed in ``OPENSOC_TRUSTED_PROXIES``, uvicorn's proxy-headers layer has already put
the address the proxy's ``X-Forwarded-For`` names in the scope, and that is the client. The API token is not an
identity (every holder sends the same one), and a WebSocket session is one stream of its client's work: the core
worker serves the clients in turn and, within a client, its streams (connections) in turn.
"""

from __future__ import annotations

from typing import Any


def client_of(scope: Any) -> str:
    """The client of an ASGI scope (or of a Starlette request or WebSocket, which carry one)."""
    scope = getattr(scope, "scope", scope)
    peer = scope.get("client")
    return str(peer[0]) if peer else "unknown"


def stream_of(scope: Any) -> Any:
    """The connection a request came on (its peer address and port): one stream of its client's work."""
    scope = getattr(scope, "scope", scope)
    peer = scope.get("client")
    return tuple(peer) if peer else None
