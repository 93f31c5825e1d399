"""Units of work: each repository call is one transaction, committed before it returns."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from serve.store.database import READ_ONLY_OPTION

# session.info key of the sender profiles read in the current unit of work.
SENDER_MEMO = "sendgate_senders"


@contextmanager
def write_unit(session: Session) -> Iterator[Session]:
    """One read-write transaction, committed on success and rolled back on any error."""
    _begin(session, read_only=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _detach(session)


@contextmanager
def read_unit(session: Session) -> Iterator[Session]:
    """One read-only transaction: a consistent view, released at the end."""
    _begin(session, read_only=True)
    try:
        yield session
    finally:
        _detach(session)
        session.rollback()


def _begin(session: Session, *, read_only: bool) -> None:
    if session.in_transaction():
        # Committing someone else's pending work (or joining it) would break the
        # promise that each call is its own transaction.
        raise RuntimeError(
            "the session already has a transaction open; repository calls own their transaction"
        )
    session.connection(execution_options={READ_ONLY_OPTION: read_only})


def _detach(session: Session) -> None:
    # Rows must not outlive their unit of work: touching an expired row afterwards would
    # silently open a new transaction. Detached, it raises instead.
    session.expunge_all()
    session.info.pop(SENDER_MEMO, None)


def lock_pairs(session: Session, pairs: Iterable[tuple[str, str]]) -> None:
    """Serialise writers of the same (sender, phone) until the transaction ends.

    PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two batches
    cannot deadlock. SQLite: nothing to do, BEGIN IMMEDIATE already serialises writers.
    Without this an opt-out and a concurrent write could each miss the other.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(sender, phone) for sender, phone in pairs})
    if len(keys) == 1:
        session.execute(select(func.pg_advisory_xact_lock(keys[0])))
    elif keys:
        # One round trip for a whole group; unnest yields the sorted array in order, so
        # the locks are still taken in one global order.
        session.execute(_LOCK_ALL, {"keys": keys})


_LOCK_ALL: Final = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")


def _lock_key(sender: str, phone: str) -> int:
    digest = hashlib.blake2b(f"{sender}\x00{phone}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def utc_now() -> datetime:
    return datetime.now(UTC)
