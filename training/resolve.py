"""Turning a user's model reference into a loaded, manifest-checked classifier."""

from __future__ import annotations

from pathlib import Path

from model import artifact
from model.artifact import Manifest
from model.classifier import MessageClassifier
from model.settings import Settings
from training import tracking


def load_model(settings: Settings, reference: str | None) -> tuple[MessageClassifier, Manifest, str]:
    """Load ``reference``: a classifier directory, a ``models:/`` or ``runs:/`` URI, or
    (None) the registry's champion. Returns the classifier, its manifest and a label."""
    if reference is None:
        tracking.configure(settings)
        reference = settings.champion_uri
    if reference.startswith(("models:/", "runs:/")):
        tracking.configure(settings)
        directory = tracking.download_classifier(reference)
    else:
        directory = Path(reference).expanduser()
        if (directory / "artifacts" / "classifier").is_dir():
            directory = directory / "artifacts" / "classifier"
        if not directory.is_dir():
            raise artifact.ModelArtifactError(f"{reference}: no such model directory")
    classifier, manifest = artifact.load(directory)
    return classifier, manifest, reference
