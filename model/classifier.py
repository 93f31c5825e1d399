"""The message-type classifier: a scikit-learn Pipeline and the object that serves it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from model.fast import FastScorer
from model.labels import LABELS, PROMOTIONAL, top_label, treated_as
from model.normalize import TOKEN_PATTERN, display_token, normalize

FloatArray = npt.NDArray[np.float64]
# Up to this many texts, scoring message by message beats building sparse matrices; above
# it the batch path (model/fast.py score_batch) wins. Both give scikit-learn's numbers.
FAST_PATH_MAX_BATCH = 16


class SmsNormalizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Pipeline step applying :func:`model.normalize.normalize` to each text."""

    def fit(self, texts: Iterable[str], y: object = None) -> SmsNormalizer:
        return self

    def transform(self, texts: Iterable[str]) -> list[str]:
        return [normalize(text) for text in texts]


@dataclass(frozen=True)
class Hyperparameters:
    c: float = 4.0
    word_ngram_max: int = 2
    char_ngram_max: int = 5
    min_df: int = 2
    max_features_word: int = 200_000
    max_features_char: int = 300_000

    def as_params(self) -> dict[str, float | int]:
        return {
            "c": self.c,
            "word_ngram_max": self.word_ngram_max,
            "char_ngram_max": self.char_ngram_max,
            "min_df": self.min_df,
            "max_features_word": self.max_features_word,
            "max_features_char": self.max_features_char,
        }


def build_features(hp: Hyperparameters) -> FeatureUnion:
    word = TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, hp.word_ngram_max),
        min_df=hp.min_df,
        max_features=hp.max_features_word,
        sublinear_tf=True,
        strip_accents="unicode",
        lowercase=False,  # normalize() already lower-cased, keeping <tokens> intact
        dtype=np.float32,
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, hp.char_ngram_max),
        min_df=hp.min_df,
        max_features=hp.max_features_char,
        sublinear_tf=True,
        strip_accents="unicode",
        lowercase=False,
        dtype=np.float32,
    )
    return FeatureUnion([("word", word), ("char", char)])


def build_estimator(hp: Hyperparameters, random_state: int) -> LogisticRegression:
    return LogisticRegression(C=hp.c, class_weight="balanced", max_iter=2000, random_state=random_state)


def build_pipeline(hp: Hyperparameters, random_state: int, calibration_cv: Any = 3) -> Pipeline:
    """Normalise, featurise (word + char TF-IDF), classify, calibrate by temperature.

    Temperature scaling keeps the ranking of the logistic regression (so the explanation
    stays faithful) while fixing the over-confidence that class weights introduce.
    """
    calibrated = CalibratedClassifierCV(
        build_estimator(hp, random_state),
        method="temperature",
        cv=calibration_cv,
        ensemble=False,
    )
    return Pipeline(
        [
            ("normalize", SmsNormalizer()),
            ("features", build_features(hp)),
            ("classifier", calibrated),
        ]
    )


@dataclass(frozen=True)
class Classification:
    message_type: str
    probabilities: dict[str, float]
    treated_as: str


@dataclass(frozen=True)
class Contribution:
    feature: str
    weight: float


