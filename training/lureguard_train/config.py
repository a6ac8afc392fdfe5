"""Training configuration: one dataclass, validated on creation, saved beside every checkpoint."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    corpus_dir: str = "datasets/lureguard"
    shared_data: str | None = "../shared/data"  # real benign chat; None trains on the corpus alone
    out_dir: str = "runs/latest"
    seed: int = 13
    max_length: int = 48  # tokens per message; longer messages keep their head
    max_messages: int = 48  # messages per training window
    author_slots: int = 4
    context_dim: int = 256
    context_layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    epochs: int = 3
    batch_conversations: int = 16
    lr_encoder: float = 3e-5
    lr_head: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    benign_per_epoch: int = 2500  # real benign conversations sampled afresh each epoch
    benign_validation: int = 800
    encoder_layers: int = 6  # bottom MiniLM layers kept (of 6): each one dropped makes every message cheaper
    freeze_encoder_layers: int = 3  # bottom transformer layers kept frozen (speed against accuracy)
    hard_negative_weight: float = 1.0  # risk-loss weight of the corpus's hard negatives (real benign chat: 1)
    last_message_risk_weight: float = 2.0  # extra risk-loss weight of the last message, whose risk the runtime reads
    max_pos_weight: float = 8.0
    patience: int = 2  # epochs without a better validation score before stopping
    checkpoint_every: int = 100  # optimizer steps between resumable checkpoints
    max_steps: int | None = None  # cut a run short (tests)
    limit_conversations: int | None = None  # use only the first N corpus conversations per split (tests)
    threads: int = 2

    def __post_init__(self) -> None:
        positive = ("max_length", "max_messages", "author_slots", "context_dim", "context_layers", "heads",
                    "epochs", "batch_conversations", "checkpoint_every", "threads")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.context_dim % self.heads:
            raise ValueError(f"context_dim ({self.context_dim}) must be divisible by heads ({self.heads})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 1 <= self.encoder_layers <= 6:
            raise ValueError(f"encoder_layers must be 1..6 (MiniLM-L6), got {self.encoder_layers}")
        if not 0 <= self.freeze_encoder_layers <= self.encoder_layers:
            raise ValueError(f"freeze_encoder_layers must be 0..encoder_layers ({self.encoder_layers}), "
                             f"got {self.freeze_encoder_layers}")
        if self.hard_negative_weight <= 0:
            raise ValueError(f"hard_negative_weight must be positive, got {self.hard_negative_weight}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        return cls.from_dict({**json.loads(Path(path).read_text()), **overrides})
