"""Reviews: every verdict kept; the labelled ones exported as training rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from serve.consent.records import MessageType
from serve.store import repository
from serve.store.errors import InvalidInput, NotFound
from serve.store.views import ExportRow, ReviewRecord, Verdict
from tests.store.factories import T0, add_senders, record


@pytest.fixture(autouse=True)
def _senders(session: Session) -> None:
    add_senders(session)


def _review(
    session: Session,
    decision_id: str,
    verdict: Verdict = "confirm",
    correct_type: MessageType | None = None,
    *,
    minutes: int = 0,
    reviewer: str = "r1",
) -> ReviewRecord:
    return repository.add_review(
        session=session,
        decision_id=decision_id,
        verdict=verdict,
        correct_type=correct_type,
        note=f"{verdict} by {reviewer}",
        reviewer=reviewer,
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_review_is_returned_as_stored(session: Session) -> None:
    """add_review returns the review with its verdict, type, note, reviewer and time."""
    decision_id = record(session, "review", codes=("LOW_CONFIDENCE",))

    review = _review(session, decision_id, "override_block", "promotional", minutes=5)

    assert review.review_id.startswith("rvw_")
    assert (review.decision_id, review.verdict, review.correct_type) == (
        decision_id,
        "override_block",
        "promotional",
    )
    assert (review.note, review.reviewer, review.created_at) == (
        "override_block by r1",
        "r1",
        T0 + timedelta(minutes=5),
    )


def test_every_review_of_a_decision_is_kept(session: Session) -> None:
    """Two reviews of one decision are both listed with it, oldest first."""
    decision_id = record(session, "review", codes=("LOW_CONFIDENCE",))
    first = _review(session, decision_id, "confirm", minutes=1, reviewer="r1")
    second = _review(session, decision_id, "override_allow", "transactional", minutes=2, reviewer="r2")

    stored = repository.get_decision(session=session, decision_id=decision_id)

    assert stored.reviews == (first, second)


def test_review_of_unknown_decision_is_not_found(session: Session) -> None:
    """Reviewing an id that was never stored is not_found, naming the decision."""
    with pytest.raises(NotFound) as error:
        _review(session, "dec_nope")

    assert (error.value.code, error.value.entity) == ("not_found", "decision")


@pytest.mark.parametrize(
    ("verdict", "correct_type", "field"),
    [("approve", None, "verdict"), ("confirm", "spam", "correct_type")],
)
def test_review_outside_the_vocabulary_is_refused(
    session: Session, verdict: str, correct_type: str | None, field: str
) -> None:
    """Verdicts and types outside their vocabularies are refused, naming the field."""
    decision_id = record(session)

    with pytest.raises(InvalidInput) as error:
        _review(session, decision_id, verdict, correct_type)  # type: ignore[arg-type]

    assert error.value.field == field


def test_export_labels_a_confirmed_decision_with_the_models_type(session: Session) -> None:
    """A confirm without a corrected type exports the model's type as the label."""
    decision_id = record(session, message_type="transactional", text="Your code is 1234")
    _review(session, decision_id, "confirm", minutes=3)

    rows = repository.export_reviews(session=session)

    assert rows == (ExportRow("Your code is 1234", "transactional", "review", T0 + timedelta(minutes=3)),)


def test_export_labels_a_corrected_decision_with_the_corrected_type(session: Session) -> None:
    """A corrected type wins over the model's type."""
    decision_id = record(session, message_type="transactional", text="Shipped! 10% off next")
    _review(session, decision_id, "override_block", "promotional")

    (row,) = repository.export_reviews(session=session)

    assert (row.text, row.label) == ("Shipped! 10% off next", "promotional")


def test_export_skips_an_override_that_names_no_type(session: Session) -> None:
    """An override without a corrected type says nothing about the label: no row."""
    decision_id = record(session)
    _review(session, decision_id, "override_allow", None)

    assert repository.export_reviews(session=session) == ()


def test_export_uses_the_latest_labelling_review(session: Session) -> None:
    """When a message was reviewed twice, the later labelled verdict is exported once."""
    decision_id = record(session, message_type="transactional")
    _review(session, decision_id, "override_block", "promotional", minutes=1)
    _review(session, decision_id, "confirm", minutes=2)
    _review(session, decision_id, "override_allow", None, minutes=3)  # no label

    rows = repository.export_reviews(session=session)

    assert [(r.label, r.reviewed_at) for r in rows] == [("transactional", T0 + timedelta(minutes=2))]


def test_export_since_keeps_reviews_at_or_after_it(session: Session) -> None:
    """since filters on the review time, oldest row first."""
    early = record(session, text="early")
    late = record(session, text="late")
    later = record(session, text="later")
    _review(session, early, minutes=1)
    _review(session, later, minutes=30)
    _review(session, late, minutes=10)

    rows = repository.export_reviews(session=session, since=T0 + timedelta(minutes=10))

    assert [r.text for r in rows] == ["late", "later"]
