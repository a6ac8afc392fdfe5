"""The front door: load a model once, score conversations, get SPEC section 3 results back.

    from lureguard import Detector
    detector = Detector.load()                      # the shipped model
    results = detector.score([{"id": "c1", "messages": [...]}, ...])
    results[0].risk, results[0].evidence, results[0].to_dict()

Scoring is thread-safe: the two ONNX Runtime sessions (encoder, conversation model) and the worker
pool serve every thread, and nothing else is shared.
"""

from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .artifacts import (CONVERSATION_FILE, ENCODER_FILE, OPERATING_POINTS, SHIPPED_MODEL_DIR, TOKENIZER_FILE,
                        load_model_config)
from .batching import Layout, MessageTokenizer, equal_length_groups, layout
from .conversation import Conversation, Message, ReadError, parse_conversation
from .risk import conversation_tactics, is_checkpoint, risk_trace
from .taxonomy import TACTIC_IDS

LOGIT_OUTPUTS = ("tactic_logits", "risk_logits", "actor_logits")
READ_WINDOWS = 256  # conversation windows per context call, all of one length


def _session_options(ort: Any, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass(frozen=True)
class Evidence:
    index: int
    author: str
    tactics: dict[str, float]
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "author": self.author, "tactics": self.tactics}
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class ScanResult:
    """One conversation's verdict, shaped as SPEC section 3."""

    id: str
    risk: float
    flagged: bool
    tactics: dict[str, float]
    evidence: list[Evidence]
    actors: dict[str, float]
    first_flag_index: int | None
    model: str
    meta: Mapping[str, Any] | None = None
    message_risk: list[float] = field(default_factory=list, repr=False)  # risk after each message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "risk": self.risk, "flagged": self.flagged, "tactics": self.tactics,
                               "evidence": [e.to_dict() for e in self.evidence], "actors": self.actors,
                               "first_flag_index": self.first_flag_index, "model": self.model}
        if self.meta is not None:
            out["meta"] = dict(self.meta)
        return out


@dataclass(frozen=True)
class MessageScores:
    """Calibrated per-message outputs of one conversation, before thresholds are applied."""

    tactics: np.ndarray  # [n, 11]
    risk: np.ndarray  # [n] risk of the conversation after each message
    actor: np.ndarray  # [n] the author of each message pursues the pattern


def _round(x: float) -> float:
    return float(round(float(x), 4))


