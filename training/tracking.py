"""Every MLflow call of the training side lives here, at the edge.

Tracking defaults to a SQLite store under the state directory with artifacts beside it;
``SENDGATE_MLFLOW_TRACKING_URI`` points it at a tracking server instead.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from model import artifact
from model.labels import LABELS
from model.settings import REPO_ROOT, Settings
from training.prepare import SourceReport
from training.sources import Source

MODEL_CODE = Path(__file__).with_name("mlflow_model.py")
# Authored here, not corpus text: the input example stored with the logged model.
INPUT_EXAMPLE = pd.DataFrame(
    {"text": ["Your table for 2 at Olive & Ash is confirmed for Fri 7pm. Reply C to cancel."]}
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str
    version: str | None


def configure(settings: Settings, experiment_name: str | None = None) -> str:
    """Point MLflow at the configured store, make the experiment active, return its id."""
    if settings.mlflow_tracking_uri is None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    name = experiment_name or settings.experiment_name
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        experiment_id = str(experiment.experiment_id)
    else:
        location = None
        if settings.mlflow_tracking_uri is None:
            # Without this, a SQLite store puts artifacts in ./mlruns of whatever the cwd is.
            location = settings.artifact_root.as_uri()
        experiment_id = str(mlflow.create_experiment(name, artifact_location=location))
    # Runs started after this land here, not in MLflow's "Default" experiment (whose
    # artifacts would go to ./mlruns of the current directory).
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def log_datasets(
    sources: Iterable[Source], reports: Iterable[SourceReport], context: str = "training"
) -> None:
    """Lineage without content: each source's path, file digest, licence and counts."""
    by_name = {report.name: report for report in reports}
    for source in sources:
        report = by_name.get(source.name)
        digest = artifact.sha256_of(source.path)
        with warnings.catch_warnings():
            # MLflow registers two local-file source classes and warns that it picked one.
            warnings.simplefilter("ignore", UserWarning)
            dataset_source = resolve_dataset_source(str(source.path))
        dataset = MetaDataset(  # type: ignore[abstract]  # profile is optional at runtime
            source=dataset_source,
            name=source.name,
            digest=digest[:20],
        )
        tags = {
            "licence": source.licence,
            "provenance": source.provenance,
            "origin": source.origin,
            "file_sha256": digest,
            "weight": str(source.weight),
        }
        if report is not None:
            tags.update(
                rows_read=str(report.rows_read),
                rows_kept=str(report.kept),
                excluded=str(report.excluded),
                duplicates_removed=str(report.exact_duplicates + report.template_duplicates),
                labels=", ".join(f"{k}={v}" for k, v in report.labels.items()),
            )
        mlflow.log_input(dataset, context=context, tags=tags)


def log_model(
    classifier_dir: Path, *, registered_model_name: str | None, example_output: pd.DataFrame
) -> mlflow.models.model.ModelInfo:
    versions = artifact.read_manifest(classifier_dir).versions
    signature = infer_signature(INPUT_EXAMPLE, example_output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info: mlflow.models.model.ModelInfo = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MODEL_CODE),
            artifacts={"classifier": str(classifier_dir)},
            code_paths=[str(REPO_ROOT / "model")],
            signature=signature,
            input_example=INPUT_EXAMPLE,
            registered_model_name=registered_model_name,
            pip_requirements=[
                f"scikit-learn=={versions['scikit-learn']}",
                f"numpy=={versions['numpy']}",
                f"scipy=={versions['scipy']}",
                f"joblib=={versions['joblib']}",
                f"pandas=={pd.__version__}",
                f"mlflow=={mlflow.__version__}",
                "pydantic-settings",
            ],
        )
    return info


def log_run_outputs(
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts_dir: Path,
    tags: Mapping[str, str],
) -> None:
    mlflow.log_params({k: (str(v) if isinstance(v, list | dict) else v) for k, v in params.items()})
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    mlflow.set_tags(dict(tags))
    mlflow.log_artifacts(str(artifacts_dir), artifact_path="evaluation")


def model_version_for_run(client: MlflowClient, name: str, run_id: str) -> str | None:
    for version in client.search_model_versions(f"name='{name}'"):
        if version.run_id == run_id:
            return str(version.version)
    return None


def champion_version(settings: Settings) -> str | None:
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(settings.registered_model_name, settings.champion_alias)
    except MlflowException:
        return None
    return str(version.version)


def download_classifier(model_uri: str, destination: Path | None = None) -> Path:
    """The manifest-checked classifier directory inside a logged pyfunc model."""
    target = destination or Path(tempfile.mkdtemp(prefix="sendgate-model-"))
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(target)))
    candidates = [p.parent for p in local.rglob(artifact.MANIFEST_FILE)]
    if not candidates:
        raise artifact.ModelArtifactError(f"{model_uri}: no sendgate classifier inside")
    return candidates[0]


def set_champion(settings: Settings, version: str, reason: str) -> None:
    client = MlflowClient()
    client.set_registered_model_alias(settings.registered_model_name, settings.champion_alias, version)
    client.set_model_version_tag(settings.registered_model_name, version, "promotion", reason)


def tag_version(settings: Settings, version: str, key: str, value: str) -> None:
    MlflowClient().set_model_version_tag(settings.registered_model_name, version, key, value)


def example_output() -> pd.DataFrame:
    row: dict[str, list[Any]] = {"message_type": ["transactional"]}
    for label in LABELS:
        row[f"p_{label}"] = [1.0 / len(LABELS)]
    row["treated_as"] = ["transactional"]
    return pd.DataFrame(row)
