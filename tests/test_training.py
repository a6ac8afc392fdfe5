"""Training, resuming, export and parity, on a few conversations and a few steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lureguard import Detector
from lureguard.batching import build_batch

from .conftest import ROOT, tiny_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from lureguard_train.train import train

    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(out, limit_conversations=24, checkpoint_every=1, freeze_encoder_layers=5)
    train(cfg)
    return cfg, out


def tiny_config(out_dir, **options):
    """A run of two steps on a few corpus conversations, without the real benign corpora."""
    from lureguard_train.config import TrainConfig

    return TrainConfig(**{"corpus_dir": str(ROOT / "datasets" / "lureguard"), "shared_data": None,
                          "out_dir": str(out_dir), "batch_conversations": 6, "max_steps": 2, "epochs": 1, **options})


def test_a_run_logs_checkpoints_and_keeps_its_best_weights(tiny_run):
    _, out = tiny_run
    assert (out / "best.pt").exists() and (out / "checkpoint.pt").exists()
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 2 and 0.0 <= metrics[-1]["conversation_pr_auc"] <= 1.0
    assert "epoch 0 validation" in (out / "train.log").read_text()


def test_a_stopped_run_resumes_from_its_checkpoint(tiny_run):
    from lureguard_train.train import train

    cfg, out = tiny_run
    saved = torch.load(out / "checkpoint.pt", weights_only=False)["state"]
    cfg.epochs, cfg.max_steps = 2, 3
    train(cfg)
    log = (out / "train.log").read_text()
    assert f"resumed from step {saved['step']}" in log
    assert torch.load(out / "checkpoint.pt", weights_only=False)["state"]["step"] == 3


def test_two_runs_of_one_config_give_the_same_weights(tmp_path):
    """Fixed seeds make a rerun reproduce a run: same data, same config, same weights, bit for bit."""
    from lureguard_train.model import load_base_encoder
    from lureguard_train.train import train

    configs = [tiny_config(tmp_path / name, limit_conversations=12) for name in ("first", "second")]
    configs[0].freeze_encoder_layers = configs[1].freeze_encoder_layers = configs[0].encoder_layers - 1
    weights = [torch.load(train(cfg), weights_only=False)["model"] for cfg in configs]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # each run logged to its own train.log only (the second did not write into the first's)
    assert [(tmp_path / name / "train.log").read_text().count("data: ") for name in ("first", "second")] == [1, 1]
    # and the runs did train: the unfrozen top encoder layer moved away from all-MiniLM-L6-v2's weights
    top = f"encoder.layer.{configs[0].encoder_layers - 1}.attention.self.query.weight"
    base = load_base_encoder(layers=configs[0].encoder_layers).state_dict()[top]
    assert not torch.equal(weights[0][f"encoder.{top}"], base)


def test_config_rejects_unknown_and_invalid_options():
    from lureguard_train.config import TrainConfig

    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"learning_rate": 1})
    with pytest.raises(ValueError, match="divisible"):
        TrainConfig(context_dim=30, heads=4)
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_exported_onnx_matches_pytorch_within_1e_4(tiny_run, tmp_path):
    """fp32 ONNX against PyTorch on real MiniLM weights, at shapes other than the export example's."""
    import onnxruntime as ort

    from lureguard_train.export import load_trained, write_model_dir
    from lureguard_train.train import tokenizer_for

    _, out = tiny_run
    model, cfg = load_trained(out)
    write_model_dir(model, cfg, tmp_path / "model", version="0.0.0-parity", work_dir=tmp_path)
    convs = [json.loads(line) for line in (ROOT / "datasets" / "lureguard" / "test.jsonl").read_text().splitlines()[:12]]
    batch = build_batch([[(m["author"], m["text"]) for m in c["messages"]] for c in convs], tokenizer_for(cfg),
                        author_slot_count=cfg.author_slots)
    with torch.no_grad():
        expected = [torch.sigmoid(t).numpy() for t in model(**{k: torch.from_numpy(v) for k, v in batch.feeds().items()})]
    feeds = batch.feeds()
    encoder = ort.InferenceSession(str(tmp_path / "encoder.fp32.onnx"), providers=["CPUExecutionProvider"])
    conversation = ort.InferenceSession(str(tmp_path / "conversation.fp32.onnx"), providers=["CPUExecutionProvider"])
    (vectors,) = encoder.run(["message_vectors"], {k: feeds[k] for k in ("input_ids", "attention_mask")})
    logits = conversation.run(["tactic_logits", "risk_logits", "actor_logits"],
                              {"message_vectors": vectors, **{k: feeds[k] for k in ("message_index", "message_mask",
                                                                                    "author_slot")}})
    got = [1 / (1 + np.exp(-x)) for x in logits]
    mask = batch.message_mask.astype(bool)
    for e, g in zip(expected, got):
        assert np.abs(e[mask] - g[mask]).max() <= 1e-4
    detector = Detector.load(tmp_path / "model")  # int8, onnxruntime + tokenizers only
    assert len(detector.score(convs)) == 12


def test_int8_agrees_with_fp32_on_flagged(tmp_path):
    """The agreement check export runs, on a tiny model: it must hold for >= 99% of conversations."""
    from lureguard_train.export import flag_agreement, write_model_dir

    model, cfg = tiny_model()
    write_model_dir(model, cfg, tmp_path / "model", version="0.0.0-agree", work_dir=tmp_path)
    convs = [json.loads(line) for line in (ROOT / "datasets" / "lureguard" / "test.jsonl").read_text().splitlines()[:60]]
    assert flag_agreement(tmp_path / "model", tmp_path / "encoder.fp32.onnx", convs) >= 0.99


def test_quantise_keeps_the_named_feed_forward_product_in_fp32(tmp_path):
    """Export finds each layer's feed-forward output product by its weight's shape and can leave it fp32;
    a name that is not in the graph is an error, never a silently quantised product."""
    import onnx

    from lureguard_train.export import export_fp32, feed_forward_outputs, float_weight_products, optimise, quantise

    model, cfg = tiny_model()
    encoder, _ = export_fp32(model, cfg, tmp_path)
    optimised = optimise(encoder, tmp_path / "encoder.opt.onnx", hidden=32, heads=2)
    products = feed_forward_outputs(optimised, hidden=32, intermediate=64)
    assert len(products) == 1  # one per encoder layer
    quantise(optimised, tmp_path / "kept.onnx", fp32_products=tuple(products))
    quantise(optimised, tmp_path / "all.onnx")
    for path, fp32 in (("kept.onnx", products), ("all.onnx", [])):
        graph = onnx.load(str(tmp_path / path)).graph
        assert [n.name for n in graph.node if n.name in products and n.op_type == "MatMul"] == fp32
        assert float_weight_products(tmp_path / path) == fp32  # what the config's quantization string names
    with pytest.raises(ValueError, match="not in"):
        quantise(optimised, tmp_path / "bad.onnx", fp32_products=("/no_such/MatMul",))
