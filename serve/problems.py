"""Errors as application/problem+json (RFC 9457), mapped to HTTP in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve.store.errors import InvalidInput, NotFound, StaleDecision, StoreError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://sendgate.dev/problems/"


class Problem(Exception):
    """A domain error with a stable code; the handler below renders it."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.errors = errors
        self.headers = headers


def unknown_sender(exc: NotFound, field: str) -> Problem:
    """422 for a request naming a sender the store does not know, naming the field."""
    return Problem(
        422,
        "validation",
        "Invalid request",
        str(exc),
        [{"field": field, "message": f"{exc}; register it with POST /v1/senders"}],
    )


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


_STORE_STATUS: dict[str, tuple[int, str]] = {
    "AlreadyExists": (409, "Already exists"),
    "AlreadyRevoked": (409, "Already revoked"),
}

_STATUS_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field(tuple(e.get("loc", ()))),
                "message": e.get("msg", "invalid"),
                "type": e.get("type", "invalid"),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem_response(
            Problem(422, "validation", "Invalid request", f"invalid field(s): {fields}", errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return problem_response(
            Problem(
                exc.status_code,
                code,
                code.replace("_", " ").capitalize(),
                str(exc.detail),
                headers=getattr(exc, "headers", None),
            )
        )

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        status, title = _STORE_STATUS.get(type(exc).__name__, (409, "Conflict"))
        if isinstance(exc, NotFound):
            status, title = 404, "Not found"
        elif isinstance(exc, InvalidInput):
            status, title = 422, "Invalid request"
        elif isinstance(exc, StaleDecision):
            status, title = 409, "Records changed during the decision"
        errors = [{"field": exc.field, "message": exc.message}] if status == 422 and exc.field else None
        return problem_response(Problem(status, exc.code, title, exc.message, errors))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Fail closed and say nothing internal; the traceback goes to the log.
        import logging

        logging.getLogger("sendgate").exception("unhandled error", exc_info=exc)
        return problem_response(
            Problem(
                503,
                "unavailable",
                "Service unavailable",
                "the service could not complete the request; nothing was allowed",
            )
        )
