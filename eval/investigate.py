"""Investigation evaluation: multi-turn episodes, the policies that play them, and their records.

An investigation policy plays one episode through a ``Turns`` object: it calls tools (each a real step of the
episode, in-process or over HTTP) and ends with a triage. Policies:

- ``investigation_oracle``: retrieves one triggering event, submits the verdict (the ceiling);
- ``scripted_investigator``: pivots from the alert's entities and triages with the playbook (``investigation``);
- ``always_dismiss``: closes the case at once (the floor);
- ``llm``: any OpenAI-compatible endpoint with function calling. The tools and ``submit_triage`` are offered as
  functions; each tool call's output goes back as a ``tool`` message; the episode ends at ``submit_triage`` or
  when the budget is spent. Replies are cached on disk by the hash of the conversation, so reruns are free.

Records add ``evidence_recall`` and ``calls_used`` to the triage record; the metrics report both per stage.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from tqdm import tqdm

from ..client import OpenSOCClient
from ..env import OpenSOCEnv
from ..families.investigation.case import CaseAlert
from ..families.investigation.family import InvestigationObservation
from ..families.investigation.investigator import (
    oracle_investigator,
    scripted_investigator,
)
from ..incidents.prompting import triage_answer
from .llm import ChatClient, RequestFailure
from .metrics import by_task, soc_metrics

PLAYS = ("investigation",)


class Turns:
    """One investigation episode as a policy plays it: ``tool`` calls and one ``submit``."""

    def __init__(self, first: InvestigationObservation, step: Callable[[dict], InvestigationObservation]):
        self.observation, self._step = first, step
        self.budget = first.investigation.call_budget
        self.calls = 0

    @property
    def alert(self) -> CaseAlert:
        return self.observation.investigation.alert

    @property
    def calls_left(self) -> int:
        return self.budget - self.calls

    def tool(self, name: str, arguments: dict) -> str:
        self.observation = self._step({"tool_call": {"name": name, "arguments": arguments}})
        self.calls += 1
        return self.observation.investigation.last_tool.output

    def submit(self, triage: dict) -> InvestigationObservation:
        self.observation = self._step({"submit_triage": triage})
        return self.observation


@dataclass(frozen=True)
class Scripted:
    """A scripted investigation policy: ``play`` drives one case's ``Turns`` to a triage."""

    name: str
    play: Callable[[Turns, dict], None]
    plays: tuple[str, ...] = PLAYS


def _oracle(turns: Turns, item: dict) -> None:
    triage = oracle_investigator(turns.alert, turns.tool, turns.calls_left, item["gold_action"], item["triggering_log_ids"])
    turns.submit(triage.model_dump())


def _scripted(turns: Turns, item: dict) -> None:
    turns.submit(scripted_investigator(turns.alert, turns.tool, turns.calls_left).model_dump())


def _dismiss(turns: Turns, item: dict) -> None:
    turns.submit({"action": "dismiss", "cited_log_id": turns.alert.event.log_id, "rationale": "closed"})


INVESTIGATION_POLICIES: dict[str, Scripted] = {p.name: p for p in (
    Scripted("investigation_oracle", _oracle), Scripted("scripted_investigator", _scripted),
    Scripted("always_dismiss", _dismiss),
)}


def _record(item: dict, final: InvestigationObservation, calls: int, note: str | None = None, error: str | None = None) -> dict:
    """One case's record; ``error`` (only when a request to a model endpoint failed) is that failure's text."""
    d = final.rewards.defender
    return ({"error": error} if error else {}) | {"id": item["id"], "task": item["task"], "stage": item.get("stage"), "seed": item["seed"],
            "gold": d.gold_action, "predicted": d.predicted_action, "cited_log_id": d.cited_log_id,
            "citation_correct": d.citation_correct, "reward": d.reward, "outcome": d.outcome,
            "evidence_recall": d.evidence_recall, "calls_used": calls, "confidence": None, "note": note}


class _Episodes:
    """Open episodes in-process or on a server, one per item."""

    def __init__(self, url: str | None):
        self.url = url
        if url:
            self.client = OpenSOCClient(url)

    def open(self, item: dict) -> Turns:
        if self.url:
            first = self.client.reset(task=item["task"], seed=item["seed"], mode="defender_only")
            episode_id = first.episode_id
            return Turns(first.observation, lambda action: self.client.step(action, episode_id=episode_id).observation)
        env = OpenSOCEnv()
        return Turns(env.reset(task=item["task"], seed=item["seed"]), env.step)


