"""Decisions: the audit trail of every check, and the sends the frequency caps count."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast, get_args

from sqlalchemy import Table, and_, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serve.consent.records import (
    CheckRequest,
    Classification,
    ConsentSnapshot,
    Decision,
    MessageType,
    Outcome,
)
from serve.store import codec, ids, validation
from serve.store.errors import (
    ConfirmationAlreadyUsed,
    InvalidCursor,
    InvalidInput,
    NotFound,
    StaleDecision,
)
from serve.store.group_reads import GroupReads, Wanted
from serve.store.schema import (
    DecisionRow,
    InboundMessageRow,
    OptOutConfirmationRow,
    ReviewRow,
    SendRow,
)
from serve.store.senders import load_sender
from serve.store.snapshots import FREQUENCY_WINDOW
from serve.store.units import lock_pairs, read_unit, utc_now, write_unit
from serve.store.views import (
    DecisionInput,
    DecisionPage,
    ReviewRecord,
    StoredDecision,
    Verdict,
    WeightedFeature,
)

OPT_OUT_CONFIRMATION: Final = "OPT_OUT_CONFIRMATION"
MAX_PAGE: Final = 500
MESSAGE_TYPES = get_args(MessageType)
OUTCOMES = get_args(Outcome)

Decide = Callable[[ConsentSnapshot], Decision]


def record_decision(
    *,
    session: Session,
    decision: Decision,
    request: CheckRequest,
    classification: Classification,
    explanation: Sequence[WeightedFeature] | None = None,
    created_at: datetime | None = None,
) -> str:
    """Store one decision (and, for an allow, its send) in one transaction; its id."""
    item = DecisionInput(decision, request, classification, explanation)
    return record_decisions_batch(session=session, items=[item], created_at=created_at)[0]


def record_decisions_batch(
    *,
    session: Session,
    items: Sequence[DecisionInput],
    created_at: datetime | None = None,
) -> tuple[str, ...]:
    """Store many decisions in one transaction: all of them, or none if any is refused."""
    created = validation.aware("created_at", created_at or utc_now())
    prefixes = [_prefix(index, len(items)) for index in range(len(items))]
    for item, prefix in zip(items, prefixes, strict=True):
        _check(item, prefix=prefix)
    decision_ids = _ordered_ids(len(items), created)
    pairs = [Wanted(i.request.sender, i.request.to, max(i.request.send_at, created)) for i in items]
    with write_unit(session):
        lock_pairs(session, [(item.request.sender, item.request.to) for item in items])
        # No snapshot is taken here, so no window of inbound messages is read: the links
        # a decision names are looked up one by one (``_check_links``).
        reads = GroupReads(session, pairs, window=timedelta(0), send_window=timedelta(0))
        rows = _PendingRows()
        for item, prefix, decision_id in zip(items, prefixes, decision_ids, strict=True):
            explained = codec.explanation_to_json(item.explanation)
            _add_rows(session, reads, rows, item, decision_id, created, explained, prefix=prefix)
        rows.insert(session)
    return decision_ids


def decide_and_record(
    *,
    session: Session,
    request: CheckRequest,
    classification: Classification,
    decide: Decide,
    window: timedelta,
    send_window: timedelta = FREQUENCY_WINDOW,
    explanation: Sequence[WeightedFeature] | None = None,
    created_at: datetime | None = None,
) -> StoredDecision:
    """Snapshot, decide and store under one lock, so no concurrent write slips between.

    ``decide`` is the pure engine bound to its policy and clock, e.g.
    ``lambda snap: decide(classification, request, snap, policy, now)`` with the same
    ``now`` passed here as ``created_at``: the snapshot is taken at
    ``max(request.send_at, created_at)``, the instant the engine judges.
    """
    item = (request, classification, explanation)
    return decide_and_record_batch(
        session=session,
        items=[item],
        decide=lambda _index, snap: decide(snap),
        window=window,
        send_window=send_window,
        created_at=created_at,
    )[0]


DecideItem = Callable[[int, ConsentSnapshot], Decision]
CheckItem = tuple[CheckRequest, Classification, Sequence[WeightedFeature] | None]


@dataclass(frozen=True)
class CheckBatch:
    """One caller's items, decided in order; ``decide(index, snapshot)`` judges item ``index``."""

    items: Sequence[CheckItem]
    decide: DecideItem
    created_at: datetime


def decide_and_record_batch(
    *,
    session: Session,
    items: Sequence[CheckItem],
    decide: DecideItem,
    window: timedelta,
    send_window: timedelta = FREQUENCY_WINDOW,
    created_at: datetime | None = None,
) -> tuple[StoredDecision, ...]:
    """Decide items in order, each on a snapshot that includes the sends allowed before it.

    Without this, a batch of promotions to one number would all see the same empty
    send history and could together exceed a frequency cap.
    """
    batch = CheckBatch(items, decide, created_at or utc_now())
    return decide_and_record_batches(
        session=session, batches=[batch], window=window, send_window=send_window
    )[0]


