"""The Alembic migrations build the schema the models describe, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from serve.store.database import downgrade, make_engine, migrate
from serve.store.schema import Base

TABLES = {table.name for table in Base.metadata.sorted_tables}


def _schema_diff(url: URL) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: URL) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrate_builds_every_table_from_an_empty_database(empty_database_url: URL) -> None:
    """Upgrading an empty database to head creates every table of the models."""
    migrate(empty_database_url)

    assert _tables(empty_database_url) == TABLES


def test_migrate_records_the_head_revision(empty_database_url: URL) -> None:
    """After migrating, alembic_version names the initial revision."""
    migrate(empty_database_url)

    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert version == "0001"


def test_migrated_schema_matches_the_models(empty_database_url: URL) -> None:
    """Autogenerate finds nothing to change between the migrated database and the models."""
    migrate(empty_database_url)

    assert _schema_diff(empty_database_url) == []


def test_schema_comparison_reports_a_dropped_index(empty_database_url: URL) -> None:
    """The comparison above can fail: a missing hot-lookup index shows up as a difference."""
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_consents_sender_phone"))
    finally:
        engine.dispose()

    diff = _schema_diff(empty_database_url)

    assert [entry[0] for entry in diff] == ["add_index"]
    assert diff[0][1].name == "ix_consents_sender_phone"


def test_migrate_twice_is_a_no_op(empty_database_url: URL) -> None:
    """Running the migrations again at head changes nothing and does not fail."""
    migrate(empty_database_url)
    migrate(empty_database_url)

    assert _schema_diff(empty_database_url) == []


def test_downgrade_to_base_removes_every_table(empty_database_url: URL) -> None:
    """The initial revision can be undone, leaving no application table behind."""
    migrate(empty_database_url)

    downgrade(empty_database_url, "base")

    assert _tables(empty_database_url) == set()