def run_investigations(policy: str | Scripted | LLMInvestigator, items: Sequence[dict], url: str | None = None,
                       show_progress: bool = True) -> list[dict]:
    """Per-case records of ``policy`` (an ``LLMInvestigator``, a ``Scripted`` policy or its name in
    ``INVESTIGATION_POLICIES``)."""
    episodes = _Episodes(url)
    if isinstance(policy, LLMInvestigator):
        return asyncio.run(policy.run_all(items, episodes, show_progress))
    scripted = INVESTIGATION_POLICIES[policy] if isinstance(policy, str) else policy
    records = []
    for item in tqdm(items, desc=scripted.name, unit="case", disable=not show_progress):
        turns = episodes.open(item)
        scripted.play(turns, item)
        records.append(_record(item, turns.observation, turns.calls))
    return records


def investigation_metrics(records: Sequence[dict]) -> dict:
    """Triage metrics plus mean evidence recall and mean tool calls."""
    metrics = soc_metrics(records)
    n = len(records)
    metrics["evidence_recall"] = round(sum(r["evidence_recall"] or 0.0 for r in records) / n, 6) if n else None
    metrics["calls_used"] = round(sum(r["calls_used"] for r in records) / n, 3) if n else None
    return metrics


def summarize_investigations(records: Sequence[dict]) -> dict:
    return {"kind": "investigation", "overall": investigation_metrics(records), "by_task": by_task(records, investigation_metrics)}


# ------------------------------------------------------------------------------- LLM


def _functions(tools: list[dict]) -> list[dict]:
    submit = {"name": "submit_triage", "description": "Decide the case. Call it once, last.",
              "parameters": {"type": "object", "required": ["action", "cited_log_id"], "properties": {
                  "action": {"type": "string", "enum": ["dismiss", "monitor", "quarantine_host", "block_ip", "escalate"]},
                  "cited_log_id": {"type": "string", "description": "The log_id of the event that drove the decision."},
                  "rationale": {"type": "string"}}}}
    return [{"type": "function", "function": t} for t in [*tools, submit]]


@dataclass
class LLMInvestigator(ChatClient):
    """An OpenAI-compatible chat model investigating with function calls (settings as ``ChatClient``'s)."""

    plays = PLAYS

    @property
    def name(self) -> str:
        return f"llm:{self.model}"

    async def _reply(self, http: httpx.AsyncClient, messages: list[dict], tools: list[dict]) -> dict | RequestFailure:
        body = {"model": self.model, "messages": messages, "tools": tools, "tool_choice": "auto",
                "temperature": self.temperature, "max_tokens": self.max_tokens}
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        path = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if path is not None and path.exists():
            return json.loads(path.read_text())
        message = await self._post(http, body)
        if path is not None and not isinstance(message, RequestFailure):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".tmp").write_text(json.dumps(message))
            path.with_suffix(".tmp").replace(path)
        return message

    async def _play(self, http: httpx.AsyncClient, turns: Turns) -> str | RequestFailure | None:
        """Play one case; returns a note when the episode ended without a proper triage, or the request's failure
        when that was because the endpoint never answered."""
        obs = turns.observation
        tools = _functions(obs.investigation.tools)
        messages: list[dict] = [{"role": "user", "content": obs.prompt}]
        for _ in range(obs.investigation.call_budget + 2):
            message = await self._reply(http, messages, tools)
            if isinstance(message, RequestFailure):
                await asyncio.to_thread(turns.submit, {})
                return message
            calls = message.get("tool_calls") or []
            if not calls:  # a plain answer: read a triage (or a tool call) from its text
                answer = triage_answer(message.get("content") or "")
                await asyncio.to_thread(turns.submit, answer or {})
                return None if answer else "no tool call and no triage"
            call = calls[0]
            name = call.get("function", {}).get("name", "")
            try:
                arguments = json.loads(call.get("function", {}).get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {"_unreadable": True}
            if name == "submit_triage":
                await asyncio.to_thread(turns.submit, arguments if isinstance(arguments, dict) else {})
                return None
            if turns.calls_left <= 0:
                await asyncio.to_thread(turns.submit, {})
                return "called a tool after the budget"
            output = await asyncio.to_thread(turns.tool, name, arguments if isinstance(arguments, dict) else {})
            messages += [{"role": "assistant", "content": message.get("content"), "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": call.get("id", "call"), "content": output}]
        await asyncio.to_thread(turns.submit, {})
        return "never submitted a triage"

    async def run_all(self, items: Sequence[dict], episodes: _Episodes, show_progress: bool) -> list[dict]:
        gate = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=len(items), desc=self.name, unit="case", disable=not show_progress)

        async def one(http: httpx.AsyncClient, item: dict) -> dict:
            async with gate:
                turns = await asyncio.to_thread(episodes.open, item)
                note = await self._play(http, turns)
                bar.update(1)
                if isinstance(note, RequestFailure):
                    return _record(item, turns.observation, turns.calls, "no reply from the model endpoint", note.error)
                return _record(item, turns.observation, turns.calls, note)

        async with httpx.AsyncClient(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s) as http:
            records = await asyncio.gather(*(one(http, item) for item in items))
        bar.close()
        return list(records)
