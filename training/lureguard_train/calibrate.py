"""Calibrate the exported model on validation data and fix its operating points.

Measured on the int8 ONNX model through the runtime itself, so the scores users see are the
scores that were calibrated. Platt scaling (a logistic fit on the logit) for the conversation risk,
the actor risk and each tactic; then three risk thresholds:

- ``high_recall``: the highest threshold with recall >= 0.95 on validation;
- ``balanced``: the threshold with the best F1;
- ``high_precision``: the lowest threshold with precision >= 0.95 (the most precise one if none reaches it);

and one evidence threshold per tactic, the best-F1 threshold of message-level scores.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

from lureguard.detector import Detector
from lureguard.evaluation.metrics import best_f1_threshold
from lureguard.risk import risk_trace
from lureguard.taxonomy import TACTIC_IDS

from .data import targets

MIN_TACTIC_THRESHOLD = 0.2


def platt(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    if labels.min() == labels.max():
        return {"scale": 1.0, "bias": 0.0}
    fit = LogisticRegression(C=1e4, max_iter=1000).fit(logits.reshape(-1, 1), labels)
    return {"scale": float(fit.coef_[0, 0]), "bias": float(fit.intercept_[0])}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -60, 60)))


def operating_points(scores: np.ndarray, labels: np.ndarray, *, recall_target: float = 0.95,
                     precision_target: float = 0.95) -> dict[str, float]:
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    precision, recall = precision[:-1], recall[:-1]  # align with thresholds
    high_recall = thresholds[recall >= recall_target].max()
    reach = np.flatnonzero(precision >= precision_target)
    high_precision = thresholds[reach.min()] if reach.size else thresholds[np.argmax(precision)]
    return {"high_recall": float(high_recall), "balanced": best_f1_threshold(labels, scores),
            "high_precision": float(high_precision)}


def evidence_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Best-F1 threshold of one tactic's message scores, never below MIN_TACTIC_THRESHOLD."""
    if not labels.any():
        return 0.5
    return max(best_f1_threshold(labels, scores), MIN_TACTIC_THRESHOLD)


def calibrate(detector: Detector, convs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Calibration and thresholds for ``detector`` fitted on annotated validation conversations."""
    raw = detector.message_scores([[(m["author"], m["text"]) for m in c["messages"]] for c in convs],
                                  calibrated=False)
    labels = np.array([c["label"] for c in convs])
    # The conversation's risk is read as the runtime reads it (lureguard.risk), so the fit matches.
    risk_logit = np.array([risk_trace(r.risk, detector.config.max_messages)[-1] for r in raw])
    truth = [targets(c) for c in convs]
    tactic_logits = np.concatenate([r.tactics for r in raw])
    tactic_truth = np.concatenate([t[0] for t in truth])
    # The actor risk is read per author (max over their messages): fit it at that level.
    actor_logit, actor_label = [], []
    for c, r, t in zip(convs, raw, truth):
        for author in dict.fromkeys(m["author"] for m in c["messages"]):
            rows = [i for i, m in enumerate(c["messages"]) if m["author"] == author]
            actor_logit.append(r.actor[rows].max())
            actor_label.append(t[2][rows].max())
    calibration = {"risk": platt(risk_logit, labels),
                   "actor": platt(np.array(actor_logit), np.array(actor_label)),
                   **{tid: platt(tactic_logits[:, k], tactic_truth[:, k]) for k, tid in enumerate(TACTIC_IDS)}}
    risk = _sigmoid(risk_logit * calibration["risk"]["scale"] + calibration["risk"]["bias"])
    tactic_thresholds = {}
    for k, tid in enumerate(TACTIC_IDS):
        c = calibration[tid]
        tactic_thresholds[tid] = evidence_threshold(_sigmoid(tactic_logits[:, k] * c["scale"] + c["bias"]),
                                                   tactic_truth[:, k])
    return {"calibration": calibration, "thresholds": operating_points(risk, labels),
            "tactic_thresholds": tactic_thresholds}
