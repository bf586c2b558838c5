"""Playing evaluation episodes: in-process or against a running server, single-turn, with one scoring path.

Either way each example is a real episode: reset with the item's reset arguments, the policy's completion is read
back into the step action by the evaluation's reader, and the environment scores the step. So in-process and HTTP
runs give the same records (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from ..client import OpenSOCClient
from ..env import OpenSOCEnv
from ..models import Observation
from .llm import RequestFailure
from .policies import Policy


class InProcess:
    """Episodes on a local OpenSOCEnv."""

    def __init__(self) -> None:
        self._envs: dict[str, OpenSOCEnv] = {}

    def reset(self, item: dict, reset_args: dict[str, Any]) -> Observation:
        env = self._envs[item["id"]] = OpenSOCEnv()
        return env.reset(**reset_args)

    def step(self, item: dict, action: dict) -> Observation:
        return self._envs.pop(item["id"]).step(action)


class OverHttp:
    """Episodes on a running OpenSOC server, through the HTTP client."""

    def __init__(self, url: str) -> None:
        self.client = OpenSOCClient(url)
        self._ids: dict[str, str] = {}

    def reset(self, item: dict, reset_args: dict[str, Any]) -> Observation:
        result = self.client.reset(**reset_args)
        self._ids[item["id"]] = result.episode_id
        return result.observation

    def step(self, item: dict, action: dict) -> Observation:
        return self.client.step(action, episode_id=self._ids.pop(item["id"])).observation


def transport(url: str | None) -> InProcess | OverHttp:
    return OverHttp(url) if url else InProcess()


def play_single_turn(policy: Policy, items: Sequence[dict], reset_args: Callable[[dict], dict],
                     action_from: Callable[[str | None], dict],
                     record: Callable[[dict, Observation, str | None], dict],
                     url: str | None = None, show_progress: bool = True) -> list[dict]:
    """Per-example records of ``policy`` answering each item's first observation once.

    A request to a model endpoint that failed after its retries is scored as no answer (a format violation) and its
    record carries ``error``, the failure's text.
    """
    episodes = transport(url)
    observations = [episodes.reset(item, reset_args(item)) for item in items]
    with tqdm(total=len(items), desc=policy.name, unit="ex", disable=not show_progress) as bar:
        texts = policy.complete_batch(list(zip(observations, items, strict=True)), bar)
    records = []
    for item, answer in zip(items, texts, strict=True):
        text = None if isinstance(answer, RequestFailure) else answer
        failure: dict[str, str] = {"error": answer.error} if isinstance(answer, RequestFailure) else {}
        records.append(failure | record(item, episodes.step(item, action_from(text)), text))
    return records
