"""The per-message fast path gives scikit-learn's numbers and explanations."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.classifier import FAST_PATH_MAX_BATCH, MessageClassifier
from model.fast import FastScorer
from training.sources import seed_sources


def _sklearn_proba(classifier: MessageClassifier, texts: list[str]) -> np.ndarray:
    proba = classifier.pipeline.predict_proba(texts)
    order = [
        list(classifier.pipeline.classes_).index(label)
        for label in ("promotional", "transactional", "conversational")
    ]
    return np.asarray(proba[:, order])


def test_fast_path_matches_sklearn_on_seed_messages(seed_classifier: MessageClassifier) -> None:
    """On 300 authored messages the probabilities agree to float32 precision."""
    texts = (
        pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources()).sample(300, random_state=2).tolist()
    )
    scorer = FastScorer(seed_classifier.pipeline)
    fast = np.array([scorer.score(t).probabilities for t in texts])
    assert np.abs(fast - _sklearn_proba(seed_classifier, texts)).max() < 1e-5


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_fast_path_matches_sklearn_on_any_text(seed_classifier: MessageClassifier, text: str) -> None:
    """Any string, even empty or exotic, scores the same on both paths."""
    scorer = FastScorer(seed_classifier.pipeline)
    fast = scorer.score(text).probabilities
    assert np.abs(fast - _sklearn_proba(seed_classifier, [text])[0]).max() < 1e-5


def test_small_and_large_batches_agree(seed_classifier: MessageClassifier) -> None:
    """predict_proba switches paths by batch size without changing the answer."""
    texts = ["Your code is 482913", "Big winter sale today!", "Sure, we open at 9"] * (
        FAST_PATH_MAX_BATCH // 3 + 2
    )
    small = np.vstack([seed_classifier.predict_proba([t]) for t in texts])
    large = seed_classifier.predict_proba(texts)
    assert len(texts) > FAST_PATH_MAX_BATCH
    assert np.abs(small - large).max() < 1e-5


@pytest.mark.parametrize(
    "text", ["Your Quillpay verification code is 730142", "FR€E dessert tonight, 20% off"]
)
def test_one_pass_explanation_equals_the_sklearn_one(seed_classifier: MessageClassifier, text: str) -> None:
    """classify_explained gives the label and words that the scikit-learn path gives."""
    reference = MessageClassifier(seed_classifier.pipeline, tau_promo=0.35, tau_conf=0.6)
    reference._fast = None  # force the scikit-learn path
    result, contributions = seed_classifier.classify_explained(text, n=6)
    expected = reference.classify([text])[0]
    assert result.message_type == expected.message_type
    for label, p in expected.probabilities.items():
        assert abs(result.probabilities[label] - p) < 1e-5
    assert [c.feature for c in contributions] == [
        c.feature for c in reference.explain(text, n=6, label=result.message_type)
    ]
    assert contributions and all(c.weight > 0 for c in contributions)


def test_batch_path_matches_sklearn_on_seed_messages(seed_classifier: MessageClassifier) -> None:
    """The vectorised batch path (word-cached features) gives scikit-learn's numbers."""
    texts = (
        pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources()).sample(600, random_state=5).tolist()
    )
    scorer = FastScorer(seed_classifier.pipeline)
    assert np.abs(scorer.score_batch(texts) - _sklearn_proba(seed_classifier, texts)).max() < 1e-5
    # Second pass: every word now comes from the cache.
    assert np.abs(scorer.score_batch(texts[::-1]) - _sklearn_proba(seed_classifier, texts[::-1])).max() < 1e-5


