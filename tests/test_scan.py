"""`lureguard scan` and the Python API on a tiny random model: format, order, errors, resume."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading

import pytest

from lureguard import Detector, scan
from lureguard.artifacts import ModelIntegrityError, ModelNotFoundError
from lureguard.cli import main
from lureguard.taxonomy import TACTIC_IDS

from .conftest import write_jsonl


def conv(i: int, n: int = 3) -> dict:
    return {"id": f"c{i}", "messages": [{"author": "ab"[k % 2], "text": f"message {k} of conversation {i}"}
                                        for k in range(n)], "meta": {"n": i}}


@pytest.fixture()
def detector(tiny_model_dir):
    return Detector.load(tiny_model_dir, threads=1)


def test_result_has_every_spec_field(detector):
    result = detector.score_one(conv(1)).to_dict()
    assert list(result) == ["id", "risk", "flagged", "tactics", "evidence", "actors", "first_flag_index", "model", "meta"]
    assert list(result["tactics"]) == list(TACTIC_IDS)
    assert set(result["actors"]) == {"a", "b"} and result["meta"] == {"n": 1}
    assert 0.0 <= result["risk"] <= 1.0 and result["model"] == "lureguard-0.0.0-test"


def test_scores_do_not_depend_on_batch_company(detector):
    # Activations are quantised per token and messages are never padded, so a conversation scored
    # alone and the same conversation scored among others give the very same numbers.
    convs = [conv(i, n=i % 7 + 1) for i in range(12)] + [conv(99, n=20)]
    for c in convs:  # messages of many token lengths
        for k, m in enumerate(c["messages"]):
            m["text"] += " and then some more words" * ((k * 7 + len(c["id"])) % 5)
    alone = [detector.score_one(c).to_dict() for c in convs]
    together = [r.to_dict() for r in detector.score(convs)]
    reversed_order = [r.to_dict() for r in detector.score(convs[::-1])][::-1]
    assert alone == together == reversed_order


def test_long_conversation_uses_windows_and_scores_every_message(detector):
    long = conv(0, n=50)  # the tiny model's window is 8 messages
    result = detector.score_one(long)
    assert len(result.message_risk) == 50
    assert all(e.index < 50 for e in result.evidence)


def test_risk_is_the_latest_estimate_within_a_window(detector):
    convs = [conv(i, n=6) for i in range(12)]  # the tiny model's window is 8 messages
    results = detector.score(convs)
    estimates = [s.risk for s in detector.message_scores([[(m["author"], m["text"]) for m in c["messages"]]
                                                          for c in convs])]
    assert [r.risk for r in results] == [round(float(e[-1]), 4) for e in estimates]
    assert any(e[-1] < e.max() for e in estimates)  # an estimate fell, so a running maximum would differ


def test_live_conversation_matches_batch_scoring_within_a_window(detector):
    c = conv(3, n=6)
    live = detector.stream("c3")
    for m in c["messages"]:
        last = live.add(m["author"], m["text"])
    batch = detector.score_one(c)
    assert last.risk == batch.risk
    assert last.first_flag_index == batch.first_flag_index


def test_live_risk_never_falls_below_a_checkpoint_once_the_window_is_full(detector):
    from lureguard.risk import is_checkpoint

    live = detector.stream("long")
    risks = [live.add(m["author"], m["text"]).risk for m in conv(5, n=30)["messages"]]
    window = detector.config.max_messages
    for k in (k for k in range(len(risks)) if is_checkpoint(k, window)):
        assert min(risks[k:]) >= risks[k]


def test_scoring_is_thread_safe(detector):
    convs = [conv(i, n=4) for i in range(8)]
    expected = [r.risk for r in detector.score(convs)]
    results = {}

    def work(k):
        results[k] = [r.risk for r in detector.score(convs)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == pytest.approx(expected, abs=1e-6) for r in results.values())


def test_bad_dict_raises_with_the_field_named(detector):
    with pytest.raises(ValueError, match=r"messages\[0\].author: missing"):
        detector.score([{"id": "x", "messages": [{"text": "hi"}]}])


def test_model_with_swapped_file_is_refused(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text().replace("[UNK]", "[UNX]", 1))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        Detector.load(copy)
    with pytest.raises(ModelNotFoundError):
        Detector.load(tmp_path / "nowhere")


# -- the scan command ---------------------------------------------------------------------------

def test_scan_keeps_order_and_turns_bad_lines_into_error_lines(detector, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(conv(i)) for i in range(5)]
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps({"id": "e", "messages": []}))
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    summary = scan(detector, src, out, progress=False)
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 7
    assert [r["id"] for r in rows] == ["c0", "c1", None, "c2", "e", "c3", "c4"]
    assert rows[2] == {"id": None, "line": 3, "error": rows[2]["error"]} and "not valid JSON" in rows[2]["error"]
    assert rows[4]["line"] == 5 and "messages: empty list" in rows[4]["error"]
    assert summary.conversations == 5 and summary.errors == 2
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_scan_reads_csv_and_parquet_like_jsonl(detector, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    convs = [conv(i, n=2 + i) for i in range(3)]
    rows = [(c["id"], m["author"], m["text"]) for c in convs for m in c["messages"]]
    with open(tmp_path / "in.csv", "w", newline="") as f:
        csv.writer(f).writerows([("conversation_id", "author", "text"), *rows])
    pq.write_table(pa.table({k: [r[i] for r in rows] for i, k in enumerate(("conversation_id", "author", "text"))}),
                   tmp_path / "in.parquet")
    write_jsonl(tmp_path / "in.jsonl", [{k: v for k, v in c.items() if k != "meta"} for c in convs])
    outputs = {}
    for suffix in ("jsonl", "csv", "parquet"):
        scan(detector, tmp_path / f"in.{suffix}", tmp_path / f"out.{suffix}.jsonl", progress=False)
        outputs[suffix] = [json.loads(l) for l in (tmp_path / f"out.{suffix}.jsonl").read_text().splitlines()]
    assert outputs["jsonl"] == outputs["csv"] == outputs["parquet"]


def test_cli_reads_stdin_and_strict_sets_exit_status(tiny_model_dir, tmp_path):
    data = json.dumps(conv(1)) + "\n" + "garbage\n"
    cmd = [sys.executable, "-m", "lureguard.cli", "scan", "-", "--model", str(tiny_model_dir), "--quiet"]
    done = subprocess.run(cmd, input=data, capture_output=True, text=True)
    assert done.returncode == 0
    rows = [json.loads(l) for l in done.stdout.splitlines()]
    assert rows[0]["id"] == "c1" and rows[1]["line"] == 2
    strict = subprocess.run(cmd + ["--strict"], input=data, capture_output=True, text=True)
    assert strict.returncode == 1


def test_no_text_option_keeps_text_out_of_evidence(tiny_model_dir, tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", [conv(i) for i in range(3)])
    assert main(["scan", str(src), "--model", str(tiny_model_dir), "--no-text", "--quiet",
                 "--operating-point", "high_recall"]) == 0
    for line in capsys.readouterr().out.splitlines():
        for e in json.loads(line)["evidence"]:
            assert "text" not in e


def test_cli_errors_are_clear(tiny_model_dir, tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing.jsonl"), "--model", str(tiny_model_dir)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["scan", "-", "--resume", "--model", str(tiny_model_dir)]) == 2
    assert main(["scan", "-", "--format", "parquet", "--model", str(tiny_model_dir)]) == 2
    assert "cannot be streamed from standard input" in capsys.readouterr().err
    assert main(["demo", "--model", str(tmp_path)]) == 3
    assert "no lureguard model" in capsys.readouterr().err


def test_resume_after_a_killed_scan_loses_and_duplicates_nothing(tiny_model_dir, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [conv(i, n=3) for i in range(3000)])
    reference = tmp_path / "reference.jsonl"
    subprocess.run([sys.executable, "-m", "lureguard.cli", "scan", str(src), "-o", str(reference), "--model",
                    str(tiny_model_dir), "--quiet"], check=True)
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    proc = subprocess.Popen([sys.executable, "-m", "lureguard.cli", "scan", str(src), "-o", str(out), "--model",
                             str(tiny_model_dir), "--quiet", "--batch-messages", "64"])
    import time

    deadline = time.time() + 60
    while time.time() < deadline and (not partial.exists() or partial.stat().st_size < 2000):
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert partial.exists() and not out.exists(), "the scan should have been killed midway"
    with open(partial, "ab") as f:  # a kill can leave half a line behind
        f.write(b'{"id": "c99')
    subprocess.run([sys.executable, "-m", "lureguard.cli", "scan", str(src), "-o", str(out), "--model",
                    str(tiny_model_dir), "--quiet", "--resume"], check=True)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    want = [json.loads(line) for line in reference.read_text().splitlines()]
    assert [r["id"] for r in got] == [r["id"] for r in want]  # nothing lost, nothing twice, same order
    assert [r["risk"] for r in got] == pytest.approx([r["risk"] for r in want], abs=1e-2)


def test_scan_holds_one_block_in_memory_however_long_the_input(detector, monkeypatch):
    """Constant memory on a stream of any length: records are read only a block ahead of the lines written."""
    import importlib

    from lureguard.conversation import conversation_from_dict

    scan_module = importlib.import_module("lureguard.scan")  # the module, not the function lureguard exports

    state = {"read": 0, "written": 0, "ahead": 0}

    def endless(source, format=None):
        for i in range(600):
            state["read"] += 1
            state["ahead"] = max(state["ahead"], state["read"] - state["written"])
            yield conversation_from_dict(conv(i, n=2), line=i + 1)

    class Counter(io.StringIO):
        def write(self, text):
            state["written"] += text.count("\n")
            return super().write(text)

    monkeypatch.setattr(scan_module, "read_records", endless)
    out = Counter()
    summary = scan(detector, "unused.jsonl", out, batch_messages=16)
    block = scan_module.BLOCKS_PER_BATCH * 16 // 2  # conversations of 2 messages per block
    assert summary.conversations == state["written"] == 600
    assert state["ahead"] <= block + 1