def decide_and_record_batches(
    *,
    session: Session,
    batches: Sequence[CheckBatch],
    window: timedelta,
    send_window: timedelta = FREQUENCY_WINDOW,
) -> tuple[tuple[StoredDecision, ...], ...]:
    """Several callers' batches in ONE transaction (group commit): one lock, one sync.

    Each batch is decided exactly as ``decide_and_record_batch`` would, one after the
    other, so a later batch sees the sends an earlier one allowed. All or nothing: if any
    item is refused, nothing is stored (the caller may then retry the batches one by one).

    The group's records are read once (group_reads.py) and its rows are inserted together
    at the end, which is what makes a group cheaper than its checks one by one.
    """
    created = [validation.aware("created_at", batch.created_at) for batch in batches]
    wanted = [
        Wanted(request.sender, request.to, max(request.send_at, at))
        for batch, at in zip(batches, created, strict=True)
        for request, _, _ in batch.items
        if request.send_at.tzinfo is not None  # refused in item order below
    ]
    with write_unit(session):
        lock_pairs(
            session, [(request.sender, request.to) for batch in batches for request, _, _ in batch.items]
        )
        reads = GroupReads(session, wanted, window=window, send_window=send_window)
        rows = _PendingRows()
        stored = tuple(
            _decide(session, batch, at, reads, rows) for batch, at in zip(batches, created, strict=True)
        )
        rows.insert(session)
        return stored


