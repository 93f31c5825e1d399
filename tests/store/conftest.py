"""Databases for the store tests: every test runs on SQLite and on PostgreSQL.

SQLite: a fresh file per test (copied from one migrated template). PostgreSQL: one
database created for the test session through the ``postgres`` maintenance database,
migrated once, emptied before each test and dropped at the end. When PostgreSQL cannot
be reached the PostgreSQL cases skip, except in CI (``CI`` set), where they fail: CI
must test both backends.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from serve.store.database import make_engine, migrate, session_factory
from serve.store.schema import Base

POSTGRES_SERVER = make_url(
    os.environ.get("SENDGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
)
BACKENDS = ("sqlite", "postgresql")


class PostgresServer:
    """Creates and drops uniquely named databases through the maintenance database."""

    def __init__(self, admin: Engine, server: URL) -> None:
        self._admin = admin
        self._server = server

    def create_database(self) -> URL:
        name = f"sendgate_test_{uuid.uuid4().hex[:16]}"
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self._server.set(database=name)

    def close(self) -> None:
        self._admin.dispose()

    def drop_database(self, url: URL) -> None:
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def connect_postgres_server() -> PostgresServer:
    """The local PostgreSQL server, or a skip; in CI (env CI set) a failure instead."""
    admin = create_engine(
        POSTGRES_SERVER.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        where = POSTGRES_SERVER.render_as_string(hide_password=True)
        message = f"PostgreSQL unreachable at {where}: {error.orig}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: both backends must be tested)")
        pytest.skip(message)
    return PostgresServer(admin, POSTGRES_SERVER)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = connect_postgres_server()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[URL]:
    url = postgres_server.create_database()
    migrate(url)
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "store.db"
    migrate(f"sqlite:///{path}")  # disposing the engine checkpoints the WAL into the file
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    """A migrated, empty database of the test's backend."""
    if backend == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return make_url(f"sqlite:///{path}")
    url: URL = request.getfixturevalue("postgres_url")
    _empty(url)
    return url


def _empty(url: URL) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
    finally:
        engine.dispose()


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """A database of the test's backend with no tables at all."""
    if backend == "sqlite":
        yield make_url(f"sqlite:///{tmp_path / 'empty.db'}")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def engine(database_url: URL) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session
