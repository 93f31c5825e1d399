"""Engines, sessions and migrations for SQLite and PostgreSQL.

Durability is the point of the SQLite settings: a decision is reported to the caller
only after its commit returned, so that commit must survive the process being killed
(and, with ``synchronous=FULL``, the machine losing power).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
# Execution option a read-only unit of work sets so SQLite may begin it DEFERRED.
READ_ONLY_OPTION: Final = "sendgate_read_only"
# pg_advisory_xact_lock key held while migrating (any fixed 64-bit value of our own).
MIGRATION_LOCK_KEY: Final = 0x73656E6467617465  # "sendgate"


def _json_text(value: Any) -> str:
    # orjson: several times faster than json.dumps, which cost a tenth of a batch check.
    # It writes a NaN as null where json.dumps wrote NaN; the JSON columns hold softmax
    # probabilities and finite model weights, never NaN
    # (decisions._check refuses probabilities that are not finite).
    return orjson.dumps(value).decode()


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with the store's durability and integrity settings."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    json_codec: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    if backend == "sqlite":
        engine = create_engine(
            parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **json_codec
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend == "postgresql":
        return create_engine(
            parsed,
            echo=echo,
            pool_pre_ping=True,
            # Per-session settings: a server configured with synchronous_commit=off
            # would otherwise acknowledge commits it can still lose.
            connect_args={"options": "-c synchronous_commit=on -c timezone=UTC"},
            **json_codec,
        )
    raise ValueError(f"database url: unsupported backend {backend!r} (use sqlite or postgresql)")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin); sqlite3's implicit
    # transactions would start DEFERRED and could fail with "database is locked" when a
    # reader later tries to write while another connection writes.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL syncs the WAL on every commit: NORMAL survives a process crash but can
        # lose the last commits on power loss, and a 2xx promises the row is kept.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the write lock up front so read-then-write units of work serialise
    # instead of deadlocking; read-only units begin DEFERRED and never block writers (WAL).
    if connection.get_execution_options().get(READ_ONLY_OPTION, False):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class WriterQueue:
    """SQLite: a lock file the group-commit writers of every worker process queue on.

    SQLite lets one writer in at a time, and a writer that finds the database locked
    polls with growing sleeps (1, 2, 5, ... 100 ms), so two busy processes wait for each
    other far longer than the other's transaction lasts. A blocking ``flock`` wakes the
    next writer the moment the previous one releases it. PostgreSQL needs none of this
    (its row and advisory locks wake waiters directly), and there this is a no-op.

    Within one process the event loop and the writer thread both write (see
    decision_writer.py). ``flock`` does not exclude two holders of one descriptor, so a
    thread lock comes first: the turn is this process's, then the file's.
    """

    def __init__(self, url: str | URL) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        database = parsed.database if self.sqlite else None
        self.path = Path(f"{database}.writer-lock") if database and database != ":memory:" else None
        self._threads = threading.Lock()
        self._handle: IO[str] | None = None
        self._pid = -1

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the turn, and hold it."""
        if not self.sqlite:
            yield
            return
        with self._threads:
            if self.path is None:
                yield
                return
            handle = self._open()
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def try_turn(self) -> Iterator[bool]:
        """The turn if it is free now (True), else False at once: never waits.

        Always False on PostgreSQL: there the writer thread writes, since the loop would
        wait for each network round trip (decision_writer.py).
        """
        if not self.sqlite:
            yield False
            return
        if not self._threads.acquire(blocking=False):
            yield False
            return
        try:
            if self.path is None:
                yield True
                return
            handle = self._open()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _open(self) -> IO[str]:
        # Kept open: opening the file for every group cost 2% of the send path. A forked
        # child opens its own, since a flock on a shared descriptor would not exclude it.
        assert self.path is not None
        if self._handle is None or self._pid != os.getpid():
            self._handle = self.path.open("a")
            self._pid = os.getpid()
        return self._handle


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the repository returns records)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code: no alembic.ini is needed at runtime."""
    config = Config()
    # ConfigParser interpolates '%', so a path containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(url: str | URL, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the latest)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together on an empty database would otherwise race
                # to create the same tables, and the loser answers 503 until retried.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def downgrade(url: str | URL, revision: str) -> None:
    """Take the database at ``url`` down to ``revision`` (``"base"``: empty)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()