class Detector:
    """A loaded lureguard model. Create with ``Detector.load()``; reuse it for every call."""

    def __init__(self, model_dir: str | Path, *, threads: int | None = None,
                 operating_point: str = "balanced", verify: bool = True,
                 providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        import onnxruntime as ort

        if operating_point not in OPERATING_POINTS:
            raise ValueError(f"operating_point must be one of {', '.join(OPERATING_POINTS)}, got {operating_point!r}")
        self.model_dir = Path(model_dir)
        self.config = load_model_config(self.model_dir, verify=verify)
        self.operating_point = operating_point
        # Messages are encoded one per call (see ``encode``), so the encoder's parallelism comes from
        # calls running side by side on one session, each on one ONNX Runtime thread.
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._encoder = ort.InferenceSession(str(self.model_dir / ENCODER_FILE), _session_options(ort, 1),
                                             providers=list(providers))
        self._conversation = ort.InferenceSession(str(self.model_dir / CONVERSATION_FILE),
                                                  _session_options(ort, self.threads), providers=list(providers))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="lureguard") if self.threads > 1 else None
        self._hidden = self._encoder.get_outputs()[0].shape[1]
        self.tokenizer = MessageTokenizer(str(self.model_dir / TOKENIZER_FILE), max_length=self.config.max_length)
        platt = self.config.calibration
        self._scale = {k: np.float32(v["scale"]) for k, v in platt.items()}
        self._bias = {k: np.float32(v["bias"]) for k, v in platt.items()}
        self._tactic_scale = np.array([platt[t]["scale"] for t in TACTIC_IDS], dtype=np.float32)
        self._tactic_bias = np.array([platt[t]["bias"] for t in TACTIC_IDS], dtype=np.float32)
        self._tactic_threshold = np.array([self.config.tactic_thresholds[t] for t in TACTIC_IDS])

    @classmethod
    def load(cls, model_dir: str | Path | None = None, **options: Any) -> "Detector":
        """The model at ``model_dir``, or the one shipped inside the package."""
        return cls(model_dir or SHIPPED_MODEL_DIR, **options)

    @property
    def name(self) -> str:
        return f"lureguard-{self.config.version}"

    @property
    def threshold(self) -> float:
        return float(self.config.thresholds[self.operating_point])

    # -- raw model -----------------------------------------------------------------------------

    def _windows(self, n: int) -> list[tuple[int, int, int]]:
        """(start, end, first message this window answers for) covering n messages.

        Conversations longer than ``max_messages`` are read in windows of that size with half-window
        stride; each message takes its scores from the window that gives it the most preceding context
        that still contains it, so cost stays linear and every message sees at least half a window.
        """
        w = self.config.max_messages
        if n <= w:
            return [(0, n, 0)]
        stride = max(1, w // 2)
        out = [(0, w, 0)]
        start = stride
        while start + w - stride < n:
            out.append((start, min(start + w, n), start + w - stride))
            start += stride
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Message vectors [len(texts), H].

        Each message is encoded in an ONNX Runtime call of its own: the int8 encoder scales its
        activations by the range of what it is given, so one message per call makes a message's vector
        a function of its own text alone, whatever is scanned beside it, and no message is padded.
        ``threads`` calls run side by side.
        """
        tokens = self.tokenizer.tokenize(texts)
        vectors = np.empty((len(tokens), self._hidden), dtype=np.float32)

        def encode_rows(rows: range) -> None:
            for i in rows:
                ids = np.array([tokens[i]], dtype=np.int64)
                (out,) = self._encoder.run(["message_vectors"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
                vectors[i] = out[0]

        workers = min(self.threads, len(tokens))
        if self._pool is None or workers < 2:
            encode_rows(range(len(tokens)))
        else:
            list(self._pool.map(encode_rows, [range(k, len(tokens), workers) for k in range(workers)]))
        return vectors

    def read(self, vectors: np.ndarray, lay: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Logits (tactic [B, M, 11], risk [B, M], actor [B, M]) of laid-out conversations."""
        feeds = {"message_vectors": vectors, "message_index": lay.message_index,
                 "message_mask": lay.message_mask, "author_slot": lay.author_slot}
        tactic, risk, actor = self._conversation.run(list(LOGIT_OUTPUTS), feeds)
        return tactic, risk, actor

    def message_scores(self, conversations: Sequence[Sequence[tuple[str, str]]], *,
                       calibrated: bool = True) -> list[MessageScores]:
        """Per-message scores for conversations given as (author, text) pairs; logits when not calibrated."""
        pieces: list[tuple[int, int, int, int]] = []  # (conversation, start, end, answers_from)
        for c, conv in enumerate(conversations):
            for start, end, first in self._windows(len(conv)):
                pieces.append((c, start, end, first))
        tactic = [np.zeros((len(conv), len(TACTIC_IDS)), np.float32) for conv in conversations]
        risk = [np.zeros(len(conv), np.float32) for conv in conversations]
        actor = [np.zeros(len(conv), np.float32) for conv in conversations]
        texts = list(dict.fromkeys(text for conv in conversations for _, text in conv))
        vectors = self.encode(texts)
        row_of = {text: row for row, text in enumerate(texts)}
        # Windows are read in groups of equal length, so none is padded and a conversation's scores
        # do not depend on the conversations read beside it.
        for indices in equal_length_groups([e - s for _, s, e, _ in pieces], READ_WINDOWS):
            group = [pieces[i] for i in indices]
            lay = layout([conversations[c][s:e] for c, s, e, _ in group], author_slot_count=self.config.author_slots)
            t_out, r_out, a_out = self.read(vectors[[row_of[t] for t in lay.texts]], lay)
            for row, (c, s, e, first) in enumerate(group):
                keep = slice(first - s, e - s)
                tactic[c][first:e] = t_out[row, keep]
                risk[c][first:e] = r_out[row, keep]
                actor[c][first:e] = a_out[row, keep]
        if not calibrated:
            return [MessageScores(t, r, a) for t, r, a in zip(tactic, risk, actor)]
        return [self.calibrate(t, r, a) for t, r, a in zip(tactic, risk, actor)]

    def calibrate(self, tactic: np.ndarray, risk: np.ndarray, actor: np.ndarray) -> MessageScores:
        # Platt scaling fitted on validation; monotone, so the risk trace of calibrated risk is the
        # calibration of the trace that was fitted.
        return MessageScores(_sigmoid(tactic * self._tactic_scale + self._tactic_bias),
                             _sigmoid(risk * self._scale["risk"] + self._bias["risk"]),
                             _sigmoid(actor * self._scale["actor"] + self._bias["actor"]))

    # -- results -------------------------------------------------------------------------------

    def _evidence(self, messages: Sequence[Message], tactics: np.ndarray, *, include_text: bool,
                  offset: int = 0) -> list[Evidence]:
        """The messages whose tactic scores pass their thresholds; ``offset`` is the index of ``messages[0]``."""
        passing = tactics >= self._tactic_threshold
        return [Evidence(index=int(i) + offset, author=messages[i].author,
                         tactics={TACTIC_IDS[t]: _round(tactics[i, t]) for t in np.flatnonzero(passing[i])},
                         text=messages[i].text if include_text else None)
                for i in np.flatnonzero(passing.any(axis=1))]

    def _result(self, conv: Conversation, scores: MessageScores, *, include_text: bool) -> ScanResult:
        threshold = self.threshold
        trace = risk_trace(scores.risk, self.config.max_messages)  # see lureguard.risk
        risk = float(trace[-1])
        crossed = np.flatnonzero(trace >= threshold)
        evidence = self._evidence(conv.messages, scores.tactics, include_text=include_text)
        actors: dict[str, float] = {}
        for i, message in enumerate(conv.messages):
            actors[message.author] = max(actors.get(message.author, 0.0), _round(scores.actor[i]))
        return ScanResult(
            id=conv.id, risk=_round(risk), flagged=risk >= threshold,
            tactics=conversation_tactics(scores.tactics, risk),
            evidence=evidence, actors=actors,
            first_flag_index=int(crossed[0]) if crossed.size else None, model=self.name, meta=conv.meta,
            message_risk=[_round(x) for x in trace])

    def score(self, conversations: Iterable[Conversation | Mapping[str, Any]], *, include_text: bool = True,
              batch_messages: int = 512) -> list[ScanResult]:
        """Score conversations (Conversation objects or SPEC dicts); one result each, in order.

        Raises ``ValueError`` naming the problem for a dict that breaks the format; use ``lureguard.scan``
        to turn bad input into error records instead.
        """
        parsed = [_as_conversation(c) for c in conversations]
        results: list[ScanResult] = []
        for chunk in _chunks_by_messages(parsed, batch_messages):
            scores = self.message_scores([[(m.author, m.text) for m in c.messages] for c in chunk])
            results.extend(self._result(c, s, include_text=include_text) for c, s in zip(chunk, scores))
        return results

    def score_one(self, conversation: Conversation | Mapping[str, Any], **options: Any) -> ScanResult:
        return self.score([conversation], **options)[0]

    def score_messages(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Tactic scores of single messages, each read alone (no conversation context)."""
        scores = self.message_scores([[("user", t)] for t in texts])
        return [{t: _round(s.tactics[0, k]) for k, t in enumerate(TACTIC_IDS)} for s in scores]

    def stream(self, conversation_id: str = "live", *, meta: Mapping[str, Any] | None = None) -> "LiveConversation":
        """An incremental scorer: add messages as they arrive and read the risk after each."""
        return LiveConversation(self, conversation_id, meta)


class LiveConversation:
    """The early-warning path: messages one at a time, a result after each.

    Each message is encoded once; each update re-reads only the vectors of the last context window
    (``max_messages``), so a message costs the same at message 5 and at message 5,000. The live path
    keeps only that window, so its memory is bounded too.
    """

    def __init__(self, detector: Detector, conversation_id: str, meta: Mapping[str, Any] | None) -> None:
        self._detector = detector
        self._id = conversation_id
        self._meta = meta
        window = detector.config.max_messages
        self._messages: deque[tuple[str, str]] = deque(maxlen=window)  # only the context window is kept
        self._vectors: deque[np.ndarray] = deque(maxlen=window)
        self._count = 0
        self._settled = 0.0  # the highest risk read at a checkpoint (lureguard.risk)
        self._first_flag: int | None = None
        self._authors: dict[str, float] = {}

    def add(self, author: str, text: str) -> ScanResult:
        """Add the next message; returns the conversation's result as read up to it."""
        detector = self._detector
        self._messages.append((author, text))
        self._vectors.append(detector.encode([text])[0])  # each message is encoded once, ever
        self._count += 1
        window = list(self._messages)
        vectors = dict(zip((t for _, t in window), self._vectors))
        offset = self._count - len(window)
        lay = layout([window], author_slot_count=detector.config.author_slots)
        tactic, risk, actor = detector.read(np.stack([vectors[t] for t in lay.texts]), lay)
        scores = detector.calibrate(tactic[0], risk[0], actor[0])
        now = float(scores.risk[-1])
        risk = max(now, self._settled)
        if is_checkpoint(self._count - 1, detector.config.max_messages):
            self._settled = risk
        if self._first_flag is None and risk >= detector.threshold:
            self._first_flag = self._count - 1
        self._authors[author] = max(self._authors.get(author, 0.0), _round(scores.actor[-1]))
        return ScanResult(
            id=self._id, risk=_round(risk), flagged=risk >= detector.threshold,
            tactics=conversation_tactics(scores.tactics, risk),
            evidence=detector._evidence([Message(author=a, text=t) for a, t in window], scores.tactics,
                                        include_text=True, offset=offset),
            actors=dict(self._authors), first_flag_index=self._first_flag, model=detector.name,
            meta=self._meta)


def _as_conversation(obj: Conversation | Mapping[str, Any]) -> Conversation:
    if isinstance(obj, Conversation):
        return obj
    record = parse_conversation(dict(obj) if isinstance(obj, Mapping) else obj)
    if isinstance(record, ReadError):
        raise ValueError(f"conversation {record.id or '(no id)'}: {record.error}")
    return record


def _chunks_by_messages(conversations: Sequence[Conversation], budget: int) -> Iterable[list[Conversation]]:
    chunk: list[Conversation] = []
    size = 0
    for conv in conversations:
        if chunk and size + len(conv.messages) > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(conv)
        size += len(conv.messages)
    if chunk:
        yield chunk
