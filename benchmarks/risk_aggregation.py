"""How should per-message risk become the conversation's risk? Compare readings of one model's estimates.

    python benchmarks/risk_aggregation.py [--model DIR] [--fit datasets/lureguard/validation.jsonl]
                                          [--data datasets/lureguard/test.jsonl]

The model gives an estimate of the conversation's risk after every message. Each reading below turns
those estimates into one score per conversation; its `balanced` threshold (best F1) and `high_precision`
threshold (precision >= 0.95) are fitted on --fit and applied to --data, so the false-positive rates
compare at thresholds each reading would really ship with. Ranking figures (PR-AUC, recall at a fixed
false-positive rate) need no threshold. `latest` is what the runtime uses (lureguard.risk);
`running max` is what lureguard used up to model 0.6.0.

Then the same for each tactic's conversation score (macro PR-AUC over the 11 tactics, a conversation
counting as positive for a tactic when any of its messages is tagged with it): the tactic's highest
message score alone (up to 0.6.0), or times the conversation's risk (the runtime, lureguard.risk).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def readings(window: int) -> dict:
    from lureguard.risk import risk_trace

    return {
        "latest (runtime)": lambda r: risk_trace(r, window)[-1],
        "running max": lambda r: r.max(),
        "max over second half": lambda r: r[len(r) // 2:].max(),
        "mean of max and latest": lambda r: 0.5 * (r.max() + r[-1]),
    }


def scored(detector, path: Path) -> tuple[list, np.ndarray, np.ndarray]:
    """Per-message logits of each conversation, its label, and its tactic truth [conversations, 11]."""
    from lureguard.taxonomy import TACTIC_IDS

    convs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    scores = detector.message_scores([[(m["author"], m["text"]) for m in c["messages"]] for c in convs],
                                     calibrated=False)
    truth = np.array([[any(t in m.get("tactics", []) for m in c["messages"]) for t in TACTIC_IDS] for c in convs])
    return scores, np.array([c["label"] for c in convs]), truth


def tactic_readings(detector, logits: list, truth: np.ndarray) -> dict[str, float]:
    """Macro conversation-level tactic PR-AUC of the peak message score, alone and times the risk."""
    from sklearn.metrics import average_precision_score

    from lureguard.risk import conversation_tactics, risk_trace
    from lureguard.taxonomy import TACTIC_IDS

    scores = [detector.calibrate(s.tactics, s.risk, s.actor) for s in logits]
    window = detector.config.max_messages
    read = {"peak": lambda s: conversation_tactics(s.tactics, 1.0),
            "peak x risk (runtime)": lambda s: conversation_tactics(s.tactics, risk_trace(s.risk, window)[-1])}
    out = {}
    for name, f in read.items():
        table = np.array([[f(s)[t] for t in TACTIC_IDS] for s in scores])
        out[name] = float(np.mean([average_precision_score(truth[:, k], table[:, k]) for k in range(len(TACTIC_IDS))]))
    return out


def main() -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    from lureguard import Detector
    from lureguard.evaluation.metrics import best_f1_threshold, recall_at_fpr

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--fit", type=Path, default=ROOT / "datasets/lureguard/validation.jsonl")
    parser.add_argument("--data", type=Path, default=ROOT / "datasets/lureguard/test.jsonl")
    args = parser.parse_args()

    detector = Detector.load(args.model)
    fit_scores, fit_y, _ = scored(detector, args.fit)
    data_scores, data_y, data_truth = scored(detector, args.data)
    fit_r, data_r = [s.risk for s in fit_scores], [s.risk for s in data_scores]
    print(f"{detector.name}: thresholds fitted on {args.fit.name} ({len(fit_y)}), measured on "
          f"{args.data.name} ({len(data_y)}, {int(data_y.sum())} positive)")
    print(f"{'reading':24s} {'PR-AUC':>7s} {'balanced R / FPR':>17s} {'high_prec R / FPR':>18s} "
          f"{'recall at 1/3/5% FPR':>21s}")
    for name, read in readings(detector.config.max_messages).items():
        fit = np.array([read(r) for r in fit_r])
        data = np.array([read(r) for r in data_r])
        precision, _, cuts = precision_recall_curve(fit_y, fit)
        reach = np.flatnonzero(precision[:-1] >= 0.95)
        points = [best_f1_threshold(fit_y, fit), cuts[reach.min()] if reach.size else cuts[-1]]
        cells = [f"{(data[data_y == 1] >= t).mean():.3f} / {(data[data_y == 0] >= t).mean():.3f}" for t in points]
        at = recall_at_fpr(data_y, data, rates=(0.01, 0.03, 0.05))
        print(f"{name:24s} {average_precision_score(data_y, data):7.3f} {cells[0]:>17s} {cells[1]:>18s} "
              f"{' / '.join(f'{v:.3f}' for v in at.values()):>21s}")
    print(f"\nmacro conversation-level tactic PR-AUC on {args.data.name}:")
    for name, value in tactic_readings(detector, data_scores, data_truth).items():
        print(f"{name:24s} {value:7.3f}")


if __name__ == "__main__":
    main()
