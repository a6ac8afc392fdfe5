"""Shared fixtures: a tiny, randomly initialised model directory for runtime tests that need no weights,
and the shipped model for the tests marked ``model``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lureguard.artifacts import SHIPPED_MODEL_DIR, CONFIG_FILE

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def tiny_model(cfg_overrides: dict | None = None):
    """A ConversationModel over a 1-layer, 32-wide BERT with MiniLM's vocabulary: seconds to export."""
    import torch
    from transformers import BertConfig, BertModel

    from lureguard_train.config import TrainConfig
    from lureguard_train.model import ConversationModel

    torch.manual_seed(0)
    cfg = TrainConfig(context_dim=16, context_layers=1, heads=2, max_messages=8, freeze_encoder_layers=0,
                      **(cfg_overrides or {}))
    bert = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=128))
    model = ConversationModel(bert, context_dim=cfg.context_dim, context_layers=cfg.context_layers, heads=cfg.heads,
                              max_messages=cfg.max_messages, author_slots=cfg.author_slots, dropout=0.0)
    return model.eval(), cfg


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from lureguard_train.export import write_model_dir

    model, cfg = tiny_model()
    work = tmp_path_factory.mktemp("tiny_work")
    out = tmp_path_factory.mktemp("tiny_model")
    write_model_dir(model, cfg, out, version="0.0.0-test", work_dir=work)
    return out


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL_DIR / CONFIG_FILE).exists():
        pytest.skip("no model shipped in inference/lureguard/model yet")
    return SHIPPED_MODEL_DIR


@pytest.fixture(scope="session")
def shipped(shipped_model_dir):
    from lureguard import Detector

    return Detector.load(shipped_model_dir, threads=2)


def write_jsonl(path: Path, objs) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), encoding="utf-8")
    return path
