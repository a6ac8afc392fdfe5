"""The model that ships in the package: loads alone, is small, and behaves on clear cases."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lureguard.artifacts import MODEL_FILES, load_model_config
from lureguard.cli import main
from lureguard.taxonomy import TACTIC_IDS

pytestmark = pytest.mark.model


def test_runtime_import_never_imports_torch():
    code = "import sys, lureguard, lureguard.cli, lureguard.scan; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_model_is_small_verified_and_in_taxonomy_order(shipped_model_dir):
    config = load_model_config(shipped_model_dir, verify=True)
    assert config.tactics == TACTIC_IDS
    assert sum((shipped_model_dir / name).stat().st_size for name in MODEL_FILES) <= 30 * 1024 * 1024
    assert config.thresholds["high_recall"] <= config.thresholds["balanced"] <= config.thresholds["high_precision"]


def test_config_documents_each_graphs_named_inputs_and_outputs(shipped_model_dir):
    import onnxruntime as ort

    graphs = load_model_config(shipped_model_dir).extra["graphs"]
    assert set(graphs) == {"encoder.onnx", "conversation.onnx"}
    for name, io in graphs.items():
        session = ort.InferenceSession(str(shipped_model_dir / name), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == io["inputs"]
        assert [o.name for o in session.get_outputs()] == io["outputs"]
        # dynamic batch axes: the first axis of every input is named, not fixed
        assert all(isinstance(i.shape[0], str) for i in session.get_inputs())


def test_int8_agreed_with_fp32_on_flagged_when_exported(shipped_model_dir):
    # Measured by `python -m lureguard_train export` on the test split; the model issue asks for 0.99.
    config = load_model_config(shipped_model_dir)
    assert config.extra["int8_fp32_flag_agreement"]["test"] >= 0.99


def test_demo_prints_a_table(capsys, shipped_model_dir):
    assert main(["demo", "--model", str(shipped_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "demo-1" in out and "risk" in out and "most likely pursuer" in out


def _demo(shipped):
    from importlib import resources

    from lureguard.reading import read_records

    with resources.as_file(resources.files("lureguard") / "samples" / "demo.jsonl") as path:
        convs = {c.id: c for c in read_records(path)}
    return {cid: shipped.score_one(c) for cid, c in convs.items()}


def test_clear_recruitment_and_grooming_are_flagged_with_the_pursuer_named(shipped):
    results = _demo(shipped)
    for cid, pursuer in (("demo-1", "elite.casting.eu"), ("demo-3", "xXshadowXx"), ("demo-5", "marco_v")):
        r = results[cid]
        assert r.flagged, (cid, r.risk)
        assert max(r.actors, key=r.actors.get) == pursuer
        assert r.evidence and all(e.author == pursuer for e in r.evidence)


def test_hard_negatives_in_the_demo_stay_unflagged(shipped):
    results = _demo(shipped)
    for cid in ("demo-4", "demo-6"):  # a parent asking for a location, a queer youth group
        assert not results[cid].flagged, (cid, results[cid].risk)


def test_a_legitimate_recruiter_stays_unflagged(shipped):
    """Models 0.1.0 to 0.4.0 flagged this recruiter (named company, no fees, interview) at `balanced`."""
    assert not _demo(shipped)["demo-2"].flagged


@pytest.mark.parametrize("plain, obfuscated", [
    ("add me on telegram, we talk there, delete this chat", "add me on t e l e g r a m, we talk there, delete this chat"),
    ("message me on whatsapp and send your passport scan", "message me on wh@ts app and send your passp0rt scan"),
    ("lets move to snapchat, dont tell your mom", "lets move to sn\u0430pchat, dont tell your mom"),
])
def test_an_obfuscated_positive_scores_within_0_1_of_its_plain_form(shipped, plain, obfuscated):
    def conv(text):
        return {"id": "x", "messages": [{"author": "a", "text": "hey cutie, how old are you?"},
                                        {"author": "b", "text": "16"}, {"author": "a", "text": text}]}

    a, b = shipped.score_one(conv(plain)), shipped.score_one(conv(obfuscated))
    assert abs(a.risk - b.risk) <= 0.1
    for t in TACTIC_IDS:
        assert abs(a.tactics[t] - b.tactics[t]) <= 0.1


def test_scan_output_lines_follow_the_spec(shipped_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "messages": [{"author": "x", "text": "hi"}], "meta": {"k": 1}}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["scan", str(src), "-o", str(out), "--model", str(shipped_model_dir), "--quiet"]) == 0
    (line,) = [json.loads(l) for l in out.read_text().splitlines()]
    assert line["model"].startswith("lureguard-") and line["meta"] == {"k": 1}
    assert set(line) == {"id", "risk", "flagged", "tactics", "evidence", "actors", "first_flag_index", "model", "meta"}


def test_bias_suite_runs_on_a_slice_and_names_barely_move_the_risk(shipped):
    """The CI slice of the bias suite: name swaps across cultures must not change the verdict much."""
    from lureguard.evaluation.report import evaluate, load_annotated

    from .conftest import ROOT

    twins = load_annotated(ROOT / "datasets" / "lureguard" / "bias" / "twins.jsonl")
    names = [c for c in twins if (c.slices or {}).get("swap") == "names"][:140]
    results = shipped.score(names, include_text=False)
    report = evaluate(names, [r.to_dict() for r in results], thresholds=dict(shipped.config.thresholds), bootstrap=0)
    summary = report["twins"]["by_dimension"]["names"]
    assert summary["pairs"] == 20
    assert summary["mean_gap"] <= 0.1 and summary["flip_rate"] <= 0.2, summary
