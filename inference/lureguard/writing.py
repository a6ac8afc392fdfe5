"""Writers for SPEC section 3 output lines: one compact JSON object per line, in input order.

A scan that writes to a file writes into a temporary sibling and renames it at the end, so a reader
never sees half a file; ``--resume`` reads the partial sibling back to continue where it stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any


def to_json_line(record: dict[str, Any]) -> str:
    """One output line. Non-ASCII stays readable; lone surrogates are escaped so the line is valid UTF-8."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": ")).encode(
        "utf-8", "backslashreplace").decode("utf-8") + "\n"


def partial_path(output: str | Path) -> Path:
    """Where an unfinished scan into ``output`` keeps its lines until it completes."""
    output = Path(output)
    return output.with_name(output.name + ".partial")


class AtomicLineWriter:
    """Append lines to ``<output>.partial``; ``commit()`` renames it onto ``output``.

    With ``resume=True`` an existing partial file is kept and truncated to its last complete line,
    so the caller can skip that many records and go on.
    """

    def __init__(self, output: str | Path, *, resume: bool = False) -> None:
        self.output = Path(output)
        self.partial = partial_path(self.output)
        self.done_lines = 0
        if resume and self.partial.exists():
            self.done_lines = _truncate_to_complete_lines(self.partial)
            self._stream: IO[str] = open(self.partial, "a", encoding="utf-8")
        else:
            self._stream = open(self.partial, "w", encoding="utf-8")

    def write(self, line: str) -> None:
        self._stream.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def commit(self) -> None:
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        os.replace(self.partial, self.output)

    def close(self) -> None:
        """Leave the partial file for ``--resume`` (used when a scan is interrupted)."""
        if not self._stream.closed:
            self._stream.flush()
            self._stream.close()


def _truncate_to_complete_lines(path: Path) -> int:
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    return data[:end].count(b"\n")
