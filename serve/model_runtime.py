"""The served model: loaded once, swapped atomically, never half-replaced.

Requests take a reference to the current ``LoadedModel`` and keep it for their whole
life, so a reload never fails or mixes an in-flight request.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model import artifact
from model.artifact import Manifest, ModelArtifactError
from model.classifier import MessageClassifier
from model.settings import Settings

log = logging.getLogger("sendgate.model")


@dataclass(frozen=True)
class LoadedModel:
    classifier: MessageClassifier
    manifest: Manifest
    version: str  # "sendgate-clf/7", or "file:<sha256 prefix>" for a configured path


class ModelUnavailable(Exception):
    pass


class ModelHolder:
    def __init__(self, settings: Settings, on_load: Callable[[LoadedModel], object] | None = None) -> None:
        self._settings = settings
        self._on_load = on_load
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedModel:
        model = self._current
        if model is None:
            raise ModelUnavailable(self.last_error or "no model loaded")
        return model

    @property
    def ready(self) -> bool:
        return self._current is not None

    def reload(self) -> LoadedModel:
        """Load the configured model; on failure keep serving the previous one."""
        with self._lock:
            try:
                loaded = self._load()
            except Exception as exc:  # any failure keeps the previous model serving
                self.last_error = f"model load failed: {exc}"
                log.error("model load failed", extra={"error": str(exc)})
                raise ModelUnavailable(self.last_error) from exc
            self._current = loaded  # one reference assignment: atomic for readers
            self.last_error = None
            if self._on_load is not None:
                self._on_load(loaded)
            log.info("model loaded", extra={"model_version": loaded.version})
            return loaded

    def _load(self) -> LoadedModel:
        if self._settings.model_path is not None:
            classifier, manifest = artifact.load(self._settings.model_path)
            return LoadedModel(classifier, manifest, f"file:{manifest.sha256[:12]}")
        return self._load_champion()

    def _load_champion(self) -> LoadedModel:
        import mlflow
        from mlflow.tracking import MlflowClient

        s = self._settings
        mlflow.set_tracking_uri(s.tracking_uri)
        client = MlflowClient(tracking_uri=s.tracking_uri, registry_uri=s.tracking_uri)
        version = client.get_model_version_by_alias(s.registered_model_name, s.champion_alias)
        target = Path(tempfile.mkdtemp(prefix="sendgate-serving-"))
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{s.registered_model_name}/{version.version}", dst_path=str(target)
            )
        )
        manifests = sorted(local.rglob(artifact.MANIFEST_FILE))
        if not manifests:
            raise ModelArtifactError(f"registered version {version.version} holds no sendgate classifier")
        classifier, manifest = artifact.load(manifests[0].parent)
        return LoadedModel(classifier, manifest, f"{s.registered_model_name}/{version.version}")
