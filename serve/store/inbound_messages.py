"""Inbound messages and what they do to consent: opt-out, opt-in, help, conversation.

The effect of an inbound message is applied in the same transaction that stores it, so
an acknowledged STOP has already revoked every consent (RULES.md 3: immediately and
durably).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast, get_args

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from serve.consent.records import InboundAction, InboundRecord
from serve.store import ids, validation
from serve.store.consents import unrevoked_consents
from serve.store.errors import InvalidInput
from serve.store.schema import (
    ConsentRevocationRow,
    ConsentRow,
    InboundMessageRow,
    OptOutEventRow,
)
from serve.store.senders import load_sender
from serve.store.units import lock_pairs, utc_now, write_unit
from serve.store.views import Interpretation

INBOUND_ACTIONS = get_args(InboundAction)


def record_inbound(
    *,
    session: Session,
    sender: str,
    phone: str,
    text: str,
    received_at: datetime,
    interpretation: Interpretation,
    created_at: datetime | None = None,
) -> InboundRecord:
    """Store an inbound message and apply its effect atomically.

    - ``opted_out``: every unrevoked consent of (sender, phone) gets a revocation row
      (``revoked_by="inbound:<id>"``) and an opt-out event is written;
    - ``opted_in``: an opt-in event is written and, if this ends the opt-out in force, the
      consents that opt-out revoked come back as new rows (never written consent that
      did not exist before);
    - anything else only stores the message (it can open a conversation window).
    """
    validation.phone("phone", phone)
    validation.aware("received_at", received_at)
    if not isinstance(text, str):
        raise InvalidInput("text", "must be a string")
    action = validation.one_of("interpretation.action", interpretation.action, INBOUND_ACTIONS)
    reason_code = interpretation.reason_code
    if reason_code is not None:
        validation.text("interpretation.reason_code", reason_code, max_length=64)
    created = validation.aware("created_at", created_at or utc_now())
    row = InboundMessageRow(
        inbound_id=ids.new_id(ids.INBOUND, created),
        sender=sender,
        phone=phone,
        text=text,
        received_at=received_at,
        action=action,
        needs_review=bool(interpretation.needs_review),
        keyword=interpretation.keyword,
        reason_code=reason_code,
        created_at=created,
    )
    with write_unit(session):
        load_sender(session, sender)
        lock_pairs(session, [(sender, phone)])
        session.add(row)
        session.flush()
        if action == "opted_out":
            _opt_out(session, row, created)
        elif action == "opted_in":
            _opt_in(session, row, created)
        return inbound_record(row)


def _opt_out(session: Session, message: InboundMessageRow, created: datetime) -> None:
    event = OptOutEventRow(
        event_id=ids.new_id(ids.OPT_EVENT, created),
        sender=message.sender,
        phone=message.phone,
        kind="opt_out",
        at=message.received_at,
        inbound_id=message.inbound_id,
        created_at=created,
    )
    session.add(event)
    session.flush()
    said = message.keyword or message.reason_code or "opt-out request"
    # Every unrevoked consent goes, expired ones too: "every consent that sender holds
    # for that number" (API.md), and an opt-in restores exactly this set. A STOP that
    # arrives late (older than an opt-in already stored) still revokes: fail closed.
    for consent in unrevoked_consents(session, sender=message.sender, phone=message.phone):
        session.add(
            ConsentRevocationRow(
                revocation_id=ids.new_id(ids.REVOCATION, created),
                consent_id=consent.consent_id,
                revoked_at=message.received_at,
                revoked_by=f"inbound:{message.inbound_id}",
                reason=f"opt-out by inbound message {message.inbound_id} ({said})",
                opt_out_event_id=event.event_id,
                created_at=created,
            )
        )
    session.flush()


def _opt_in(session: Session, message: InboundMessageRow, created: datetime) -> None:
    earlier = list(
        session.scalars(
            select(OptOutEventRow)
            .where(OptOutEventRow.sender == message.sender, OptOutEventRow.phone == message.phone)
            .order_by(
                OptOutEventRow.at.desc(),
                OptOutEventRow.created_at.desc(),
                OptOutEventRow.event_id.desc(),
            )
        )
    )
    session.add(
        OptOutEventRow(
            event_id=ids.new_id(ids.OPT_EVENT, created),
            sender=message.sender,
            phone=message.phone,
            kind="opt_in",
            at=message.received_at,
            inbound_id=message.inbound_id,
            created_at=created,
        )
    )
    if not earlier or earlier[0].kind != "opt_out" or earlier[0].at > message.received_at:
        # Not opted out, or a late-delivered START older than the STOP in force: the
        # person's last word is still STOP, so nothing is restored (fail closed).
        session.flush()
        return
    # Every opt-out since the last opt-in belongs to the period this opt-in ends (a
    # second STOP revokes nothing new, yet the first one's revocations must come back).
    period = []
    for event in earlier:
        if event.kind != "opt_out":
            break
        period.append(event.event_id)
    revoked = session.scalars(
        select(ConsentRow)
        .join(ConsentRevocationRow, ConsentRevocationRow.consent_id == ConsentRow.consent_id)
        .where(ConsentRevocationRow.opt_out_event_id.in_(period))
        .order_by(ConsentRow.created_at, ConsentRow.consent_id)
    ).all()
    for original in revoked:
        restoration = (
            f"[restored by opt-in inbound:{message.inbound_id} at "
            f"{message.received_at.isoformat()}; copy of {original.consent_id}, "
            "which the opt-out revoked]"
        )
        session.add(
            ConsentRow(
                consent_id=ids.new_id(ids.CONSENT, created),
                sender=original.sender,
                phone=original.phone,
                kind=original.kind,
                method=original.method,
                evidence=(
                    restoration if original.evidence is None else f"{original.evidence}\n{restoration}"
                ),
                scope=original.scope,
                # The original capture time, so a restoration never extends an expiry or
                # a CASL implied-consent window.
                captured_at=original.captured_at,
                expires_at=original.expires_at,
                created_at=created,
                created_by=f"inbound:{message.inbound_id}",
                restored_from=original.consent_id,
            )
        )
    session.flush()


def inbound_record(row: InboundMessageRow | Row[*tuple[Any, ...]]) -> InboundRecord:
    return InboundRecord(
        inbound_id=row.inbound_id,
        sender=row.sender,
        phone=row.phone,
        text=row.text,
        received_at=row.received_at,
        action=cast(InboundAction, row.action),
        needs_review=row.needs_review,
    )
