"""Choosing hyperparameters by group-aware cross-validation, then fitting the pipeline."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from model.classifier import (
    Hyperparameters,
    SmsNormalizer,
    build_estimator,
    build_features,
    build_pipeline,
)


@dataclass(frozen=True)
class SearchSpace:
    c: Sequence[float] = (2.0, 4.0, 8.0)
    char_ngram_max: Sequence[int] = (4, 5)
    folds: int = 3


@dataclass(frozen=True)
class TuningResult:
    best: Hyperparameters
    table: pd.DataFrame  # one row per candidate: params, mean and std macro-F1


def tune(
    frame: pd.DataFrame,
    base: Hyperparameters,
    space: SearchSpace,
    *,
    seed: int,
    progress: Callable[[str], Any] | None = None,
) -> TuningResult:
    """Grid search on training rows only, folds split by group so templates never straddle.

    Features are fitted inside each fold (never on the fold's own test rows) and shared
    by the candidates that only differ in C, which keeps the search within seconds.
    """
    texts = SmsNormalizer().transform(frame["text"])
    y = frame["label"].to_numpy()
    weights = frame["weight"].to_numpy()
    folds = list(GroupKFold(n_splits=space.folds).split(texts, y, frame["group"]))
    scores: dict[tuple[float, int], list[float]] = {}
    for k, (train_idx, test_idx) in enumerate(folds, start=1):
        for char_max in space.char_ngram_max:
            if progress:
                progress(f"cross-validation fold {k}/{len(folds)}, char n-grams up to {char_max}")
            hp = replace(base, char_ngram_max=char_max)
            features = build_features(hp)
            x_train = features.fit_transform([texts[i] for i in train_idx])
            x_test = features.transform([texts[i] for i in test_idx])
            for c in space.c:
                estimator = build_estimator(replace(hp, c=c), seed)
                estimator.fit(x_train, y[train_idx], sample_weight=weights[train_idx])
                predicted = estimator.predict(x_test)
                scores.setdefault((c, char_max), []).append(
                    float(f1_score(y[test_idx], predicted, average="macro"))
                )
    rows = [
        {
            "c": c,
            "char_ngram_max": char_max,
            "macro_f1_mean": float(np.mean(v)),
            "macro_f1_std": float(np.std(v)),
        }
        for (c, char_max), v in scores.items()
    ]
    table = pd.DataFrame(rows).sort_values("macro_f1_mean", ascending=False, kind="stable")
    top = table.iloc[0]
    best = replace(base, c=float(top["c"]), char_ngram_max=int(top["char_ngram_max"]))
    return TuningResult(best=best, table=table.reset_index(drop=True))


def fit(frame: pd.DataFrame, hp: Hyperparameters, *, seed: int, calibration_folds: int = 3) -> Pipeline:
    """Fit the full pipeline; calibration folds are group-aware as well."""
    splits = list(GroupKFold(n_splits=calibration_folds).split(frame["text"], frame["label"], frame["group"]))
    pipeline = build_pipeline(hp, seed, calibration_cv=splits)
    pipeline.fit(
        list(frame["text"]),
        frame["label"].to_numpy(),
        classifier__sample_weight=frame["weight"].to_numpy(),
    )
    # The fold indices were only needed while fitting; don't ship them inside the model.
    pipeline.named_steps["classifier"].cv = calibration_folds
    return pipeline


def grid_size(space: SearchSpace) -> int:
    return len(list(itertools.product(space.c, space.char_ngram_max)))
