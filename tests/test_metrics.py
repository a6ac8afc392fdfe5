"""Evaluation metrics against hand-computed values (SPEC section 5)."""

import math

import numpy as np
import pytest

from lureguard.evaluation import metrics as M


def test_confusion_rates_count_every_cell():
    r = M.confusion_rates([1, 1, 0, 0, 0], [True, False, True, False, False])
    assert (r["tp"], r["fn"], r["fp"], r["tn"]) == (1, 1, 1, 2)
    assert r["precision"] == 0.5 and r["recall"] == 0.5 and r["false_positive_rate"] == pytest.approx(1 / 3)


def test_auc_is_none_when_one_class_is_missing():
    assert M.pr_auc([0, 0], [0.1, 0.2]) is None and M.roc_auc([1, 1], [0.1, 0.2]) is None
    assert M.roc_auc([0, 1], [0.1, 0.9]) == 1.0


def test_ece_of_a_perfectly_calibrated_bin_is_zero_and_of_an_overconfident_one_is_the_gap():
    assert M.expected_calibration_error([1, 0], [0.55, 0.55]) == pytest.approx(0.05)
    assert M.expected_calibration_error([0, 0, 0, 0], [0.95] * 4) == pytest.approx(0.95)


def test_latency_penalty_is_zero_at_the_first_message_and_half_at_the_ninetieth():
    assert M.latency_penalty(1) == pytest.approx(0.0)
    assert M.latency_penalty(90) == pytest.approx(0.5)


def test_f_latency_is_f1_times_speed():
    y, flagged, first = [1, 1, 0], [True, True, False], [0, 89, None]
    speed = 1 - np.median(M.latency_penalty(np.array([1, 90])))
    assert M.f_latency(y, flagged, first) == pytest.approx(1.0 * speed)


def test_power_mean_punishes_the_worst_subgroup():
    assert M.power_mean([0.9, 0.9]) == pytest.approx(0.9)
    assert M.power_mean([0.5, 0.9]) < 0.6


def test_bias_aucs_report_small_subgroups_as_too_small():
    y = [1] * 12 + [0] * 12 + [1, 0]
    score = list(np.linspace(0.5, 1, 12)) + list(np.linspace(0, 0.4, 12)) + [0.9, 0.1]
    groups = ["a"] * 24 + ["b", "b"]
    table = M.bias_aucs(y, score, groups)
    assert table["a"]["subgroup_auc"] == 1.0
    assert table["b"]["subgroup_auc"] == "too small"


def test_bootstrap_interval_contains_the_point_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = y * 0.5 + rng.random(200) * 0.8
    low, high = M.bootstrap_ci(M.roc_auc, [y, s], n=200)
    assert low <= M.roc_auc(y, s) <= high
    assert not math.isnan(low)


def test_recall_at_fpr_is_the_best_recall_within_each_false_positive_budget():
    y = [0] * 10 + [1] * 4
    score = [0.9] + [0.1] * 9 + [0.95, 0.8, 0.7, 0.05]  # one negative above three of the four positives
    got = M.recall_at_fpr(y, score, rates=(0.0, 0.1, 1.0))
    assert got == {"0": 0.25, "0.1": 0.75, "1": 1.0}
    assert M.recall_at_fpr([1, 1], [0.2, 0.3]) is None
