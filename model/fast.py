"""A per-message fast path over a fitted pipeline: one feature pass, no sklearn call overhead.

scikit-learn spends most of a single-message predict on input validation, sparse-matrix
assembly and dispatch, not on arithmetic. For the send path we read the fitted
vocabularies, idf weights, coefficients and calibration temperature once, and compute the
same TF-IDF -> logits -> temperature softmax by hand. The numbers match
``pipeline.predict_proba`` to float32 precision (tests/model/test_fast.py); the
explanation comes from the same feature pass, so classify + explain costs one pass.

Batches (``score_batch``) build one sparse matrix per block instead. Both analysers
decompose over whitespace-separated words (char_wb n-grams never cross a space, and
neither do word tokens), so each distinct word is analysed once and its columns are
cached: after warm-up a message costs its normalisation plus a few dict lookups.

The single path keeps one cache for all blocks (one lookup per word, columns already in
union space) and one table row [idf, weights] per column, and sorts and counts all of a
message's columns at once: in the server the model's data is mostly out of the CPU caches
when a message arrives, so memory reads and numpy calls are what a message costs.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from operator import itemgetter
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import normalize as normalize_rows

from model.labels import LABELS
from model.normalize import display_token, normalize

FloatArray = npt.NDArray[np.float64]


# Distinct words whose columns a block keeps; a vocabulary of real traffic stays far
# below this, and the cache is simply emptied if an adversarial stream fills it.
WORD_CACHE_SIZE = 500_000


@dataclass(frozen=True)
class _Block:
    """One fitted TF-IDF vectoriser, reduced to what scoring needs."""

    vocabulary: dict[str, int]
    idf: FloatArray
    offset: int  # where this block's columns start in the union
    sublinear: bool
    # What one whitespace-separated word contributes: its char_wb n-grams, or (word
    # block) its tokens, which are joined into n-grams per message since those span words.
    analyze_word: Callable[[str], list[str]]
    char_wb: bool
    ngram_max: int
    # char_wb only: the analyser leaves an ASCII word as it is (no lower-casing, custom
    # preprocessor or accent to strip), so its n-grams can be cut by position directly.
    ascii_as_is: bool = False
    ngram_min: int = 1
    # word -> (its tokens, the columns of what lies inside it), filled on first sight
    _cache: dict[str, tuple[tuple[str, ...], array[int]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    # padded word length -> the slices that cut its char_wb n-grams, in sklearn's order
    _slices: dict[int, tuple[slice, ...]] = field(default_factory=dict, compare=False, repr=False)

    def _char_wb_slices(self, length: int) -> tuple[slice, ...]:
        # The loop of sklearn's _char_wb_ngrams, recording positions instead of strings:
        # a word shorter than n is taken once, whole, and longer n-grams are skipped.
        slices: list[slice] = []
        for n in range(self.ngram_min, self.ngram_max + 1):
            offset = 0
            slices.append(slice(offset, offset + n))
            while offset + n < length:
                offset += 1
                slices.append(slice(offset, offset + n))
            if offset == 0:
                break
        self._slices[length] = cut = tuple(slices)
        return cut

    def analyse(self, word: str, offset: int = 0) -> tuple[tuple[str, ...], array[int]]:
        """What ``word`` contributes: its tokens (word block, for n-grams that span words)
        and the columns, plus ``offset``, of the n-grams that lie inside it."""
        get = self.vocabulary.get
        if self.char_wb:
            # A new word costs more than a cached one many times over (about two per
            # message stay new), so the common ASCII case skips the analyser's
            # per-character Python loop: slicing and lookups run in C via map().
            if self.ascii_as_is and word.isascii():
                padded = f" {word} "
                slices = self._slices.get(len(padded)) or self._char_wb_slices(len(padded))
                grams: Iterable[str] = map(padded.__getitem__, slices)
            else:
                grams = self.analyze_word(word)
            # Only the columns are kept: char n-grams never combine across words.
            return (), array("q", [c + offset for c in map(get, grams) if c is not None])
        # word block: its unigrams (n-grams of two or more tokens are looked up per
        # message, as they may span words).
        tokens = tuple(self.analyze_word(word))
        return tokens, array("q", [c + offset for c in map(get, tokens) if c is not None])

    def _word_part(self, word: str) -> tuple[tuple[str, ...], array[int]]:
        part = self._cache.get(word)
        if part is None:
            part = self.analyse(word)
            with self._lock:
                if len(self._cache) >= WORD_CACHE_SIZE:
                    self._cache.clear()
                self._cache[word] = part
        return part

    def add_spanning_ngrams(self, tokens: list[str], columns: array[int]) -> None:
        """Append the columns of the n-grams of two or more ``tokens`` (word block)."""
        get = self.vocabulary.get
        if self.ngram_max == 2:  # the usual case: pairs without slicing
            columns.extend([c for c in map(get, map(" ".join, pairwise(tokens))) if c is not None])
            return
        for n in range(2, self.ngram_max + 1):
            for i in range(len(tokens) - n + 1):
                column = get(" ".join(tokens[i : i + n]))
                if column is not None:
                    columns.append(column)

    def _add_columns(self, document: str, columns: array[int]) -> None:
        cache = self._cache  # hits (nearly every word) skip the method call
        if self.char_wb or self.ngram_max == 1:
            for word in document.split():
                columns.extend((cache.get(word) or self._word_part(word))[1])
            return
        tokens: list[str] = []
        for word in document.split():
            word_tokens, word_columns = cache.get(word) or self._word_part(word)
            tokens.extend(word_tokens)
            columns.extend(word_columns)
        self.add_spanning_ngrams(tokens, columns)

    def matrix(self, documents: Sequence[str]) -> sp.csr_matrix:
        """The l2-normalised TF-IDF rows of ``documents``, as the vectoriser computes them."""
        # array.array extends from the cached arrays by memcpy and hands numpy its buffer
        # without a copy; a list of Python ints would cost more than the arithmetic.
        columns: array[int] = array("q")
        indptr: array[int] = array("q", [0])
        for document in documents:
            self._add_columns(document, columns)
            indptr.append(len(columns))
        indices = np.frombuffer(columns, dtype=np.int64) if len(columns) else np.zeros(0, dtype=np.int64)
        counts = sp.csr_matrix(
            (np.ones(len(indices)), indices, np.frombuffer(indptr, dtype=np.int64)),
            shape=(len(documents), len(self.vocabulary)),
        )
        counts.sum_duplicates()
        data = counts.data
        if self.sublinear:
            np.log(data, out=data)
            data += 1.0
        data *= self.idf[counts.indices]
        normalize_rows(counts, norm="l2", copy=False)
        return counts


def _sorted_counts(found: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The distinct values of non-empty ``found``, ascending, and how often each occurs.

    Sorting in numpy beats a Counter for the ~250 columns of a message (and a Counter
    would still leave keys and counts to copy into arrays). Direct ufunc calls and
    methods only: numpy's Python-level helpers (np.diff, np.flatnonzero) cost more than
    the arithmetic at this size.
    """
    ordered = np.sort(found)
    size = len(ordered)
    starts = np.empty(size + 1, dtype=bool)  # True where a run of equal values starts, then at the end
    starts[0] = True
    starts[size] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:size])
    bounds = starts.nonzero()[0]
    return ordered.take(bounds[:-1]), np.subtract(bounds[1:], bounds[:-1], dtype=np.float64)


