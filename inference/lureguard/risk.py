"""The conversation's risk after each message, from the model's per-message risk.

The model's risk at message m is the probability that the conversation is positive given the messages
up to m that its context window holds, and it is trained to be right at the end of the conversation.
That estimate may fall as a conversation goes on (a recruiter's opening offer looks like a lure until
"no fees at any stage" and an interview with the hotel manager), so the conversation's risk is the
latest estimate, not the highest seen: a running maximum keeps every early, thin-context guess and
flagged legitimate recruiters it had already cleared.

A context window holds ``window`` messages, so in a longer conversation early evidence would leave the
context and could no longer hold the risk up. The risk is therefore never below the estimate read at
a *checkpoint*: the end of the first full window and then every half window (the scan's stride). Every
message lies inside some checkpoint's context or the final one, so no evidence is forgotten, and a
conversation that fits in one window is scored by its last message alone.

A tactic exists only where someone pursues the pattern (a negative conversation has no tactic messages),
so whether a conversation uses a tactic is read as the tactic's highest message score times the
conversation's risk: a classmate's "add me on snap" in a conversation the model has cleared scores low.
"""

from __future__ import annotations

import numpy as np

from .taxonomy import TACTIC_IDS


def is_checkpoint(index: int, window: int) -> bool:
    """Whether the estimate at message ``index`` (0-based) holds the risk up for the rest of the conversation."""
    stride = max(1, window // 2)
    return index >= window - 1 and (index - (window - 1)) % stride == 0


def risk_trace(message_risk: np.ndarray, window: int) -> np.ndarray:
    """The conversation's risk after each message; works on probabilities and logits alike (monotone)."""
    out = np.empty(len(message_risk), dtype=np.float64)
    settled = -np.inf
    for m, r in enumerate(np.asarray(message_risk, dtype=np.float64)):
        out[m] = max(r, settled)
        if is_checkpoint(m, window):
            settled = max(settled, r)
    return out


def conversation_tactics(message_tactics: np.ndarray, risk: float) -> dict[str, float]:
    """Each tactic's score for the whole conversation: its highest message score times the conversation's risk."""
    peaks = np.asarray(message_tactics).max(axis=0) * float(risk)
    return {t: float(round(float(peaks[k]), 4)) for k, t in enumerate(TACTIC_IDS)}
