"""Behaviour of a model trained on the seed set alone (what a fresh clone gets).

Minimum-functionality, invariance and directional tests in the style of Made-With-ML.
Every text here is new, written for these tests, and not in the seed set.
"""

from __future__ import annotations

import pytest

from model.classifier import MessageClassifier
from model.labels import LABELS

MINIMUM = [
    ("Your Quillpay verification code is 730142. It expires in 10 minutes.", "transactional"),
    ("Parcel 4 of 4 from Tindle Home was delivered to your porch at 2:41pm.", "transactional"),
    ("Reminder: Dr Okafor tomorrow 09:15 at Riverside Clinic. Reply C to confirm.", "transactional"),
    ("WINTER SALE: 40% off every coat until Sunday! Shop now at fernlow.co/sale", "promotional"),
    ("Miss you! Come back to Pebble Spa this month and get a free hand massage.", "promotional"),
    (
        "Hi Dana, I checked with the warehouse and your blender left yesterday, "
        "it should reach you Thursday.",
        "conversational",
    ),
    ("Yes, the green jacket also comes in XL. Want me to hold one for you?", "conversational"),
]


@pytest.mark.parametrize(("text", "expected"), MINIMUM, ids=[m[1] + ":" + m[0][:25] for m in MINIMUM])
def test_clear_messages_get_their_type(seed_classifier: MessageClassifier, text: str, expected: str) -> None:
    """Unambiguous messages of each kind are labelled as that kind."""
    assert seed_classifier.classify([text])[0].message_type == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Your Quillpay code is 730142", "Your Quillpay code is 118394"),
        ("Hi Dana, your table for 4 is booked for 7pm", "Hi Marco, your table for 2 is booked for 8pm"),
        ("Rs.2,000 paid to Lumo Energy. Ref 88231", "Rs.13,450.75 paid to Lumo Energy. Ref 10233"),
    ],
)
def test_numbers_and_names_do_not_change_the_label(
    seed_classifier: MessageClassifier, a: str, b: str
) -> None:
    """Invariance: codes, amounts and names are placeholders to the model."""
    assert (
        seed_classifier.predict_proba([a]).round(6).tolist()
        == seed_classifier.predict_proba([b]).round(6).tolist()
    )


def test_disguised_spelling_reads_like_plain(seed_classifier: MessageClassifier) -> None:
    """Invariance: 'FR€E' and fullwidth letters give the same probabilities as 'FREE'."""
    plain = seed_classifier.predict_proba(["FREE dessert with every main tonight only"])
    for disguised in (
        "FR€E dessert with every main tonight only",
        "ＦＲＥＥ dessert with every main tonight only",
    ):
        assert seed_classifier.predict_proba([disguised]).round(6).tolist() == plain.round(6).tolist()


def test_adding_an_offer_to_a_notice_raises_promotional_probability(
    seed_classifier: MessageClassifier,
) -> None:
    """Directional: mixed content moves towards promotional."""
    notice = "Your Tindle Home order has shipped and arrives Friday."
    mixed = notice + " Use code SAVE20 for 20% off your next order!"
    p = LABELS.index("promotional")
    assert seed_classifier.predict_proba([mixed])[0, p] > seed_classifier.predict_proba([notice])[0, p] + 0.2


def test_probabilities_are_a_distribution(seed_classifier: MessageClassifier) -> None:
    """Each row of probabilities is non-negative and sums to one."""
    proba = seed_classifier.predict_proba(["ok", "Your code is 1234", "Big sale now"])
    assert (proba >= 0).all()
    assert abs(proba.sum(axis=1) - 1).max() < 1e-6


def test_treated_as_follows_tau_promo(seed_classifier: MessageClassifier) -> None:
    """A message whose P(promotional) reaches tau_promo is treated promotional."""
    text = "Your order has shipped. Members get early access to the winter sale."
    result = seed_classifier.classify([text])[0]
    expected = (
        "promotional"
        if result.probabilities["promotional"] >= seed_classifier.tau_promo
        else result.message_type
    )
    assert result.treated_as == expected


def test_explanation_names_words_from_the_message(seed_classifier: MessageClassifier) -> None:
    """explain() returns positive-weight n-grams that occur in the normalised text."""
    text = "Your verification code is 730142. Do not share it with anyone."
    contributions = seed_classifier.explain(text, n=5)
    assert contributions
    assert all(c.weight > 0 for c in contributions)
    assert any("code" in c.feature or "<CODE>" in c.feature for c in contributions)
    weights = [c.weight for c in contributions]
    assert weights == sorted(weights, reverse=True)
