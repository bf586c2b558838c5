"""E1 scoring: Security Verifiers' rubric reproduced exactly, and OpenSOC's default rubric that fixes it.

Compatibility mode (``score_compat``): ``R = 1.0·accuracy + 0.1·format + 0.2·(1 − |c − correct|)
+ 0.5·cost`` with cost +1 correct, −1 missed attack, 0 otherwise, and SV's lenient parser.

Default mode (``score_default``) fixes what SV gets wrong, each for a stated reason:
- calibration is Brier-style ``1 − (c − correct)²``, a proper rule: reporting your real
  probability is optimal (SV's absolute error pushes confidences to 0 or 1);
- the decision pays from a cost table (``E1Costs``) in which Abstain earns a small sure
  amount, so it is the best answer when the posterior is near the decision boundary and
  is never dominated by always answering Malicious (SV never rewards Abstain);
- a missed attack costs most; FN and FP costs are settable;
- parsing is strict: exactly one JSON object, from the final answer only (after any
  ``</think>``); several objects, duplicate keys, an unknown label, or a confidence that is
  a boolean, a string, NaN or outside [0, 1] is a format failure, which scores no better
  than the worst answer on that row, so garbage never pays.

Both parsers take time linear in the completion, and neither reads a completion longer than
``MAX_COMPLETION`` characters (16,000): it scores as no answer (compat) or a format failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_COMPLETION = 16_000  # characters of a completion that are read; a longer one is not an answer

LABELS = ("Benign", "Malicious", "Abstain")


class E1Score(BaseModel):
    """One E1 answer's reward and its parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reward: float
    mode: str
    predicted: str | None  # None when the output could not be parsed
    confidence: float | None
    correct: bool
    format_ok: bool
    breakdown: dict[str, float]
    reason: str = ""  # why the output was rejected, when it was


# ---------------------------------------------------------------- compatibility mode


_FENCE = "```"
_JSON_TAG = re.compile("json", re.I)
_SPACE = re.compile(r"\s*")


def code_blocks(text: str, limit: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each fenced code block's body, left to right, at most ``limit`` of them.

    The same spans as ``re.findall(r"```(?:json)?\\s*(.*?)```", text, re.S | re.I)``, found in
    linear time: that regex retries its lazy body after every character of leading whitespace
    when a fence is never closed, which is quadratic, and unterminated fences are ordinary
    model output.
    """
    blocks: list[tuple[int, int]] = []
    pos = 0
    while limit is None or len(blocks) < limit:
        opened = text.find(_FENCE, pos)
        if opened < 0:
            break
        start = opened + len(_FENCE)
        if _JSON_TAG.match(text, start):
            start += 4
        start = _SPACE.match(text, start).end()
        closed = text.find(_FENCE, start)
        if closed < 0:
            break
        blocks.append((start, closed))
        pos = closed + len(_FENCE)
    return blocks


def _sv_extract_fence(text: str) -> str:
    """The first code block's body without one trailing newline (SV's ``\\n?(.*?)\\n?```` fence), else ``text``."""
    blocks = code_blocks(text, limit=1)
    if not blocks:
        return text
    start, end = blocks[0]
    if end > start and text[end - 1] == "\n":
        end -= 1
    return text[start:end]


def _sv_first_object(text: str) -> str | None:
    start = text.find("{")
    if start < 0:
        return None
    depth, in_str, esc = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return None


def sv_parse(text: str) -> dict:
    """Security Verifiers' three-tier parse: raw JSON, first code fence, first balanced object; else {}."""
    for attempt in (lambda: text, lambda: _sv_extract_fence(text) if _sv_extract_fence(text) != text else None,
                    lambda: _sv_first_object(text)):
        candidate = attempt()
        if candidate is None:
            continue
        try:
            data = json.loads(candidate)
        except (ValueError, RecursionError):  # invalid JSON, an over-long integer, or nesting past the stack
            continue
        if isinstance(data, dict):
            return data
    return {}


def _sv_confidence(data: dict) -> float:
    conf = data.get("confidence")
    if conf is None:
        return 0.0
    try:
        c = float(conf)
    except (TypeError, ValueError, OverflowError):  # SV's parser would crash on an integer past float range
        return 0.0
    return c if 0.0 <= c <= 1.0 else 0.0


