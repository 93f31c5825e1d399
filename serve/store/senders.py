"""Senders: the businesses or programs consents are held for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from serve.consent.records import SenderProfile
from serve.store import validation
from serve.store.errors import AlreadyExists, NotFound
from serve.store.schema import SenderRow
from serve.store.units import SENDER_MEMO, read_unit, utc_now, write_unit

_PROFILE = select(SenderRow.id, SenderRow.display_name, SenderRow.help_text).where(
    SenderRow.id == bindparam("sender")
)


def add_sender(
    *,
    session: Session,
    sender: str,
    display_name: str,
    help_text: str = "",
    created_at: datetime | None = None,
) -> SenderProfile:
    validation.text("sender", sender, max_length=64)
    validation.text("display_name", display_name, max_length=200)
    created = validation.aware("created_at", created_at or utc_now())
    with write_unit(session):
        if session.get(SenderRow, sender) is not None:
            raise AlreadyExists("sender", sender)
        session.add(SenderRow(id=sender, display_name=display_name, help_text=help_text, created_at=created))
    return SenderProfile(sender=sender, display_name=display_name, help_text=help_text)


def get_sender(*, session: Session, sender: str) -> SenderProfile:
    with read_unit(session):
        return load_sender(session, sender)


def load_sender(session: Session, sender: str) -> SenderProfile:
    """Inside an open unit of work: the sender's profile, or NotFound.

    Remembered until the unit of work ends (units._detach forgets it): a group of checks
    reads the same sender for every item, and the ORM's identity map, holding rows only
    weakly, would query it again each time.
    """
    memo: dict[str, SenderProfile] = session.info.setdefault(SENDER_MEMO, {})
    profile = memo.get(sender)
    if profile is None:
        # Three columns on the connection, not the ORM object: once per group of checks,
        # at a quarter of the cost. Flushed first, so a sender added in this unit is seen.
        session.flush()
        row = session.connection().execute(_PROFILE, {"sender": sender}).first()
        if row is None:
            raise NotFound("sender", sender)
        profile = SenderProfile(sender=row.id, display_name=row.display_name, help_text=row.help_text)
        memo[sender] = profile
    return profile
