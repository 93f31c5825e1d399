"""A per-message fast path over a fitted pipeline: one feature pass, no sklearn call overhead.

scikit-learn spends most of a single-message predict on input validation, sparse-matrix
assembly and dispatch, not on arithmetic. For the send path we read the fitted
vocabularies, idf weights, coefficients and calibration temperature once, and compute the
same TF-IDF -> logits -> temperature softmax by hand. The numbers match
``pipeline.predict_proba`` to float32 precision (tests/model/test_fast.py); the
explanation comes from the same feature pass, so classify + explain costs one pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from model.labels import LABELS
from model.normalize import display_token, normalize

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Block:
    """One fitted TF-IDF vectoriser, reduced to what scoring needs."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: FloatArray
    offset: int  # where this block's columns start in the union
    sublinear: bool

    def features(self, document: str) -> tuple[list[int], FloatArray]:
        counts = Counter(t for t in self.analyze(document) if t in self.vocabulary)
        if not counts:
            return [], np.zeros(0)
        columns = [self.vocabulary[t] for t in counts]
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear:
            tf = 1.0 + np.log(tf)
        values = tf * self.idf[columns]
        norm = float(np.sqrt(values @ values))
        if norm > 0:
            values /= norm
        return [self.offset + c for c in columns], values


@dataclass(frozen=True)
class Scored:
    probabilities: FloatArray  # LABELS order
    columns: npt.NDArray[np.intp]
    values: FloatArray


class FastScorer:
    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.named_steps["features"]
        if union.transformer_weights:
            raise ValueError("weighted feature unions are not supported by the fast path")
        blocks, offset = [], 0
        for _, vectorizer in union.transformer_list:
            if not isinstance(vectorizer, TfidfVectorizer) or vectorizer.norm != "l2":
                raise ValueError("the fast path needs l2-normalised TfidfVectorizers")
            blocks.append(
                _Block(
                    analyze=vectorizer.build_analyzer(),
                    vocabulary=dict(vectorizer.vocabulary_),
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    offset=offset,
                    sublinear=bool(vectorizer.sublinear_tf),
                )
            )
            offset += len(vectorizer.vocabulary_)
        self._blocks = tuple(blocks)
        self.word_features = len(blocks[0].vocabulary)
        calibrated = pipeline.named_steps["classifier"]
        if not isinstance(calibrated, CalibratedClassifierCV) or calibrated.method != "temperature":
            raise ValueError("the fast path needs temperature calibration")
        inner = calibrated.calibrated_classifiers_[0]
        linear = inner.estimator
        if not isinstance(linear, LogisticRegression) or len(inner.calibrators) != 1:
            raise ValueError("the fast path needs one multinomial logistic regression")
        # Columns of the weight matrix follow pipeline.classes_; reorder to LABELS once.
        classes = [str(c) for c in pipeline.classes_]
        order = [classes.index(label) for label in LABELS]
        coef = np.asarray(linear.coef_, dtype=np.float64)[order]
        self._weights = np.ascontiguousarray(coef.T)  # (features, classes): row gather is cheap
        self._relative = self._weights - self._weights.mean(axis=1, keepdims=True)
        self._intercept = np.asarray(linear.intercept_, dtype=np.float64)[order]
        self._beta = float(inner.calibrators[0].beta_)
        names = union.transformer_list[0][1].get_feature_names_out()
        self._word_names = [str(n) for n in names]

    def score(self, text: str) -> Scored:
        document = normalize(text)
        columns: list[int] = []
        parts: list[FloatArray] = []
        for block in self._blocks:
            c, v = block.features(document)
            columns.extend(c)
            parts.append(v)
        index = np.asarray(columns, dtype=np.intp)
        values = np.concatenate(parts) if parts else np.zeros(0)
        logits = values @ self._weights[index] + self._intercept
        scaled = self._beta * logits
        scaled -= scaled.max()
        exp = np.exp(scaled)
        return Scored(exp / exp.sum(), index, values)

    def explain(self, scored: Scored, label_index: int, n: int) -> list[tuple[str, float]]:
        """Word n-grams with a positive push towards the label, strongest first."""
        words = scored.columns < self.word_features
        columns = scored.columns[words]
        weights = scored.values[words] * self._relative[columns, label_index]
        top = np.argsort(-weights)[:n]
        return [
            (display_token(self._word_names[int(columns[i])]), round(float(weights[i]), 4))
            for i in top
            if weights[i] > 0
        ]
