"""Leave-one-source-out: train without a source, score on all of it.

This is the honest estimate of how the model does on senders it has never seen, which is
what matters in production; scores on the mixed test split are always higher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from model.classifier import Hyperparameters, MessageClassifier
from model.labels import LABELS
from model.settings import Settings
from training.evaluation import choose_tau_promo, evaluate
from training.fitting import fit
from training.prepare import PreparedData
from training.split import split


def leave_one_source_out(
    data: PreparedData,
    settings: Settings,
    hp: Hyperparameters,
    progress: Callable[[str], Any] | None = None,
) -> pd.DataFrame:
    rows = []
    frame = data.frame
    for source in sorted(frame["source"].unique()):
        if progress:
            progress(f"training without {source}")
        rest = frame[frame["source"] != source]
        held = frame[frame["source"] == source]
        if rest["label"].nunique() < len(LABELS):
            missing = sorted(set(LABELS) - set(rest["label"]))
            rows.append({"left_out": source, "n": len(held), "note": f"rest lacks {missing}"})
            continue
        parts = split(rest, test_percent=0, validation_percent=settings.validation_percent)
        pipeline = fit(parts["train"], hp, seed=settings.random_seed)
        provisional = MessageClassifier(
            pipeline, tau_promo=settings.tau_promo_default, tau_conf=settings.tau_conf_default
        )
        tau = choose_tau_promo(
            parts["validation"]["label"].tolist(),
            provisional.predict_proba(parts["validation"]["text"].tolist()),
            recall_target=settings.promo_recall_target,
            ceiling=settings.tau_promo_default,
        )
        proba = provisional.predict_proba(held["text"].tolist())
        report = evaluate(held["label"].tolist(), proba, tau)
        row: dict[str, Any] = {
            "left_out": source,
            "n": report.n,
            "labels": "/".join(
                f"{label[:5]}={int((held['label'] == label).sum())}" for label in report.labels_present
            ),
            "macro_f1": round(report.macro_f1, 4),
            "accuracy": round(report.accuracy, 4),
        }
        for label in report.labels_present:
            row[f"{label}_recall"] = round(report.per_class[label]["recall"], 4)
        row["promo_leak_rate"] = None if report.promo_leak_rate is None else round(report.promo_leak_rate, 4)
        row["tau_promo"] = round(tau, 4)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.replace({np.nan: None})


def to_markdown(table: pd.DataFrame) -> str:
    columns = list(table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in table.itertuples(index=False):
        lines.append("| " + " | ".join("" if v is None else str(v) for v in record) + " |")
    return "\n".join(lines)
