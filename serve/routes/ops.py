"""Liveness, readiness (fail closed) and model reload."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serve.auth import AdminCaller
from serve.model_runtime import ModelHolder, ModelUnavailable
from serve.observability import Metrics
from serve.problems import Problem
from serve.schemas import ReloadResponse
from serve.services import Services

router = APIRouter()


@router.get("/healthz", tags=["operations"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"])
def readyz(request: Request) -> JSONResponse:
    holder: ModelHolder = request.app.state.models
    services: Services = request.app.state.services
    database = services.database_ok() if services.ensure_database() else "database not migrated"
    checks = {"model": "ok" if holder.ready else (holder.last_error or "not loaded"), "database": database}
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    if ready:
        body["model_version"] = holder.current.version
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", tags=["operations"], include_in_schema=False)
def metrics(request: Request) -> Response:
    """This app's counters; with several workers (multiprocess mode) the sum over all of them."""
    collected: Metrics = request.app.state.metrics
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/admin/reload-model", tags=["operations"], response_model=ReloadResponse)
def reload_model(request: Request, caller: AdminCaller) -> ReloadResponse:
    holder: ModelHolder = request.app.state.models
    previous = holder.current.version if holder.ready else None
    try:
        loaded = holder.reload()
    except ModelUnavailable as exc:
        raise Problem(
            503, "model_unavailable", "Model unavailable", f"{exc}; still serving {previous or 'nothing'}"
        ) from exc
    return ReloadResponse(model_version=loaded.version, previous_version=previous)
