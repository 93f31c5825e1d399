"""Training against a real `mlflow server` backed by PostgreSQL, artifacts served by the server.

A fresh database is created for the module on the local PostgreSQL server (the same one
the store tests use; ``SENDGATE_TEST_POSTGRES_URL`` overrides it), ``mlflow server`` runs
on it as a subprocess with its own artifact destination, and ``Settings`` points at the
server by URL only, as a deployment would. When PostgreSQL cannot be reached the module
skips, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import psycopg
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import URL, make_url

from model.classifier import Hyperparameters
from model.settings import Settings
from training.sources import seed_sources
from training.train import TrainResult, train

pytestmark = pytest.mark.slow

POSTGRES_SERVER = make_url(
    os.environ.get("SENDGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
)
SMALL = Hyperparameters(char_ngram_max=3, max_features_word=20_000, max_features_char=20_000)
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class TrackingServer:
    uri: str
    database: URL
    artifacts: Path
    log: Path


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            host=POSTGRES_SERVER.host,
            port=POSTGRES_SERVER.port or 5432,
            user=POSTGRES_SERVER.username,
            password=POSTGRES_SERVER.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as error:
        message = f"PostgreSQL unreachable at {POSTGRES_SERVER.render_as_string()}: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: the tracking server test needs it)")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    name = f"sendgate_mlflow_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    # The psycopg (3) driver named explicitly: no psycopg2 is installed.
    database = POSTGRES_SERVER.set(drivername="postgresql+psycopg", database=name)
    root = tmp_path_factory.mktemp("tracking-server")
    artifacts = root / "artifacts"
    log = root / "server.log"
    port = _free_port()
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                database.render_as_string(hide_password=False),
                "--artifacts-destination",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the server's workers end with it
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield TrackingServer(uri=uri, database=database, artifacts=artifacts, log=log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(server: TrackingServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainResult]:
    settings = Settings(mlflow_tracking_uri=server.uri, state_dir=tmp_path_factory.mktemp("client-state"))
    return settings, train(settings, seed_sources(), search=None, hyperparameters=SMALL)


def test_run_is_recorded_by_the_server(server: TrackingServer, trained: tuple[Settings, TrainResult]) -> None:
    """The run, its params, metrics and dataset lineage are visible through the server."""
    settings, result = trained
    client = MlflowClient(tracking_uri=server.uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == settings.experiment_name
    assert run.data.params["hp_char_ngram_max"] == "3"
    assert "test_macro_f1" in run.data.metrics
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {s.name for s in seed_sources()}
    # ... and they live in PostgreSQL, not in a file beside the client.
    with psycopg.connect(
        host=server.database.host,
        port=server.database.port or 5432,
        user=server.database.username,
        password=server.database.password,
        dbname=server.database.database,
    ) as db:
        rows = db.execute("SELECT run_uuid FROM runs").fetchall()
        names = db.execute("SELECT name FROM registered_models").fetchall()
    assert (result.run_id,) in rows
    assert (settings.registered_model_name,) in names
    assert not (settings.state_dir / "mlflow.db").exists()


def test_model_is_registered_with_the_champion_alias(
    server: TrackingServer, trained: tuple[Settings, TrainResult]
) -> None:
    settings, result = trained
    client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
    assert result.model_version == "1"
    champion = client.get_model_version_by_alias(settings.registered_model_name, settings.champion_alias)
    assert champion.version == "1"
    assert champion.run_id == result.run_id
    assert champion.tags["promotion"] == "no champion yet"


def test_artifacts_go_through_the_server(
    server: TrackingServer, trained: tuple[Settings, TrainResult]
) -> None:
    """The server chooses where artifacts live (mlflow-artifacts:), and they land in its destination."""
    settings, result = trained
    client = MlflowClient(tracking_uri=server.uri)
    run = client.get_run(result.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert {a.path for a in client.list_artifacts(result.run_id)} >= {"evaluation"}
    stored = {p.relative_to(server.artifacts).parts[-1] for p in server.artifacts.rglob("*") if p.is_file()}
    assert {"report.json", "confusion_matrix.png", "MLmodel", "manifest.json"} <= stored
    assert not settings.artifact_root.exists()
    assert not Path(server.log.parent / "mlruns").exists()


def test_champion_loads_from_the_server_and_predicts(
    server: TrackingServer, trained: tuple[Settings, TrainResult]
) -> None:
    settings, _ = trained
    mlflow.set_tracking_uri(server.uri)
    mlflow.set_registry_uri(server.uri)
    model = mlflow.pyfunc.load_model(settings.champion_uri)
    out = model.predict(pd.DataFrame({"text": ["Your Quillpay code is 730142", "Sale: 40% off today"]}))
    assert out["message_type"].tolist() == ["transactional", "promotional"]
    assert out["p_transactional"].iloc[0] > 0.5
