from __future__ import annotations

import pytest

from model.classifier import Hyperparameters, MessageClassifier
from model.settings import Settings
from training.fitting import fit
from training.prepare import prepare
from training.sources import seed_sources


@pytest.fixture(scope="session")
def seed_classifier() -> MessageClassifier:
    """A model trained on the repository's seed set only: what a fresh clone can build."""
    data = prepare(seed_sources(), seed=Settings().random_seed)
    pipeline = fit(data.frame, Hyperparameters(), seed=13)
    return MessageClassifier(pipeline, tau_promo=0.35, tau_conf=0.6)
