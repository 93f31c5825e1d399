"""Listing decisions for reviewers: newest first, filtered, paged by an opaque cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from serve.consent.records import Outcome
from serve.store import repository
from serve.store.decisions import decode_cursor, encode_cursor
from serve.store.errors import InvalidCursor, InvalidInput
from serve.store.views import DecisionInput
from tests.store.factories import T0, add_senders, classification, decision, record, request


@pytest.fixture(autouse=True)
def _senders(session: Session) -> None:
    add_senders(session)


def _ids(session: Session, **filters: object) -> list[str]:
    page = repository.list_decisions(session=session, limit=500, **filters)  # type: ignore[arg-type]
    return [item.decision_id for item in page.items]


def _record_at(session: Session, minutes: int, outcome: Outcome = "block") -> str:
    return record(
        session,
        outcome,
        codes=("TRANSACTIONAL_NO_CONSENT",) if outcome != "allow" else ("TRANSACTIONAL_CONSENT_OK",),
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_decisions_are_listed_newest_first(session: Session) -> None:
    """The latest decision comes first."""
    first = _record_at(session, 0)
    third = _record_at(session, 20)
    second = _record_at(session, 10)

    assert _ids(session) == [third, second, first]


def test_listing_filters_by_outcome(session: Session) -> None:
    """decision=block lists only blocks."""
    blocked = _record_at(session, 0, "block")
    _record_at(session, 1, "allow")
    held = _record_at(session, 2, "review")

    assert _ids(session, decision="block") == [blocked]
    assert _ids(session, decision="review") == [held]


def test_listing_filters_by_reviewed(session: Session) -> None:
    """reviewed=false lists what nobody reviewed yet; reviewed=true the rest."""
    done = _record_at(session, 0)
    waiting = _record_at(session, 1)
    repository.add_review(
        session=session,
        decision_id=done,
        verdict="confirm",
        correct_type=None,
        note="",
        reviewer="r1",
    )

    assert _ids(session, reviewed=False) == [waiting]
    assert _ids(session, reviewed=True) == [done]


def test_listing_filters_by_since(session: Session) -> None:
    """since keeps decisions made at or after that time."""
    _record_at(session, 0)
    at_since = _record_at(session, 10)
    later = _record_at(session, 20)

    assert _ids(session, since=T0 + timedelta(minutes=10)) == [later, at_since]


def test_listed_decisions_carry_their_reviews(session: Session) -> None:
    """Each listed decision comes with its reviews, so a reviewer sees earlier verdicts."""
    decision_id = _record_at(session, 0)
    review = repository.add_review(
        session=session,
        decision_id=decision_id,
        verdict="override_allow",
        correct_type="transactional",
        note="OTP",
        reviewer="r1",
    )

    (item,) = repository.list_decisions(session=session).items

    assert item.reviews == (review,)
    assert item.reviewed is True


def test_last_page_has_no_cursor(session: Session) -> None:
    """When everything fits in one page there is no next cursor."""
    _record_at(session, 0)

    assert repository.list_decisions(session=session, limit=1).next_cursor is None


@pytest.mark.parametrize("limit", [0, 501, -1])
def test_limit_out_of_range_is_refused(session: Session, limit: int) -> None:
    """The page size must be between 1 and 500, and the error names limit."""
    with pytest.raises(InvalidInput) as error:
        repository.list_decisions(session=session, limit=limit)

    assert error.value.field == "limit"


@pytest.mark.parametrize("cursor", ["garbage", "", "W10", encode_cursor(T0, "x")[:-3]])
def test_malformed_cursor_is_refused(session: Session, cursor: str) -> None:
    """A cursor this service did not hand out is invalid_cursor, naming the field."""
    with pytest.raises(InvalidCursor) as error:
        repository.list_decisions(session=session, cursor=cursor)

    assert (error.value.code, error.value.field) == ("invalid_cursor", "cursor")


def test_cursor_round_trips() -> None:
    """A cursor decodes to the position it encodes."""
    assert decode_cursor(encode_cursor(T0, "dec_01ABC")) == (T0, "dec_01ABC")


def _all_pages(session: Session, limit: int, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = repository.list_decisions(
            session=session,
            limit=limit,
            cursor=cursor,
            **filters,  # type: ignore[arg-type]
        )
        pages.append([item.decision_id for item in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_pages_cover_every_decision_once_with_ties_in_time(session: Session) -> None:
    """Paging through decisions that share timestamps yields each exactly once, in order."""
    minutes = [0, 5, 5, 5, 10, 10, 15, 20, 20, 20, 20]
    expected = sorted(((T0 + timedelta(minutes=m), _record_at(session, m)) for m in minutes), reverse=True)

    pages = _all_pages(session, limit=3)

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [i for page in pages for i in page] == [decision_id for _, decision_id in expected]


def test_pages_are_stable_while_new_decisions_arrive(session: Session) -> None:
    """Decisions written between two page requests do not shift the next page."""
    old = [_record_at(session, m) for m in range(5)]
    first = repository.list_decisions(session=session, limit=2)
    _record_at(session, 60)  # newer than everything listed so far

    assert first.next_cursor is not None
    second = repository.list_decisions(session=session, limit=2, cursor=first.next_cursor)

    assert [i.decision_id for i in first.items] == [old[4], old[3]]
    assert [i.decision_id for i in second.items] == [old[2], old[1]]


def test_filtered_pages_cover_every_match_once(session: Session) -> None:
    """Paging with a filter yields each matching decision once and no other."""
    outcomes: list[Outcome] = ["block", "allow", "block", "review", "block", "block", "allow"]
    blocks = [
        _record_at(session, minute // 2, outcome)  # pairs share a timestamp
        for minute, outcome in enumerate(outcomes)
    ]
    expected = [i for i, o in zip(blocks, outcomes, strict=True) if o == "block"]

    pages = _all_pages(session, limit=2, decision="block")

    assert sorted(i for page in pages for i in page) == sorted(expected)
    assert len([i for page in pages for i in page]) == len(expected)


@settings(max_examples=25, deadline=None)
@given(limit=st.integers(min_value=1, max_value=12))
def test_cursor_positions_are_strictly_decreasing(limit: int) -> None:
    """Encoding positions in list order gives cursors that decode in the same order."""
    positions = sorted(
        ((T0 + timedelta(seconds=s), f"dec_{n:026d}") for s in range(3) for n in range(limit)),
        reverse=True,
    )

    decoded = [decode_cursor(encode_cursor(at, i)) for at, i in positions]

    assert decoded == positions


def test_a_batch_is_listed_in_reverse_batch_order(session: Session) -> None:
    """Decisions stored in one batch share a time yet list newest-first in batch order."""
    items = [DecisionInput(decision(), request(text=f"item {i}"), classification()) for i in range(20)]
    repository.record_decisions_batch(session=session, items=items, created_at=T0)

    page = repository.list_decisions(session=session, limit=20)

    assert [item.request.text for item in page.items] == [f"item {i}" for i in reversed(range(20))]
