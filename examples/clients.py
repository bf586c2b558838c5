"""OpenSOC's four Python clients, connected the same way: one defender episode on each.

    opensoc serve &                      # or any running server
    python examples/clients.py [URL]     # default: $OPENSOC_URL, else http://localhost:8000

Every client takes ``base_url`` and ``token`` (``$OPENSOC_URL`` and ``$OPENSOC_API_TOKEN`` when left out), has a
``connect()`` classmethod that returns a client that has reached the server (awaited for the async two), and is a
context manager that closes it. A server that is not there, or wants a token that was not given, raises
``OpenSOCError`` with the code ``SERVER_UNREACHABLE`` or ``UNAUTHORIZED`` and a message that says what to do.
"""

from __future__ import annotations

import asyncio
import sys

from opensoc.client import (
    AsyncOpenSOCClient,
    AsyncOpenSOCSession,
    OpenSOCClient,
    OpenSOCError,
    OpenSOCSession,
)


def triage(result) -> dict:
    """The triage this example submits for every alert: monitor, citing the alert's first event."""
    first_event = result.observation.alert.events[0].log_id
    return {"submit_triage": {"action": "monitor", "cited_log_id": first_event, "rationale": "example"}}


def http_sync(url: str | None) -> float:
    # connect() checks the server and the token now; OpenSOCClient(url) would wait for the first request.
    with OpenSOCClient.connect(url) as client:
        first = client.reset(task="stage1_basic", seed=1)
        result = client.step(triage(first))  # continues the episode reset() started
        return result.reward


async def http_async(url: str | None) -> float:
    async with AsyncOpenSOCClient(url) as client:  # or: client = await AsyncOpenSOCClient.connect(url)
        first = await client.reset(task="stage1_basic", seed=1)
        result = await client.step(triage(first))
        return result.reward


def websocket_sync(url: str | None) -> float:
    with OpenSOCSession(url) as session:  # connects here; OpenSOCSession.connect(url) is the same
        first = session.reset(task="stage1_basic", seed=1)
        result = session.step(triage(first))
        return result.reward


async def websocket_async(url: str | None) -> float:
    async with AsyncOpenSOCSession(url) as session:  # connects here; or: await AsyncOpenSOCSession.connect(url)
        first = await session.reset(task="stage1_basic", seed=1)
        result = await session.step(triage(first))
        return result.reward


def main(url: str | None = None) -> int:
    try:
        rewards = {
            "OpenSOCClient": http_sync(url),
            "AsyncOpenSOCClient": asyncio.run(http_async(url)),
            "OpenSOCSession": websocket_sync(url),
            "AsyncOpenSOCSession": asyncio.run(websocket_async(url)),
        }
    except OpenSOCError as exc:  # SERVER_UNREACHABLE, UNAUTHORIZED, or the server's refusal of a request
        print(f"clients.py: {exc}", file=sys.stderr)
        return 1
    for name, reward in rewards.items():
        print(f"{name}: reward {reward:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
