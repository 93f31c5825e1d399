"""The FastAPI application factory. Nothing here runs at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from model.gc_tuning import settle_after_load
from model.settings import Settings, get_settings
from serve import bodies, problems
from serve.auth import parse_keys
from serve.limits import BodySizeLimit
from serve.model_runtime import LoadedModel, ModelHolder, ModelUnavailable
from serve.observability import Metrics, RequestContext, configure_logging
from serve.routes import check, classify, consents, decisions, inbound, ops, review_page
from serve.services import Services

log = logging.getLogger("sendgate")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = app.state.services
        try:
            app.state.models.reload()
        except ModelUnavailable:
            # Start anyway: /readyz and every decision answer 503 until a model loads.
            log.warning("starting without a model; /readyz reports 503")
        services.ensure_database()
        services.writer.start()
        yield
        services.writer.stop()  # what was acknowledged is committed; finish the rest
        services.engine.dispose()

    app = FastAPI(
        title="sendgate",
        version="1",
        summary="Decides whether a business may send a text message.",
        lifespan=lifespan,
        # Metrics go to Prometheus and logs are JSON lines; FastAPI's OpenTelemetry
        # hooks would otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.api_keys = parse_keys(settings.api_keys)
    app.state.metrics = metrics

    def on_load(loaded: LoadedModel) -> None:
        metrics.set_model(loaded.version)
        settle_after_load()  # no full collection scanning the model: p99 258 -> 61 ms

    app.state.models = ModelHolder(settings, on_load=on_load)
    app.state.services = Services.build(settings, app.state.models, metrics)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last, so it is outermost: every response, errors included, carries the id.
    app.add_middleware(RequestContext, metrics=metrics)
    problems.install(app)
    # Routes are matched in order: the send path first, so a check is not first compared
    # against every other route.
    app.include_router(check.router)
    bodies.document(app, *check.BODIES)
    app.include_router(ops.router)
    app.include_router(classify.router)
    review_page.install(app)
    app.include_router(consents.router)
    app.include_router(inbound.router)
    app.include_router(decisions.router)
    return app
