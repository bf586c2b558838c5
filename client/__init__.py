"""Python clients for an OpenSOC server.

- ``OpenSOCClient`` / ``AsyncOpenSOCClient``: HTTP (httpx), one call per request;
- ``OpenSOCSession`` / ``AsyncOpenSOCSession``: a WebSocket session on ``/ws`` (one environment
  per connection), the transport trainers use.

All return typed results (``StepResult`` with an ``OpenSOCObservation``) and raise
``OpenSOCError`` carrying the server's error code and the field it names.
"""

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
]
