"""Single-turn policies, one interface: a batch of (observation, item) pairs in, one completion text per pair out.

Every policy answers with text in the prompt's output format, so baselines and LLMs go through
the same parser and the same scoring. ``plays`` names the task families a policy can answer (an evaluation
refuses a policy that cannot play its split). Incident-triage policies: ``always_dismiss`` (the floor),
``random``, ``heuristic`` (the built-in SOC playbook on the alert's primary detection, from the observation
alone), ``analyst`` (the same playbook over every detection in the window: ``attacker_only``'s reference defender),
``verifier_oracle`` (the ceiling: it reads the gold answer), ``cpu_defender`` (the numpy policy
trained by ``opensoc train cpu``; ``cpu_defender_untrained`` is its starting point) and ``llm``. E1 policies:
``always_benign``, ``always_malicious``, ``always_abstain``, ``random``, ``e1_oracle`` and ``llm``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from ..incidents.defenders import analyst as analyst_playbook
from ..incidents.defenders import heuristic as heuristic_playbook
from ..incidents.linear_policy import LinearPolicy
from ..incidents.prompting import format_triage_answer
from ..models import Observation
from ..schema import TRIAGE_ACTIONS
from .hf_policy import HFPolicy
from .llm import ChatClient, RequestFailure
from .policy import ANY, E1, TRIAGE, FunctionPolicy, Pair, Policy


def _always(action: str) -> Callable:
    return lambda obs, item: format_triage_answer(action, obs.alert.events[0].log_id, f"always {action}", 1.0)


def _random(obs: Observation, item: dict) -> str:
    rng = random.Random(f"random-policy:{item['id']}")
    if obs.family == "e1":
        return json.dumps({"label": rng.choice(["Benign", "Malicious", "Abstain"]), "confidence": 0.5})
    return format_triage_answer(rng.choice(TRIAGE_ACTIONS), rng.choice(obs.alert.events).log_id, "random", 0.2)


def _playbook(defender: Callable) -> Callable:
    def answer(obs: Observation, item: dict) -> str:
        t = defender(obs.alert)
        return format_triage_answer(t.action, t.cited_log_id, t.rationale)

    return answer


def _oracle(obs: Observation, item: dict) -> str:
    cite = item["triggering_log_ids"][0] if item["triggering_log_ids"] else obs.alert.events[0].log_id
    return format_triage_answer(item["gold_action"], cite, "verifier oracle", 1.0)


def _cpu_defender(trained: bool) -> Callable:
    state: dict = {}

    def answer(obs: Observation, item: dict) -> str:
        if "policy" not in state:
            state["policy"] = LinearPolicy.load() if trained else LinearPolicy()
        t = state["policy"].act(obs.alert)
        return format_triage_answer(t.action, t.cited_log_id, t.rationale)

    return answer


def _e1_constant(label: str) -> Callable:
    return lambda obs, item: json.dumps({"label": label, "confidence": 0.5 if label == "Abstain" else 1.0})


def _e1_oracle(obs: Observation, item: dict) -> str:
    return json.dumps({"label": item["answer"], "confidence": 1.0})


class LLMPolicy(Policy):
    """Any OpenAI-compatible chat endpoint; the observation's prompt is sent as the user message."""

    name, plays = "llm", ANY

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout_s: float = 60.0, retries: int = 3, cache_dir: Path | None = None, backoff_s: float = 0.5):
        self.client = ChatClient(base_url=base_url, model=model, api_key_env=api_key_env, concurrency=concurrency,
                                 timeout_s=timeout_s, retries=retries, cache_dir=cache_dir, backoff_s=backoff_s)
        self.name = f"llm:{model}"

    def complete_batch(self, pairs: Sequence[Pair], progress=None) -> list[str | RequestFailure]:
        return asyncio.run(self.client.complete_all([obs.prompt for obs, _ in pairs], progress))


BUILTIN: dict[str, Policy] = {p.name: p for p in (
    FunctionPolicy("always_dismiss", TRIAGE, _always("dismiss")),
    FunctionPolicy("random", ANY, _random),
    FunctionPolicy("heuristic", TRIAGE, _playbook(heuristic_playbook)),
    FunctionPolicy("analyst", TRIAGE, _playbook(analyst_playbook)),
    FunctionPolicy("verifier_oracle", TRIAGE, _oracle),
    FunctionPolicy("cpu_defender_untrained", TRIAGE, _cpu_defender(False)),
    FunctionPolicy("cpu_defender", TRIAGE, _cpu_defender(True)),
    FunctionPolicy("always_benign", E1, _e1_constant("Benign")),
    FunctionPolicy("always_malicious", E1, _e1_constant("Malicious")),
    FunctionPolicy("always_abstain", E1, _e1_constant("Abstain")),
    FunctionPolicy("e1_oracle", E1, _e1_oracle),
)}


def make_policy(name: str, **llm_args) -> Policy:
    """A built-in policy by name, ``llm`` configured by ``llm_args`` (base_url, model, ...), or ``hf``
    (a local Hugging Face model, ``hf_model`` and optional ``hf_adapter``, ``hf_device``, ``hf_batch_size`` and
    ``hf_max_new_tokens``)."""
    if name == "llm":
        return LLMPolicy(**{k: v for k, v in llm_args.items() if not k.startswith("hf_")})
    if name == "hf":
        return HFPolicy(llm_args["hf_model"], llm_args.get("hf_adapter"), device=llm_args.get("hf_device"),
                        batch_size=llm_args.get("hf_batch_size"), max_new_tokens=llm_args.get("hf_max_new_tokens") or 256)
    if name not in BUILTIN:
        raise ValueError(f"unknown policy {name!r}; expected one of: {', '.join([*BUILTIN, 'llm', 'hf'])}")
    return BUILTIN[name]
