"""``lureguard eval``: score annotated data (or read someone else's scores) and measure everything.

Computes first (``evaluate`` returns a plain dict, the content of ``metrics.json``), draws later
(``plots.py``), writes last. Scores from another system are read in SPEC section 3 format, so any
detector can be compared on the same footing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..conversation import Conversation, ReadError
from ..reading import read_records
from ..taxonomy import TACTIC_IDS
from . import metrics as M
from .markdown import fmt

METRICS_VERSION = 1


def load_annotated(path: str | Path) -> list[Conversation]:
    """Annotated conversations; a bad line stops evaluation (unlike a scan, a benchmark must be whole)."""
    out = []
    for record in read_records(path, annotated=True):
        if isinstance(record, ReadError):
            raise ValueError(f"{path}: line {record.line}: {record.error}")
        out.append(record)
    return out


def load_scores(path: str | Path) -> dict[str, dict[str, Any]]:
    scores = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            row = json.loads(line)
            if "error" in row:
                continue
            if "risk" not in row or "id" not in row:
                raise ValueError(f"{path}: line {number}: a score line needs 'id' and 'risk' (SPEC section 3)")
            scores[row["id"]] = row
    return scores


def _first_tactic(conv: Conversation) -> int | None:
    return next((i for i, m in enumerate(conv.messages) if m.tactics), None)


def _message_truth(convs: Sequence[Conversation]) -> np.ndarray:
    rows = [[t in (m.tactics or ()) for t in TACTIC_IDS] for c in convs for m in c.messages]
    return np.asarray(rows, dtype=int).reshape(-1, len(TACTIC_IDS))


def evaluate(convs: Sequence[Conversation], outputs: Sequence[dict[str, Any]], *,
             thresholds: dict[str, float] | None, message_scores: np.ndarray | None = None,
             bootstrap: int = 500) -> dict[str, Any]:
    """All metrics of one dataset. ``outputs`` are SPEC section 3 dicts aligned with ``convs``;
    ``thresholds`` are the operating points (None: use each output's own ``flagged``);
    ``message_scores`` [messages, 11] enables message-level tactic metrics."""
    y = np.array([c.label for c in convs])
    risk = np.array([o["risk"] for o in outputs], dtype=float)
    report: dict[str, Any] = {"conversations": len(convs), "positives": int(y.sum()),
                              "messages": int(sum(len(c.messages) for c in convs))}
    conv_level: dict[str, Any] = {"pr_auc": M.pr_auc(y, risk), "roc_auc": M.roc_auc(y, risk)}
    if 0 < y.sum() < len(y):
        conv_level["pr_curve"] = M.pr_curve_points(y, risk)
        conv_level["recall_at_fpr"] = M.recall_at_fpr(y, risk)
    if bootstrap and 0 < y.sum() < len(y):
        conv_level["pr_auc_ci95"] = M.bootstrap_ci(M.pr_auc, [y, risk], n=bootstrap)
        conv_level["roc_auc_ci95"] = M.bootstrap_ci(M.roc_auc, [y, risk], n=bootstrap)
    points = thresholds or {"as_given": None}
    first_tactic = [_first_tactic(c) for c in convs]
    at: dict[str, Any] = {}
    flags: dict[str, np.ndarray] = {}
    for name, threshold in points.items():
        if threshold is None:
            flagged = np.array([bool(o["flagged"]) for o in outputs])
            first_flag = [o.get("first_flag_index") for o in outputs]
        else:
            flagged = risk >= threshold
            first_flag = [_first_crossing(o, threshold) for o in outputs]
        flags[name] = flagged
        rates = M.confusion_rates(y, flagged)
        if bootstrap and len(y) and (~y.astype(bool)).any():
            rates["false_positive_rate_ci95"] = M.bootstrap_ci(
                lambda a, b: M.confusion_rates(a, b)["false_positive_rate"], [y, flagged], n=bootstrap)
        delays = M.warning_delays([t if yy else None for t, yy in zip(first_tactic, y)],
                                  [f if yy and fl else None for f, yy, fl in zip(first_flag, y, flagged)])
        rates["threshold"] = threshold
        rates["f_latency"] = M.f_latency(y, flagged, first_flag)
        rates["warning_delay"] = _distribution(delays)
        at[name] = rates
    conv_level["operating_points"] = at
    report["conversation"] = conv_level
    report["calibration"] = {"ece": M.expected_calibration_error(y, risk), "reliability": M.reliability_table(y, risk)}

    conv_truth = np.array([[any(t in (m.tactics or ()) for m in c.messages) for t in TACTIC_IDS] for c in convs], int)
    conv_scores = np.array([[o["tactics"].get(t, 0.0) for t in TACTIC_IDS] for o in outputs])
    tactics: dict[str, Any] = {}
    for k, t in enumerate(TACTIC_IDS):
        tactics[t] = {"conversation_pr_auc": M.pr_auc(conv_truth[:, k], conv_scores[:, k]),
                      "labelled_messages": None}
    if message_scores is not None:
        truth = _message_truth(convs)
        for k, t in enumerate(TACTIC_IDS):
            tactics[t]["message_pr_auc"] = M.pr_auc(truth[:, k], message_scores[:, k])
            tactics[t]["labelled_messages"] = int(truth[:, k].sum())
    report["tactics"] = tactics
    for level in ("conversation_pr_auc", "message_pr_auc"):
        values = [v[level] for v in tactics.values() if v.get(level) is not None]
        report[f"tactic_macro_{level}"] = float(np.mean(values)) if values else None

    main_point = "balanced" if "balanced" in points else next(iter(points))
    flagged = flags[main_point]
    report["slices"] = _slices(convs, y, risk, flagged)
    report["hard_negative_false_positive_rate"] = {
        topic: row["false_positive_rate"] for topic, row in report["slices"].get("topic", {}).items()
        if row["negatives"] and row["false_positive_rate"] is not None}
    report["bias"] = _bias(convs, y, risk, conv_level["roc_auc"])
    report["twins"] = _twins(convs, risk, flagged)
    report["slices_operating_point"] = main_point
    return report


def _first_crossing(output: dict[str, Any], threshold: float) -> int | None:
    trace = output.get("message_risk")
    if trace is None:
        return output.get("first_flag_index")
    hits = [i for i, r in enumerate(trace) if r >= threshold]
    return hits[0] if hits else None


def _distribution(values: Sequence[int]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median": None, "mean": None, "histogram": {}}
    counts = defaultdict(int)
    for v in values:
        counts[str(v) if v < 10 else "10+"] += 1
    return {"count": len(values), "median": float(np.median(values)), "mean": float(np.mean(values)),
            "histogram": dict(sorted(counts.items(), key=lambda kv: (kv[0] == "10+", int(kv[0].rstrip("+"))))),
            "flagged_before_first_tactic": int(sum(v < 0 for v in values))}


def _slices(convs, y, risk, flagged) -> dict[str, dict[str, Any]]:
    by_key: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, c in enumerate(convs):
        for key, value in (c.slices or {}).items():
            by_key[key][value].append(i)
    out: dict[str, dict[str, Any]] = {}
    for key, values in sorted(by_key.items()):
        out[key] = {}
        for value, idx in sorted(values.items()):
            idx = np.array(idx)
            rates = M.confusion_rates(y[idx], flagged[idx])
            out[key][value] = {"conversations": len(idx), "positives": int(y[idx].sum()),
                               "negatives": int(len(idx) - y[idx].sum()),
                               "recall": rates["recall"], "false_positive_rate": rates["false_positive_rate"],
                               "precision": rates["precision"], "pr_auc": M.pr_auc(y[idx], risk[idx])}
    return out


def _bias(convs, y, risk, overall_auc) -> dict[str, Any]:
    keys = sorted({k for c in convs for k in (c.slices or {})})
    out = {}
    for key in keys:
        groups = [(c.slices or {}).get(key) for c in convs]
        table = M.bias_aucs(y, risk, groups)
        out[key] = {"subgroups": table, **M.bias_score(overall_auc, table)}
    return out


def _twins(convs, risk, flagged) -> dict[str, Any]:
    pairs: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(convs):
        if c.pair:
            pairs[c.pair].append(i)
    groups = {p: idx for p, idx in pairs.items() if len(idx) > 1}
    if not groups:
        return {"pairs": 0}

    def summary(items: list[list[int]]) -> dict[str, Any]:
        gaps = [float(risk[idx].max() - risk[idx].min()) for idx in items]
        flips = [bool(flagged[idx].any() and not flagged[idx].all()) for idx in items]
        return {"pairs": len(items), "mean_gap": float(np.mean(gaps)), "max_gap": float(np.max(gaps)),
                "flip_rate": float(np.mean(flips))}

    by_dimension: dict[str, list[list[int]]] = defaultdict(list)
    for idx in groups.values():
        dims = {(convs[i].slices or {}).get("swap") for i in idx} - {None}
        for d in dims or {"unspecified"}:
            by_dimension[d].append(idx)
    return {**summary(list(groups.values())), "gaps": [float(risk[i].max() - risk[i].min()) for i in groups.values()],
            "by_dimension": {d: summary(items) for d, items in sorted(by_dimension.items())}}


def score_with_model(convs: Sequence[Conversation], model_dir: str | None, *, threads: int | None):
    """Outputs (with the per-message risk trace), message-level tactic scores and the model's thresholds."""
    from ..detector import Detector

    detector = Detector.load(model_dir, threads=threads)
    results = detector.score(convs, include_text=False)
    outputs = [{**r.to_dict(), "message_risk": r.message_risk} for r in results]
    scores = detector.message_scores([[(m.author, m.text) for m in c.messages] for c in convs])
    message_scores = np.concatenate([s.tactics for s in scores]) if scores else np.zeros((0, len(TACTIC_IDS)))
    return outputs, message_scores, dict(detector.config.thresholds), detector.name


def run_eval(args: argparse.Namespace) -> int:
    from .plots import write_plots
    from .markdown import render_report

    report: dict[str, Any] = {"metrics_version": METRICS_VERSION, "datasets": {}}
    external = load_scores(args.scores) if args.scores else None
    baseline = _baseline(args) if getattr(args, "baseline", None) else None
    for path in args.data:
        convs = load_annotated(path)
        name = Path(path).stem
        if external is not None:
            missing = [c.id for c in convs if c.id not in external]
            if missing:
                print(f"lureguard eval: {len(missing)} conversations of {path} have no score in {args.scores} "
                      f"(first: {missing[0]})", file=sys.stderr)
                return 2
            outputs = [external[c.id] for c in convs]
            message_scores, thresholds, model = None, None, f"scores:{Path(args.scores).name}"
        elif baseline is not None:
            outputs = baseline(convs)
            message_scores, thresholds, model = None, None, outputs[0]["model"] if outputs else args.baseline
        else:
            outputs, message_scores, thresholds, model = score_with_model(convs, args.model, threads=args.threads)
        report["model"] = model
        report["datasets"][name] = evaluate(convs, outputs, thresholds=thresholds, message_scores=message_scores)
        report["datasets"][name]["source"] = str(path)
        _print_summary(name, report["datasets"][name])
    if args.report:
        out = Path(args.report)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(report, indent=1, default=_jsonable) + "\n", encoding="utf-8")
        plots = write_plots(report, out)
        (out / "report.md").write_text(render_report(report, plots), encoding="utf-8")
        print(f"lureguard eval: wrote {out / 'metrics.json'}, {out / 'report.md'} and {len(plots)} plots", file=sys.stderr)
    return 0


def _baseline(args: argparse.Namespace):
    """A reference scorer: ``keyword`` needs nothing; ``tfidf`` trains on --train, picks its threshold on
    --validation."""
    from .baselines import TfidfBaseline, keyword_scores

    if args.baseline == "keyword":
        return keyword_scores
    model = TfidfBaseline(load_annotated(args.train), load_annotated(args.validation))
    return model.score


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _print_summary(name: str, d: dict[str, Any]) -> None:
    c = d["conversation"]
    print(f"{name}: {d['conversations']} conversations ({d['positives']} positive); "
          f"PR-AUC {fmt(c['pr_auc'])}, ROC-AUC {fmt(c['roc_auc'])}, ECE {fmt(d['calibration']['ece'])}")
    for point, r in c["operating_points"].items():
        print(f"  {point:<15} recall {fmt(r['recall'])}  precision {fmt(r['precision'])}  "
              f"FPR {fmt(r['false_positive_rate'])}  F-latency {fmt(r['f_latency'])}")

