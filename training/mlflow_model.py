"""The MLflow pyfunc model, logged as "model from code" so nothing of ours is pickled by MLflow.

MLflow executes this file when it loads the model (``mlflow models serve``, ``spark_udf``,
``mlflow.pyfunc.load_model``); the ``model`` package travels with it via ``code_paths``
and the classifier itself is the manifest-checked artifact directory.

Input: a DataFrame with a ``text`` column. Output: ``message_type``, one ``p_<label>``
column per class and ``treated_as``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel, PythonModelContext


class SendgateMessageType(PythonModel):  # type: ignore[misc]
    def load_context(self, context: PythonModelContext) -> None:
        from model.artifact import load

        self.classifier, self.manifest = load(Path(context.artifacts["classifier"]))

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from model.labels import LABELS

        texts = [str(t) for t in model_input["text"]]
        results = self.classifier.classify(texts)
        out: dict[str, list[Any]] = {"message_type": [r.message_type for r in results]}
        for label in LABELS:
            out[f"p_{label}"] = [r.probabilities[label] for r in results]
        out["treated_as"] = [r.treated_as for r in results]
        return pd.DataFrame(out)


mlflow.models.set_model(SendgateMessageType())
