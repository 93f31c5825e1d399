"""Engines, sessions and migrations for SQLite and PostgreSQL.

Durability is the point of the SQLite settings: a decision is reported to the caller
only after its commit returned, so that commit must survive the process being killed
(and, with ``synchronous=FULL``, the machine losing power).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
# Execution option a read-only unit of work sets so SQLite may begin it DEFERRED.
READ_ONLY_OPTION: Final = "sendgate_read_only"


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with the store's durability and integrity settings."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
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
