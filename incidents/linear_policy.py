"""The CPU defender's policy: a softmax-linear map from hashed alert features to the five triage actions.

``opensoc train cpu`` trains it (``train.cpu_defender``); the ``cpu_defender`` evaluation policy and the demo load
the committed weights (``train/artifacts/cpu_defender.npz``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..schema import TRIAGE_ACTIONS, Alert, SubmitTriage
from .defenders import primary_log_id
from .features import DIM, featurize

ARTIFACT = Path(__file__).resolve().parent.parent / "train" / "artifacts" / "cpu_defender.npz"


class LinearPolicy:
    """π(a | x) = softmax(W x) over the five triage actions."""

    def __init__(self, weights: np.ndarray | None = None):
        self.W = weights if weights is not None else np.zeros((len(TRIAGE_ACTIONS), DIM), dtype=np.float32)

    def probs(self, x: np.ndarray) -> np.ndarray:
        z = self.W @ x
        z = z - z.max()
        p = np.exp(z)
        return p / p.sum()

    def act(self, alert: Alert) -> SubmitTriage:
        """The greedy action (ties go to the first action, dismiss: the untrained policy's answer)."""
        action = TRIAGE_ACTIONS[int(np.argmax(self.W @ featurize(alert)))]
        return SubmitTriage(action=action, cited_log_id=primary_log_id(alert), rationale="cpu defender")

    def save(self, path: Path = ARTIFACT, meta: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, W=self.W.astype(np.float16), meta=json.dumps(meta or {}))

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> LinearPolicy:
        with np.load(path) as data:
            return cls(data["W"].astype(np.float32))