def completion_too_long(text: str) -> str | None:
    """Why ``text`` is not read (it is longer than ``MAX_COMPLETION`` characters), or None."""
    if len(text) > MAX_COMPLETION:
        return f"the completion is {len(text):,} characters; at most {MAX_COMPLETION:,} are read"
    return None


def score_compat(text: str, answer: str) -> E1Score:
    """Security Verifiers' E1 reward for a completion ``text`` against gold ``answer``.

    A completion longer than ``MAX_COMPLETION`` characters is not parsed: it scores as no answer.
    """
    too_long = completion_too_long(text)
    data = {} if too_long else sv_parse(text)
    label = data.get("label")
    pred = label if isinstance(label, str) and label in LABELS else ""
    conf = _sv_confidence(data)
    raw = data.get("confidence")
    # Compared as given: float() of an integer past float range would raise.
    fmt = 1.0 if pred and isinstance(raw, (int, float)) and 0 <= raw <= 1 else 0.0
    gold = answer.lower()
    correct = bool(pred) and pred.lower() == gold
    accuracy = 1.0 if correct else 0.0
    calibration = 0.0 if not pred else 1.0 - abs(conf - (1.0 if correct else 0.0))
    if not pred:
        cost = 0.0
    elif correct:
        cost = 1.0
    elif pred.lower() == "benign" and gold == "malicious":
        cost = -1.0
    else:
        cost = 0.0
    reward = 1.0 * accuracy + 0.1 * fmt + 0.2 * calibration + 0.5 * cost
    return E1Score(reward=round(reward, 10), mode="compat", predicted=pred or None, confidence=conf, correct=correct,
                   format_ok=fmt == 1.0, breakdown={"accuracy": accuracy, "format": 0.1 * fmt,
                                                    "calibration": round(0.2 * calibration, 10), "cost": 0.5 * cost},
                   reason=too_long or "")


# ----------------------------------------------------------------------- default mode


@dataclass(frozen=True)
class E1Costs:
    """The default rubric's knobs. A missed attack must cost more than a false alarm."""

    fn_cost: float = 2.0  # said Benign, was Malicious
    fp_cost: float = 0.5  # said Malicious, was Benign
    abstain_value: float = 0.2  # the sure payoff of declining to decide
    calibration_weight: float = 0.2
    format_weight: float = 0.1

    def __post_init__(self) -> None:
        if not self.fn_cost > self.fp_cost > 0:
            raise ValueError("E1Costs needs fn_cost > fp_cost > 0: a missed attack costs most")
        if not 0 <= self.abstain_value < 1:
            raise ValueError("abstain_value must be in [0, 1): a sure payoff below a correct answer's")

    def decision_value(self, pred: str, gold: str) -> float:
        if pred == "Abstain":
            return self.abstain_value
        if pred == gold:
            return 1.0
        return -self.fn_cost if gold == "Malicious" else -self.fp_cost

    def abstain_band(self) -> tuple[float, float]:
        """The P(Malicious) interval in which Abstain has the highest expected decision value."""
        low = (1 - self.abstain_value) / (1 + self.fn_cost)  # Benign stops paying more than Abstain
        high = (self.abstain_value + self.fp_cost) / (1 + self.fp_cost)  # Malicious starts paying more
        return low, high


DEFAULT_COSTS = E1Costs()
_ABSTAIN_CALIBRATION = 0.75  # the Brier credit of a 50/50 forecast: an abstention claims no more


