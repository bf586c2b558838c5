"""Run a policy over an evaluation split, in-process or against a running server, with one scoring path.

Either way each example is a real episode: reset for (task, seed), the policy's completion is
read with the prompt's parser, and the environment scores the step. So in-process and HTTP
runs give the same records (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

from tqdm import tqdm

from ..families.e1.loading import EVALUATION_SUFFIX
from ..env import OpenSOCEnv, e1_dataset, e1_source
from ..families.e1.tasks import E1_TASKS
from ..models import OpenSOCObservation
from ..incidents.prompting import triage_action, triage_answer
from .frozen import load_holdout, load_investigation_holdout
from .llm import RequestFailure
from .metrics import by_task, e1_metrics, soc_metrics
from .policies import Policy


def load_items(split: str = "holdout", tasks: Sequence[str] | None = None, limit: int | None = None) -> list[dict]:
    """Examples of ``split``: ``holdout`` (the frozen file) or ``<e1 task>:<split>`` such as ``e1_iot23:test``."""
    if split == "holdout":
        items = load_holdout()
    elif split == "investigation":
        items = load_investigation_holdout()
    elif ":" in split and split.split(":", 1)[0] in E1_TASKS:
        task, part = split.split(":", 1)
        spec = E1_TASKS[task]
        if part not in spec.splits:
            raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(f'{task}:{s}' for s in spec.splits)}")
        rows = [r for r in e1_dataset(spec.dataset_file, e1_source()).rows if r["meta"].get("split") == part]
        if not rows:
            raise ValueError(f"{spec.dataset_file} has no {part!r} rows")
        items = [{"id": f"{task}:{part}:{i}", "task": task, "split": part, "seed": i, "answer": r["answer"]}
                 for i, r in enumerate(rows)]
    else:
        raise ValueError(f"unknown split {split!r}; expected 'holdout', 'investigation' or one of "
                         + ", ".join(f"{t}:<split>" for t in E1_TASKS))
    if tasks:
        unknown = sorted(set(tasks) - {i["task"] for i in items})
        if unknown:
            raise ValueError(f"task {unknown[0]!r} is not in split {split!r}; it holds "
                             + ", ".join(sorted({i['task'] for i in items})))
        items = [i for i in items if i["task"] in tasks]
    if limit is not None:
        kept: dict[str, int] = {}
        out = []
        for i in items:  # the first `limit` of each task, so every stage stays represented
            if kept.get(i["task"], 0) < limit:
                kept[i["task"]] = kept.get(i["task"], 0) + 1
                out.append(i)
        items = out
    return items


class InProcess:
    """Episodes on a local OpenSOCEnv."""

    def __init__(self) -> None:
        self._envs: dict[str, OpenSOCEnv] = {}

    def reset(self, item: dict) -> OpenSOCObservation:
        env = self._envs[item["id"]] = OpenSOCEnv()
        return env.reset(**_reset_args(item))

    def step(self, item: dict, action: dict) -> OpenSOCObservation:
        return self._envs.pop(item["id"]).step(action)


class OverHttp:
    """Episodes on a running OpenSOC server, through the HTTP client."""

    def __init__(self, url: str) -> None:
        from ..client import OpenSOCClient

        self.client = OpenSOCClient(url)
        self._ids: dict[str, str] = {}

    def reset(self, item: dict) -> OpenSOCObservation:
        result = self.client.reset(**_reset_args(item))
        self._ids[item["id"]] = result.episode_id
        return result.observation

    def step(self, item: dict, action: dict) -> OpenSOCObservation:
        return self.client.step(action, episode_id=self._ids.pop(item["id"])).observation


def _reset_args(item: dict) -> dict:
    args = {"task": item["task"], "seed": item["seed"], "mode": "defender_only"}
    if item["task"] in E1_TASKS:
        # Evaluation episodes say so: the service serves a one-class split (a false-positive-rate set) only this way.
        args["split"] = item["split"] + EVALUATION_SUFFIX
    return args


def action_from(answer: str | RequestFailure | None, e1: bool) -> dict:
    """The step action for a policy's completion; unreadable output, or none, becomes a scored format violation."""
    text = None if isinstance(answer, RequestFailure) else answer
    return {"classify_flow": text or ""} if e1 else triage_action(text)


def _record(item: dict, final: OpenSOCObservation, answer: str | RequestFailure | None) -> dict:
    """One example's record; a request that never reached the model adds ``error``, its text."""
    text = None if isinstance(answer, RequestFailure) else answer
    failure = {"error": answer.error} if isinstance(answer, RequestFailure) else {}
    return failure | _scored(item, final, text)


def _scored(item: dict, final: OpenSOCObservation, text: str | None) -> dict:
    if final.flow_verdict is not None:
        e1 = final.rewards.e1
        return {"id": item["id"], "task": item["task"], "split": item["split"], "answer": final.flow_verdict.answer,
                "predicted": e1.predicted, "confidence": e1.confidence, "reward": e1.reward, "correct": e1.correct,
                "reason": e1.reason, "completion": text}
    d = final.rewards.defender
    return {"id": item["id"], "task": item["task"], "stage": item.get("stage"), "seed": item["seed"],
            "gold": d.gold_action, "predicted": d.predicted_action, "cited_log_id": d.cited_log_id,
            "citation_correct": d.citation_correct, "reward": d.reward, "outcome": d.outcome,
            "confidence": _confidence(text), "completion": text}


def _confidence(text: str | None) -> float | None:
    obj = triage_answer(text)
    c = obj.get("confidence") if obj is not None else None
    return float(c) if isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1 else None


def run_policy(policy: Policy, items: Sequence[dict], url: str | None = None, show_progress: bool = True) -> list[dict]:
    """Per-example records of ``policy`` on ``items``."""
    transport = OverHttp(url) if url else InProcess()
    observations = [transport.reset(item) for item in items]
    with tqdm(total=len(items), desc=policy.name, unit="ex", disable=not show_progress) as bar:
        texts = policy.complete_batch(list(zip(observations, items)), bar)
    return [_record(item, transport.step(item, action_from(text, item["task"] in E1_TASKS)), text)
            for item, text in zip(items, texts)]


def request_failures(records: Sequence[dict]) -> list[dict]:
    """The records whose answer never came: the model endpoint failed, after its retries (``error`` says how)."""
    return [r for r in records if r.get("error")]


def summarize(records: Sequence[dict]) -> dict:
    e1 = bool(records) and records[0]["task"] in E1_TASKS
    fn = e1_metrics if e1 else soc_metrics
    return {"kind": "e1" if e1 else "soc", "overall": fn(records), "by_task": by_task(records, fn)}
