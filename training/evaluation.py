"""Metrics on a labelled set: pure functions of labels and probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from model.labels import LABELS, PROMOTIONAL, STRICTNESS

FloatArray = npt.NDArray[np.float64]
Labels = Sequence[str] | npt.NDArray[Any]
PROMO = LABELS.index(PROMOTIONAL)


def predicted_labels(proba: FloatArray) -> list[str]:
    # Ties go to the stricter label, as in model.labels.top_label.
    strict = np.array([STRICTNESS[label] for label in LABELS]) * 1e-12
    return [LABELS[i] for i in np.argmax(proba + strict, axis=1)]


def treated_promotional(proba: FloatArray, tau_promo: float) -> npt.NDArray[np.bool_]:
    top = np.array(predicted_labels(proba)) == PROMOTIONAL
    return np.asarray(top | (proba[:, PROMO] >= tau_promo), dtype=np.bool_)


def choose_tau_promo(
    y_true: Sequence[str],
    proba: FloatArray,
    *,
    recall_target: float,
    ceiling: float,
    floor: float = 0.05,
) -> float:
    """The highest tau (at most ``ceiling``) that keeps promotional recall >= target.

    Promotional messages the model already labels promotional need no threshold; tau only
    has to catch the rest. The floor stops one badly-missed example from making every
    message promotional; when it binds, the validation recall is below target and the
    report says so.
    """
    truth = np.asarray(y_true) == PROMOTIONAL
    n_promo = int(truth.sum())
    if n_promo == 0:
        return ceiling
    top_promo = np.array(predicted_labels(proba)) == PROMOTIONAL
    missed = np.sort(proba[truth & ~top_promo, PROMO])
    allowed = int(np.floor((1.0 - recall_target) * n_promo))
    if len(missed) <= allowed:
        return ceiling
    return float(np.clip(missed[len(missed) - (len(missed) - allowed)], floor, ceiling))


def expected_calibration_error(y_true: Labels, proba: FloatArray, bins: int = 15) -> float:
    """Top-label ECE: the gap between confidence and accuracy, weighted over bins."""
    confidence = proba.max(axis=1)
    correct = np.array(predicted_labels(proba)) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


@dataclass
class Report:
    n: int
    macro_f1: float
    accuracy: float
    log_loss: float
    ece: float
    promo_leak_rate: float | None
    false_promotional_rate: float | None
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    tau_promo: float
    labels_present: list[str] = field(default_factory=list)

    def flat_metrics(self, prefix: str = "") -> dict[str, float]:
        out = {
            f"{prefix}macro_f1": self.macro_f1,
            f"{prefix}accuracy": self.accuracy,
            f"{prefix}log_loss": self.log_loss,
            f"{prefix}ece": self.ece,
            f"{prefix}n": float(self.n),
        }
        if self.promo_leak_rate is not None:
            out[f"{prefix}promo_leak_rate"] = self.promo_leak_rate
        if self.false_promotional_rate is not None:
            out[f"{prefix}false_promotional_rate"] = self.false_promotional_rate
        for label, scores in self.per_class.items():
            for name, value in scores.items():
                out[f"{prefix}{label}_{name}"] = value
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "log_loss": self.log_loss,
            "ece": self.ece,
            "promo_leak_rate": self.promo_leak_rate,
            "false_promotional_rate": self.false_promotional_rate,
            "per_class": self.per_class,
            "confusion": {"labels": list(LABELS), "matrix": self.confusion},
            "tau_promo": self.tau_promo,
        }


def evaluate(y_true: Labels, proba: FloatArray, tau_promo: float) -> Report:
    """All metrics of issue 2 for one labelled set.

    Macro-F1 averages over the labels present in ``y_true`` so that a single-class source
    (as in the leave-one-source-out table) is not scored on classes it cannot contain.
    """
    truth = np.asarray(y_true)
    predicted = np.array(predicted_labels(proba))
    present = [label for label in LABELS if (truth == label).any()]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(LABELS), zero_division=0
    )
    per_class = {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": float(support[i]),
        }
        for i, label in enumerate(LABELS)
    }
    treated = treated_promotional(proba, tau_promo)
    is_promo = truth == PROMOTIONAL
    leak = float((~treated[is_promo]).mean()) if is_promo.any() else None
    false_promo = float(treated[~is_promo].mean()) if (~is_promo).any() else None
    label_index = np.array([LABELS.index(label) for label in truth])
    clipped = np.clip(proba, 1e-12, 1.0)
    return Report(
        n=len(truth),
        macro_f1=float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)),
        accuracy=float((truth == predicted).mean()),
        log_loss=float(
            log_loss(
                label_index, clipped / clipped.sum(axis=1, keepdims=True), labels=list(range(len(LABELS)))
            )
        ),
        ece=expected_calibration_error(truth, proba),
        promo_leak_rate=leak,
        false_promotional_rate=false_promo,
        per_class=per_class,
        confusion=confusion_matrix(truth, predicted, labels=list(LABELS)).tolist(),
        tau_promo=tau_promo,
        labels_present=present,
    )


def per_source_table(frame: pd.DataFrame, proba: FloatArray, tau_promo: float) -> pd.DataFrame:
    """One row per source: size, macro-F1 over its labels, accuracy, promotional leak."""
    rows = []
    for source, index in frame.groupby("source").indices.items():
        report = evaluate(frame["label"].to_numpy()[index], proba[index], tau_promo)
        rows.append(
            {
                "source": source,
                "n": report.n,
                "labels": "/".join(label[:5] for label in report.labels_present),
                "macro_f1": round(report.macro_f1, 4),
                "accuracy": round(report.accuracy, 4),
                "promo_leak_rate": None
                if report.promo_leak_rate is None
                else round(report.promo_leak_rate, 4),
            }
        )
    return pd.DataFrame(rows)


def format_report(report: Report, title: str) -> str:
    """A plain-text report for terminals and the MLflow artifact."""
    lines = [
        title,
        f"  messages: {report.n}",
        f"  macro-F1: {report.macro_f1:.4f}   accuracy: {report.accuracy:.4f}",
        f"  log loss: {report.log_loss:.4f}   calibration error (ECE): {report.ece:.4f}",
    ]
    if report.promo_leak_rate is not None:
        lines.append(
            f"  promotional leak rate: {report.promo_leak_rate:.4f} (tau_promo={report.tau_promo:.3f})"
        )
    if report.false_promotional_rate is not None:
        lines.append(f"  non-promotional treated as promotional: {report.false_promotional_rate:.4f}")
    lines.append(f"  {'class':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, scores in report.per_class.items():
        lines.append(
            f"  {label:<16}{scores['precision']:>10.4f}{scores['recall']:>10.4f}"
            f"{scores['f1']:>10.4f}{int(scores['support']):>10d}"
        )
    lines.append("  confusion (rows: true, columns: predicted " + ", ".join(LABELS) + ")")
    for label, row in zip(LABELS, report.confusion, strict=True):
        lines.append(f"  {label:<16}" + "".join(f"{v:>10d}" for v in row))
    return "\n".join(lines)
