"""The verifier-grounded defender reward as a TRL reward function, computed in-process.

``defender_reward(completions, task, seed)`` scores each completion with the same parser and
the same environment the service uses, so in-process and service rewards are identical. It
suits GRPO runs whose prompts already hold the alert (no tool calling needed).
"""

from __future__ import annotations

from ..env import OpenSOCEnv
from ..prompting import extract_json_object


def _text(completion) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        return (last.get("content") if isinstance(last, dict) else str(last)) or ""
    return ""


def defender_reward(completions, task, seed, **kwargs) -> list[float]:
    env = OpenSOCEnv()
    out = []
    for completion, t, s in zip(completions, task, seed):
        env.reset(task=t, seed=int(s))
        obj = extract_json_object(_text(completion))
        if isinstance(obj, dict) and isinstance(obj.get("submit_triage"), dict):
            obj = obj["submit_triage"]
        out.append(float(env.step({"submit_triage": obj if isinstance(obj, dict) else {}}).reward))
    return out
