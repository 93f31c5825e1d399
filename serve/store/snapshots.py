"""The engine's view of one (sender, recipient): exactly the records ``decide`` reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from serve.consent.records import ConsentSnapshot
from serve.store import validation
from serve.store.consents import consent_records
from serve.store.errors import InvalidInput
from serve.store.inbound_messages import inbound_record, opt_out_in_force
from serve.store.schema import InboundMessageRow, SendRow
from serve.store.senders import load_sender
from serve.store.units import read_unit

FREQUENCY_WINDOW: Final = timedelta(hours=24)

# Built once with bound parameters: constructing the expressions per call cost more than
# running them (every check reads both).
_INBOUND_SINCE: Final = (
    select(InboundMessageRow)
    .where(
        InboundMessageRow.sender == bindparam("sender"),
        InboundMessageRow.phone == bindparam("phone"),
        InboundMessageRow.received_at >= bindparam("since"),
        # A reply cannot answer a message that arrives after it is sent.
        InboundMessageRow.received_at <= bindparam("at"),
    )
    .order_by(InboundMessageRow.received_at.desc(), InboundMessageRow.inbound_id.desc())
)
_PROMOTIONAL_SENDS_SINCE: Final = (
    select(SendRow.send_at)
    .where(
        SendRow.sender == bindparam("sender"),
        SendRow.phone == bindparam("phone"),
        SendRow.treated_as == "promotional",
        SendRow.send_at >= bindparam("since"),
        SendRow.send_at <= bindparam("at"),
    )
    .order_by(SendRow.send_at)
)


def snapshot(
    *,
    session: Session,
    sender: str,
    phone: str,
    at: datetime,
    window: timedelta,
    send_window: timedelta = FREQUENCY_WINDOW,
) -> ConsentSnapshot:
    """Everything the engine may know about (sender, phone) for a send at ``at``.

    ``window`` is how far back inbound messages are looked up (at least the policy's
    conversation window); ``send_window`` is the frequency-cap window. Consents,
    revocations and the opt-out state are taken as recorded now, whatever ``at`` says:
    a revocation the store already knows must never be ignored (fail closed).
    """
    check_window(at=at, window=window, send_window=send_window)
    with read_unit(session):
        return build_snapshot(
            session, sender=sender, phone=phone, at=at, window=window, send_window=send_window
        )


def check_window(*, at: datetime, window: timedelta, send_window: timedelta) -> None:
    validation.aware("at", at)
    if window < timedelta(0):
        raise InvalidInput("window", "must not be negative")
    if send_window < timedelta(0):
        raise InvalidInput("send_window", "must not be negative")


def build_snapshot(
    session: Session,
    *,
    sender: str,
    phone: str,
    at: datetime,
    window: timedelta,
    send_window: timedelta = FREQUENCY_WINDOW,
) -> ConsentSnapshot:
    """Inside an open unit of work (so a writer can decide and record atomically)."""
    check_window(at=at, window=window, send_window=send_window)
    profile = load_sender(session, sender)
    params = {"sender": sender, "phone": phone, "at": at}
    inbound = session.scalars(_INBOUND_SINCE, {**params, "since": at - window})
    sends = session.scalars(_PROMOTIONAL_SENDS_SINCE, {**params, "since": at - send_window})
    return ConsentSnapshot(
        sender=profile,
        phone=phone,
        consents=consent_records(session, sender=sender, phone=phone),
        inbound=tuple(inbound_record(row) for row in inbound),
        opt_out=opt_out_in_force(session, sender=sender, phone=phone),
        recent_promotional_sends=tuple(sends),
    )
