"""Fine-tune MiniLM and the conversation model: resumable, logged, early-stopped on validation.

    python -m lureguard_train train --config training/configs/default.json

Writes into ``out_dir``: ``train.log``, ``metrics.jsonl`` (one line per evaluation),
``checkpoint.pt`` (model, optimiser, schedule and position: a stopped run resumes from it) and
``best.pt`` (the weights with the best validation score, which calibration and export read).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch.nn import functional as F

from lureguard.batching import MessageTokenizer
from lureguard.taxonomy import TACTIC_IDS

from .config import TrainConfig
from .data import batches, collate, load_corpus_split, window
from .model import ConversationModel, base_model_dir, load_base_encoder
from .real_benign import load_real_benign

log = logging.getLogger("lureguard_train")


def build_model(cfg: TrainConfig) -> ConversationModel:
    # The bottom layers alone: frozen linear probes on message vectors of the corpus did as well with 3
    # or 4 layers as with 6 (see the model card), and each layer costs a sixth of the scan.
    encoder = load_base_encoder(layers=cfg.encoder_layers)
    model = ConversationModel(encoder, context_dim=cfg.context_dim, context_layers=cfg.context_layers,
                              heads=cfg.heads, max_messages=cfg.max_messages, author_slots=cfg.author_slots,
                              dropout=cfg.dropout)
    for layer in model.encoder.encoder.layer[: cfg.freeze_encoder_layers]:
        layer.requires_grad_(False)
    if cfg.freeze_encoder_layers:
        model.encoder.embeddings.requires_grad_(False)
    return model


def tokenizer_for(cfg: TrainConfig) -> MessageTokenizer:
    return MessageTokenizer(str(Path(base_model_dir()) / "tokenizer.json"), max_length=cfg.max_length)


def load_data(cfg: TrainConfig) -> tuple[list[dict], list[dict], list[dict]]:
    """(corpus train, validation with real benign validation, real benign train pool)."""
    train = load_corpus_split(cfg.corpus_dir, "train", limit=cfg.limit_conversations)
    validation = load_corpus_split(cfg.corpus_dir, "validation", limit=cfg.limit_conversations)
    benign_pool: list[dict] = []
    if cfg.shared_data:
        real = load_real_benign(cfg.shared_data, seed=cfg.seed)
        benign_pool = [c for c in real if c["split"] == "train"]
        real_val = [c for c in real if c["split"] == "validation"]
        validation += random.Random(cfg.seed).sample(real_val, min(cfg.benign_validation, len(real_val)))
    return train, validation, benign_pool


def loss_fn(outputs, batch, pos_weight: torch.Tensor, last_weight: float) -> torch.Tensor:
    tactic_logits, risk_logits, actor_logits = outputs
    mask = batch.mask
    tactic = F.binary_cross_entropy_with_logits(tactic_logits, batch.tactics, pos_weight=pos_weight,
                                                reduction="none").sum(-1)
    risk = F.binary_cross_entropy_with_logits(risk_logits, batch.risk, reduction="none")
    actor = F.binary_cross_entropy_with_logits(actor_logits, batch.actor, reduction="none")
    # The last message decides the conversation's risk (lureguard.risk): weigh it more than the others.
    last = torch.zeros_like(mask)
    last[torch.arange(mask.shape[0]), mask.sum(1).long() - 1] = 1.0
    # A false flag on a hard negative (a real recruiter, a couple, a parent) is a harm: weigh its risk more.
    risk = risk * batch.risk_weight.unsqueeze(1)
    per_message = tactic + risk + 0.5 * actor + risk * last * last_weight
    return (per_message * mask).sum() / mask.sum()


@torch.no_grad()
def predict(model: ConversationModel, convs: Sequence[dict], tokenizer: MessageTokenizer, *,
            author_slots: int, batch_size: int = 32) -> list[dict[str, np.ndarray]]:
    """Logits per conversation: tactic [n, 11], risk [n], actor [n]; in input order."""
    model.eval()
    out: list[dict[str, np.ndarray] | None] = [None] * len(convs)
    order = sorted(range(len(convs)), key=lambda i: len(convs[i]["messages"]))
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        batch = collate([convs[i] for i in idx], tokenizer, author_slots=author_slots)
        tactic, risk, actor = model(**batch.inputs)
        for row, i in enumerate(idx):
            n = len(convs[i]["messages"])
            out[i] = {"tactic": tactic[row, :n].numpy(), "risk": risk[row, :n].numpy(), "actor": actor[row, :n].numpy()}
    return out  # type: ignore[return-value]


def validation_metrics(convs: Sequence[dict], logits: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
    labels = np.array([c["label"] for c in convs])
    risk = np.array([l["risk"][-1] for l in logits])
    message_tactics = np.concatenate([l["tactic"] for l in logits])
    truth = np.zeros_like(message_tactics)
    for row, (c, m) in enumerate((c, m) for c in convs for m in c["messages"]):
        for t in m["tactics"]:
            truth[row, TACTIC_IDS.index(t)] = 1
    per_tactic = {t: float(average_precision_score(truth[:, i], message_tactics[:, i]))
                  for i, t in enumerate(TACTIC_IDS) if truth[:, i].any()}
    conv_ap = float(average_precision_score(labels, risk)) if labels.any() and not labels.all() else float("nan")
    macro = float(np.mean(list(per_tactic.values()))) if per_tactic else float("nan")
    return {"conversation_pr_auc": conv_ap, "tactic_macro_pr_auc": macro, "tactic_pr_auc": per_tactic,
            "score": float(np.nanmean([conv_ap, macro]))}


def _pos_weight(convs: Sequence[dict], cap: float) -> torch.Tensor:
    counts = np.zeros(len(TACTIC_IDS))
    total = 0
    for c in convs:
        for m in c["messages"]:
            total += 1
            for t in m["tactics"]:
                counts[TACTIC_IDS.index(t)] += 1
    return torch.tensor(np.clip(np.sqrt((total - counts) / np.maximum(counts, 1)), 1.0, cap), dtype=torch.float32)


def _setup_logging(out_dir: Path) -> None:
    """Log this run to its own ``train.log``; handlers of an earlier run in the same process are closed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    handler = logging.FileHandler(out_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.addHandler(logging.StreamHandler())
    log.setLevel(logging.INFO)


def train(cfg: TrainConfig, *, resume: bool = True) -> Path:
    """Run (or resume) training; returns the path of ``best.pt``."""
    out_dir = Path(cfg.out_dir)
    _setup_logging(out_dir)
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    tokenizer = tokenizer_for(cfg)
    train_convs, val_convs, benign_pool = load_data(cfg)
    log.info("data: %d corpus train, %d validation (with real benign), %d real benign pool",
             len(train_convs), len(val_convs), len(benign_pool))
    model = build_model(cfg)
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": cfg.lr_encoder},
                                   {"params": head_params, "lr": cfg.lr_head}], weight_decay=cfg.weight_decay)
    per_epoch = math.ceil((len(train_convs) + min(cfg.benign_per_epoch, len(benign_pool))) / cfg.batch_conversations)
    total = min(cfg.max_steps or per_epoch * cfg.epochs, per_epoch * cfg.epochs)
    warmup = max(1, int(cfg.warmup_ratio * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    pos_weight = _pos_weight(train_convs, cfg.max_pos_weight)

    state = {"epoch": 0, "step": 0, "best": -1.0, "stale": 0}
    checkpoint = out_dir / "checkpoint.pt"
    if resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        state = saved["state"]
        log.info("resumed from step %d (epoch %d)", state["step"], state["epoch"])

    def save_checkpoint() -> None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "state": state}, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    while state["epoch"] < cfg.epochs and state["step"] < total and state["stale"] < cfg.patience:
        epoch = state["epoch"]
        rng = random.Random(f"{cfg.seed}-{epoch}")
        pool = train_convs + rng.sample(benign_pool, min(cfg.benign_per_epoch, len(benign_pool)))
        groups = batches([window(c, cfg.max_messages, rng) for c in pool], cfg.batch_conversations, rng)
        # Resuming mid-epoch skips the batches already done; an epoch cut short by max_steps counts as ended.
        done_in_epoch = max(0, state["step"] - epoch * per_epoch)
        model.train()
        started = time.time()
        for k, group in enumerate(groups[done_in_epoch:], start=done_in_epoch):
            if state["step"] >= total:
                break
            batch = collate(group, tokenizer, author_slots=cfg.author_slots,
                            hard_negative_weight=cfg.hard_negative_weight)
            loss = loss_fn(model(**batch.inputs), batch, pos_weight, cfg.last_message_risk_weight)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            state["step"] += 1
            if state["step"] % 20 == 0:
                rate = (k + 1 - done_in_epoch) / (time.time() - started)
                log.info("epoch %d step %d/%d loss %.4f (%.2f steps/s)", epoch, state["step"], total, loss.item(), rate)
            if state["step"] % cfg.checkpoint_every == 0:
                save_checkpoint()
        metrics = validation_metrics(val_convs, predict(model, val_convs, tokenizer, author_slots=cfg.author_slots))
        metrics.update(epoch=epoch, step=state["step"])
        with open(out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(metrics) + "\n")
        log.info("epoch %d validation: conversation PR-AUC %.4f, macro tactic PR-AUC %.4f",
                 epoch, metrics["conversation_pr_auc"], metrics["tactic_macro_pr_auc"])
        if metrics["score"] > state["best"]:
            state.update(best=metrics["score"], stale=0)
            torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "metrics": metrics}, out_dir / "best.pt")
        else:
            state["stale"] += 1
        state["epoch"] = epoch + 1
        save_checkpoint()
    log.info("done: best validation score %.4f", state["best"])
    return out_dir / "best.pt"
