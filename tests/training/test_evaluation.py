"""Metrics: tau_promo choice, leak rate, calibration error."""

from __future__ import annotations

import numpy as np

from training.evaluation import choose_tau_promo, evaluate, expected_calibration_error


def _proba(rows: list[tuple[float, float, float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def test_tau_promo_reaches_the_recall_target() -> None:
    """tau is low enough that 99% of true promotions are treated promotional."""
    rng = np.random.default_rng(0)
    p_promo = rng.uniform(0.1, 1.0, 1000)
    proba = np.column_stack([p_promo, (1 - p_promo) * 0.7, (1 - p_promo) * 0.3])
    truth = ["promotional"] * 1000
    tau = choose_tau_promo(truth, proba, recall_target=0.99, ceiling=0.35)
    report = evaluate(truth, proba, tau)
    assert report.promo_leak_rate is not None and report.promo_leak_rate <= 0.01
    assert tau <= 0.35


def test_tau_promo_never_drops_below_its_floor() -> None:
    """One badly missed promotion cannot make every message promotional."""
    proba = _proba([(0.001, 0.9, 0.099)] * 5 + [(0.9, 0.05, 0.05)] * 5)
    assert choose_tau_promo(["promotional"] * 10, proba, recall_target=0.99, ceiling=0.35) == 0.05


def test_tau_promo_stays_at_ceiling_when_model_already_catches_promotions() -> None:
    """When every promotion is already labelled promotional, tau stays at its default."""
    proba = _proba([(0.9, 0.05, 0.05), (0.8, 0.1, 0.1)])
    assert choose_tau_promo(["promotional"] * 2, proba, recall_target=0.99, ceiling=0.35) == 0.35


def test_leak_rate_counts_promotions_not_treated_promotional() -> None:
    """A promotion below tau and not the top label is a leak; one above tau is not."""
    proba = _proba([(0.2, 0.7, 0.1), (0.4, 0.5, 0.1), (0.9, 0.05, 0.05), (0.1, 0.8, 0.1)])
    truth = ["promotional", "promotional", "promotional", "transactional"]
    report = evaluate(truth, proba, tau_promo=0.35)
    assert report.promo_leak_rate == 1 / 3
    assert report.false_promotional_rate == 0.0


def test_perfectly_calibrated_predictions_have_zero_ece() -> None:
    """Confidence 1.0 and always right: no calibration error."""
    proba = _proba([(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)])
    assert expected_calibration_error(["promotional", "transactional"], proba) == 0.0


def test_report_scores_macro_f1_over_present_labels() -> None:
    """A single-class set is scored on its class, not punished for absent ones."""
    proba = _proba([(0.1, 0.1, 0.8), (0.1, 0.1, 0.8)])
    report = evaluate(["conversational", "conversational"], proba, tau_promo=0.35)
    assert report.macro_f1 == 1.0
    assert report.promo_leak_rate is None
    assert report.confusion[2] == [0, 0, 2]
