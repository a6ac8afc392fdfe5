"""Pictures of an evaluation, drawn from ``metrics.json`` content alone (compute first, draw later)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a screen
    import matplotlib.pyplot as plt

    return plt


def write_plots(report: dict[str, Any], out: Path) -> list[str]:
    """PNG files written into ``out``; returns their names."""
    plt = _pyplot()
    names: list[str] = []
    datasets = report["datasets"]

    # Precision-recall curves, with the operating points marked on them.
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name, d in datasets.items():
        c = d["conversation"]
        if "pr_curve" not in c:
            continue
        line, = ax.plot(c["pr_curve"]["recall"], c["pr_curve"]["precision"],
                        label=f"{name} (PR-AUC {c['pr_auc']:.3f})")
        for point, r in c["operating_points"].items():
            if r["recall"] is not None and r["precision"] is not None:
                ax.plot(r["recall"], r["precision"], marker="o", color=line.get_color())
                ax.annotate(point, (r["recall"], r["precision"]), textcoords="offset points", xytext=(4, -12),
                            fontsize=8)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall, with operating points")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    names.append(_save(fig, out, "precision_recall.png"))

    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for name, d in datasets.items():
        table = d["calibration"]["reliability"]
        if table:
            ax.plot([r["mean_predicted"] for r in table], [r["fraction_positive"] for r in table], marker="o",
                    label=f"{name} (ECE {d['calibration']['ece']:.3f})")
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("fraction positive")
    ax.set_title("Reliability diagram")
    ax.legend(fontsize=8)
    names.append(_save(fig, out, "reliability.png"))

    rows = [(f"{name}: {topic}", fpr) for name, d in datasets.items()
            for topic, fpr in d.get("hard_negative_false_positive_rate", {}).items()]
    if rows:
        rows.sort(key=lambda r: r[1])
        fig, ax = plt.subplots(figsize=(7.5, max(2.5, 0.28 * len(rows) + 1)))
        bars = ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#c0504d")
        ax.bar_label(bars, labels=[f"{r[1]:.1%}" for r in rows], padding=3, fontsize=7)
        ax.set_xlabel("false-positive rate at the slice operating point")
        ax.set_title("False positives on negatives, by topic")
        ax.set_xlim(0, max(0.05, max(r[1] for r in rows) * 1.15))
        ax.tick_params(axis="y", labelsize=7)
        names.append(_save(fig, out, "false_positive_rate_by_topic.png"))

    gaps = [g for d in datasets.values() for g in d.get("twins", {}).get("gaps", [])]
    if gaps:
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        ax.hist(gaps, bins=20, color="#4f81bd")
        ax.set_xlabel("risk gap within a counterfactual pair (max - min)")
        ax.set_ylabel("pairs")
        ax.set_title("Counterfactual twins")
        names.append(_save(fig, out, "twin_gaps.png"))
    return names


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name
