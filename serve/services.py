"""What the routes need, built once per app in the lifespan and reached via ``Services``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from model.settings import Settings
from serve.consent.policy import Policy, load_policy
from serve.decision_writer import DecisionWriter
from serve.model_runtime import LoadedModel, ModelHolder, ModelUnavailable
from serve.observability import Metrics
from serve.problems import Problem
from serve.store import database, repository
from serve.store.errors import AlreadyExists, NotFound


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy
    models: ModelHolder
    metrics: Metrics

    writer: DecisionWriter = field(init=False)

    def __post_init__(self) -> None:
        def observe(size: int, seconds: float) -> None:
            self.metrics.decision_group_size.observe(size)
            self.metrics.decision_commit_seconds.observe(seconds)

        queue = database.WriterQueue(self.settings.database)
        self.writer = DecisionWriter(
            self.session,
            self.policy.conversation_window,
            observe=observe,
            turn=queue.turn,
            # SQLite: write on the event loop while the lock is free (decision_writer.py).
            try_turn=queue.try_turn if self.settings.sqlite_write_on_loop else None,
        )

    @classmethod
    def build(cls, settings: Settings, models: ModelHolder, metrics: Metrics) -> Services:
        if settings.database_url is None:
            settings.state_dir.mkdir(parents=True, exist_ok=True)
        policy = load_policy(settings.policy_path) if settings.policy_path else load_policy()
        engine = database.make_engine(settings.database)
        return cls(settings, engine, database.session_factory(engine), policy, models, metrics)

    database_ready: bool = False

    def ensure_database(self) -> bool:
        """Migrate once; a database that is down now is retried by /readyz later."""
        if not self.database_ready:
            try:
                self.prepare_database()
                self.database_ready = True
            except SQLAlchemyError as exc:
                logging.getLogger("sendgate").error("database not ready", extra={"error": type(exc).__name__})
        return self.database_ready

    def prepare_database(self) -> None:
        """Migrate to the latest schema and make sure the default sender exists."""
        database.migrate(self.settings.database)
        with self.sessions() as session:
            try:
                repository.get_sender(session=session, sender=self.settings.default_sender)
            except NotFound:
                with suppress(AlreadyExists):  # another worker may have won the race
                    repository.add_sender(
                        session=session,
                        sender=self.settings.default_sender,
                        display_name=self.settings.default_sender_name,
                    )

    def database_ok(self) -> str:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return f"database unavailable: {type(exc).__name__}"
        return "ok"

    def model(self) -> LoadedModel:
        try:
            return self.models.current
        except ModelUnavailable as exc:
            raise Problem(
                503, "model_unavailable", "Model unavailable", f"{exc}; nothing is allowed without a model"
            ) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose database failures become 503: fail closed, never allow."""
        with self.sessions() as session:
            try:
                yield session
            except SQLAlchemyError as exc:
                raise Problem(
                    503,
                    "database_unavailable",
                    "Database unavailable",
                    f"the audit store could not be reached ({type(exc).__name__}); nothing was allowed",
                ) from exc


async def get_services(request: Request) -> Services:
    # async: a sync dependency would cost every request a hop through the thread pool
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
