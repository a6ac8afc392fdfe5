"""Turn conversations into the model's input arrays; the one layout shared by training and runtime.

Training imports this module too, so the PyTorch model and the ONNX graph see byte-identical
inputs: that is what the parity tests rest on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from .normalize import normalize_text


@dataclass(frozen=True)
class Layout:
    """Where each message of a batch of conversations sits; texts are deduplicated."""

    texts: list[str]  # distinct message texts, in order of first appearance
    message_index: np.ndarray  # [B, M] int64, index into ``texts`` for each message
    message_mask: np.ndarray  # [B, M] int64, 1 for a real message
    author_slot: np.ndarray  # [B, M] int64


@dataclass(frozen=True)
class Batch:
    input_ids: np.ndarray  # [N, T] int64, one row per distinct message text in the batch
    attention_mask: np.ndarray  # [N, T] int64
    message_index: np.ndarray  # [B, M] int64, row of input_ids for each message
    message_mask: np.ndarray  # [B, M] int64
    author_slot: np.ndarray  # [B, M] int64

    def feeds(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask,
                "message_index": self.message_index, "message_mask": self.message_mask,
                "author_slot": self.author_slot}


def author_slots(authors: Sequence[str], slots: int) -> list[int]:
    """Each author's order of first appearance (0, 1, ...), the last slot shared by the rest."""
    order: dict[str, int] = {}
    for a in authors:
        order.setdefault(a, len(order))
    return [min(order[a], slots - 1) for a in authors]


class MessageTokenizer:
    """The tokenizer.json of the base model, normalising obfuscation and truncating each message."""

    def __init__(self, tokenizer_path: str, *, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.no_padding()

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each (normalised, truncated) text, unpadded."""
        return [e.ids for e in self._tokenizer.encode_batch([normalize_text(t) for t in texts])]

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return pad(self.tokenize(texts))


def pad(token_ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """input_ids and attention_mask, padded to the longest of ``token_ids``."""
    width = max((len(ids) for ids in token_ids), default=1)
    ids = np.zeros((len(token_ids), width), dtype=np.int64)
    mask = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, seq in enumerate(token_ids):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def equal_length_groups(lengths: Sequence[int], size: int) -> Iterator[list[int]]:
    """Indices of items grouped by equal length (shortest first), at most ``size`` per group.

    The model's numbers for an item depend only on the item when nothing in its call is padded;
    encoding, reading windows and quantisation calibration all batch this way.
    """
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        by_length.setdefault(n, []).append(i)
    for n in sorted(by_length):
        group = by_length[n]
        for start in range(0, len(group), size):
            yield group[start:start + size]


def layout(conversations: Sequence[Sequence[tuple[str, str]]], *, author_slot_count: int) -> Layout:
    """Lay out conversations of (author, text) pairs; repeated texts share one row."""
    rows: dict[str, int] = {}
    width = max(len(c) for c in conversations)
    index = np.zeros((len(conversations), width), dtype=np.int64)
    mask = np.zeros((len(conversations), width), dtype=np.int64)
    slots = np.zeros((len(conversations), width), dtype=np.int64)
    for b, conversation in enumerate(conversations):
        for m, (_, text) in enumerate(conversation):
            index[b, m] = rows.setdefault(text, len(rows))
            mask[b, m] = 1
        slots[b, : len(conversation)] = author_slots([a for a, _ in conversation], author_slot_count)
    return Layout(list(rows), index, mask, slots)


def build_batch(conversations: Sequence[Sequence[tuple[str, str]]], tokenizer: MessageTokenizer, *,
                author_slot_count: int) -> Batch:
    """Layout plus tokens in one padded block: what training feeds the PyTorch model."""
    lay = layout(conversations, author_slot_count=author_slot_count)
    ids, attention = tokenizer.encode(lay.texts)
    return Batch(ids, attention, lay.message_index, lay.message_mask, lay.author_slot)
