"""The conversation readers: every input conversation becomes exactly one record, good or bad."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lureguard.conversation import Conversation, ReadError, validate_conversation
from lureguard.reading import read_csv, read_jsonl, read_parquet, read_records


def jsonl(*objs) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode())


GOOD = {"id": "c1", "messages": [{"author": "a", "text": "hi"}, {"author": "b", "text": "hey"}]}


# -- JSON Lines ---------------------------------------------------------------------------------

def test_valid_conversation_reads_back_with_its_meta_and_line():
    obj = dict(GOOD, meta={"platform": "dm"})
    (record,) = read_jsonl(jsonl(obj))
    assert isinstance(record, Conversation)
    assert record.line == 1 and record.meta == {"platform": "dm"}
    assert record.to_dict() == obj


@pytest.mark.parametrize("obj, expected", [
    ({"messages": [{"author": "a", "text": "x"}]}, "id: missing"),
    ({"id": 7, "messages": [{"author": "a", "text": "x"}]}, "id: expected a string, got int"),
    ({"id": "c", "messages": []}, "messages: empty list"),
    ({"id": "c", "messages": "hi"}, "messages: expected a list, got str"),
    ({"id": "c", "messages": [{"text": "x"}]}, "messages[0].author: missing"),
    ({"id": "c", "messages": [{"author": "a", "text": 3}]}, "messages[0].text: expected a string, got int"),
    ({"id": "c", "messages": [{"author": "a", "text": "x", "ts": "yesterday"}]}, "messages[0].ts: not an ISO 8601"),
    ({"id": "c", "messages": [{"author": "a", "text": "x"}], "meta": []}, "meta: expected an object"),
    ([1, 2], "expected a JSON object, got list"),
])
def test_broken_conversation_names_the_field(obj, expected):
    (record,) = read_jsonl(jsonl(obj))
    assert isinstance(record, ReadError)
    assert record.line == 1 and expected in record.error


def test_empty_text_and_utc_z_timestamp_are_valid():
    obj = {"id": "c", "messages": [{"author": "a", "text": "", "ts": "2026-03-02T21:14:00Z"}]}
    assert validate_conversation(obj) == []


def test_annotated_data_needs_label_and_known_tactics():
    obj = {"id": "c", "messages": [{"author": "a", "text": "x", "tactics": ["bribery"]}]}
    problems = validate_conversation(obj, annotated=True)
    assert "label: missing (annotated data needs 0 or 1)" in problems
    assert any("unknown tactic 'bribery'" in p for p in problems)


def test_duplicate_id_is_an_error_on_the_second_line_only():
    records = list(read_jsonl(jsonl(GOOD, GOOD)))
    assert isinstance(records[0], Conversation)
    assert isinstance(records[1], ReadError) and "duplicate of the conversation on line 1" in records[1].error


def test_bom_crlf_emoji_and_zero_width_characters_survive():
    text = "hey \u200b\u200dthere 👋🏽"
    raw = "\ufeff" + json.dumps({"id": "c", "messages": [{"author": "é", "text": text}]}, ensure_ascii=False)
    (record,) = read_jsonl(io.BytesIO((raw + "\r\n").encode()))
    assert isinstance(record, Conversation) and record.messages[0].text == text


def test_invalid_utf8_and_blank_lines_become_error_records_in_place():
    stream = io.BytesIO(json.dumps(GOOD).encode() + b"\n\xff\xfe{bad\n\n" + b'{"id": "c2"')
    records = list(read_jsonl(stream))
    assert [type(r).__name__ for r in records] == ["Conversation", "ReadError", "ReadError", "ReadError"]
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert "not valid UTF-8" in records[1].error
    assert "empty line" in records[2].error
    assert "not valid JSON" in records[3].error


def test_huge_text_is_read_whole():
    text = "word " * 200_000
    (record,) = read_jsonl(jsonl({"id": "c", "messages": [{"author": "a", "text": text}]}))
    assert isinstance(record, Conversation) and len(record.messages[0].text) == len(text)


def test_deeply_nested_json_is_an_error_not_a_crash():
    (record,) = read_jsonl(io.BytesIO(b"[" * 100_000 + b"]" * 100_000 + b"\n"))
    assert isinstance(record, ReadError)


# -- property-based: one record per line, whatever the bytes --------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
message_like = st.fixed_dictionaries(
    {"author": st.one_of(st.text(max_size=10), st.integers(), st.none())},
    optional={"text": st.one_of(st.text(max_size=50), st.integers()), "ts": st.text(max_size=25)},
)
conversation_like = st.fixed_dictionaries(
    {},
    optional={"id": st.one_of(st.text(max_size=10), st.integers()),
              "messages": st.one_of(st.lists(message_like, max_size=4), json_values),
              "meta": json_values},
)


def _line(value, cut: int | None) -> bytes:
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return raw[:cut] if cut is not None else raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(conversation_like, json_values),
                          st.one_of(st.none(), st.integers(0, 40))), min_size=1, max_size=12),
       st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_every_jsonl_line_yields_exactly_one_record(items, newline, bom):
    lines = [_line(value, cut).replace(b"\n", b" ").replace(b"\r", b" ") for value, cut in items]
    data = (b"\xef\xbb\xbf" if bom else b"") + newline.join(lines) + newline
    records = list(read_jsonl(io.BytesIO(data)))
    assert len(records) == len(lines)
    assert [r.line for r in records] == list(range(1, len(lines) + 1))
    for record in records:
        assert isinstance(record, (Conversation, ReadError))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=10))
def test_random_bytes_yield_one_record_per_line(lines):
    records = list(read_jsonl(io.BytesIO(b"\n".join(lines) + b"\n")))
    assert len(records) == len(lines)
    assert all(isinstance(r, ReadError) or r.messages for r in records)


# -- CSV and Parquet --------------------------------------------------------------------------

def csv_bytes(rows, header=("conversation_id", "author", "text", "ts")) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode())


def test_csv_groups_consecutive_rows_and_keeps_order():
    rows = [("c1", "a", "hi", ""), ("c1", "b", "multi\nline", ""), ("c2", "a", "yo", "2026-01-01T10:00:00Z")]
    records = list(read_csv(csv_bytes(rows)))
    assert [r.id for r in records] == ["c1", "c2"]
    assert records[0].messages[1].text == "multi\nline" and records[0].line == 2
    assert records[1].messages[0].ts == "2026-01-01T10:00:00Z" and records[1].line == 5


def test_csv_missing_column_is_one_clear_error():
    (record,) = read_csv(csv_bytes([("c1", "hi")], header=("conversation_id", "text")))
    assert isinstance(record, ReadError) and "lacks column(s) author" in record.error


def test_csv_bad_rows_cost_only_their_conversation():
    data = csv_bytes([("c1", "", "hi", ""), ("c2", "a", "ok", ""), ("c1", "a", "again", "")]).getvalue()
    data = data.replace(b"ok", b"o\xffk")
    records = list(read_csv(io.BytesIO(data)))
    assert len(records) == 3 and all(isinstance(r, ReadError) for r in records)
    assert "author: empty" in records[0].error
    assert "not valid UTF-8" in records[1].error and records[1].line == 3
    assert "appears again" in records[2].error


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3", ""]), st.text(max_size=6), st.text(max_size=30)),
                min_size=1, max_size=15))
def test_csv_yields_one_record_per_run_of_ids(rows):
    runs = 1 + sum(1 for a, b in zip(rows, rows[1:]) if a[0] != b[0])
    records = list(read_csv(csv_bytes([(*r, "") for r in rows])))
    assert len(records) == runs


def test_parquet_reads_like_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    table = pa.table({"conversation_id": ["c1", "c1", "c2"], "author": ["a", "b", None],
                      "text": ["hi", None, "yo"], "extra": [1, 2, 3]})
    path = tmp_path / "m.parquet"
    pq.write_table(table, path)
    records = list(read_parquet(path, batch_size=2))
    assert isinstance(records[0], Conversation) and records[0].messages[1].text == ""
    assert isinstance(records[1], ReadError) and records[1].line == 3 and "author" in records[1].error
    assert [r.id for r in read_records(path)] == ["c1", "c2"]


def test_read_records_infers_format_from_suffix(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes([("c1", "a", "hi", "")]).getvalue())
    assert [r.id for r in read_records(path)] == ["c1"]
    with pytest.raises(ValueError, match="unknown format"):
        list(read_records(path, format="xml"))