@dataclass
class _PendingRows:
    """The group's rows, inserted with one statement per table once all are decided."""

    decisions: list[dict[str, object]] = field(default_factory=list)
    sends: list[dict[str, object]] = field(default_factory=list)
    confirmations: list[dict[str, object]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        # Core executemany on the session's connection: nothing of the ORM is needed here.
        connection = session.connection()
        if self.decisions:
            connection.execute(insert(cast(Table, DecisionRow.__table__)), self.decisions)
        if self.sends:
            connection.execute(insert(cast(Table, SendRow.__table__)), self.sends)
        if self.confirmations:
            try:
                connection.execute(insert(cast(Table, OptOutConfirmationRow.__table__)), self.confirmations)
            except IntegrityError as error:  # the primary key makes "single" hold under any race
                raise ConfirmationAlreadyUsed(
                    "the single opt-out confirmation was already allowed"
                ) from error


def _decide(
    session: Session, batch: CheckBatch, created: datetime, reads: GroupReads, rows: _PendingRows
) -> tuple[StoredDecision, ...]:
    items = batch.items
    decision_ids = _ordered_ids(len(items), created)
    stored: list[StoredDecision] = []
    for index, (request, classification, explanation) in enumerate(items):
        # The engine judges a back-dated send at the decision time, not before.
        at = max(validation.aware("send_at", request.send_at), created)
        snap = reads.snapshot(request.sender, request.to, at)
        item = DecisionInput(batch.decide(index, snap), request, classification, explanation)
        prefix = _prefix(index, len(items))
        _check(item, prefix=prefix)
        decision_id = decision_ids[index]
        explained = codec.explanation_to_json(explanation)
        _add_rows(session, reads, rows, item, decision_id, created, explained, prefix=prefix)
        stored.append(
            StoredDecision(
                decision_id=decision_id,
                created_at=created,
                request=request,
                classification=classification,
                decision=item.decision,
                explanation=codec.explanation_from_json(explained),
            )
        )
    return tuple(stored)


def _add_rows(
    session: Session,
    reads: GroupReads,
    rows: _PendingRows,
    item: DecisionInput,
    decision_id: str,
    created: datetime,
    explained: list[dict[str, Any]] | None,
    *,
    prefix: str,
) -> None:
    """Check what the decision names and queue its rows (and, for an allow, its send)."""
    decision, request = item.decision, item.request
    sender, phone = request.sender, request.to
    load_sender(session, sender)  # remembered per transaction: free after the first
    _check_links(session, reads, decision, sender=sender, phone=phone, prefix=prefix)
    sent_at = max(request.send_at, created)
    rows.decisions.append(_decision_values(item, decision_id, created, explained))
    if decision.decision != "allow":
        return
    _guard_opt_out(reads, rows, decision, decision_id, sender, phone, sent_at)
    rows.sends.append(
        {
            "decision_id": decision_id,
            "sender": sender,
            "phone": phone,
            "treated_as": decision.treated_as,
            "send_at": sent_at,
        }
    )
    if decision.treated_as == "promotional":
        reads.add_send(sender, phone, sent_at)


def _check_links(
    session: Session, reads: GroupReads, decision: Decision, *, sender: str, phone: str, prefix: str
) -> None:
    """The consent or inbound message a decision names must be this pair's, and an allow
    must not rest on a consent revoked since the snapshot."""
    if decision.consent_id is not None:
        consent = reads.consent(sender, phone, decision.consent_id)
        if consent is None:
            raise InvalidInput(
                f"{prefix}decision.consent_id",
                f"{decision.consent_id!r} is not a consent of this sender and number",
            )
        if decision.decision == "allow" and consent.revoked_at is not None:
            raise StaleDecision(f"consent {decision.consent_id} was revoked; decide again")
    if decision.inbound_id is not None and reads.inbound(sender, phone, decision.inbound_id) is None:
        # Outside the windows the group read (or none was read): look it up.
        inbound = session.get(InboundMessageRow, decision.inbound_id)
        if inbound is None or (inbound.sender, inbound.phone) != (sender, phone):
            raise InvalidInput(
                f"{prefix}decision.inbound_id",
                f"{decision.inbound_id!r} is not an inbound message of this sender and number",
            )


def _guard_opt_out(
    reads: GroupReads,
    rows: _PendingRows,
    decision: Decision,
    decision_id: str,
    sender: str,
    phone: str,
    sent_at: datetime,
) -> None:
    """An allow for an opted-out pair may only be its single confirmation (RULES.md 7.1)."""
    event = reads.opt_event(sender, phone)
    relies = _relies_on_confirmation(decision)
    if event is None or event.kind != "opt_out":
        if relies:
            raise StaleDecision("the opt-out this confirmation answers is no longer in force")
        return
    if not relies:
        raise StaleDecision("the recipient opted out after the snapshot; decide again")
    if reads.confirmation_sent_at(sender, phone) is not None:
        raise ConfirmationAlreadyUsed("the single opt-out confirmation was already allowed")
    rows.confirmations.append(
        {"opt_out_event_id": event.event_id, "decision_id": decision_id, "sent_at": sent_at}
    )
    reads.add_confirmation(sender, phone, sent_at)


def _decision_values(
    item: DecisionInput, decision_id: str, created: datetime, explained: list[dict[str, Any]] | None
) -> dict[str, object]:
    decision, request, classification = item.decision, item.request, item.classification
    return {
        "decision_id": decision_id,
        "created_at": created,
        "request": codec.request_to_json(request),
        "sender": request.sender,
        "phone": request.to,
        "send_at": request.send_at,
        "decision": decision.decision,
        "message_type": decision.message_type,
        "treated_as": decision.treated_as,
        "probabilities": {k: float(v) for k, v in classification.probabilities.items()},
        "tau_promo": classification.tau_promo,
        "tau_conf": classification.tau_conf,
        "reasons": codec.reasons_to_json(decision.reasons),
        "trace": codec.trace_to_json(decision.trace),
        "explanation": explained,
        "consent_id": decision.consent_id,
        "inbound_id": decision.inbound_id,
        "not_before": decision.not_before,
        "model_version": classification.model_version,
        "policy_version": decision.policy_version,
        "jurisdiction": codec.jurisdiction_to_json(decision.jurisdiction),
    }


def _prefix(index: int, count: int) -> str:
    # Errors in a batch name the item, e.g. "items[3].decision.reasons" (API.md: 422
    # naming its index); a single decision's errors name the field alone.
    return f"items[{index}]." if count > 1 else ""


def _ordered_ids(count: int, created: datetime) -> tuple[str, ...]:
    # Ids of one call share the millisecond; sorting them keeps a batch in its order
    # when listed by (created_at, decision_id).
    return tuple(sorted(ids.new_id(ids.DECISION, created) for _ in range(count)))


def _check(item: DecisionInput, *, prefix: str) -> None:
    def name(field: str) -> str:
        return prefix + field

    decision, request, classification = item.decision, item.request, item.classification
    validation.aware(name("request.send_at"), request.send_at)
    validation.phone(name("request.to"), request.to)
    validation.text(name("request.sender"), request.sender, max_length=64)
    validation.one_of(name("decision.decision"), decision.decision, OUTCOMES)
    validation.one_of(name("decision.message_type"), decision.message_type, MESSAGE_TYPES)
    validation.one_of(name("decision.treated_as"), decision.treated_as, MESSAGE_TYPES)
    if not all(math.isfinite(p) for p in classification.probabilities.values()):
        # A broken model must not reach the audit trail (nor allow a send).
        raise InvalidInput(name("classification.probabilities"), "must be finite numbers")
    if decision.message_type != classification.message_type:
        raise InvalidInput(name("decision.message_type"), "differs from the classification it was made from")
    if not decision.reasons:
        # RULES.md 7.5: every decision has at least one reason; an unexplained one
        # must not enter the audit trail (and must not be sent).
        raise InvalidInput(name("decision.reasons"), "a decision needs at least one reason")
    if decision.not_before is not None:
        validation.aware(name("decision.not_before"), decision.not_before)


def _relies_on_confirmation(decision: Decision) -> bool:
    return any(reason.code == OPT_OUT_CONFIRMATION for reason in decision.reasons)


def get_decision(*, session: Session, decision_id: str) -> StoredDecision:
    with read_unit(session):
        row = session.get(DecisionRow, decision_id)
        if row is None:
            raise NotFound("decision", decision_id)
        return _stored(row, _reviews_of(session, [decision_id]).get(decision_id, ()))


def list_decisions(
    *,
    session: Session,
    decision: Outcome | None = None,
    reviewed: bool | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> DecisionPage:
    """Stored decisions, newest first, a page at a time.

    The cursor marks a position in the (created_at, decision_id) order, so rows written
    while a reviewer pages never shift what the next page holds.
    """
    if decision is not None:
        validation.one_of("decision", decision, OUTCOMES)
    if since is not None:
        validation.aware("since", since)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be an integer from 1 to {MAX_PAGE}")
    query = select(DecisionRow)
    if decision is not None:
        query = query.where(DecisionRow.decision == decision)
    if since is not None:
        query = query.where(DecisionRow.created_at >= since)
    if reviewed is not None:
        has_review = exists().where(ReviewRow.decision_id == DecisionRow.decision_id)
        query = query.where(has_review if reviewed else ~has_review)
    if cursor is not None:
        after_at, after_id = decode_cursor(cursor)
        query = query.where(
            or_(
                DecisionRow.created_at < after_at,
                and_(DecisionRow.created_at == after_at, DecisionRow.decision_id < after_id),
            )
        )
    query = query.order_by(DecisionRow.created_at.desc(), DecisionRow.decision_id.desc())
    with read_unit(session):
        rows = list(session.scalars(query.limit(limit + 1)))
        page, more = rows[:limit], len(rows) > limit
        reviews = _reviews_of(session, [row.decision_id for row in page])
        items = tuple(_stored(row, reviews.get(row.decision_id, ())) for row in page)
    last = items[-1] if more else None
    next_cursor = None if last is None else encode_cursor(last.created_at, last.decision_id)
    return DecisionPage(items=items, next_cursor=next_cursor)


def encode_cursor(created_at: datetime, decision_id: str) -> str:
    payload = json.dumps([created_at.isoformat(), decision_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, decision_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(created_at)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor() from error
    if at.tzinfo is None or not isinstance(decision_id, str):
        raise InvalidCursor()
    return at, decision_id


def _reviews_of(session: Session, decision_ids: Sequence[str]) -> dict[str, tuple[ReviewRecord, ...]]:
    if not decision_ids:
        return {}
    found: dict[str, list[ReviewRecord]] = {}
    rows = session.scalars(
        select(ReviewRow)
        .where(ReviewRow.decision_id.in_(decision_ids))
        .order_by(ReviewRow.created_at, ReviewRow.review_id)
    )
    for row in rows:
        found.setdefault(row.decision_id, []).append(review_record(row))
    return {key: tuple(value) for key, value in found.items()}


def review_record(row: ReviewRow) -> ReviewRecord:
    return ReviewRecord(
        review_id=row.review_id,
        decision_id=row.decision_id,
        verdict=cast(Verdict, row.verdict),
        correct_type=cast(MessageType | None, row.correct_type),
        note=row.note,
        reviewer=row.reviewer,
        created_at=row.created_at,
    )


def _stored(row: DecisionRow, reviews: tuple[ReviewRecord, ...]) -> StoredDecision:
    message_type = cast(MessageType, row.message_type)
    return StoredDecision(
        decision_id=row.decision_id,
        created_at=row.created_at,
        request=codec.request_from_json(row.request),
        classification=Classification(
            message_type=message_type,
            probabilities=dict(row.probabilities),
            tau_promo=row.tau_promo,
            tau_conf=row.tau_conf,
            model_version=row.model_version,
        ),
        decision=Decision(
            decision=cast(Outcome, row.decision),
            message_type=message_type,
            treated_as=cast(MessageType, row.treated_as),
            reasons=codec.reasons_from_json(row.reasons),
            jurisdiction=codec.jurisdiction_from_json(row.jurisdiction),
            not_before=row.not_before,
            consent_id=row.consent_id,
            inbound_id=row.inbound_id,
            trace=codec.trace_from_json(row.trace),
            policy_version=row.policy_version,
        ),
        explanation=codec.explanation_from_json(row.explanation),
        reviews=reviews,
    )
