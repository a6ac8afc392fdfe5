"""`lureguard eval`: our model, someone else's scores, and the reference scorers, on the same footing."""

from __future__ import annotations

import json

from lureguard.cli import main

from .conftest import ROOT

TEST = ROOT / "datasets" / "lureguard" / "test.jsonl"
TWINS = ROOT / "datasets" / "lureguard" / "bias" / "twins.jsonl"


def _slice(tmp_path, source, n, name):
    path = tmp_path / name
    path.write_text("".join(source.read_text().splitlines(keepends=True)[:n]))
    return path


def test_eval_writes_metrics_report_and_plots(tiny_model_dir, tmp_path):
    data = _slice(tmp_path, TEST, 60, "test.jsonl")
    twins = _slice(tmp_path, TWINS, 120, "twins.jsonl")
    report = tmp_path / "report"
    assert main(["eval", str(data), str(twins), "--model", str(tiny_model_dir), "--report", str(report)]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    d = metrics["datasets"]["test"]
    assert set(d["conversation"]["operating_points"]) == {"high_recall", "balanced", "high_precision"}
    assert d["conversation"]["pr_auc_ci95"][0] <= d["conversation"]["pr_auc"] <= d["conversation"]["pr_auc_ci95"][1]
    assert set(d["tactics"]) >= {"job_lure", "control_monitoring"}
    assert "topic" in d["slices"] and "lang" in d["bias"]
    assert metrics["datasets"]["twins"]["twins"]["pairs"] > 0
    text = (report / "report.md").read_text()
    assert "## test" in text and "operating point" in text
    for png in ("precision_recall.png", "reliability.png", "false_positive_rate_by_topic.png", "twin_gaps.png"):
        assert (report / png).stat().st_size > 1000


def test_eval_reads_an_external_detectors_scores(tiny_model_dir, tmp_path, capsys):
    data = _slice(tmp_path, TEST, 40, "test.jsonl")
    scores = tmp_path / "scores.jsonl"
    assert main(["scan", str(data), "-o", str(scores), "--model", str(tiny_model_dir), "--quiet"]) == 0
    assert main(["eval", str(data), "--scores", str(scores), "--report", str(tmp_path / "r")]) == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["model"] == "scores:scores.jsonl"
    assert list(metrics["datasets"]["test"]["conversation"]["operating_points"]) == ["as_given"]
    lines = scores.read_text().splitlines()
    scores.write_text("\n".join(lines[:-1]) + "\n")
    assert main(["eval", str(data), "--scores", str(scores)]) == 2
    assert "have no score" in capsys.readouterr().err


def test_reference_scorers_run_through_the_same_harness(tmp_path):
    data = _slice(tmp_path, TEST, 40, "test.jsonl")
    assert main(["eval", str(data), "--baseline", "keyword", "--report", str(tmp_path / "k")]) == 0
    assert json.loads((tmp_path / "k" / "metrics.json").read_text())["model"] == "keyword-lexicon"
    train = _slice(tmp_path, ROOT / "datasets" / "lureguard" / "train.jsonl", 300, "train.jsonl")
    validation = _slice(tmp_path, ROOT / "datasets" / "lureguard" / "validation.jsonl", 100, "validation.jsonl")
    assert main(["eval", str(data), "--baseline", "tfidf", "--train", str(train), "--validation", str(validation),
                 "--report", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "metrics.json").read_text())["model"] == "tfidf-logreg"
