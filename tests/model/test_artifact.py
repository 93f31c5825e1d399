"""Persistence: the manifest guards joblib.load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model import artifact
from model.classifier import MessageClassifier


def _saved(classifier: MessageClassifier, directory: Path) -> Path:
    artifact.save(classifier, directory, data_digest="d" * 64, metrics={"test_macro_f1": 0.9})
    return directory


def test_round_trip_keeps_predictions_and_thresholds(
    seed_classifier: MessageClassifier, tmp_path: Path
) -> None:
    """A saved and re-loaded model predicts the same and keeps tau_promo."""
    loaded, manifest = artifact.load(_saved(seed_classifier, tmp_path / "m"))
    texts = ["Your code is 1234", "Sale now on"]
    assert loaded.predict_proba(texts).tolist() == seed_classifier.predict_proba(texts).tolist()
    assert loaded.tau_promo == seed_classifier.tau_promo
    assert manifest.classes == ["promotional", "transactional", "conversational"]
    assert manifest.versions["scikit-learn"]


def test_changed_model_file_is_refused(seed_classifier: MessageClassifier, tmp_path: Path) -> None:
    """A model file whose sha256 differs from the manifest is never unpickled."""
    directory = _saved(seed_classifier, tmp_path / "m")
    with (directory / artifact.MODEL_FILE).open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(artifact.ModelArtifactError, match="sha256"):
        artifact.load(directory)


def test_other_library_versions_are_refused(seed_classifier: MessageClassifier, tmp_path: Path) -> None:
    """A model built with another scikit-learn version is refused, naming the library."""
    directory = _saved(seed_classifier, tmp_path / "m")
    path = directory / artifact.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["versions"]["scikit-learn"] = "0.24.2"
    path.write_text(json.dumps(manifest))
    with pytest.raises(artifact.ModelArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifact.load(directory)


def test_directory_without_manifest_is_refused(tmp_path: Path) -> None:
    """A directory that is not a sendgate model says so."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(artifact.ModelArtifactError, match="manifest"):
        artifact.load(tmp_path / "empty")


def test_corrupt_manifest_is_refused(seed_classifier: MessageClassifier, tmp_path: Path) -> None:
    """A manifest that is not valid JSON gives a clear error, not a crash."""
    directory = _saved(seed_classifier, tmp_path / "m")
    (directory / artifact.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(artifact.ModelArtifactError, match="not a valid sendgate manifest"):
        artifact.load(directory)
