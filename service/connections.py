"""Connections: no number of idle, slow or half-sent connections from one client may take the server from others.

uvicorn times out an idle keep-alive connection, but nothing else: a connection that sends nothing, half a request
head, or a body a byte a minute was held for as long as its client liked, and 1,024 of them (its concurrency limit)
made every route, ``/health`` included, answer 503. ``guarded_protocol`` is uvicorn's h11 protocol with:

- a deadline for the request head (``OPENSOC_HEADER_TIMEOUT_S``, 10 s): from the connection's start, or from the
  end of the previous response, to the last header line; counted in all, so trickling bytes does not extend it;
- a deadline for the body (``OPENSOC_BODY_TIMEOUT_S``, 30 s, a mebibyte at 35 KB/s) from the end of the head;
- either passing answers ``408`` with OpenSOC's JSON error body (``REQUEST_TIMEOUT``) and closes the connection;
- a share per client (``ConnectionGuard``): a client may hold at most ``OPENSOC_MAX_CONNECTIONS_PER_CLIENT``
  connections (WebSockets included) and the server ``OPENSOC_MAX_CONNECTIONS``; a connection past either is
  answered, once its request head is in, with ``429 TOO_MANY_CONNECTIONS`` or ``503 SERVER_BUSY`` (JSON, with
  ``Retry-After``) and closed, and holds nothing meanwhile but its socket and the head deadline (2 s for it);
- a malformed or oversized request head answered with the JSON error body instead of uvicorn's plain text.

A client is the peer address of the connection. Behind a reverse proxy every connection comes from the proxy: its
addresses (``OPENSOC_TRUSTED_PROXIES``) are exempt from the share, and the client of each request is then the one
its ``X-Forwarded-For`` names (``clients.client_of``); the proxy enforces its own limits per connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import ServiceSettings
from .wire import error_body, json_bytes

REFUSED_HEAD_TIMEOUT_S = 2.0  # a refused connection gets this long to send the head its refusal answers
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 429: b"Too Many Requests", 503: b"Service Unavailable"}


def trusted(address: str, proxies: tuple[str, ...]) -> bool:
    """Whether ``address`` is one of ``proxies`` (addresses or networks; ``*`` for any)."""
    if not proxies:
        return False
    if "*" in proxies:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def raw_response(status: int, body: dict, headers: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, with OpenSOC's JSON body."""
    payload = json_bytes(body)
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Error")), b"content-type: application/json",
             b"content-length: %d" % len(payload), b"connection: close", *(k + b": " + v for k, v in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


class ConnectionGuard:
    """The connections held, per client and in all; shared by every connection of one server."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.by_client: dict[str, set[asyncio.BaseTransport]] = {}
        self.total = 0

    def _prune(self, client: str) -> None:
        held = self.by_client.get(client)
        if held is None:
            return
        closed = {t for t in held if t.is_closing()}
        if closed:
            held -= closed
            self.total -= len(closed)
        if not held:
            del self.by_client[client]

    def _prune_all(self) -> None:
        for client in list(self.by_client):
            self._prune(client)

    def admit(self, client: str, transport: asyncio.BaseTransport) -> tuple[int, dict, tuple] | None:
        """Hold ``transport`` for ``client``, or the refusal (status, body, headers) to answer it with."""
        self._prune(client)
        if self.total >= self.settings.max_connections:
            self._prune_all()  # an upgraded WebSocket's close reaches no h11 protocol: count what is really open
        if self.total >= self.settings.max_connections:
            return 503, error_body("SERVER_BUSY", f"the server holds {self.total:,} connections, its limit; retry "
                                   "in a second", None, "a retry after 1 s"), ((b"retry-after", b"1"),)
        exempt = trusted(client, self.settings.trusted_proxies)
        held = self.by_client.setdefault(client, set())
        share = self.settings.share("max_connections")
        if not exempt and len(held) >= share:
            return 429, error_body("TOO_MANY_CONNECTIONS", f"this client ({client}) holds {len(held):,} connections, "
                                   f"its share of the server; close one, or reuse them (keep-alive)", None,
                                   f"at most {share} connections from one client"), ((b"retry-after", b"1"),)
        held.add(transport)
        self.total += 1
        return None

    def release(self, client: str, transport: asyncio.BaseTransport) -> None:
        held = self.by_client.get(client)
        if held is not None and transport in held:
            held.discard(transport)
            self.total -= 1
            if not held:
                del self.by_client[client]


def guarded_protocol(settings: ServiceSettings, guard: ConnectionGuard | None = None) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the deadlines and shares above (pass the class as ``uvicorn.run(http=...)``)."""
    guard = guard or ConnectionGuard(settings)

    class GuardedH11Protocol(H11Protocol):
        guard_state = guard

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._timer: asyncio.TimerHandle | None = None
            self._peer = self.client[0] if self.client else ""
            self._refusal = guard.admit(self._peer, transport)
            self._held = self._refusal is None
            if self._refusal is not None:
                self.app = self._answer_refusal  # the head is parsed as usual; the answer is the refusal
                self._arm(REFUSED_HEAD_TIMEOUT_S, "the request head")
            else:
                self._arm(settings.header_timeout_s, "the request head")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._held:
                guard.release(self._peer, self.transport)
                self._held = False
            super().connection_lost(exc)

        # ------------------------------------------------------------ deadlines

        def _arm(self, seconds: float, what: str) -> None:
            self._disarm()
            self._timer_for = what
            self._timer = self.loop.call_later(seconds, self._expired, seconds, what)

        def _disarm(self) -> None:
            if getattr(self, "_timer", None) is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self, seconds: float, what: str) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
                self.transport.write(raw_response(408, error_body(
                    "REQUEST_TIMEOUT", f"{what} did not arrive within {seconds:g} s; the connection is closed", None,
                    f"{what} within {seconds:g} s")))
            self.transport.close()

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            cycle = self.cycle
            if cycle is not before and cycle is not None:  # a request head arrived: now its body, if any
                if cycle.more_body:
                    self._arm(settings.body_timeout_s, "the request body")
                else:
                    self._disarm()
            elif self._timer is not None and self._timer_for == "the request body" and cycle is not None \
                    and not cycle.more_body:
                self._disarm()  # the body is complete: what the request costs now is the server's to bound

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm(settings.header_timeout_s, "the request head")  # before pipelined requests are read
            super().on_response_complete()

        def handle_websocket_upgrade(self, event: Any) -> None:
            self._disarm()
            if self._refusal is not None:
                status, body, headers = self._refusal
                self.transport.write(raw_response(status, body, headers))
                self.transport.close()
                return
            super().handle_websocket_upgrade(event)

        def send_400_response(self, msg: str) -> None:
            self._disarm()
            self.transport.write(raw_response(400, error_body(
                "MALFORMED_REQUEST", f"{msg} (a request line and headers of at most 16 KiB, in HTTP/1.1)", None,
                "an HTTP/1.1 request with at most 16 KiB of request line and headers")))
            self.transport.close()

        async def _answer_refusal(self, scope: Any, receive: Any, send: Any) -> None:
            assert self._refusal is not None
            status, body, headers = self._refusal
            payload = json_bytes(body)
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"), *headers]})
            await send({"type": "http.response.body", "body": payload})

    return GuardedH11Protocol
