"""The Spark engine writes the lines `lureguard scan` writes: same scores, same errors, same order.

Spark runs in local mode, started by the tests; small file splits force several partitions so
that grouping, ordering and line numbering cross partition boundaries.
"""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'lureguard[spark]')")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java (17 or newer) on PATH", allow_module_level=True)

from lureguard import Detector  # noqa: E402
from lureguard.cli import main  # noqa: E402
from lureguard.scan import scan as local_scan  # noqa: E402
from lureguard.spark import Settings, score_conversations, score_messages  # noqa: E402
from lureguard.spark import scan as spark_scan  # noqa: E402

from .conftest import ROOT, write_jsonl  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("lureguard-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "3")
               .config("spark.sql.files.maxPartitionBytes", "16k")  # several partitions per test file
               .config("spark.sql.files.openCostInBytes", "1k")
               .getOrCreate())
    yield session
    session.stop()


def local_lines(model_dir: Path, source: Path, **options) -> list[str]:
    out = io.StringIO()
    local_scan(Detector.load(model_dir, threads=2), source, out, progress=False, **options)
    return out.getvalue().splitlines()


def spark_lines(output: Path) -> list[str]:
    return [line for part in sorted(output.glob("part-*")) for line in part.read_text(encoding="utf-8").splitlines()]


def conversation(i: int, n: int) -> dict:
    rng = random.Random(i)
    words = "hey you ok saw your post add me on telegram we pay for the ticket how old are you".split()
    return {"id": f"c{i}", "messages": [{"author": ["sam", "lee", "kim"][k % 3],
                                         "text": " ".join(rng.choices(words, k=rng.randint(1, 30)))}
                                        for k in range(n)], "meta": {"n": i}}


@pytest.fixture(scope="module")
def malformed(tmp_path_factory) -> Path:
    """Good conversations between every kind of bad line the reader knows."""
    path = tmp_path_factory.mktemp("malformed") / "mixed.jsonl"
    good = [json.dumps(conversation(i, n), ensure_ascii=False) for i, n in enumerate([3, 1, 12, 60, 5, 9])]
    lines = [b"\xef\xbb\xbf" + good[0].encode(), good[1].encode(), b"", b"{not json", b'{"id": "x1"}',
             b'{"id": "x2", "messages": []}', good[2].encode(), b"\xff\xfe broken bytes",
             good[0].encode(),  # a duplicate id
             b'{"id": 7, "messages": [{"author": "a"}]}', good[3].encode(), b"   ", good[4].encode(),
             b'[1, 2, 3]', good[5].encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_malformed_file_gives_the_same_lines_as_the_local_scan(spark, tiny_model_dir, malformed, tmp_path):
    out = tmp_path / "out"
    counts = spark_scan(spark, str(malformed), str(out), settings=Settings(model_dir=str(tiny_model_dir)))
    expected = local_lines(tiny_model_dir, malformed)
    assert spark_lines(out) == expected
    assert counts["errors"] == sum('"error"' in line for line in expected) == 9
    assert counts["conversations"] == 6


def test_folder_of_files_is_scanned_file_by_file_in_name_order(spark, tiny_model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", [conversation(i, 4) for i in range(40, 60)])
    write_jsonl(folder / "a.jsonl", [conversation(i, i % 9 + 1) for i in range(40)])
    out = tmp_path / "out"
    spark_scan(spark, str(folder), str(out), settings=Settings(model_dir=str(tiny_model_dir)))
    expected = local_lines(tiny_model_dir, folder / "a.jsonl") + local_lines(tiny_model_dir, folder / "b.jsonl")
    assert spark_lines(out) == expected


def test_parquet_message_rows_give_the_same_lines_as_the_local_scan(spark, tiny_model_dir, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"conversation_id": c["id"], "author": m["author"], "text": m["text"], "ts": f"2026-03-02T21:{k:02d}:00Z"}
            for c in (conversation(i, i % 6 + 1) for i in range(50)) for k, m in enumerate(c["messages"])]
    rows[7]["author"] = None  # one conversation with a row the format forbids
    path = tmp_path / "messages.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=40)
    out = tmp_path / "out"
    spark_scan(spark, str(path), str(out), settings=Settings(model_dir=str(tiny_model_dir)))
    assert spark_lines(out) == local_lines(tiny_model_dir, path)


def test_message_dataframe_is_grouped_and_ordered_by_timestamp(spark, tiny_model_dir):
    convs = [conversation(i, i % 7 + 2) for i in range(30)]
    rows = [(c["id"], m["author"], m["text"], f"2026-03-02T21:{k:02d}:00Z", "x")
            for c in convs for k, m in enumerate(c["messages"])]
    random.Random(0).shuffle(rows)  # order comes from ts, not from the rows
    df = spark.createDataFrame(rows, "conversation_id string, author string, text string, ts string, other string")
    got = {r["id"]: json.loads(r["result"]) for r in score_messages(df, settings=Settings(model_dir=str(tiny_model_dir))).collect()}
    detector = Detector.load(tiny_model_dir)
    for c in convs:
        for k, m in enumerate(c["messages"]):
            m["ts"] = f"2026-03-02T21:{k:02d}:00Z"
        c.pop("meta")
        assert got[c["id"]] == detector.score_one(c).to_dict()


def test_conversation_dataframe_scores_like_the_api(spark, tiny_model_dir):
    convs = [conversation(i, i % 5 + 1) for i in range(10)]
    df = spark.createDataFrame([(c["id"], [(m["author"], m["text"]) for m in c["messages"]]) for c in convs],
                               "id string, messages array<struct<author: string, text: string>>")
    settings = Settings(model_dir=str(tiny_model_dir))
    got = {r["id"]: json.loads(r["result"]) for r in score_conversations(df, settings).collect()}
    detector = Detector.load(tiny_model_dir)
    for c in convs:
        c.pop("meta")
        assert got[c["id"]] == detector.score_one(c).to_dict()


@pytest.mark.model
def test_cli_on_the_test_split_matches_the_local_scan(spark, shipped_model_dir, tmp_path):
    source = ROOT / "datasets" / "lureguard" / "test.jsonl"
    out = tmp_path / "out"
    assert main(["scan", "--engine", "spark", str(source), "-o", str(out), "--quiet", "--threads", "1"]) == 0
    assert spark_lines(out) == local_lines(shipped_model_dir, source)


def test_cli_refuses_what_spark_cannot_do(tiny_model_dir, tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", [conversation(0, 2)])
    assert main(["scan", "--engine", "spark", str(source), "--model", str(tiny_model_dir)]) == 2
    assert "needs -o OUTPUT" in capsys.readouterr().err
    (tmp_path / "exists").mkdir()
    assert main(["scan", "--engine", "spark", str(source), "-o", str(tmp_path / "exists"),
                 "--model", str(tiny_model_dir)]) == 2
    assert "exists" in capsys.readouterr().err
