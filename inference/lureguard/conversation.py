"""The conversation format of SPEC section 2 as data types, and the validator that guards it.

The validator returns every problem it finds, each naming the field (``messages[2].author``), so that
an error line tells the user exactly what to fix; readers turn those problems into error records
instead of raising, because one bad conversation must never stop a scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from .taxonomy import TACTIC_INDEX


@dataclass(frozen=True)
class Message:
    author: str
    text: str
    ts: str | None = None
    tactics: tuple[str, ...] | None = None  # annotated data only


@dataclass(frozen=True)
class Conversation:
    id: str
    messages: tuple[Message, ...]
    meta: Mapping[str, Any] | None = None
    label: int | None = None  # annotated data only
    slices: Mapping[str, str] | None = None
    pair: str | None = None
    line: int | None = None  # where the conversation started in its file (1-based)

    @property
    def authors(self) -> list[str]:
        """Participants in order of first appearance."""
        return list(dict.fromkeys(m.author for m in self.messages))

    def to_dict(self) -> dict[str, Any]:
        """The SPEC section 2 form (annotation keys only where present)."""
        messages = []
        for m in self.messages:
            d: dict[str, Any] = {"author": m.author, "text": m.text}
            if m.ts is not None:
                d["ts"] = m.ts
            if m.tactics is not None:
                d["tactics"] = list(m.tactics)
            messages.append(d)
        out: dict[str, Any] = {"id": self.id, "messages": messages}
        for key in ("meta", "label", "slices", "pair"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if isinstance(value, Mapping) else value
        return out


@dataclass(frozen=True)
class ReadError:
    """A line (or CSV/Parquet group) that could not become a conversation."""

    line: int | None
    error: str
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "line": self.line, "error": self.error}


Record = Conversation | ReadError


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _valid_timestamp(value: str) -> bool:
    # Python < 3.11 rejects a trailing "Z"; normalise it so both spellings of UTC pass.
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _field_problem(obj: dict, key: str, expected: type, where: str, *, empty: str | None = None) -> str | None:
    """The problem with one required field (missing, wrong type, or empty when it may not be), if any."""
    name = f"{where}.{key}" if where else key
    if key not in obj:
        return f"{name}: missing"
    value = obj[key]
    if not isinstance(value, expected):
        return f"{name}: expected {'a string' if expected is str else 'a list'}, got {_type_name(value)}"
    if empty is not None and not (value.strip() if isinstance(value, str) else value):
        return f"{name}: {empty}"
    return None


def validate_message(obj: Any, where: str, *, annotated: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: expected an object, got {_type_name(obj)}"]
    problems = [p for p in (_field_problem(obj, "author", str, where, empty="empty"),
                            _field_problem(obj, "text", str, where)) if p]
    ts = obj.get("ts")
    if ts is not None and not (isinstance(ts, str) and _valid_timestamp(ts)):
        problems.append(f"{where}.ts: not an ISO 8601 timestamp: {str(ts)[:40]!r}")
    tactics = obj.get("tactics")
    if annotated and "tactics" not in obj:
        problems.append(f"{where}.tactics: missing (annotated data needs a list, [] when none)")
    if tactics is not None:
        if not isinstance(tactics, list):
            problems.append(f"{where}.tactics: expected a list, got {_type_name(tactics)}")
        else:
            for t in tactics:
                if t not in TACTIC_INDEX:
                    problems.append(f"{where}.tactics: unknown tactic {str(t)[:40]!r}")
    return problems


def validate_conversation(obj: Any, *, annotated: bool = False) -> list[str]:
    """Every problem with one decoded conversation, each naming its field; [] when it is valid."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {_type_name(obj)}"]
    problems = [p for p in (_field_problem(obj, "id", str, "", empty="empty"),
                            _field_problem(obj, "messages", list, "",
                                           empty="empty list (a conversation needs at least one message)")) if p]
    if isinstance(obj.get("messages"), list):
        for i, m in enumerate(obj["messages"]):
            problems.extend(validate_message(m, f"messages[{i}]", annotated=annotated))
    if obj.get("meta") is not None and not isinstance(obj["meta"], dict):
        problems.append(f"meta: expected an object, got {_type_name(obj['meta'])}")
    label = obj.get("label")
    if annotated and "label" not in obj:
        problems.append("label: missing (annotated data needs 0 or 1)")
    if label is not None and (isinstance(label, bool) or label not in (0, 1)):
        problems.append(f"label: expected 0 or 1, got {str(label)[:40]}")
    slices = obj.get("slices")
    if slices is not None:
        if not isinstance(slices, dict):
            problems.append(f"slices: expected an object, got {_type_name(slices)}")
        else:
            for key, value in slices.items():
                if not isinstance(value, str):
                    problems.append(f"slices.{key}: expected a string, got {_type_name(value)}")
    if obj.get("pair") is not None and not isinstance(obj["pair"], str):
        problems.append(f"pair: expected a string, got {_type_name(obj['pair'])}")
    return problems


def conversation_from_dict(obj: dict[str, Any], *, line: int | None = None) -> Conversation:
    """Build a Conversation from an object that ``validate_conversation`` accepted."""
    messages = tuple(
        Message(
            author=m["author"],
            text=m["text"],
            ts=m.get("ts"),
            tactics=tuple(m["tactics"]) if m.get("tactics") is not None else None,
        )
        for m in obj["messages"]
    )
    return Conversation(
        id=obj["id"],
        messages=messages,
        meta=obj.get("meta"),
        label=obj.get("label"),
        slices=obj.get("slices"),
        pair=obj.get("pair"),
        line=line,
    )


def parse_conversation(obj: Any, *, line: int | None = None, annotated: bool = False) -> Record:
    """Validate a decoded object and return a Conversation or a ReadError naming every problem."""
    problems = validate_conversation(obj, annotated=annotated)
    if problems:
        cid = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        return ReadError(line=line, error=shown, id=cid)
    return conversation_from_dict(obj, line=line)
