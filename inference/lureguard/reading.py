"""Readers for conversations in JSON Lines, CSV and Parquet (SPEC section 2), from a file or stdin.

Each reader is a generator of records: a Conversation, or a ReadError that names the line and the
problem. Nothing raises on bad data and nothing is skipped, so a scan can promise one output line
per input conversation. Readers stream: memory stays bounded by one conversation (plus the set of
ids seen, needed to reject duplicates).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .conversation import Conversation, ReadError, Record, parse_conversation

FORMATS = ("jsonl", "csv", "parquet")
MESSAGE_COLUMNS = ("conversation_id", "author", "text")
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
                   ".parquet": "parquet", ".pq": "parquet"}


def infer_format(source: str | Path) -> str:
    """The format a path's suffix names (a trailing .gz is not supported); JSON Lines otherwise."""
    return _SUFFIX_FORMATS.get(Path(str(source)).suffix.lower(), "jsonl")


def read_records(source: str | Path | IO[bytes], *, format: str | None = None,
                 annotated: bool = False) -> Iterator[Record]:
    """Yield one record per conversation in ``source`` (a path, ``"-"`` for stdin, or a binary stream)."""
    if format is None:
        format = "jsonl" if not isinstance(source, (str, Path)) or str(source) == "-" else infer_format(source)
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "parquet":
        if not isinstance(source, (str, Path)) or str(source) == "-":
            raise ValueError("Parquet needs a file path (it cannot be streamed from standard input)")
        yield from read_parquet(source, annotated=annotated)
        return
    reader = read_jsonl if format == "jsonl" else read_csv
    if isinstance(source, (str, Path)) and str(source) == "-":
        yield from reader(sys.stdin.buffer, annotated=annotated)
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as stream:
            yield from reader(stream, annotated=annotated)
    else:
        yield from reader(source, annotated=annotated)


def read_jsonl(stream: IO[bytes], *, annotated: bool = False) -> Iterator[Record]:
    """One record per physical line; blank and broken lines become errors, never silence."""
    seen: dict[str, int] = {}
    for number, raw in enumerate(stream, start=1):
        yield _check_duplicate(parse_jsonl_line(raw, number, annotated=annotated), seen)


def parse_jsonl_line(raw: bytes, number: int, *, annotated: bool = False) -> Record:
    """The record of one physical JSONL line (``number`` is 1-based); duplicates are the caller's concern."""
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    raw = raw.rstrip(b"\r\n")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ReadError(line=number, error=f"not valid UTF-8 (byte {exc.start} of the line)")
    if not text.strip():
        return ReadError(line=number, error="empty line (expected one JSON conversation per line)")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return ReadError(line=number, error=f"not valid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return ReadError(line=number, error="not valid JSON: nested too deeply")
    return parse_conversation(obj, line=number, annotated=annotated)


def _check_duplicate(record: Record, seen: dict[str, int]) -> Record:
    if isinstance(record, ReadError):
        return record
    first = seen.setdefault(record.id, record.line or 0)
    if first != (record.line or 0):
        return duplicate_error(record, first)
    return record


def duplicate_error(record: Conversation, first_line: int) -> ReadError:
    """The error record of a conversation whose id an earlier line of the same file already used."""
    return ReadError(line=record.line, id=record.id, error=f"id: duplicate of the conversation on line {first_line}")


def read_csv(stream: IO[bytes], *, annotated: bool = False) -> Iterator[Record]:
    """Message rows grouped into conversations by consecutive ``conversation_id``.

    Bytes that are not UTF-8 are decoded with surrogate escapes and reported on their row, so one
    bad byte costs one conversation rather than the file.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    header = reader.fieldnames or []
    missing = [c for c in MESSAGE_COLUMNS if c not in header]
    if missing:
        yield ReadError(line=1, error=f"CSV header lacks column(s) {', '.join(missing)}; "
                                      f"found {', '.join(map(str, header)) or 'no header'}")
        return

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        start = reader.line_num + 1
        for row in reader:
            yield start, row
            start = reader.line_num + 1

    yield from group_rows(rows(), annotated=annotated, unit="line")


def read_parquet(path: str | Path, *, annotated: bool = False,
                 batch_size: int = 65_536) -> Iterator[Record]:
    """Message rows of a Parquet file, streamed batch by batch; ``line`` is the 1-based row number."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading Parquet needs pyarrow: pip install 'lureguard[parquet]'") from exc
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    missing = [c for c in MESSAGE_COLUMNS if c not in names]
    if missing:
        yield ReadError(line=1, error=f"Parquet file lacks column(s) {', '.join(missing)}; "
                                      f"found {', '.join(names)}")
        return
    columns = [c for c in (*MESSAGE_COLUMNS, "ts") if c in names]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        for batch in file.iter_batches(batch_size=batch_size, columns=columns):
            for row in batch.to_pylist():
                number += 1
                yield number, row

    yield from group_rows(rows(), annotated=annotated, unit="row")


def _cell(value: Any) -> Any:
    """CSV cells are strings; Parquet cells may be typed. Timestamps become ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _row_problem(row: dict[str, Any]) -> str | None:
    for key in (*MESSAGE_COLUMNS, "ts"):
        value = row.get(key)
        if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
            return f"{key}: not valid UTF-8"
    if row.get(None):  # csv puts surplus cells under the key None
        return f"row has {len(row[None])} more cell(s) than the header"
    return None


def group_rows(rows: Iterable[tuple[int, dict[str, Any]]], *, annotated: bool = False,
               unit: str = "line") -> Iterator[Record]:
    """Turn message rows into conversations: consecutive rows with one ``conversation_id``.

    Rows of one conversation must be contiguous: that is what lets a scan of ten million messages
    run in constant memory. An id that comes back after its group ended is reported, not merged.
    """
    finished: set[str] = set()
    group: list[dict[str, Any]] = []
    first_line = 0
    current: Any = None
    problem: str | None = None

    def close() -> Record:
        cid = current if isinstance(current, str) else None
        if problem is not None:
            return ReadError(line=first_line, id=cid, error=problem)
        if cid is not None and cid in finished:
            return ReadError(line=first_line, id=cid,
                             error=f"conversation_id {cid!r} appears again after its rows ended; "
                                   f"rows of one conversation must be contiguous")
        obj = {"id": current, "messages": group}
        record = parse_conversation(obj, line=first_line, annotated=annotated)
        if isinstance(record, ReadError):
            record = ReadError(line=record.line, id=record.id,
                               error=f"{record.error} (messages[i] is the i-th row from {unit} {first_line})")
        if cid is not None:
            finished.add(cid)
        return record

    for number, row in rows:
        cid = _cell(row.get("conversation_id"))
        if isinstance(cid, (int, float)) and not isinstance(cid, bool):
            cid = str(cid)
        if group and cid != current:
            yield close()
            group, problem = [], None
        if not group:
            current, first_line = cid, number
        bad = _row_problem(row)
        if bad and problem is None:
            problem = f"{unit} {number}: {bad}"
        message = {"author": _cell(row.get("author")),
                   "text": "" if row.get("text") is None else _cell(row.get("text"))}
        ts = _cell(row.get("ts"))
        if ts not in (None, ""):
            message["ts"] = ts
        group.append(message)
    if group:
        yield close()
