"""Batch scoring on Apache Spark: `lureguard scan` on a cluster, with the same output lines.

    from lureguard.spark import score_messages
    results = score_messages(messages_df, order_by="ts")  # conversation_id, author, text, ts, ...
    results.select("id", "risk", "flagged", "result").show()

    lureguard scan --engine spark conversations/ -o results/ [--master spark://...]

Spark groups messages into conversations and keeps their order; the scoring itself is the
single-process code: each executor's Python worker loads the ONNX model shipped inside the installed
package once, and scores whole Arrow batches of conversations with it (``mapInPandas``). The model's
numbers for a conversation do not depend on what it is batched with, so a Spark job writes the very
lines ``lureguard scan`` writes, error lines included.

Every function returns a DataFrame with one row per input conversation (or bad line):

    file, source_line   where the conversation starts (1-based line or row of its file)
    id, risk, flagged, first_flag_index, error     the main SPEC section 3 fields, as columns
    result              the whole SPEC section 3 line, exactly as ``lureguard scan`` writes it

A folder is read as its files one after another, in name order; line numbers, duplicate ids and
output order are per file, as if each file were scanned on its own and the outputs concatenated.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pyspark is an optional extra
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

RESULT_SCHEMA = ("file string, source_line long, id string, risk double, flagged boolean, first_flag_index int, "
                 "error string, result string")
ORDER = ("file", "source_line")


@dataclass(frozen=True)
class Settings:
    """What every executor needs to score: small, picklable, shipped with each task."""

    model_dir: str | None = None  # None: the model inside the installed package
    operating_point: str = "balanced"
    include_text: bool = True
    threads: int = 1  # encoder workers per task, one ONNX Runtime thread each; match spark.task.cpus
    batch_messages: int = 2048


# -- executor side -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _detector(settings: Settings):
    """One model per Python worker and settings: Spark reuses workers, so it loads once per executor."""
    from .detector import Detector

    return Detector.load(settings.model_dir, threads=settings.threads, operating_point=settings.operating_point)


def _frame(files: list[str], lines: list[int], records: list[Any], settings: Settings) -> "pd.DataFrame":
    import pandas as pd

    from .scan import score_block
    from .writing import to_json_line

    outputs = score_block(_detector(settings), records, include_text=settings.include_text,
                          batch_messages=settings.batch_messages)
    return pd.DataFrame({
        "file": files, "source_line": lines,
        "id": [o.get("id") for o in outputs],
        "risk": [o.get("risk") for o in outputs],
        "flagged": [o.get("flagged") for o in outputs],
        "first_flag_index": pd.array([o.get("first_flag_index") for o in outputs], dtype="Int32"),
        "error": [o.get("error") for o in outputs],
        "result": [to_json_line(o).rstrip("\n") for o in outputs],
    })


def _jsonl_ids(batches: Iterator["pd.DataFrame"]) -> Iterator["pd.DataFrame"]:
    """(file, source_line, id) of each line that is a valid conversation: what duplicate checks need."""
    import pandas as pd

    from .conversation import Conversation
    from .reading import parse_jsonl_line

    for pdf in batches:
        ids = []
        for raw, number in zip(pdf["value"], pdf["source_line"]):
            record = parse_jsonl_line(bytes(raw), int(number))
            ids.append(record.id if isinstance(record, Conversation) else None)
        yield pd.DataFrame({"file": pdf["file"], "source_line": pdf["source_line"], "id": ids})


def _score_jsonl(settings: Settings):
    def score(batches: Iterator["pd.DataFrame"]) -> Iterator["pd.DataFrame"]:
        import pandas as pd

        from .conversation import Conversation
        from .reading import duplicate_error, parse_jsonl_line

        for pdf in batches:
            records = []
            for raw, number, first in zip(pdf["value"], pdf["source_line"], pdf["duplicate_of"]):
                record = parse_jsonl_line(bytes(raw), int(number))
                if isinstance(record, Conversation) and not pd.isna(first):
                    record = duplicate_error(record, int(first))
                records.append(record)
            yield _frame(list(pdf["file"]), [int(n) for n in pdf["source_line"]], records, settings)
    return score


def _cell(value: Any) -> Any:
    """Arrow hands timestamps to pandas as Timestamps; the single-process reader sees datetimes."""
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def _score_groups(settings: Settings, unit: str):
    def score(batches: Iterator["pd.DataFrame"]) -> Iterator["pd.DataFrame"]:
        from .reading import group_rows

        for pdf in batches:
            records = []
            for cid, rows in zip(pdf["conversation_id"], pdf["rows"]):
                numbered = [(int(r["source_row"]), {"conversation_id": cid, "author": r["author"],
                                                    "text": r["text"], "ts": _cell(r["ts"])}) for r in rows]
                records.extend(group_rows(numbered, unit=unit))
            yield _frame(list(pdf["file"]), [int(n) for n in pdf["source_line"]], records, settings)
    return score


# -- driver side -------------------------------------------------------------------------------------


def _numbered(df: "DataFrame", file: Any, column: str) -> "DataFrame":
    """``df`` with ``file`` and ``column``, its 1-based position within the file, in file order.

    Rows of a file are read in order within a partition, and a file's splits reach partitions in
    order; so a row's position is the rows of its file in earlier partitions, plus its place in
    its own partition. Only one small row per (file, partition) travels to the driver.
    """
    from pyspark.sql import functions as F

    df = df.withColumn("file", file).withColumn("_part", F.spark_partition_id()) \
           .withColumn("_mono", F.monotonically_increasing_id())
    parts = sorted((r["file"], r["_part"], r["n"], r["first"]) for r in
                   df.groupBy("file", "_part").agg(F.count("*").alias("n"), F.min("_mono").alias("first")).collect())
    offsets, before = [], {}
    for f, part, n, first in parts:
        offsets.append((f, part, first, before.get(f, 0)))
        before[f] = before.get(f, 0) + n
    spark = df.sparkSession
    table = spark.createDataFrame(offsets or [("", -1, 0, 0)], "file string, _part int, _first long, _offset long")
    return (df.join(F.broadcast(table), ["file", "_part"])
              .withColumn(column, F.col("_offset") + F.col("_mono") - F.col("_first") + 1)
              .drop("_part", "_mono", "_first", "_offset"))


def _file_column():
    from pyspark.sql import functions as F

    return F.col("_metadata.file_path")


def score_jsonl_lines(lines: "DataFrame", settings: Settings = Settings()) -> "DataFrame":
    """Score a DataFrame of JSON lines: columns ``file``, ``source_line`` and ``value`` (binary)."""
    from pyspark.sql import functions as F

    ids = lines.mapInPandas(_jsonl_ids, "file string, source_line long, id string").where(F.col("id").isNotNull())
    first = ids.groupBy("file", "id").agg(F.min("source_line").alias("duplicate_of"))
    duplicates = (ids.join(first, ["file", "id"]).where(F.col("source_line") > F.col("duplicate_of"))
                     .select("file", "source_line", "duplicate_of"))
    # Duplicates are few: broadcast them, so the lines are scored in their input partitions, unshuffled.
    return (lines.join(F.broadcast(duplicates), ["file", "source_line"], "left")
                 .mapInPandas(_score_jsonl(settings), RESULT_SCHEMA))


def score_messages(messages: "DataFrame", *, order_by: str | None = None, settings: Settings = Settings(),
                   unit: str = "row") -> "DataFrame":
    """Score message rows (``conversation_id, author, text`` and optional ``ts``; other columns are ignored).

    Messages are grouped by ``conversation_id`` (and ``file`` when present) and ordered by
    ``order_by`` (a timestamp or index column; default ``ts`` when present, else the row order of
    the DataFrame), ties broken by row order.
    """
    from pyspark.sql import functions as F

    missing = [c for c in ("conversation_id", "author", "text") if c not in messages.columns]
    if missing:
        raise ValueError(f"message DataFrame lacks column(s) {', '.join(missing)}; found {', '.join(messages.columns)}")
    if order_by is None:
        order_by = "ts" if "ts" in messages.columns else None
    elif order_by not in messages.columns:
        raise ValueError(f"order_by: no column {order_by!r}; found {', '.join(messages.columns)}")
    if "ts" not in messages.columns:
        messages = messages.withColumn("ts", F.lit(None).cast("string"))
    if "source_row" not in messages.columns:
        file = F.col("file") if "file" in messages.columns else F.lit("")
        messages = _numbered(messages, file, "source_row")
    key = F.col(order_by) if order_by else F.col("source_row")
    rows = F.struct(key.alias("order_key"), "source_row", F.col("author").cast("string").alias("author"),
                    F.col("text").cast("string").alias("text"), F.col("ts").alias("ts"))
    grouped = (messages.withColumn("conversation_id", F.col("conversation_id").cast("string"))
                       .groupBy("file", "conversation_id")
                       .agg(F.min("source_row").alias("source_line"), F.sort_array(F.collect_list(rows)).alias("rows")))
    return grouped.mapInPandas(_score_groups(settings, unit), RESULT_SCHEMA)


def score_conversations(conversations: "DataFrame", settings: Settings = Settings()) -> "DataFrame":
    """Score a DataFrame of SPEC section 2 conversations (``id``, ``messages`` and optional ``meta``)."""
    from pyspark.sql import functions as F

    keep = [c for c in ("id", "messages", "meta") if c in conversations.columns]
    lines = conversations.select(F.to_json(F.struct(*keep)).cast("binary").alias("value"))
    return score_jsonl_lines(_numbered(lines, F.lit(""), "source_line"), settings)


def read_input(spark: "SparkSession", path: str, format: str | None = None) -> tuple["DataFrame", str]:
    """A file or folder as rows to score: JSON lines (``value``) or Parquet message rows; and its format."""
    from pyspark.sql import functions as F

    from .reading import infer_format

    if format is None:
        p = Path(path)
        probe = next(iter(sorted(x for x in p.iterdir() if not x.name.startswith(("_", ".")))), p) if p.is_dir() else p
        format = infer_format(probe)
    if format == "jsonl":
        df = spark.read.option("lineSep", "\n").text(path)
        df = df.select(F.col("value").cast("binary").alias("value"), _file_column().alias("_file"))
        return _numbered(df, F.col("_file"), "source_line").drop("_file"), format
    if format == "parquet":
        df = spark.read.parquet(path)
        df = df.withColumn("_file", _file_column())
        return _numbered(df, F.col("_file"), "source_row").drop("_file"), format
    raise ValueError(f"--engine spark reads jsonl or parquet, not {format}")


def scan(spark: "SparkSession", source: str, output: str, *, format: str | None = None,
         settings: Settings = Settings()) -> dict[str, int]:
    """``lureguard scan`` on Spark: ``output`` becomes a folder of part files whose lines, in name order,
    are the lines ``lureguard scan`` writes for ``source``. Returns the summary counts."""
    from pyspark.sql import functions as F

    rows, format = read_input(spark, source, format)
    results = score_jsonl_lines(rows, settings) if format == "jsonl" else score_messages(rows, settings=settings)
    results = results.persist()
    try:
        counts = results.agg(F.count("*").alias("lines"), F.count("error").alias("errors"),
                             F.sum(F.col("flagged").cast("int")).alias("flagged")).first()
        results.orderBy(*ORDER).select("result").write.mode("errorifexists").text(output)
    finally:
        results.unpersist()
    return {"conversations": counts["lines"] - counts["errors"], "flagged": int(counts["flagged"] or 0),
            "errors": counts["errors"]}


def session(master: str | None = None, app_name: str = "lureguard", *, progress: bool = True) -> "SparkSession":
    """The active SparkSession, or a new one: ``master`` if given, else spark-submit's, else ``local[*]``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError("the Spark engine needs pyspark: pip install 'lureguard[spark]'") from exc
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", str(progress).lower())
    if master:
        builder = builder.master(master)
    elif "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit, which brings its own master
        builder = builder.master("local[*]")
    return builder.getOrCreate()

