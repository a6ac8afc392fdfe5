"""The model directory: named files, a config that describes them, and hashes that guard them.

A model directory holds ``encoder.onnx`` (int8: tokens -> message vectors), ``conversation.onnx``
(message vectors -> logits), ``tokenizer.json`` and ``config.json``. The config
records the tactic order, the input layout, calibration, operating points and the sha256 of each
file; loading refuses a directory whose files do not match, so a half-copied or swapped model can
never score silently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .taxonomy import TACTIC_IDS

ENCODER_FILE = "encoder.onnx"
CONVERSATION_FILE = "conversation.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
OPERATING_POINTS = ("high_recall", "balanced", "high_precision")
MODEL_FILES = (ENCODER_FILE, CONVERSATION_FILE, TOKENIZER_FILE)  # every file a config's hashes cover
SHIPPED_MODEL_DIR = Path(__file__).parent / "model"


class ModelNotFoundError(FileNotFoundError):
    """No usable model where one was expected (for example, none shipped with this install)."""


class ModelIntegrityError(ValueError):
    """The files of a model directory do not match the hashes in its config."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelConfig:
    version: str
    tactics: tuple[str, ...]
    max_length: int  # tokens per message
    max_messages: int  # messages per context window
    author_slots: int
    calibration: dict[str, dict[str, float]]  # "risk", "actor", each tactic id -> {"scale", "bias"}
    thresholds: dict[str, float]  # operating point -> risk threshold
    tactic_thresholds: dict[str, float]  # tactic id -> evidence threshold
    files: dict[str, str]  # file name -> sha256
    extra: dict[str, Any] = field(default_factory=dict)  # training facts, for the record

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        keys = {"version", "tactics", "max_length", "max_messages", "author_slots", "calibration",
                "thresholds", "tactic_thresholds", "files"}
        missing = sorted(keys - set(data))
        if missing:
            raise ModelIntegrityError(f"model config lacks {', '.join(missing)}")
        return cls(**{k: data[k] for k in keys if k != "tactics"}, tactics=tuple(data["tactics"]),
                   extra={k: v for k, v in data.items() if k not in keys})

    def to_dict(self) -> dict[str, Any]:
        out = {"version": self.version, "tactics": list(self.tactics), "max_length": self.max_length,
               "max_messages": self.max_messages, "author_slots": self.author_slots,
               "calibration": self.calibration, "thresholds": self.thresholds,
               "tactic_thresholds": self.tactic_thresholds, "files": self.files}
        return {**out, **self.extra}


def load_model_config(model_dir: str | Path, *, verify: bool = True) -> ModelConfig:
    """Read and check a model directory's config (and, with ``verify``, every file's hash)."""
    model_dir = Path(model_dir)
    config_path = model_dir / CONFIG_FILE
    if not config_path.exists():
        raise ModelNotFoundError(
            f"no lureguard model in {model_dir} ({CONFIG_FILE} missing); train and export one with "
            f"`python -m lureguard_train export`, or pass --model DIR")
    config = ModelConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    if config.tactics != TACTIC_IDS:
        raise ModelIntegrityError(f"model tactic order {list(config.tactics)} differs from this lureguard's "
                                  f"{list(TACTIC_IDS)}")
    for point in OPERATING_POINTS:
        if point not in config.thresholds:
            raise ModelIntegrityError(f"model config has no threshold for operating point {point!r}")
    for name in MODEL_FILES:
        path = model_dir / name
        if not path.exists():
            raise ModelNotFoundError(f"model directory {model_dir} lacks {name}")
        if verify and sha256_file(path) != config.files.get(name):
            raise ModelIntegrityError(f"{path} does not match the sha256 in {CONFIG_FILE}; the model directory "
                                      f"is damaged or its files were swapped")
    return config
