"""Who may call OpenSOC, from where, and how much they may send: checked before any route runs.

``ServiceGate`` is an ASGI middleware around the whole app (the API, ``/ws`` and the demo):

- a bearer token (``OPENSOC_API_TOKEN``): when set, every route but ``/health`` and the demo
  (which asks for the token on its own login page) needs ``Authorization: Bearer <token>``,
  or gets 401 (a WebSocket handshake too);
- browser origins on WebSockets (``OPENSOC_ALLOWED_ORIGINS``): a handshake carrying an ``Origin``
  must come from a listed origin, the server's public URL (``OPENSOC_PUBLIC_URL``; on a Hugging
  Face Space, ``https://$SPACE_HOST``), or a loopback origin while the ``Host`` is loopback too
  (a developer's own browser), or gets 403; programs that send no ``Origin`` are not browsers and
  pass (the token is what keeps them out). An ``Origin`` equal to the ``Host`` proves nothing: a
  page whose DNS name is rebound to this server's address sends exactly that;
- uploads to the demo: it takes none, so Gradio's upload and recording routes are refused (403
  ``UPLOADS_OFF``), and no client can store a file there for others to fetch;
- the body limit (``OPENSOC_MAX_BODY_BYTES``): a ``Content-Length`` over it is refused with
  413 before a byte of the body is read, and a body sent without one is read up to the limit
  and refused there, so no request buffers more than the limit.

Refusals are OpenSOC's JSON error bodies, so clients see one error shape everywhere.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from .wire import error_body, json_bytes

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


UPLOAD_ROUTES = ("/gradio_api/upload", "/gradio_api/process_recording", "/upload")  # under the demo's prefix


def loopback_host(host: str) -> bool:
    """Whether a Host or origin host (with or without its port) names this machine's loopback interface."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class ServiceGate:
    """The checks above; ``open_paths`` skip the token, ``demo_prefix`` has its own login."""

    def __init__(self, app: Callable, *, token: str | None, allowed_origins: Iterable[str], max_body_bytes: int,
                 open_paths: Iterable[str] = ("/health",), demo_prefix: str = "/demo", public_url: str | None = None):
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.public_url = public_url.rstrip("/").lower() if public_url else None
        self.open_paths, self.demo_prefix = frozenset(open_paths), demo_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        root, path = scope.get("root_path", ""), scope["path"]
        if root and path.startswith(root):
            path = path[len(root):]
        demo = path == self.demo_prefix or path.startswith(self.demo_prefix + "/")
        if self.token is not None and path not in self.open_paths and not demo and not self._authorized(scope):
            await self._refuse(scope, receive, send, 401, error_body(
                "UNAUTHORIZED", "this server needs Authorization: Bearer <token> (the OPENSOC_API_TOKEN it was "
                "started with)", "Authorization", "Bearer <token>"), [(b"www-authenticate", b'Bearer realm="opensoc"')])
            return
        if kind == "websocket":
            refusal = None if demo else self._origin_refusal(scope)
            if refusal is not None:
                await self._refuse(scope, receive, send, 403, refusal)
                return
            await self.app(scope, receive, send)
            return
        if demo and scope.get("method") == "POST" and path[len(self.demo_prefix):] in UPLOAD_ROUTES:
            declared = (_header(scope, b"content-length") or "").strip()
            if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(send, f"Content-Length is {int(declared):,} bytes")
                return
            await _send_json(send, 403, error_body("UPLOADS_OFF", "the demo takes no uploads: this server stores no "
                                                   "file a client sends", "path", "the demo's own inputs"))
            return
        await self._limited_http(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = _header(scope, b"authorization") or ""
        scheme, _, credentials = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def _origin_refusal(self, scope: Scope) -> dict | None:
        origin = _header(scope, b"origin")
        if origin is None:
            return None
        origin = origin.rstrip("/").lower()
        if "*" in self.allowed_origins or origin in self.allowed_origins or origin == self.public_url:
            return None
        host = _header(scope, b"host") or ""
        if loopback_host(urlsplit(origin).netloc) and loopback_host(host):
            return None  # a page this machine served to its own browser
        allowed = sorted(self.allowed_origins | ({self.public_url} if self.public_url else set())) or [
            "a loopback origin on a loopback Host (set OPENSOC_ALLOWED_ORIGINS or OPENSOC_PUBLIC_URL for others)"]
        return error_body("FORBIDDEN_ORIGIN", f"WebSocket connections from the web page at {origin[:200]!r} are not "
                          "allowed; OPENSOC_ALLOWED_ORIGINS lists the origins that are", "Origin", allowed)

    async def _limited_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        declared = (_header(scope, b"content-length") or "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, f"Content-Length is {int(declared):,} bytes")
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body; there is no one to answer
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._too_large(send, f"the body passed {limit:,} bytes")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        buffered = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> dict:
            nonlocal buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            return await receive()  # after the body: the disconnect, for streaming responses

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, what: str) -> None:
        await _send_json(send, 413, error_body("BODY_TOO_LARGE", f"{what}; the limit is {self.max_body_bytes:,}",
                                               "body", f"at most {self.max_body_bytes} bytes"))

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, body: dict,
                      headers: list[tuple[bytes, bytes]] = ()) -> None:
        if scope["type"] == "http":
            await _send_json(send, status, body, headers)
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):  # an HTTP answer to the handshake
            payload = json_bytes(body)
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode()), *headers]})
            await send({"type": "websocket.http.response.body", "body": payload})
        else:  # servers without the extension answer a refused handshake with 403
            await send({"type": "websocket.close", "code": 1008})


async def _send_json(send: Send, status: int, body: dict, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    payload = json_bytes(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})
