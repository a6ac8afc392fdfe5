"""Reference scorers for comparison: a keyword lexicon and TF-IDF + logistic regression.

Both return SPEC section 3 dicts (plus the per-message risk trace that early-warning metrics read),
so ``lureguard eval --baseline NAME`` measures them exactly as it measures the model. Neither is
meant for use: they show how much of the task words alone can do.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from ..conversation import Conversation
from ..normalize import normalize_text
from ..taxonomy import TACTIC_IDS
from .metrics import best_f1_threshold

LEXICON: dict[str, tuple[str, ...]] = {
    "job_lure": ("model", "modelling", "modeling", "dancer", "hostess", "nanny", "au pair", "job abroad",
                 "no experience", "per month", "a month", "contract", "casting", "agency", "salary"),
    "romance_lure": ("love you", "my girl", "my boy", "soulmate", "the one", "marry", "move in", "future together",
                     "never felt"),
    "vulnerability_probe": ("kicked out", "run away", "runaway", "nobody understands", "only i understand",
                            "take care of you", "fight with", "homeless", "lonely", "no money"),
    "isolation_secrecy": ("don't tell", "dont tell", "our secret", "delete this", "delete the chat",
                          "between us", "they don't understand", "keep it secret"),
    "platform_move": ("whatsapp", "telegram", "snapchat", "snap", "signal", "kik", "wickr", "your number",
                      "text me on", "add me on"),
    "travel_offer": ("ticket", "flight", "visa", "passport", "pick you up", "bus", "i'll pay for", "stay with me",
                     "accommodation", "apartment"),
    "gift_debt": ("gift", "top up", "top-up", "you owe", "pay me back", "after everything", "i paid", "sent you"),
    "personal_probe": ("how old", "your age", "are you alone", "parents home", "check your phone",
                       "what school", "where do you live", "home alone"),
    "image_request": ("send a pic", "send me a pic", "send pics", "photo of you", "selfie", "cam on",
                      "video call", "pics"),
    "coercion_threat": ("or else", "i will send", "i'll send", "your family will", "you owe", "your passport",
                        "i will post", "i'll post", "work it off", "debt"),
    "control_monitoring": ("your location", "share location", "live location", "your password",
                           "who are you texting", "screenshot", "where are you"),
}


def _patterns() -> dict[str, re.Pattern[str]]:
    return {t: re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
            for t, words in LEXICON.items()}


def _output(conv: Conversation, tactic: np.ndarray, trace: np.ndarray, threshold: float, name: str) -> dict[str, Any]:
    running = np.maximum.accumulate(trace)
    crossed = np.flatnonzero(running >= threshold)
    authors: dict[str, float] = {}
    for i, m in enumerate(conv.messages):
        authors[m.author] = max(authors.get(m.author, 0.0), float(tactic[i].max()))
    evidence = [{"index": int(i), "author": conv.messages[i].author,
                 "tactics": {TACTIC_IDS[k]: float(tactic[i, k]) for k in np.flatnonzero(tactic[i] >= 0.5)}}
                for i in np.flatnonzero((tactic >= 0.5).any(axis=1))]
    return {"id": conv.id, "risk": float(running[-1]), "flagged": bool(running[-1] >= threshold),
            "tactics": {t: float(tactic[:, k].max()) for k, t in enumerate(TACTIC_IDS)}, "evidence": evidence,
            "actors": authors, "first_flag_index": int(crossed[0]) if crossed.size else None, "model": name,
            "message_risk": [float(x) for x in running]}


def keyword_scores(convs: Sequence[Conversation], *, threshold: float = 0.5) -> list[dict[str, Any]]:
    """Each tactic scores 1 on a message that contains one of its words; risk grows with distinct tactics."""
    patterns = _patterns()
    out = []
    for conv in convs:
        tactic = np.array([[1.0 if patterns[t].search(normalize_text(m.text)) else 0.0 for t in TACTIC_IDS]
                           for m in conv.messages])
        distinct = np.maximum.accumulate(tactic, axis=0).sum(axis=1)
        out.append(_output(conv, tactic, np.minimum(1.0, distinct / 4), threshold, "keyword-lexicon"))
    return out


class TfidfBaseline:
    """TF-IDF (word 1-2 grams) + logistic regression: one model per tactic on messages, one for risk on
    the conversation read so far. Trained on the training split; threshold = best F1 on validation."""

    def __init__(self, train: Sequence[Conversation], validation: Sequence[Conversation]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                          preprocessor=lambda s: normalize_text(s).lower())
        texts = [m.text for c in train for m in c.messages]
        x = self.vectorizer.fit_transform(texts + [_joined(c.messages) for c in train])
        x_messages, x_conversations = x[: len(texts)], x[len(texts):]
        y = np.array([[t in (m.tactics or ()) for t in TACTIC_IDS] for c in train for m in c.messages], int)
        self.tactic_models = [LogisticRegression(max_iter=1000, class_weight="balanced").fit(x_messages, y[:, k])
                              if y[:, k].any() else None for k in range(len(TACTIC_IDS))]
        self.risk_model = LogisticRegression(max_iter=1000, class_weight="balanced").fit(
            x_conversations, [c.label for c in train])
        self.threshold = best_f1_threshold([c.label for c in validation], [self._trace(c)[-1] for c in validation])

    def _trace(self, conv: Conversation) -> np.ndarray:
        prefixes = [_joined(conv.messages[: i + 1]) for i in range(len(conv.messages))]
        return np.maximum.accumulate(self.risk_model.predict_proba(self.vectorizer.transform(prefixes))[:, 1])

    def score(self, convs: Sequence[Conversation]) -> list[dict[str, Any]]:
        out = []
        for conv in convs:
            x = self.vectorizer.transform([m.text for m in conv.messages])
            tactic = np.column_stack([m.predict_proba(x)[:, 1] if m is not None else np.zeros(x.shape[0])
                                      for m in self.tactic_models])
            out.append(_output(conv, tactic, self._trace(conv), self.threshold, "tfidf-logreg"))
        return out


def _joined(messages) -> str:
    return "\n".join(m.text for m in messages)
