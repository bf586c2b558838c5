"""What the clients raise when the server cannot be reached or refuses them: ``OpenSOCError`` with a code and a
message that names the URL and says what to do, in place of the transport's own exceptions.

Codes: ``SERVER_UNREACHABLE`` (nothing answered at the URL, or not in time), ``UNAUTHORIZED`` (the server needs the
API token it was started with, or refused the one sent), ``INVALID_URL`` (not an http(s) or ws(s) URL) and
``INVALID_PARAMETER`` (a seed or index no server takes, refused before sending). A refusal the server explains keeps
the server's own code (``http_error``).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import httpx
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from ..models import OpenSOCError
from .results import http_error

TOKEN_VARIABLE = "OPENSOC_API_TOKEN"
MAX_SEED = 2**63 - 1  # the service's bound on seeds and indices (service.wire.MAX_SEED; a test holds them equal)


def _token_note(token_sent: bool) -> str:
    if token_sent:
        return "an API token is set"
    return f"no API token is set (a server started with {TOKEN_VARIABLE} needs it here too: {TOKEN_VARIABLE} or token=)"


class ServerUnreachableError(OpenSOCError, ConnectionError):
    """No OpenSOC server answered: an ``OpenSOCError`` (code ``SERVER_UNREACHABLE``) that is also the
    ``ConnectionError`` (an ``OSError``) code written before the clients said so still catches."""

    code = "SERVER_UNREACHABLE"


def unreachable(url: str, reason: str, token_sent: bool) -> OpenSOCError:
    return ServerUnreachableError(f"no OpenSOC server answered at {url} ({reason}): start one with `opensoc serve`, "
                                  f"or point OPENSOC_URL (or base_url=) at a running one; {_token_note(token_sent)}",
                                  field="base_url")


def unauthorized(url: str, token_sent: bool, status: int | None = 401, body: Any = None) -> OpenSOCError:
    if token_sent:
        message = (f"{url} refused the API token sent (token= or {TOKEN_VARIABLE}): it is not the one the server was "
                   "started with")
    else:
        message = (f"{url} needs an API token and none was sent: set {TOKEN_VARIABLE} (or pass token=) to the token "
                   "the server was started with")
    return OpenSOCError(message, code="UNAUTHORIZED", field="Authorization", expected="Bearer <token>", status=status,
                        body=body)


def invalid_url(url: str, detail: str) -> OpenSOCError:
    return OpenSOCError(f"{url!r} is not a server URL ({detail}); expected http(s)://host[:port], e.g. "
                        "http://localhost:8000", code="INVALID_URL", field="base_url",
                        expected="http(s)://host[:port]")


def _reason(exc: BaseException) -> str:
    """A short account of a socket-level failure: 'connection refused' rather than '[Errno 111] ...'."""
    errno = getattr(exc, "errno", None)
    strerror = getattr(exc, "strerror", None)
    if isinstance(errno, int) and errno > 0 and not isinstance(exc, socket.gaierror):
        strerror = os.strerror(errno)  # asyncio's own wording names the address again: 'Connect call failed (...)'
    if strerror:
        return strerror[0].lower() + strerror[1:]
    text = str(exc) or type(exc).__name__
    if text.startswith("[Errno"):
        text = text.split("] ", 1)[-1]
    return text[0].lower() + text[1:] if text else type(exc).__name__


def from_httpx(exc: Exception, url: str, token_sent: bool, timeout: float | None) -> OpenSOCError:
    """The ``OpenSOCError`` for an httpx transport failure on a request to ``url``."""

    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return invalid_url(url, _reason(exc))
    if isinstance(exc, httpx.TimeoutException):
        what = "connecting" if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)) else "waiting for an answer"
        limit = f" after {timeout:g} s" if timeout is not None else ""
        return unreachable(url, f"timed out {what}{limit}; a slow server needs a longer timeout=", token_sent)
    return unreachable(url, _reason(_root_cause(exc)), token_sent)


def _root_cause(exc: BaseException) -> BaseException:
    """The socket error under a transport's wrappers (httpx, then httpcore, then anyio's 'All connection attempts
    failed'): the one that says what happened."""
    found, seen = exc, 0
    while seen < 8:
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc, seen = inner, seen + 1
        if isinstance(exc, OSError) and getattr(exc, "errno", None) is not None:
            found = exc
    return found


def from_websocket(exc: Exception, url: str, token_sent: bool, open_timeout: float | None) -> OpenSOCError | None:
    """The ``OpenSOCError`` for a failed WebSocket handshake with ``url``, or ``None`` for an error of another kind."""

    if isinstance(exc, InvalidURI):
        return invalid_url(url, "the scheme must be http, https, ws or wss")
    if isinstance(exc, InvalidStatus):
        response = exc.response
        try:
            payload: Any = json.loads(response.body or b"")
        except ValueError:
            payload = (response.body or b"").decode("utf-8", "replace")[:300]
        if response.status_code == 401:
            return unauthorized(url, token_sent, body=payload)
        if response.status_code == 404:
            return unreachable(url, "the server there answered 404: it is not an OpenSOC server, or the URL has a path",
                               token_sent)
        error = http_error(response.status_code, payload)
        error.message = f"{url} refused the WebSocket session: {error.message}"
        return error
    if isinstance(exc, TimeoutError):
        limit = f" after {open_timeout:g} s" if open_timeout is not None else ""
        return unreachable(url, f"timed out opening the session{limit}", token_sent)
    if isinstance(exc, InvalidHandshake):
        return unreachable(url, f"the server there did not open a WebSocket session: {exc}", token_sent)
    if isinstance(exc, OSError):
        return unreachable(url, _reason(exc), token_sent)
    return None


def check_numbers(**values: Any) -> None:
    """Refuse a seed or index that no server takes before sending it: one of more than 20 digits is not even read
    as JSON by the server, so its answer could not name the field."""
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_SEED:
            shown = str(value) if abs(value).bit_length() < 200 else f"an integer of about {abs(value).bit_length() * 3 // 10} digits"
            raise OpenSOCError(f"{name} must be an integer from 0 to {MAX_SEED}, got {shown}", code="INVALID_PARAMETER",
                               field=name, expected=f"an integer from 0 to {MAX_SEED}")
