"""The conversation's risk trace: the latest estimate, held up by checkpoint estimates in long conversations."""

from __future__ import annotations

import numpy as np

from lureguard.risk import is_checkpoint, risk_trace


def test_a_conversation_within_one_window_takes_its_latest_estimate():
    # A recruiter's opener looks like a lure; the rest of the conversation clears it.
    estimates = np.array([0.86, 0.78, 0.80, 0.05])
    trace = risk_trace(estimates, window=48)
    assert trace.tolist() == estimates.tolist()
    assert trace[-1] == 0.05


def test_checkpoints_are_the_first_full_window_and_then_every_half_window():
    assert [m for m in range(60) if is_checkpoint(m, window=8)] == [7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51,
                                                                    55, 59]
    assert not any(is_checkpoint(m, window=48) for m in range(47))


def test_evidence_read_at_a_checkpoint_outlives_the_context_window():
    estimates = np.full(40, 0.1)
    estimates[7] = 0.9  # a checkpoint of an 8-message window: read with a full window of context
    estimates[9] = 0.95  # not a checkpoint, but message 11 (a checkpoint) still has it in context
    trace = risk_trace(estimates, window=8)
    assert trace[6] == 0.1 and trace[7] == 0.9
    assert np.all(trace[8:] >= 0.9)
    assert trace[9] == 0.95 and trace[10] == 0.9
    assert trace[-1] == 0.9


def test_logits_and_probabilities_give_the_same_ordering():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=100)
    probabilities = 1 / (1 + np.exp(-logits))
    from_logits = 1 / (1 + np.exp(-risk_trace(logits, window=16)))
    assert np.allclose(from_logits, risk_trace(probabilities, window=16))


def test_a_tactic_counts_for_the_conversation_as_far_as_the_conversation_is_a_pursuit():
    from lureguard.risk import conversation_tactics
    from lureguard.taxonomy import TACTIC_IDS

    message_tactics = np.zeros((3, len(TACTIC_IDS)))
    message_tactics[1, TACTIC_IDS.index("platform_move")] = 0.9  # "add me on snap"
    cleared = conversation_tactics(message_tactics, risk=0.05)
    pursued = conversation_tactics(message_tactics, risk=1.0)
    assert cleared["platform_move"] == 0.045
    assert pursued["platform_move"] == 0.9
    assert set(pursued) == set(TACTIC_IDS) and pursued["job_lure"] == 0.0
