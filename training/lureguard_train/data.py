"""Training examples: annotated conversations as the model's inputs plus per-message targets.

Targets follow the causal reading of SPEC section 3:
  tactics[m]  the tactics annotated on message m;
  risk[m]     1 once a positive conversation has shown its first tactic (at or before m), else 0;
  actor[m]    1 when the author of message m has pursued a tactic at or before m.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lureguard.batching import MessageTokenizer, build_batch
from lureguard.taxonomy import TACTIC_INDEX, TACTIC_IDS

Conversation = dict[str, Any]


def load_corpus_split(corpus_dir: str | Path, split: str, *, limit: int | None = None) -> list[Conversation]:
    """One split of the annotated corpus, read with Hugging Face ``datasets``."""
    from datasets import load_dataset

    path = str(Path(corpus_dir) / f"{split}.jsonl")
    rows = load_dataset("json", data_files=path, split="train").to_list()
    for row in rows:  # Arrow fills absent slice keys with None; drop them again
        row["slices"] = {k: v for k, v in (row.get("slices") or {}).items() if v is not None}
    return rows[:limit] if limit else rows


def window(conv: Conversation, max_messages: int, rng: random.Random | None) -> Conversation:
    """A long conversation cut to ``max_messages``: a random window in training, the start otherwise.

    A random window keeps the first-tactic position honest: targets are recomputed on the window.
    """
    messages = conv["messages"]
    if len(messages) <= max_messages:
        return conv
    start = rng.randint(0, len(messages) - max_messages) if rng else 0
    return {**conv, "messages": messages[start:start + max_messages]}


def targets(conv: Conversation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    messages = conv["messages"]
    tactics = np.zeros((len(messages), len(TACTIC_IDS)), dtype=np.float32)
    risk = np.zeros(len(messages), dtype=np.float32)
    actor = np.zeros(len(messages), dtype=np.float32)
    pursuers: set[str] = set()
    started = False
    for m, message in enumerate(messages):
        for t in message.get("tactics") or ():
            tactics[m, TACTIC_INDEX[t]] = 1.0
        if tactics[m].any():
            pursuers.add(message["author"])
            started = started or conv.get("label", 0) == 1
        risk[m] = float(started)
        actor[m] = float(message["author"] in pursuers and started)
    return tactics, risk, actor


@dataclass
class TorchBatch:
    inputs: dict[str, torch.Tensor]
    tactics: torch.Tensor  # [B, M, 11]
    risk: torch.Tensor  # [B, M]
    actor: torch.Tensor  # [B, M]
    mask: torch.Tensor  # [B, M] float
    labels: torch.Tensor  # [B]
    risk_weight: torch.Tensor  # [B] weight of each conversation's risk loss


def is_hard_negative(conv: Conversation) -> bool:
    """A negative written for the corpus (not real benign chat): the cases that look like tactics."""
    return conv.get("label", 0) == 0 and (conv.get("slices") or {}).get("kind") != "real_benign"


def collate(convs: Sequence[Conversation], tokenizer: MessageTokenizer, *, author_slots: int,
            hard_negative_weight: float = 1.0) -> TorchBatch:
    batch = build_batch([[(m["author"], m["text"]) for m in c["messages"]] for c in convs], tokenizer,
                        author_slot_count=author_slots)
    b, width = batch.message_index.shape
    tactic_t = np.zeros((b, width, len(TACTIC_IDS)), dtype=np.float32)
    risk_t = np.zeros((b, width), dtype=np.float32)
    actor_t = np.zeros((b, width), dtype=np.float32)
    for i, c in enumerate(convs):
        t, r, a = targets(c)
        n = len(c["messages"])
        tactic_t[i, :n], risk_t[i, :n], actor_t[i, :n] = t, r, a
    return TorchBatch(
        inputs={k: torch.from_numpy(v) for k, v in batch.feeds().items()},
        tactics=torch.from_numpy(tactic_t), risk=torch.from_numpy(risk_t), actor=torch.from_numpy(actor_t),
        mask=torch.from_numpy(batch.message_mask.astype(np.float32)),
        labels=torch.tensor([float(c.get("label", 0)) for c in convs]),
        risk_weight=torch.tensor([hard_negative_weight if is_hard_negative(c) else 1.0 for c in convs]),
    )


def batches(convs: Sequence[Conversation], size: int, rng: random.Random | None) -> list[list[Conversation]]:
    """Groups of similar length (less padding), in shuffled order when ``rng`` is given."""
    order = sorted(range(len(convs)), key=lambda i: (len(convs[i]["messages"]), i))
    groups = [[convs[i] for i in order[s:s + size]] for s in range(0, len(order), size)]
    if rng:
        rng.shuffle(groups)
    return groups
