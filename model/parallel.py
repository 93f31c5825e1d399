"""Scoring a large batch on several processes (an archive, a benchmark; not the send path).

Each worker is forked after the model is loaded, so it shares the fitted pipeline's memory
copy-on-write instead of loading or unpickling it again. Only texts go out and three
probabilities per text come back. Fork is used on purpose: call this from a command-line
process, not from inside a threaded server.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

import numpy as np

from model.classifier import Classification, FloatArray, MessageClassifier
from model.gc_tuning import settle_after_load

# Large enough that a worker's per-call overhead is noise, small enough to keep every
# worker busy until the end of a batch.
CHUNK = 2_000

_worker_classifier: MessageClassifier | None = None


def _adopt(classifier: MessageClassifier) -> None:
    global _worker_classifier
    _worker_classifier = classifier
    settle_after_load()


def _score(texts: list[str]) -> FloatArray:
    assert _worker_classifier is not None, "worker started without a classifier"
    return _worker_classifier.predict_proba(texts)


class ScoringPool:
    """``with ScoringPool(classifier, workers=2) as pool: pool.classify(texts)``."""

    def __init__(self, classifier: MessageClassifier, workers: int | None = None) -> None:
        self.classifier = classifier
        self.workers = workers or os.cpu_count() or 1
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_adopt,
            initargs=(classifier,),  # inherited through fork, never pickled
        )

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 3))
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        return np.vstack(list(self._executor.map(_score, chunks)))

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [self.classifier.classification(row) for row in self.predict_proba(texts)]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