@given(st.lists(st.text(max_size=120), min_size=FAST_PATH_MAX_BATCH + 1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_batch_path_matches_sklearn_on_any_texts(
    seed_classifier: MessageClassifier, texts: list[str]
) -> None:
    """Words analysed one at a time add up to the whole message's features, for any text."""
    batch = seed_classifier.predict_proba(texts)
    assert np.abs(batch - _sklearn_proba(seed_classifier, texts)).max() < 1e-5


def test_batch_explanations_equal_one_at_a_time(seed_classifier: MessageClassifier) -> None:
    """Same label and the same words with the same weights (all of them, so that float
    noise between near-equal weights cannot reorder a cut-off)."""
    texts = pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources()).sample(60, random_state=9).tolist()
    batch = seed_classifier.classify_explained_batch(texts, n=1000)
    single = [seed_classifier.classify_explained(t, n=1000) for t in texts]
    for (b_result, b_words), (s_result, s_words) in zip(batch, single, strict=True):
        assert b_result.message_type == s_result.message_type
        assert b_result.treated_as == s_result.treated_as
        assert {c.feature: c.weight for c in b_words} == pytest.approx(
            {c.feature: c.weight for c in s_words}, abs=2e-4
        )


def test_scoring_pool_gives_the_in_process_answer(seed_classifier: MessageClassifier) -> None:
    """Two forked workers return the same probabilities, in order."""
    from model.parallel import CHUNK, ScoringPool

    texts = pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources()).tolist()
    texts = (texts * (2 * CHUNK // len(texts) + 2))[: 2 * CHUNK + 17]
    with ScoringPool(seed_classifier, workers=2) as pool:
        pooled = pool.predict_proba(texts)
        labels = [c.message_type for c in pool.classify(texts[:50])]
    assert pooled.shape == (len(texts), 3)
    assert np.abs(pooled - seed_classifier.predict_proba(texts)).max() < 1e-12
    assert labels == [c.message_type for c in seed_classifier.classify(texts[:50])]


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12))
@settings(max_examples=500, deadline=None)
def test_ascii_words_get_the_analysers_char_ngrams(seed_classifier: MessageClassifier, word: str) -> None:
    """The sliced char_wb n-grams of an ASCII word find the columns the analyser's find."""
    scorer = FastScorer(seed_classifier.pipeline)
    block = next(b for b in scorer._blocks if b.char_wb)
    assert block.ascii_as_is
    vocabulary = block.vocabulary
    expected = Counter(vocabulary[g] for g in block.analyze_word(word) if g in vocabulary)
    assert Counter(block._word_part(word)[1]) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",  # no n-gram at all
        " \t\n ",
        "!!! ???",  # no word token: only the char block has columns
        "qzxv",  # a word the word block does not know
        "Привет café 你好 ﬁnal résumé",  # non-ASCII words: the analyser, not slicing
        "sale sale sale SALE",  # repeated n-grams: term counts above one
    ],
)
def test_edge_messages_match_sklearn(seed_classifier: MessageClassifier, text: str) -> None:
    """Messages where a block is empty, words repeat or are not ASCII score as sklearn does,
    and twice in a row (the second time every word comes from the word cache)."""
    scorer = FastScorer(seed_classifier.pipeline)
    expected = _sklearn_proba(seed_classifier, [text])[0]
    for _ in range(2):
        scored = scorer.score(text)
        assert np.abs(scored.probabilities - expected).max() < 1e-5
        assert (scored.columns < scorer.word_features).all()
        assert len(scored.columns) == len(scored.values)


def test_single_path_word_features_equal_the_vectorisers(seed_classifier: MessageClassifier) -> None:
    """Scored holds the word block's row of the fitted union: same columns, same values."""
    texts = pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources()).sample(50, random_state=4).tolist()
    texts += ["", "!!! ???", "Привет café"]
    scorer = FastScorer(seed_classifier.pipeline)
    normalized = seed_classifier.pipeline.named_steps["normalize"].transform(texts)
    rows = seed_classifier.pipeline.named_steps["features"].transform(normalized).tocsr()
    for row, text in enumerate(texts):
        expected = rows[row, : scorer.word_features]
        expected.sort_indices()
        scored = scorer.score(text)
        assert scored.columns.tolist() == expected.indices.tolist()
        assert np.abs(scored.values - expected.data).max(initial=0) < 1e-6


def test_explanations_equal_sklearns_including_ties(seed_classifier: MessageClassifier) -> None:
    """The same words in the same order as the scikit-learn path, for every word with a
    positive push: equal weights keep column order on both paths (a stable sort)."""
    seed = pd.concat(pd.read_csv(s.path)["text"] for s in seed_sources())
    texts = seed.sample(150, random_state=7).tolist()
    reference = MessageClassifier(seed_classifier.pipeline, tau_promo=0.35, tau_conf=0.6)
    reference._fast = None
    for text in texts:
        result, contributions = seed_classifier.classify_explained(text, n=1000)
        expected = reference.explain(text, n=1000, label=result.message_type)
        assert [c.feature for c in contributions] == [c.feature for c in expected]
        assert [c.weight for c in contributions] == pytest.approx([c.weight for c in expected], abs=2e-4)


@pytest.mark.parametrize("word_ngram_max", [1, 3])
def test_other_word_ngram_ranges_match_sklearn(word_ngram_max: int) -> None:
    """Unigram-only and trigram word blocks take their own branches of the single path."""
    from model.classifier import Hyperparameters
    from model.settings import Settings
    from training.fitting import fit
    from training.prepare import prepare

    data = prepare(seed_sources(), seed=Settings().random_seed)
    pipeline = fit(data.frame, Hyperparameters(word_ngram_max=word_ngram_max, char_ngram_max=4), seed=13)
    classifier = MessageClassifier(pipeline, tau_promo=0.35, tau_conf=0.6)
    texts = [*data.frame["text"].sample(200, random_state=3), "", "!!!", "café au lait"]
    scorer = FastScorer(pipeline)
    fast = np.array([scorer.score(t).probabilities for t in texts])
    assert np.abs(fast - _sklearn_proba(classifier, texts)).max() < 1e-5
    assert np.abs(scorer.score_batch(texts) - _sklearn_proba(classifier, texts)).max() < 1e-5


def test_a_char_block_first_is_refused(seed_classifier: MessageClassifier) -> None:
    """Explanations read the first block as the word block, so another order is refused
    (and MessageClassifier then takes scikit-learn's path)."""
    import copy

    pipeline = copy.deepcopy(seed_classifier.pipeline)
    union = pipeline.named_steps["features"]
    union.transformer_list = union.transformer_list[::-1]
    with pytest.raises(ValueError, match="word block first"):
        FastScorer(pipeline)
