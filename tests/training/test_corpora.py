"""The public corpora: readers, label mapping, and the quality bar of issue 2.

These read ../shared/corpora (or SENDGATE_CORPORA_DIR) in place. They skip on a machine
without the corpora and fail in CI if the corpora are missing (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from model.settings import Settings
from training.prepare import read_source
from training.sources import corpus_sources, default_sources
from training.train import train

pytestmark = pytest.mark.corpora


def _source(settings: Settings, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in corpus_sources(settings) if s.name == name)


@pytest.mark.parametrize(
    ("name", "rows", "labels"),
    [
        ("uci-sms-spam", 5574, {"conversational", "promotional"}),
        ("nus-sms", 48595, {"conversational"}),
        ("twcs-dev", 510, {"conversational", "promotional"}),
        ("indian-bank-sms", 14470 - 109, {"transactional", "promotional", "conversational"}),
    ],
)
def test_each_corpus_reads_with_its_label_mapping(
    settings: Settings, name: str, rows: int, labels: set[str]
) -> None:
    """Row counts match the corpus documentation once unusable rows are set aside."""
    frame, _ = read_source(_source(settings, name))
    kept = frame[frame["label"] != "exclude"]
    assert len(kept) == rows
    assert set(kept["label"]) == labels


def test_bank_scams_are_excluded_and_templates_grouped(settings: Settings) -> None:
    """The 109 exclude rows (scams, mojibake) are marked; every row carries its template group."""
    frame, report = read_source(_source(settings, "indian-bank-sms"))
    assert report.excluded == 109
    assert frame["group"].str.startswith("bank:g").all()


@pytest.mark.slow
def test_model_on_all_corpora_clears_the_bar(settings: Settings) -> None:
    """Trained on every corpus plus the seed set: on the corpora's group-aware held-out
    split, macro-F1 >= 0.95 and promotional leak <= 2% (the bar of issue 2)."""
    result = train(settings, default_sources(settings))
    corpora = result.corpora_report
    assert corpora is not None
    assert corpora.macro_f1 >= 0.95, corpora
    assert corpora.promo_leak_rate is not None
    assert corpora.promo_leak_rate <= 0.02, corpora
    # The whole split, authored seed rows included, stays close to the bar too.
    assert result.report.macro_f1 >= 0.93, result.report
    assert result.promotion is not None and result.promotion.promoted
