"""Evaluation metrics as plain functions, scikit-learn style (SPEC section 5 definitions).

``metric(y_true, y_score, *, ...)``; scikit-learn computes every AUC, nothing is re-derived here.
Needs the ``eval`` extra (scikit-learn).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

F_LATENCY_P = math.log(3) / (90 - 1)  # penalty 0.5 at the 90th message (Vogt, Leser and Akbik, 2021)


def pr_auc(y_true: Sequence[int], y_score: Sequence[float]) -> float | None:
    """Average precision; None when only one class is present."""
    y_true = np.asarray(y_true)
    return float(average_precision_score(y_true, y_score)) if 0 < y_true.sum() < len(y_true) else None


def pr_curve_points(y_true: Sequence[int], y_score: Sequence[float], *, points: int = 101) -> dict[str, list[float]]:
    """The precision-recall curve at up to ``points`` evenly spaced recall levels (small enough for JSON)."""
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    keep = np.unique(np.linspace(0, len(recall) - 1, points).astype(int))
    return {"precision": [round(float(p), 4) for p in precision[keep]],
            "recall": [round(float(r), 4) for r in recall[keep]]}


def best_f1_threshold(y_true: Sequence[int], y_score: Sequence[float]) -> float:
    """The score threshold with the best F1 (flag at score >= threshold)."""
    precision, recall, thresholds = precision_recall_curve(y_true, y_score)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[np.argmax(f1)])


def roc_auc(y_true: Sequence[int], y_score: Sequence[float]) -> float | None:
    y_true = np.asarray(y_true)
    return float(roc_auc_score(y_true, y_score)) if 0 < y_true.sum() < len(y_true) else None


def recall_at_fpr(y_true: Sequence[int], y_score: Sequence[float], *,
                  rates: Sequence[float] = (0.01, 0.03, 0.05, 0.10)) -> dict[str, float] | None:
    """The best recall whose false-positive rate stays within each of ``rates``: how two models compare at
    the same cost to the people wrongly flagged, whatever thresholds they ship with. None with one class."""
    y_true = np.asarray(y_true)
    if not 0 < y_true.sum() < len(y_true):
        return None
    fpr, tpr, _ = roc_curve(y_true, y_score)
    return {f"{r:g}": float(tpr[fpr <= r + 1e-12].max()) for r in rates}


def confusion_rates(y_true: Sequence[int], flagged: Sequence[bool]) -> dict[str, float | int | None]:
    """Precision, recall, F1 and false-positive rate of hard decisions, with the counts behind them."""
    y = np.asarray(y_true).astype(bool)
    f = np.asarray(flagged).astype(bool)
    tp, fp = int((y & f).sum()), int((~y & f).sum())
    fn, tn = int((y & ~f).sum()), int((~y & ~f).sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)) if precision and recall else (0.0 if recall is not None else None)
    fpr = fp / (fp + tn) if fp + tn else None
    return {"precision": precision, "recall": recall, "f1": f1, "false_positive_rate": fpr,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def expected_calibration_error(y_true: Sequence[int], y_prob: Sequence[float], *, bins: int = 10) -> float:
    """ECE with equal-width bins of the predicted probability."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_prob, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(y[in_bin].mean() - p[in_bin].mean())
    return float(ece)


def reliability_table(y_true: Sequence[int], y_prob: Sequence[float], *, bins: int = 10) -> list[dict[str, float]]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_prob, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return [{"bin_low": b / bins, "bin_high": (b + 1) / bins, "count": int((which == b).sum()),
             "mean_predicted": float(p[which == b].mean()), "fraction_positive": float(y[which == b].mean())}
            for b in range(bins) if (which == b).any()]


def latency_penalty(k: np.ndarray | int) -> np.ndarray:
    """penalty(k) = -1 + 2 / (1 + exp(-p (k - 1))), k the 1-based message index of the warning."""
    return -1 + 2 / (1 + np.exp(-F_LATENCY_P * (np.asarray(k, dtype=float) - 1)))


def f_latency(y_true: Sequence[int], flagged: Sequence[bool], first_flag_index: Sequence[int | None]) -> float | None:
    """F1 x speed, speed = 1 - median penalty over true positives (SPEC section 5)."""
    rates = confusion_rates(y_true, flagged)
    ks = [i + 1 for y, f, i in zip(y_true, flagged, first_flag_index) if y and f and i is not None]
    if rates["f1"] is None or not ks:
        return None
    return float(rates["f1"] * (1 - float(np.median(latency_penalty(np.array(ks))))))


def warning_delays(first_tactic_index: Sequence[int | None], first_flag_index: Sequence[int | None]) -> list[int]:
    """Messages between the first tactic-bearing message and the flag, for flagged positives."""
    return [f - t for t, f in zip(first_tactic_index, first_flag_index) if t is not None and f is not None]


def power_mean(values: Sequence[float], p: float = -5) -> float | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return float(np.mean(np.power(np.asarray(values, dtype=float), p)) ** (1 / p))


def bias_aucs(y_true: Sequence[int], y_score: Sequence[float], groups: Sequence[str | None], *,
              min_count: int = 10) -> dict[str, dict[str, float | str | int | None]]:
    """Subgroup, BPSN and BNSP AUCs (Borkan et al. 2019) for each value of one slice attribute.

    A subgroup with fewer than ``min_count`` conversations of a class a metric needs reports "too small".
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=float)
    g = np.asarray([x if x is not None else "" for x in groups])
    out: dict[str, dict[str, float | str | int | None]] = {}
    for value in sorted(set(g) - {""}):
        inside = g == value
        pos_in, neg_in = int((inside & y).sum()), int((inside & ~y).sum())
        row: dict[str, float | str | int | None] = {"positives": pos_in, "negatives": neg_in}

        def auc(mask: np.ndarray, needs: tuple[int, ...]) -> float | str | None:
            if min(needs) < min_count:
                return "too small"
            return roc_auc(y[mask], s[mask])

        row["subgroup_auc"] = auc(inside, (pos_in, neg_in))
        row["bpsn_auc"] = auc((inside & ~y) | (~inside & y), (neg_in, int((~inside & y).sum())))
        row["bnsp_auc"] = auc((inside & y) | (~inside & ~y), (pos_in, int((~inside & ~y).sum())))
        out[value] = row
    return out


def bias_score(overall_auc: float | None, table: dict[str, dict]) -> dict[str, float | None]:
    """Generalised means (p = -5) of each bias AUC and the Jigsaw overall score."""
    means = {}
    for key in ("subgroup_auc", "bpsn_auc", "bnsp_auc"):
        means[key] = power_mean([r[key] for r in table.values() if isinstance(r[key], float)])
    parts = [v for v in means.values() if v is not None]
    overall = 0.25 * overall_auc + 0.75 * float(np.mean(parts)) if overall_auc is not None and len(parts) == 3 else None
    return {**{f"power_mean_{k}": v for k, v in means.items()}, "bias_score": overall}


def bootstrap_ci(metric, arrays: Sequence[np.ndarray], *, n: int = 500, seed: int = 13,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``metric(*arrays)`` resampling conversations."""
    rng = np.random.default_rng(seed)
    size = len(arrays[0])
    values = []
    for _ in range(n):
        idx = rng.integers(0, size, size)
        v = metric(*(a[idx] for a in arrays))
        if v is not None:
            values.append(v)
    if not values:
        return None
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))
