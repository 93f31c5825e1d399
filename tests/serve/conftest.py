from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model import artifact
from model.classifier import Hyperparameters, MessageClassifier
from model.settings import Settings
from serve.app import create_app
from training.fitting import fit
from training.prepare import prepare
from training.sources import seed_sources

KEYS = "sender:sender-key-1,reviewer:reviewer-key-1,admin:admin-key-1"
SENDER = {"Authorization": "Bearer sender-key-1"}
REVIEWER = {"Authorization": "Bearer reviewer-key-1"}
ADMIN = {"Authorization": "Bearer admin-key-1"}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed-trained classifier saved with its manifest, as an operator would configure it."""
    data = prepare(seed_sources(), seed=13)
    classifier = MessageClassifier(fit(data.frame, Hyperparameters(), seed=13), tau_promo=0.35, tau_conf=0.6)
    directory = tmp_path_factory.mktemp("served-model") / "classifier"
    artifact.save(classifier, directory, data_digest=data.digest)
    return directory


@pytest.fixture
def service_settings(tmp_path: Path, model_dir: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", api_keys=KEYS, model_path=model_dir)


@pytest.fixture
def client(service_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(service_settings)) as test_client:
        yield test_client
