"""The engine's view of one (sender, recipient): exactly the records ``decide`` reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from serve.consent.records import ConsentSnapshot
from serve.store.group_reads import GroupReads, Wanted, check_window
from serve.store.units import read_unit

FREQUENCY_WINDOW: Final = timedelta(hours=24)


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

    The same reads a group of checks makes (group_reads.py), for a group of one.
    """
    check_window(at=at, window=window, send_window=send_window)
    with read_unit(session):
        reads = GroupReads(session, [Wanted(sender, phone, at)], window=window, send_window=send_window)
        return reads.snapshot(sender, phone, at)
