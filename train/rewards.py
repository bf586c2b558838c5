"""The verifier-grounded defender reward as a TRL reward function, computed in-process.

``defender_reward(completions, task, seed)`` scores each completion with the same parser and
the same environment the service uses, so in-process and service rewards are identical. It
suits GRPO runs whose prompts already hold the alert (no tool calling needed).
"""

from __future__ import annotations

from ..env import OpenSOCEnv
from ..incidents.prompting import completion_text, triage_action


def defender_reward(completions, task, seed, **kwargs) -> list[float]:
    env = OpenSOCEnv()
    out = []
    for completion, t, s in zip(completions, task, seed, strict=True):
        env.reset(task=t, seed=int(s))
        out.append(float(env.step(triage_action(completion_text(completion))).reward))
    return out
