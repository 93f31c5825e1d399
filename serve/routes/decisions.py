"""Stored decisions for reviewers: list, read, review, and export reviews for training."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import Response
from pydantic import AwareDatetime

from serve.auth import ReviewerCaller
from serve.routes.render import decision_out, review_out
from serve.schemas import DecisionOut, DecisionPageOut, ReviewIn, ReviewOut
from serve.services import ServicesDep
from serve.store import repository
from serve.store.views import ExportRow

router = APIRouter(prefix="/v1", tags=["decisions"])

DecisionId = Annotated[str, Path(min_length=1, max_length=64)]
EXPORT_HEADER = ("text", "label", "source", "reviewed_at")


@router.get("/decisions", response_model=DecisionPageOut)
def list_decisions(
    services: ServicesDep,
    caller: ReviewerCaller,
    decision: Annotated[Literal["allow", "block", "review"] | None, Query()] = None,
    reviewed: Annotated[bool | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DecisionPageOut:
    """Newest first; ``next_cursor`` fetches the next page, null on the last one."""
    with services.session() as session:
        page = repository.list_decisions(
            session=session,
            decision=decision,
            reviewed=reviewed,
            since=None if since is None else since.astimezone(UTC),
            limit=limit,
            cursor=cursor,
        )
    return DecisionPageOut(items=[decision_out(item) for item in page.items], next_cursor=page.next_cursor)


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
def get_decision(decision_id: DecisionId, services: ServicesDep, caller: ReviewerCaller) -> DecisionOut:
    with services.session() as session:
        stored = repository.get_decision(session=session, decision_id=decision_id)
    return decision_out(stored)


@router.post("/decisions/{decision_id}/review", status_code=status.HTTP_201_CREATED, response_model=ReviewOut)
def review_decision(
    decision_id: DecisionId, body: ReviewIn, services: ServicesDep, caller: ReviewerCaller
) -> ReviewOut:
    """Add a review (earlier ones are kept); the reviewer is the calling key."""
    with services.session() as session:
        review = repository.add_review(
            session=session,
            decision_id=decision_id,
            verdict=body.verdict,
            correct_type=body.correct_type,
            note=body.note,
            reviewer=f"reviewer:{caller.key_id}",
        )
    return review_out(review)


def export_csv(rows: tuple[ExportRow, ...]) -> str:
    """``text,label,source,reviewed_at`` with csv quoting, as training's labelled_csv reads it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for row in rows:
        writer.writerow((row.text, row.label, row.source, row.reviewed_at.astimezone(UTC).isoformat()))
    return buffer.getvalue()


@router.get("/reviews/export", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_reviews(
    services: ServicesDep,
    caller: ReviewerCaller,
    since: Annotated[AwareDatetime | None, Query()] = None,
) -> Response:
    """Reviewed messages with their corrected type, ready for training."""
    with services.session() as session:
        rows = repository.export_reviews(
            session=session, since=None if since is None else since.astimezone(UTC)
        )
    return Response(
        export_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="reviews.csv"'},
    )