class ParseFailure(ValueError):
    """The output is not exactly one valid answer object; the message says why."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ParseFailure(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _final_answer(text: str) -> str:
    """The text after the last ``</think>``; an unclosed ``<think>`` leaves no answer."""
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        return ""
    return text


_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates)


def strict_parse(output: str | dict) -> tuple[str, float]:
    """(label, confidence) from a completion or an already-structured answer; raises ParseFailure."""
    if isinstance(output, dict):
        data = output
    else:
        too_long = completion_too_long(output)
        if too_long:
            raise ParseFailure(too_long)
        answer = _final_answer(output).strip()
        blocks = code_blocks(answer, limit=2)
        if len(blocks) > 1:
            raise ParseFailure("more than one code block")
        body = answer[blocks[0][0]:blocks[0][1]].strip() if blocks else answer
        start = body.find("{")
        if start < 0:
            raise ParseFailure("no JSON object in the final answer")
        try:
            data, end = _STRICT_DECODER.raw_decode(body, start)
        except ParseFailure:
            raise
        except json.JSONDecodeError as exc:
            raise ParseFailure(f"invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise ParseFailure("invalid JSON: nested too deeply") from None
        except ValueError as exc:  # an integer literal past Python's digit limit
            raise ParseFailure(f"invalid JSON: {exc}") from None
        if "{" in body[end:]:
            raise ParseFailure("more than one JSON object in the final answer")
        if not isinstance(data, dict):
            raise ParseFailure("the answer is not a JSON object")
    unknown = set(data) - {"label", "confidence", "rationale"}
    if unknown:
        raise ParseFailure(f"unknown field {str(sorted(map(str, unknown))[0])[:40]!r}")
    label = data.get("label")
    if not isinstance(label, str):
        raise ParseFailure("label must be a string")
    canonical = {name.lower(): name for name in LABELS}.get(label.strip().lower())
    if canonical is None:
        raise ParseFailure(f"label {label[:40]!r} is not one of Benign, Malicious, Abstain")
    conf = data.get("confidence")
    if isinstance(conf, bool) or not isinstance(conf, (int, float)):
        raise ParseFailure("confidence must be a JSON number")
    # Compared as given, never converted: NaN and infinities fail, and an integer past float range cannot overflow.
    if not 0 <= conf <= 1:
        raise ParseFailure("confidence must be a finite number in [0, 1]")
    rationale = data.get("rationale", "")
    if not isinstance(rationale, str) or len(rationale) > 2000:
        raise ParseFailure("rationale must be a string of at most 2000 characters")
    return canonical, float(conf)


def score_default(output: str | dict, answer: str, costs: E1Costs = DEFAULT_COSTS) -> E1Score:
    """OpenSOC's E1 reward: decision value + Brier calibration + format, from a strict parse."""
    gold = "Malicious" if answer.strip().lower() == "malicious" else "Benign"
    try:
        pred, conf = strict_parse(output)
    except ParseFailure as exc:
        worst = -costs.fn_cost if gold == "Malicious" else -costs.fp_cost
        return E1Score(reward=float(worst), mode="default", predicted=None, confidence=None, correct=False,
                       format_ok=False, breakdown={"decision": float(worst), "calibration": 0.0, "format": 0.0},
                       reason=str(exc))
    correct = pred == gold
    decision = costs.decision_value(pred, gold)
    brier = _ABSTAIN_CALIBRATION if pred == "Abstain" else 1.0 - (conf - (1.0 if correct else 0.0)) ** 2
    calibration = costs.calibration_weight * brier
    reward = decision + calibration + costs.format_weight
    return E1Score(reward=round(reward, 10), mode="default", predicted=pred, confidence=conf, correct=correct,
                   format_ok=True, breakdown={"decision": decision, "calibration": round(calibration, 10),
                                              "format": costs.format_weight})


COMPAT_REWARD_RANGE = (-0.5, 1.8)


def reward_range(mode: str = "default", costs: E1Costs = DEFAULT_COSTS) -> tuple[float, float]:
    """(min, max) of a mode's reward."""
    if mode == "compat":
        return COMPAT_REWARD_RANGE
    return -costs.fn_cost, 1.0 + costs.calibration_weight + costs.format_weight


SYSTEM_PROMPT = (
    "You are a network security analyst. Classify the network flow you are shown. Reply with exactly one JSON "
    'object and nothing else: {"label": "Benign" | "Malicious" | "Abstain", "confidence": <number from 0 to 1, '
    'your probability that the label is correct>, "rationale": "<one sentence>"}. A missed attack costs far more '
    "than a false alarm; Abstain when the evidence is insufficient. Any reasoning must come before the JSON, and "
    "only the final JSON object is read."
)