class MessageClassifier:
    """A fitted pipeline plus the thresholds the rules use (tau_promo, tau_conf)."""

    def __init__(self, pipeline: Pipeline, *, tau_promo: float, tau_conf: float) -> None:
        self.pipeline = pipeline
        self.tau_promo = tau_promo
        self.tau_conf = tau_conf
        classes = [str(c) for c in pipeline.classes_]
        if sorted(classes) != sorted(LABELS):
            raise ValueError(f"model classes {classes} are not {list(LABELS)}")
        # Column order of predict_proba mapped onto the fixed LABELS order.
        self._order = [classes.index(label) for label in LABELS]
        self._linear = _linear_model(pipeline)
        self._word_names = _word_feature_names(pipeline)
        self._word_count = len(self._word_names)
        try:
            self._fast: FastScorer | None = FastScorer(pipeline)
        except ValueError:
            self._fast = None  # an unusual pipeline: always take scikit-learn's path

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Probabilities with columns in ``LABELS`` order."""
        texts = list(texts)
        if self._fast is not None:
            if len(texts) <= FAST_PATH_MAX_BATCH:
                return np.array([self._fast.score(t).probabilities for t in texts]).reshape(-1, len(LABELS))
            return self._fast.score_batch(texts)
        proba = self.pipeline.predict_proba(texts)
        return np.asarray(proba[:, self._order], dtype=np.float64)

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [self.classification(row) for row in self.predict_proba(texts)]

    def classification(self, row: FloatArray) -> Classification:
        """The label and treatment for one row of ``predict_proba``."""
        probabilities = {label: float(p) for label, p in zip(LABELS, row, strict=True)}
        return Classification(
            message_type=top_label(probabilities),
            probabilities=probabilities,
            treated_as=treated_as(probabilities, self.tau_promo),
        )

    def classify_explained(self, text: str, n: int = 8) -> tuple[Classification, list[Contribution]]:
        """Label and explanation from one feature pass (the send path calls this)."""
        if self._fast is None:
            result = self.classify([text])[0]
            return result, self.explain(text, n=n, label=result.message_type)
        scored = self._fast.score(text)
        result = self.classification(scored.probabilities)
        pairs = self._fast.explain(scored, LABELS.index(result.message_type), n)
        return result, [Contribution(feature=f, weight=w) for f, w in pairs]

    def classify_explained_batch(
        self, texts: Sequence[str], n: int = 8
    ) -> list[tuple[Classification, list[Contribution]]]:
        """``classify_explained`` for many texts, with one vectorised feature pass."""
        texts = list(texts)
        if self._fast is None or len(texts) <= FAST_PATH_MAX_BATCH:
            return [self.classify_explained(text, n=n) for text in texts]
        fast = self._fast
        _, rows = fast.score_batch_rows(texts)
        out = []
        for scored in rows:
            result = self.classification(scored.probabilities)
            pairs = fast.explain(scored, LABELS.index(result.message_type), n)
            out.append((result, [Contribution(feature=f, weight=w) for f, w in pairs]))
        return out

    def explain(self, text: str, n: int = 8, label: str | None = None) -> list[Contribution]:
        """The word n-grams that pushed this text towards ``label`` (default: its top label).

        The weight of a feature is its TF-IDF value times its coefficient for the label
        minus the mean coefficient over labels, i.e. its share of the label's log-odds
        against the average. Character n-grams also count in the model but are not shown,
        because a reviewer cannot read " fre" as a reason.
        """
        if label is None:
            label = self.classify([text])[0].message_type
        if self._fast is not None:
            pairs = self._fast.explain(self._fast.score(text), LABELS.index(label), n)
            return [Contribution(feature=f, weight=w) for f, w in pairs]
        normalized = self.pipeline.named_steps["normalize"].transform([text])
        features = self.pipeline.named_steps["features"].transform(normalized).tocsr()
        coef = self._linear.coef_
        # The calibrator fits its inner model on encoded labels; rows follow pipeline.classes_.
        k = [str(c) for c in self.pipeline.classes_].index(label)
        relative = coef[k] - coef.mean(axis=0)
        row = features[0]
        items = [
            (int(j), float(v) * float(relative[j]))
            for j, v in zip(row.indices, row.data, strict=True)
            if j < self._word_count
        ]
        items = [item for item in items if item[1] > 0]
        items.sort(key=lambda item: item[1], reverse=True)
        return [
            Contribution(feature=display_token(self._word_names[j]), weight=round(w, 4)) for j, w in items[:n]
        ]

    @property
    def promotional_index(self) -> int:
        return LABELS.index(PROMOTIONAL)


def _linear_model(pipeline: Pipeline) -> LogisticRegression:
    classifier = pipeline.named_steps["classifier"]
    if isinstance(classifier, CalibratedClassifierCV):
        estimator = classifier.calibrated_classifiers_[0].estimator
    else:
        estimator = classifier
    if not isinstance(estimator, LogisticRegression):
        raise TypeError(f"expected a LogisticRegression, found {type(estimator).__name__}")
    return estimator


def _word_feature_names(pipeline: Pipeline) -> list[str]:
    features: FeatureUnion = pipeline.named_steps["features"]
    word = dict(features.transformer_list)["word"]
    return [str(name) for name in word.get_feature_names_out()]
