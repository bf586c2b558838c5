"""Every parse of untrusted input is linear in its length: growing hostile inputs, timed by their fastest run, on
the parser itself, every JSON route and WebSocket frames.

The shapes are the ones that once cost time out of proportion: an unterminated string of escaped quotes followed by
enough brackets to need the exact count (the reproducer: 64 KB froze the server for 11-20 s, 128 KB for 46 s),
brackets inside strings, many small values, deep nesting and long runs of digits. Each is timed at a size and at
four times that size: linear work takes about four times as long, quadratic work sixteen.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from support.timing import best_time

from opensoc.app_runtime import ServiceSettings, create_app
from opensoc.service.wire import WireError, parse_json

JSON = {"content-type": "application/json"}


def reproducer(size: int) -> bytes:
    """Issue 1's reproducer: a quote, escaped quotes to fill ``size``, then 2,049 opening brackets."""
    return b'"' + b'\\"' * ((size - 2100) // 2) + b"[" * 2049


def brackets_in_strings(size: int) -> bytes:
    return b'["' + b"[{," * ((size - 8) // 3) + b'", ' + b"[" * 2049


def small_values(size: int) -> bytes:
    return b'["a",' + b"[]," * ((size - 8) // 3) + b"0]"


def digits(size: int) -> bytes:
    return b'{"seed": ' + b"9" * (size - 12) + b"}"


def deep(size: int) -> bytes:
    return b"[" * (size // 2) + b"]" * (size // 2)


def escapes(size: int) -> bytes:
    return b'{"task": "' + b"\\u00e9" * ((size - 16) // 6) + b'"}'


SHAPES = [reproducer, brackets_in_strings, small_values, digits, deep, escapes]


def _linear(time_at, small: int, scale: int = 4, slack: float = 2.5, floor_s: float = 0.002) -> tuple[float, float]:
    """The times at ``small`` and ``scale`` times it; fails unless the larger is within ``slack`` times linear.
    ``floor_s`` absorbs a fixed cost (a request's round trip) that does not grow with the input."""
    t_small, t_large = time_at(small), time_at(small * scale)
    assert t_large <= slack * scale * max(t_small, floor_s), (t_small, t_large)
    return t_small, t_large


@pytest.mark.parametrize("shape", SHAPES, ids=lambda f: f.__name__)
def test_the_parser_is_linear(shape):
    def time_at(size: int) -> float:
        text = shape(size)

        def parse() -> None:
            try:
                parse_json(text)
            except WireError:
                pass

        return best_time(parse)

    _, at_256k = _linear(time_at, 64 << 10, floor_s=0.0005)
    assert at_256k < 0.1  # the 64 KB reproducer took 11-20 s before
    assert time_at(1 << 20) < 0.25  # the largest body the server reads


ROUTES = ["/reset", "/step", "/grade", "/mcp", "/opensoc/tasks", "/opensoc/num_tasks", "/opensoc/task",
          "/opensoc/task_range"]


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(ServiceSettings(max_body_bytes=1 << 20)))


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("shape", [reproducer, brackets_in_strings, small_values, digits],
                         ids=lambda f: f.__name__)
def test_every_json_route_is_linear(client, path, shape):
    def time_at(size: int) -> float:
        body = shape(size)

        def post() -> None:
            response = client.post(path, content=body, headers=JSON)
            assert 200 <= response.status_code < 500, response.text[:300]

        return best_time(post)

    _, at_256k = _linear(time_at, 64 << 10, floor_s=0.01)
    assert at_256k < 0.25


@pytest.mark.parametrize("shape", [reproducer, brackets_in_strings, small_values, digits, escapes],
                         ids=lambda f: f.__name__)
def test_websocket_frames_are_linear(client, shape):
    with client.websocket_connect("/ws") as ws:
        def time_at(size: int) -> float:
            frame = shape(size).decode()

            def exchange() -> None:
                ws.send_text(frame)
                assert ws.receive_json()["type"] in ("error", "observation")

            return best_time(exchange)

        # 2 KB frames run on the event loop (under the 8 KB inline limit), the larger ones on the worker.
        _linear(time_at, 2 << 10, floor_s=0.01)
        _, at_256k = _linear(time_at, 64 << 10, floor_s=0.01)
        assert at_256k < 0.25


def test_a_step_frame_holding_the_reproducer_is_answered_at_once(client):
    """The reproducer inside a real action (an E1 answer) over /ws and HTTP: scored, quickly."""
    answer = '"' + '\\"' * 30_000 + "[" * 2049
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "reset", "data": {"task": "e1_iot23", "seed": 1}})
        ws.receive_json()

        def step() -> None:
            ws.send_text(json.dumps({"type": "step", "data": {"classify_flow": answer}}))
            ws.receive_json()
            ws.send_json({"type": "reset", "data": {"task": "e1_iot23", "seed": 1}})
            ws.receive_json()

        assert best_time(step) < 0.5
