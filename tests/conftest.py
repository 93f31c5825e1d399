"""Shared fixtures: isolated settings, a small seed-trained model, corpus availability."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.settings import Settings, get_settings

CORPORA_DIR = Path(os.environ.get("SENDGATE_CORPORA_DIR", str(Settings().corpora_dir)))


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test writes its MLflow store and models under its own temporary directory."""
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("SENDGATE_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", corpora_dir=CORPORA_DIR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Corpus tests skip on a laptop without the corpora, but never silently in CI."""
    if (CORPORA_DIR / "uci-sms-spam").is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI is set but the corpora are missing at {CORPORA_DIR}")
    skip = pytest.mark.skip(reason=f"corpora not found at {CORPORA_DIR}")
    for item in items:
        if "corpora" in item.keywords:
            item.add_marker(skip)
