"""Training runs against a real MLflow tracking store and registry in a temp directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from model.classifier import Hyperparameters
from model.settings import Settings
from training import tracking
from training.sources import seed_sources
from training.train import TrainResult, train

pytestmark = pytest.mark.slow


def _train(settings: Settings, hp: Hyperparameters | None = None) -> TrainResult:
    return train(settings, seed_sources(), search=None, hyperparameters=hp or Hyperparameters())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainResult]:
    settings = Settings(state_dir=tmp_path_factory.mktemp("mlflow-state"))
    return settings, _train(settings)


def test_run_records_params_metrics_and_lineage(trained: tuple[Settings, TrainResult]) -> None:
    """The run holds hyperparameters, test metrics, thresholds and each dataset's licence."""
    settings, result = trained
    tracking.configure(settings)
    run = MlflowClient().get_run(result.run_id)
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    assert experiment.name == settings.experiment_name
    assert run.info.artifact_uri.startswith(settings.artifact_root.as_uri())
    assert run.data.params["hp_c"] == "4.0"
    assert float(run.data.params["tau_promo"]) == pytest.approx(result.tau_promo)
    for metric in (
        "test_macro_f1",
        "test_promo_leak_rate",
        "test_log_loss",
        "test_ece",
        "test_promotional_recall",
        "source_seed_macro_f1",
    ):
        assert metric in run.data.metrics
    inputs = run.inputs.dataset_inputs
    assert {i.dataset.name for i in inputs} == {s.name for s in seed_sources()}
    tags = {t.key: t.value for t in inputs[0].tags}
    assert tags["licence"].startswith("Apache-2.0")
    assert len(tags["file_sha256"]) == 64


def test_run_artifacts_hold_plots_and_reports_but_no_message_text(
    trained: tuple[Settings, TrainResult],
) -> None:
    """Confusion matrix, calibration plot and reports are logged; no training text leaks."""
    settings, result = trained
    tracking.configure(settings)
    local = Path(mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="evaluation"))
    names = {p.name for p in local.iterdir()}
    assert {
        "confusion_matrix.png",
        "calibration.png",
        "report.txt",
        "report.json",
        "per_source.csv",
        "data_report.csv",
    } <= names
    corpus_texts = pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources())
    sample = [t for t in corpus_texts.sample(200, random_state=1) if len(t) > 30]
    for path in local.iterdir():
        if path.suffix in {".txt", ".json", ".csv"}:
            body = path.read_text(encoding="utf-8")
            assert not any(text in body for text in sample), path.name


def test_first_model_is_registered_and_becomes_champion(trained: tuple[Settings, TrainResult]) -> None:
    """With no champion yet, the first registered version takes the alias."""
    settings, result = trained
    assert result.model_version == "1"
    assert result.promotion is not None and result.promotion.promoted
    tracking.configure(settings)
    assert tracking.champion_version(settings) == "1"


def test_worse_candidate_does_not_move_the_champion(trained: tuple[Settings, TrainResult]) -> None:
    """A weaker model is registered but the champion alias stays where it was."""
    settings, _ = trained
    weak = _train(settings, replace(Hyperparameters(), c=0.0005, min_df=1))
    assert weak.promotion is not None and not weak.promotion.promoted
    assert "below the champion" in weak.promotion.reason or "worse" in weak.promotion.reason
    tracking.configure(settings)
    assert tracking.champion_version(settings) == "1"


def test_champion_loads_as_pyfunc_with_signature(trained: tuple[Settings, TrainResult]) -> None:
    """models:/<name>@champion loads through MLflow and returns labels and probabilities."""
    settings, _ = trained
    tracking.configure(settings)
    model = mlflow.pyfunc.load_model(f"models:/{settings.registered_model_name}@champion")
    out = model.predict(pd.DataFrame({"text": ["Your Quillpay code is 730142", "Sale: 40% off today"]}))
    assert list(out.columns) == [
        "message_type",
        "p_promotional",
        "p_transactional",
        "p_conversational",
        "treated_as",
    ]
    assert out["message_type"].tolist() == ["transactional", "promotional"]
    assert model.metadata.get_input_schema().input_names() == ["text"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mlflow_models_serve_serves_the_champion_unchanged(trained: tuple[Settings, TrainResult]) -> None:
    """`mlflow models serve` answers /invocations with our model, as logged."""
    settings, _ = trained
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/{settings.registered_model_name}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        response = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_split": {"columns": ["text"], "data": [["Your Quillpay code is 730142"]]}},
            timeout=10,
        )
        assert response.status_code == 200
        (prediction,) = response.json()["predictions"]
        assert prediction["message_type"] == "transactional"
    finally:
        process.terminate()
        process.wait(timeout=20)
