"""Persisting a classifier: joblib file plus a manifest checked before anything is unpickled.

A joblib file runs code when loaded, so ``load`` first checks the file's sha256 against the
manifest and the library versions against this environment, and refuses on any mismatch.
Paths come from settings or the MLflow registry, never from a request.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn

from model.classifier import MessageClassifier
from model.labels import LABELS

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = 1


class ModelArtifactError(Exception):
    """A model directory that cannot be trusted or used: the message says why."""


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


# Versions that must match exactly for unpickling to be safe and reproducible. Python's
# patch level is allowed to differ.
_STRICT = ("scikit-learn", "numpy", "scipy", "joblib")


@dataclass
class Manifest:
    classes: list[str]
    tau_promo: float
    tau_conf: float
    sha256: str
    versions: dict[str, str]
    data_digest: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = ""
    schema: int = MANIFEST_SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        try:
            raw = json.loads(text)
            return cls(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ModelArtifactError(f"{where}: not a valid sendgate manifest ({exc})") from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(
    classifier: MessageClassifier,
    directory: Path,
    *,
    data_digest: str,
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> Manifest:
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(classifier.pipeline, model_path, compress=3)
    manifest = Manifest(
        classes=list(LABELS),
        tau_promo=classifier.tau_promo,
        tau_conf=classifier.tau_conf,
        sha256=sha256_of(model_path),
        versions=library_versions(),
        data_digest=data_digest,
        metrics=dict(metrics or {}),
        params=dict(params or {}),
        sources=list(sources or []),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (directory / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ModelArtifactError(f"{directory}: no {MANIFEST_FILE}; not a sendgate model directory")
    manifest = Manifest.from_json(path.read_text(encoding="utf-8"), path)
    if manifest.schema != MANIFEST_SCHEMA:
        raise ModelArtifactError(f"{path}: manifest schema {manifest.schema} is not supported")
    if sorted(manifest.classes) != sorted(LABELS):
        raise ModelArtifactError(f"{path}: classes {manifest.classes} are not {list(LABELS)}")
    return manifest


def verify(directory: Path) -> Manifest:
    """Check hash and versions; raise ModelArtifactError naming what differs."""
    manifest = read_manifest(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ModelArtifactError(f"{directory}: {MODEL_FILE} is missing")
    actual = sha256_of(model_path)
    if actual != manifest.sha256:
        raise ModelArtifactError(
            f"{model_path}: sha256 {actual} does not match the manifest's {manifest.sha256}; "
            "refusing to load a file that changed after it was written"
        )
    here = library_versions()
    mismatches = [
        f"{name} {manifest.versions.get(name, '?')} (model) vs {here[name]} (here)"
        for name in _STRICT
        if manifest.versions.get(name) != here[name]
    ]
    if mismatches:
        raise ModelArtifactError(
            f"{directory}: built with different library versions: {'; '.join(mismatches)}. "
            "Retrain the model or install the versions it was built with."
        )
    return manifest


def load(directory: Path) -> tuple[MessageClassifier, Manifest]:
    manifest = verify(directory)
    pipeline = joblib.load(directory / MODEL_FILE)
    classifier = MessageClassifier(pipeline, tau_promo=manifest.tau_promo, tau_conf=manifest.tau_conf)
    return classifier, manifest
