from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL

from model import artifact
from model.classifier import Hyperparameters, MessageClassifier
from model.settings import Settings
from serve.app import create_app
from serve.store.schema import Base
from tests.store.conftest import connect_postgres_server
from training.fitting import fit
from training.prepare import prepare
from training.sources import seed_sources

KEYS = "sender:sender-key-1,reviewer:reviewer-key-1,admin:admin-key-1"
SENDER = {"Authorization": "Bearer sender-key-1"}
REVIEWER = {"Authorization": "Bearer reviewer-key-1"}
ADMIN = {"Authorization": "Bearer admin-key-1"}


def next_noon_in_san_francisco(now: datetime | None = None) -> str:
    """12:00 in San Francisco, at least an hour from ``now``, as a UTC timestamp.

    A check is judged at max(send_at, now). A fixed date slips into the past, and then
    a test expecting an allow depends on the hour it runs at: after 21:00 there it is
    quiet hours (these tests failed at 05:04 UTC once their date had passed).
    """
    earliest = (now or datetime.now(UTC)).astimezone(ZoneInfo("America/Los_Angeles")) + timedelta(hours=1)
    noon = earliest.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon < earliest:
        noon += timedelta(days=1)  # wall-clock arithmetic: still 12:00 across a DST change
    return noon.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Noon in San Francisco: outside every quiet-hours window the +1415 numbers fall under.
NOON_SF = next_noon_in_san_francisco()


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


# --- the same HTTP tests on SQLite and on PostgreSQL ---

SERVE_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def serve_postgres_url() -> Iterator[URL]:
    """A fresh PostgreSQL database for this test module, dropped afterwards.

    Skips when PostgreSQL cannot be reached, except in CI (``CI`` set), where it fails:
    CI must run the HTTP tests on both backends.
    """
    server = connect_postgres_server()
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
        server.close()


def _empty_postgres(url: URL) -> None:
    """Remove every row (the app's startup migration creates the tables the first time)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            present = set(inspect(connection).get_table_names())
            tables = [t.name for t in Base.metadata.sorted_tables if t.name in present]
            if tables:
                connection.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
    finally:
        engine.dispose()


@pytest.fixture(params=SERVE_BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_settings(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path, model_dir: Path) -> Settings:
    """Service settings on a fresh SQLite file, or on this module's emptied PostgreSQL database."""
    if db_backend == "sqlite":
        return Settings(state_dir=tmp_path / "state", api_keys=KEYS, model_path=model_dir)
    url: URL = request.getfixturevalue("serve_postgres_url")
    _empty_postgres(url)
    return Settings(
        state_dir=tmp_path / "state",
        api_keys=KEYS,
        model_path=model_dir,
        database_url=url.render_as_string(hide_password=False),
    )


@pytest.fixture
def db_client(db_settings: Settings) -> Iterator[TestClient]:
    """A started service on the test's backend (each test: an empty store with the default sender)."""
    with TestClient(create_app(db_settings)) as test_client:
        yield test_client
