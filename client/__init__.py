"""Python clients for an OpenSOC server.

- ``OpenSOCClient`` / ``AsyncOpenSOCClient``: HTTP (httpx), one call per request;
- ``OpenSOCSession`` / ``AsyncOpenSOCSession``: a WebSocket session on ``/ws`` (one environment
  per connection), the transport trainers use;
- ``OpensocEnv`` / ``OpensocAction``: OpenEnv's client under the names ``AutoEnv.from_env("opensoc")`` looks for
  (needs the ``openenv`` extra; ``openenv_client`` says how AutoEnv finds them).

The four OpenSOC clients are built alike: ``Client(base_url=None, token=None, ...)`` (``$OPENSOC_URL`` and
``$OPENSOC_API_TOKEN`` by default), ``Client.connect(...)`` (awaited for the async two) returns one that has
reached the server, and each is a context manager (``with``, or ``async with``) that closes it. The HTTP
constructors and ``AsyncOpenSOCSession`` connect on first use; ``OpenSOCSession`` connects in its constructor.
``examples/clients.py`` runs all four.

All return typed results (``StepResult`` with the family's observation) and raise ``OpenSOCError``: the server's
refusal with its error code and the field it names, or, when the server cannot be reached or refuses the token,
``SERVER_UNREACHABLE`` / ``UNAUTHORIZED`` with the URL and what to do.
"""

from typing import Any

from .http import AsyncOpenSOCClient, OpenSOCClient
from .results import OpenSOCError, StepResult
from .session import AsyncOpenSOCSession, OpenSOCSession

__all__ = [
    "AsyncOpenSOCClient",
    "AsyncOpenSOCSession",
    "OpenSOCClient",
    "OpenSOCError",
    "OpenSOCSession",
    "StepResult",
]  # OpensocEnv and OpensocAction (below) stay out of it: a star import must not need the openenv extra


def __getattr__(name: str) -> Any:
    # OpenEnv's client is an optional extra: imported only when its classes are asked for.
    if name in ("OpensocEnv", "OpensocAction"):
        try:
            from . import openenv_client  # optional heavy dependency: pulls in openenv
        except ModuleNotFoundError as exc:
            raise ImportError(f"opensoc.client.{name} needs OpenEnv's client: pip install -e '.[openenv]' "
                              f"(missing: {exc.name})") from exc
        return getattr(openenv_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
