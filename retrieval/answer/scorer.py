"""The learned answer scorer: how likely a candidate sentence answers the question, and how
likely a question's best sentence does (calibrated), from a small committed model file.

The model is a logistic regression over ``features.FEATURES`` trained on public
reading-comprehension data by ``python -m training`` (README, "Quality"); its file holds the
feature names, the scaler, the weights, the answer threshold, an isotonic calibration of the
best sentence's probability measured on held-out articles (the confidence shown to users),
and the training record. Scoring is a dot product: deterministic,
no dependency beyond numpy."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.errors import ModelUnavailable

MODEL_FILE = Path(__file__).with_name("answer_model.json")


@dataclass(frozen=True)
class AnswerScorer:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    intercept: float
    calibration_x: np.ndarray      # best-sentence probability ...
    calibration_y: np.ndarray      # ... -> measured share of questions whose first quote was right
    threshold: float               # a sentence is quoted only when its probability reaches this
    record: dict                   # how, on what and when it was trained

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "AnswerScorer":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelUnavailable(f"The answer model {path} cannot be read ({err}); rebuild it with: "
                                   "python -m training") from None
        return cls(tuple(data["features"]), np.asarray(data["mean"]), np.asarray(data["scale"]),
                   np.asarray(data["weights"]), float(data["intercept"]), np.asarray(data["calibration_x"]),
                   np.asarray(data["calibration_y"]), float(data["threshold"]), data.get("record", {}))

    @classmethod
    def untrained(cls, features: tuple[str, ...]) -> "AnswerScorer":
        """A scorer that knows nothing (every sentence 0.5): what training starts from."""
        n = len(features)
        return cls(tuple(features), np.zeros(n), np.ones(n), np.zeros(n), 0.0, np.array([0.0, 1.0]),
                   np.array([0.0, 1.0]), 0.5, {})

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(the sentence answers the question) for each row of features."""
        if not len(rows):
            return np.zeros(0)
        z = ((rows - self.mean) / self.scale) @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def calibrated(self, best: float) -> float:
        """The measured chance that a question whose best sentence scores ``best`` is answered right."""
        return float(np.interp(best, self.calibration_x, self.calibration_y))

    def contributions(self, row: np.ndarray, top: int = 4) -> list[tuple[str, float]]:
        """The features that moved this sentence's score most, with their signed share of it."""
        parts = ((row - self.mean) / self.scale) * self.weights
        order = np.argsort(-np.abs(parts))[:top]
        return [(self.features[i], round(float(parts[i]), 3)) for i in order]

    def to_json(self) -> str:
        return json.dumps({"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                           "weights": self.weights.tolist(), "intercept": self.intercept,
                           "calibration_x": self.calibration_x.tolist(), "calibration_y": self.calibration_y.tolist(),
                           "threshold": self.threshold, "record": self.record}, indent=1)
