"""Batch scanning: stream records in, score them in length-bucketed batches, write lines out in order.

Memory stays bounded by one block of conversations whatever the input size. Every input record
(conversation or error) yields exactly one output line, in input order, which is also what makes
``--resume`` exact: the number of complete lines already written is the number of records to skip.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Iterable, Iterator

from .conversation import Conversation, ReadError, Record
from .detector import Detector
from .reading import read_records
from .writing import AtomicLineWriter, to_json_line

BLOCKS_PER_BATCH = 8  # a block (read ahead, sorted by length, then batched) holds this many batches


@dataclass
class ScanSummary:
    conversations: int = 0
    flagged: int = 0
    errors: int = 0
    messages: int = 0
    skipped: int = 0  # records already in the output of an earlier, interrupted scan
    seconds: float = 0.0

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        resumed = f", {self.skipped} already done" if self.skipped else ""
        return (f"{self.conversations} conversations, {self.flagged} flagged, {self.errors} errors{resumed}; "
                f"{self.messages} messages in {self.seconds:.1f}s ({self.messages_per_second:,.0f} messages/s)")


def _blocks(records: Iterable[Record], budget: int) -> Iterator[list[Record]]:
    block: list[Record] = []
    size = 0
    for record in records:
        block.append(record)
        size += len(record.messages) if isinstance(record, Conversation) else 1
        if size >= budget:
            yield block
            block, size = [], 0
    if block:
        yield block


def score_block(detector: Detector, block: list[Record], *, include_text: bool,
                batch_messages: int) -> list[dict]:
    """Output dicts for a block, in block order. Conversations are scored shortest first, so each model call
    holds conversations of similar length, which it reads in few groups of equal length."""
    conversations = sorted((i for i, r in enumerate(block) if isinstance(r, Conversation)),
                           key=lambda i: len(block[i].messages))
    results = detector.score([block[i] for i in conversations], include_text=include_text,
                             batch_messages=batch_messages)
    out: list[dict] = [r.to_dict() if isinstance(r, ReadError) else {} for r in block]  # errors are their own output
    for i, result in zip(conversations, results):
        out[i] = result.to_dict()
    return out


def scan(detector: Detector, source: str | Path, output: str | Path | IO[str] | None = None, *,
         format: str | None = None, include_text: bool = True, resume: bool = False,
         progress: bool | None = None, batch_messages: int = 2048) -> ScanSummary:
    """Scan ``source`` (path or "-") into ``output`` (path, stream, or None for stdout)."""
    summary = ScanSummary()
    started = time.perf_counter()
    writer: AtomicLineWriter | None = None
    stream: IO[str]
    if output is None or output == "-":
        stream = sys.stdout
    elif isinstance(output, (str, Path)):
        writer = AtomicLineWriter(output, resume=resume)
        summary.skipped = writer.done_lines
        stream = writer  # type: ignore[assignment]
    else:
        stream = output
    records = islice(read_records(source, format=format), summary.skipped, None)
    bar = _progress_bar(progress)
    try:
        for block in _blocks(records, BLOCKS_PER_BATCH * batch_messages):
            for line in score_block(detector, block, include_text=include_text, batch_messages=batch_messages):
                stream.write(to_json_line(line))
                if "error" in line:
                    summary.errors += 1
                else:
                    summary.conversations += 1
                    summary.flagged += bool(line["flagged"])
            messages = sum(len(r.messages) for r in block if isinstance(r, Conversation))
            summary.messages += messages
            stream.flush()
            if bar is not None:
                bar.update(messages)
                bar.set_postfix(conversations=summary.conversations, flagged=summary.flagged, errors=summary.errors)
    except BaseException:
        if writer is not None:
            writer.close()  # keep the partial output for --resume
        raise
    finally:
        if bar is not None:
            bar.close()
    if writer is not None:
        writer.commit()
    summary.seconds = time.perf_counter() - started
    return summary


def _progress_bar(progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(unit=" msg", unit_scale=True, file=sys.stderr, desc="scanning", dynamic_ncols=True)

