"""Reviews of decisions (every one kept) and the training rows they yield."""

from __future__ import annotations

from datetime import datetime
from typing import cast, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from serve.consent.records import MessageType
from serve.store import ids, validation
from serve.store.decisions import MESSAGE_TYPES, review_record
from serve.store.errors import InvalidInput, NotFound
from serve.store.schema import DecisionRow, ReviewRow
from serve.store.units import read_unit, utc_now, write_unit
from serve.store.views import ExportRow, ReviewRecord, Verdict

VERDICTS = get_args(Verdict)


def add_review(
    *,
    session: Session,
    decision_id: str,
    verdict: Verdict,
    correct_type: MessageType | None,
    note: str,
    reviewer: str,
    created_at: datetime | None = None,
) -> ReviewRecord:
    """Add a review; earlier reviews of the same decision stay as they were."""
    validation.one_of("verdict", verdict, VERDICTS)
    if correct_type is not None:
        validation.one_of("correct_type", correct_type, MESSAGE_TYPES)
    if not isinstance(note, str):
        raise InvalidInput("note", "must be a string")
    validation.text("reviewer", reviewer, max_length=128)
    created = validation.aware("created_at", created_at or utc_now())
    with write_unit(session):
        if session.get(DecisionRow, decision_id) is None:
            raise NotFound("decision", decision_id)
        row = ReviewRow(
            review_id=ids.new_id(ids.REVIEW, created),
            decision_id=decision_id,
            verdict=verdict,
            correct_type=correct_type,
            note=note,
            reviewer=reviewer,
            created_at=created,
        )
        session.add(row)
        session.flush()
        return review_record(row)


def export_reviews(*, session: Session, since: datetime | None = None) -> tuple[ExportRow, ...]:
    """One training row per reviewed message, oldest review first.

    The label is the reviewer's ``correct_type``, or the model's type when the reviewer
    confirmed it. An override without ``correct_type`` says the rule outcome was wrong,
    not which type the text is, so it yields no label. When a decision was reviewed more
    than once, its latest labelling review wins.
    """
    if since is not None:
        validation.aware("since", since)
    query = (
        select(
            ReviewRow.decision_id,
            ReviewRow.verdict,
            ReviewRow.correct_type,
            ReviewRow.created_at,
            DecisionRow.request,
            DecisionRow.message_type,
        )
        .join(DecisionRow, DecisionRow.decision_id == ReviewRow.decision_id)
        .order_by(ReviewRow.created_at, ReviewRow.review_id)
    )
    with read_unit(session):
        rows = session.execute(query).all()
    latest: dict[str, ExportRow] = {}
    for decision_id, verdict, correct_type, reviewed_at, request, message_type in rows:
        label = correct_type or (message_type if verdict == "confirm" else None)
        if label is None:
            continue
        latest.pop(decision_id, None)  # re-inserted last: keeps review-time order
        latest[decision_id] = ExportRow(
            text=str(request["text"]),
            label=cast(MessageType, label),
            source="review",
            reviewed_at=reviewed_at,
        )
    return tuple(row for row in latest.values() if since is None or row.reviewed_at >= since)
