"""Engine settings, timestamp handling and ids: the store's foundations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from serve.store import ids
from serve.store.database import SQLITE_BUSY_TIMEOUT_MS, make_engine
from serve.store.schema import SenderRow


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("synchronous", 2),  # FULL
        ("foreign_keys", 1),
        ("busy_timeout", SQLITE_BUSY_TIMEOUT_MS),
    ],
)
def test_sqlite_connections_are_durable_and_checked(engine: Engine, pragma: str, expected: object) -> None:
    """Every SQLite connection runs with WAL, synchronous=FULL, foreign keys and a busy timeout."""
    assert _pragma(engine, pragma) == expected


@POSTGRESQL_ONLY
def test_postgresql_sessions_commit_synchronously(engine: Engine) -> None:
    """PostgreSQL sessions force synchronous_commit=on whatever the server default."""
    with engine.connect() as connection:
        assert connection.execute(text("SHOW synchronous_commit")).scalar() == "on"


@SQLITE_ONLY
def test_sqlite_refuses_a_row_whose_foreign_key_is_missing(engine: Engine) -> None:
    """Foreign keys are enforced on SQLite too: a consent for an unknown sender is refused."""
    with pytest.raises(Exception, match="FOREIGN KEY"), engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO consents (consent_id, sender, phone, kind, method, evidence,"
            " captured_at, created_at, created_by) VALUES ('con_x', 'nobody', '+1415',"
            " 'express', 'other', NULL, '2026-01-01 00:00:00.000000',"
            " '2026-01-01 00:00:00.000000', 'test')"
        )


def test_timestamps_come_back_aware_in_utc(session: Session) -> None:
    """A time stored with any offset is returned as the same instant, aware and in UTC."""
    paris = timezone(timedelta(hours=1))
    written = datetime(2026, 11, 25, 16, 30, 0, 123456, tzinfo=paris)
    session.add(SenderRow(id="acme", display_name="Acme", help_text="", created_at=written))
    session.commit()
    session.expunge_all()

    read = session.scalars(select(SenderRow.created_at)).one()

    assert read == written
    assert read.tzinfo is UTC
    assert read.isoformat() == "2026-11-25T15:30:00.123456+00:00"


def test_naive_timestamps_are_refused(session: Session) -> None:
    """A naive datetime never reaches the database: its zone would be a guess."""
    session.add(SenderRow(id="acme", display_name="Acme", help_text="", created_at=datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()
    session.rollback()


def test_unsupported_backend_is_named() -> None:
    """An engine for another database is refused with the backend named."""
    with pytest.raises(ValueError, match="unsupported backend 'mysql'"):
        make_engine("mysql://user@localhost/db")


def test_ids_carry_prefix_and_ulid() -> None:
    """An id is the prefix, an underscore and 26 Crockford base-32 characters."""
    identifier = ids.new_id(ids.DECISION)

    prefix, ulid = identifier.split("_")
    assert prefix == "dec"
    assert len(ulid) == 26
    assert set(ulid) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_ids_of_one_instant_are_distinct() -> None:
    """Many ids made for the same millisecond never collide (80 random bits each)."""
    at = datetime(2026, 11, 25, tzinfo=UTC)

    assert len({ids.new_id("dec", at) for _ in range(10_000)}) == 10_000


instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(instants, instants)
def test_ids_sort_by_time(first: datetime, second: datetime) -> None:
    """Ids made at different milliseconds sort as their times do."""
    a, b = ids.new_id("dec", first), ids.new_id("dec", second)
    ms_a, ms_b = ids.ulid_time_ms(a), ids.ulid_time_ms(b)

    assert ms_a == int(first.timestamp() * 1000)
    if ms_a != ms_b:
        assert (a < b) == (ms_a < ms_b)