class _WordEntry(NamedTuple):
    """What one word contributes to a message on the single path, for every block at once."""

    tokens: tuple[str, ...]  # for the word block's n-grams that span words
    # Union columns (int64) of the n-grams inside the word, all blocks. Bytes hold their
    # data inline, one object fewer to fetch per word than an array when caches are cold.
    columns: bytes


@dataclass(frozen=True)
class Scored:
    probabilities: FloatArray  # LABELS order
    # The word block's features (ascending columns, l2-normalised TF-IDF): what
    # ``explain`` shows. Character n-grams count in the score but are never shown.
    columns: npt.NDArray[np.intp]
    values: FloatArray


class FastScorer:
    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.named_steps["features"]
        if union.transformer_weights:
            raise ValueError("weighted feature unions are not supported by the fast path")
        blocks, offset = [], 0
        for position, (_, vectorizer) in enumerate(union.transformer_list):
            if not isinstance(vectorizer, TfidfVectorizer) or vectorizer.norm != "l2":
                raise ValueError("the fast path needs l2-normalised TfidfVectorizers")
            char_wb = vectorizer.analyzer == "char_wb"
            if not char_wb and (
                vectorizer.analyzer != "word" or vectorizer.ngram_range[0] != 1 or vectorizer.stop_words
            ):
                raise ValueError("the fast path handles char_wb and word (1, n) vectorisers only")
            if (position == 0) == char_wb:
                raise ValueError("the fast path needs the word block first and char_wb blocks after it")
            if char_wb:
                analyze_word = vectorizer.build_analyzer()
            else:
                preprocess, tokenize = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()

                def analyze_word(
                    word: str, p: Callable[[str], str] = preprocess, t: Callable[[str], list[str]] = tokenize
                ) -> list[str]:
                    return t(p(word))

            blocks.append(
                _Block(
                    vocabulary=dict(vectorizer.vocabulary_),
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    offset=offset,
                    sublinear=bool(vectorizer.sublinear_tf),
                    analyze_word=analyze_word,
                    char_wb=char_wb,
                    ngram_max=int(vectorizer.ngram_range[1]),
                    ascii_as_is=char_wb
                    and vectorizer.preprocessor is None
                    and not vectorizer.lowercase
                    and vectorizer.strip_accents in (None, "ascii", "unicode"),
                    ngram_min=int(vectorizer.ngram_range[0]),
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
        # Single path: one row per union column, [idf, weight per label], so that one
        # gather reads a column's idf and weights from one cache line (the server's other
        # work evicts the model between messages, so random reads are what a message costs).
        self._table = np.ascontiguousarray(
            np.column_stack([np.concatenate([block.idf for block in blocks]), self._weights])
        )
        # Where each block's columns end: its values are l2-normalised on their own.
        self._block_ends = np.array([b.offset + len(b.vocabulary) for b in blocks], dtype=np.intp)
        self._all_sublinear = all(block.sublinear for block in blocks)
        self._spanning = blocks[0] if blocks[0].ngram_max > 1 else None
        # word -> its _WordEntry, filled on first sight (the batch path keeps per-block caches)
        self._words: dict[str, _WordEntry] = {}
        self._words_lock = threading.Lock()
        relative = self._weights[: self.word_features] - self._weights[: self.word_features].mean(
            axis=1, keepdims=True
        )
        # One contiguous vector per label: explain gathers from a 1-d array.
        self._relative = tuple(np.ascontiguousarray(relative[:, k]) for k in range(len(LABELS)))
        self._intercept = np.asarray(linear.intercept_, dtype=np.float64)[order]
        self._beta = float(inner.calibrators[0].beta_)
        self._intercept_list = [float(x) for x in self._intercept]
        names = union.transformer_list[0][1].get_feature_names_out()
        self._display_names = [display_token(str(n)) for n in names]

    def _word_entry(self, word: str) -> _WordEntry:
        """Analyse a word not seen before with every block, and cache the result."""
        tokens: tuple[str, ...] = ()
        columns: array[int] = array("q")
        for block in self._blocks:
            block_tokens, block_columns = block.analyse(word, block.offset)
            if block is self._spanning:
                tokens = block_tokens
            columns.extend(block_columns)
        entry = _WordEntry(tokens, columns.tobytes())
        with self._words_lock:
            if len(self._words) >= WORD_CACHE_SIZE:
                self._words.clear()
            self._words[word] = entry
        return entry

    def _union_columns(self, document: str) -> array[int]:
        """The union column of every n-gram of ``document``, once per occurrence, unordered."""
        words = self._words  # hits (nearly every word) skip the method call
        columns: array[int] = array("q")
        spanning = self._spanning
        if spanning is None:
            for word in document.split():
                columns.frombytes((words.get(word) or self._word_entry(word)).columns)
            return columns
        tokens: list[str] = []
        for word in document.split():
            word_tokens, word_columns = words.get(word) or self._word_entry(word)
            tokens.extend(word_tokens)
            columns.frombytes(word_columns)
        spanning.add_spanning_ngrams(tokens, columns)  # the word block's offset is 0
        return columns

    def score(self, text: str) -> Scored:
        found = self._union_columns(normalize(text))
        if not found:
            return Scored(self._probabilities([0.0] * len(LABELS)), _NO_COLUMNS, _NO_VALUES)
        # array.array hands numpy its buffer without a copy.
        columns, values = _sorted_counts(np.frombuffer(found, dtype=np.int64))
        rows = self._table.take(columns, axis=0)  # (columns, 1 + labels), one read per column
        # Per block after sorting: word block columns first, then each char block's.
        ends = columns.searchsorted(self._block_ends).tolist()
        if self._all_sublinear:
            np.log(values, out=values)
            values += 1.0
        start = 0
        for end, block in zip(ends, self._blocks, strict=True):
            if start == end:
                continue
            tf = values[start:end]
            if block.sublinear and not self._all_sublinear:
                np.log(tf, out=tf)
                tf += 1.0
            tf *= rows[start:end, 0]
            # math.sqrt of the dot product: values stay what TfidfVectorizer computes.
            norm = math.sqrt(tf @ tf)
            if norm > 0:
                tf /= norm
            start = end
        # One product over [idf, weights...]: the first number (sum of values * idf) is unused.
        logits = (values @ rows).tolist()[1:]
        words = ends[0]
        return Scored(self._probabilities(logits), columns[:words], values[:words])

    def _probabilities(self, logits: list[float]) -> FloatArray:
        # Three numbers: Python floats are cheaper than five more numpy calls.
        beta = self._beta
        scaled = [beta * (a + b) for a, b in zip(logits, self._intercept_list, strict=True)]
        top = max(scaled)
        exp = [math.exp(x - top) for x in scaled]
        total = sum(exp)
        return np.array([x / total for x in exp])

    def score_batch(self, texts: Sequence[str]) -> FloatArray:
        """Probabilities (rows: texts, columns: LABELS order) for many messages at once."""
        return self._score_matrices(texts)[0]

    def score_batch_rows(self, texts: Sequence[str]) -> tuple[FloatArray, list[Scored]]:
        """Probabilities, and per text its word features (for ``explain``), in one pass."""
        probabilities, word_rows = self._score_matrices(texts)
        scored = []
        for row, proba in enumerate(probabilities):
            start, end = word_rows.indptr[row], word_rows.indptr[row + 1]
            columns = np.asarray(word_rows.indices[start:end], dtype=np.intp)
            scored.append(Scored(proba, columns, np.asarray(word_rows.data[start:end], dtype=np.float64)))
        return probabilities, scored

    def _score_matrices(self, texts: Sequence[str]) -> tuple[FloatArray, sp.csr_matrix]:
        documents = [normalize(text) for text in texts]
        logits = np.tile(self._intercept, (len(documents), 1))
        word_rows: sp.csr_matrix | None = None
        for block in self._blocks:
            end = block.offset + len(block.vocabulary)
            rows = block.matrix(documents)
            logits += rows @ self._weights[block.offset : end]
            if word_rows is None:
                word_rows = rows  # the first block is the word block (explanations)
        scaled = self._beta * logits
        scaled -= scaled.max(axis=1, keepdims=True)
        exp = np.exp(scaled)
        assert word_rows is not None
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64), word_rows

    def explain(self, scored: Scored, label_index: int, n: int) -> list[tuple[str, float]]:
        """Word n-grams with a positive push towards the label, strongest first."""
        weights = scored.values * self._relative[label_index].take(scored.columns)
        pushes = [(w, c) for w, c in zip(weights.tolist(), scored.columns.tolist(), strict=True) if w > 0]
        # Stable, like the scikit-learn path's sort: equal weights keep column order.
        pushes.sort(key=itemgetter(0), reverse=True)
        names = self._display_names
        return [(names[c], round(w, 4)) for w, c in pushes[:n]]


_NO_COLUMNS: Final[npt.NDArray[np.intp]] = np.zeros(0, dtype=np.intp)
_NO_VALUES: Final[FloatArray] = np.zeros(0)
