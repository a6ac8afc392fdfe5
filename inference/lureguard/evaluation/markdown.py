"""``report.md``: the evaluation in words and tables, rendered from ``metrics.json`` content."""

from __future__ import annotations

from typing import Any


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    if isinstance(x, (list, tuple)) and len(x) == 2 and all(isinstance(v, float) for v in x):
        return f"[{x[0]:.{digits}f}, {x[1]:.{digits}f}]"
    return str(x)


def render_report(report: dict[str, Any], plots: list[str]) -> str:
    lines = [f"# lureguard evaluation — {report.get('model', '')}", ""]
    for name, d in report["datasets"].items():
        c = d["conversation"]
        lines += [f"## {name}", "",
                  f"`{d['source']}`: {d['conversations']} conversations, {d['positives']} positive, {d['messages']} messages.",
                  "",
                  f"- PR-AUC {fmt(c['pr_auc'])} (95% CI {fmt(c.get('pr_auc_ci95'))}), "
                  f"ROC-AUC {fmt(c['roc_auc'])} (95% CI {fmt(c.get('roc_auc_ci95'))})",
                  f"- expected calibration error {fmt(d['calibration']['ece'])}",
                  *([f"- recall at a false-positive rate of "
                     f"{' / '.join(f'{float(r):.0%}' for r in c['recall_at_fpr'])}: "
                     f"{' / '.join(fmt(v) for v in c['recall_at_fpr'].values())}"] if c.get("recall_at_fpr") else []),
                  f"- macro tactic PR-AUC: conversation level {fmt(d.get('tactic_macro_conversation_pr_auc'))}, "
                  f"message level {fmt(d.get('tactic_macro_message_pr_auc'))}", "",
                  "| operating point | threshold | precision | recall | F1 | FPR (95% CI) | F-latency | median delay |",
                  "|---|---|---|---|---|---|---|---|"]
        for point, r in c["operating_points"].items():
            lines.append(f"| {point} | {fmt(r['threshold'])} | {fmt(r['precision'])} | {fmt(r['recall'])} | "
                         f"{fmt(r['f1'])} | {fmt(r['false_positive_rate'])} {fmt(r.get('false_positive_rate_ci95'))} | "
                         f"{fmt(r['f_latency'])} | {fmt(r['warning_delay']['median'], 1)} |")
        lines += ["", "| tactic | labelled messages | message PR-AUC | conversation PR-AUC |", "|---|---|---|---|"]
        for t, r in d["tactics"].items():
            lines.append(f"| `{t}` | {fmt(r.get('labelled_messages'))} | {fmt(r.get('message_pr_auc'))} | "
                         f"{fmt(r['conversation_pr_auc'])} |")
        if d["hard_negative_false_positive_rate"]:
            lines += ["", f"False-positive rate by topic (operating point `{d['slices_operating_point']}`):", "",
                      "| topic | negatives | FPR |", "|---|---|---|"]
            for topic, row in d["slices"]["topic"].items():
                if row["negatives"]:
                    lines.append(f"| {topic} | {row['negatives']} | {fmt(row['false_positive_rate'])} |")
        for key, b in d["bias"].items():
            if b.get("bias_score") is not None:
                lines.append(f"\nBias (`{key}`): generalised-mean subgroup AUC {fmt(b['power_mean_subgroup_auc'])}, "
                             f"BPSN {fmt(b['power_mean_bpsn_auc'])}, BNSP {fmt(b['power_mean_bnsp_auc'])}, "
                             f"overall bias score {fmt(b['bias_score'])}.")
        if d["twins"].get("pairs"):
            t = d["twins"]
            lines.append(f"\nCounterfactual twins: {t['pairs']} pairs, mean risk gap {fmt(t['mean_gap'])}, "
                         f"max {fmt(t['max_gap'])}, flip rate {fmt(t['flip_rate'])}.")
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)
