"""Concurrent writers: every write lands, and the single confirmation stays single."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from serve.store.database import session_factory
from serve.store.errors import ConfirmationAlreadyUsed
from serve.store.schema import DecisionRow, OptOutConfirmationRow
from serve.store.units import _lock_key, lock_pairs
from tests.store.factories import STOP, T0, add_senders, inbound, record

THREADS = 6


def _run_in_threads(engine: Engine, work: Callable[[Session, int], None]) -> list[BaseException]:
    sessions = session_factory(engine)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        with sessions() as session:
            start.wait()
            try:
                work(session, index)
            except BaseException as error:  # collected and asserted on by the test
                errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _count(session: Session, model: type[object]) -> int:
    count = session.scalar(select(func.count()).select_from(model))
    session.rollback()
    return int(count or 0)


def test_concurrent_decisions_are_all_stored(engine: Engine, session: Session) -> None:
    """Writers racing on one database wait for each other instead of failing."""
    add_senders(session)

    def write(worker_session: Session, index: int) -> None:
        for n in range(10):
            record(worker_session, "block", codes=("OPTED_OUT",), text=f"{index}/{n}")

    errors = _run_in_threads(engine, write)

    assert errors == []
    assert _count(session, DecisionRow) == THREADS * 10


def test_racing_confirmations_allow_exactly_one(engine: Engine, session: Session) -> None:
    """Of several confirmations racing after one STOP, one is stored and the rest refused."""
    add_senders(session)
    inbound(session, STOP)

    def confirm(worker_session: Session, index: int) -> None:
        record(
            worker_session,
            send_at=T0 + timedelta(seconds=index),
            codes=("OPT_OUT_CONFIRMATION",),
        )

    errors = _run_in_threads(engine, confirm)

    assert len(errors) == THREADS - 1
    assert all(isinstance(error, ConfirmationAlreadyUsed) for error in errors)
    assert _count(session, OptOutConfirmationRow) == 1


def test_pair_locks_of_a_group_are_all_held_until_commit(engine: Engine, backend: str) -> None:
    """PostgreSQL: locking a group's pairs in one statement still holds every one of them."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; there are no pair locks")
    pairs = [("acme", f"+1415555{n:04d}") for n in range(5)]
    sessions = session_factory(engine)
    with sessions() as holder, sessions() as other:
        with holder.begin():
            lock_pairs(holder, pairs)
            with other.begin():
                for sender, phone in [*pairs, ("acme", "+14155559999")]:
                    got = other.scalar(select(func.pg_try_advisory_xact_lock(_lock_key(sender, phone))))
                    assert got is (phone == "+14155559999"), (sender, phone)
        with other.begin():  # released at the holder's commit
            assert all(
                other.scalar(select(func.pg_try_advisory_xact_lock(_lock_key(s, p)))) for s, p in pairs
            )
