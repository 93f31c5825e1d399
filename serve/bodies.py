"""A JSON request body read straight into a pydantic model, for the send path.

FastAPI's own body handling parses the JSON with the standard library, validates the
result field by field in Python mode and resolves the route's dependencies, which
together cost a single check more than its consent rules. ``parse_json`` hands the raw
bytes to pydantic-core's JSON validator in one call and reports what is wrong as a
FastAPI route would: a ``RequestValidationError`` whose locations start with "body", so
the problem+json handler names the same fields with the same error types. One
difference: a malformed document is named "body", not by a character position.
"""

from __future__ import annotations

from email.message import Message
from functools import lru_cache
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

M = TypeVar("M", bound=BaseModel)


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    # The same test FastAPI applies: application/json or any application/*+json.
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _error(kind: str, message: str, raw: bytes) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body",), "msg": message, "input": raw}])


async def parse_json(request: Request, model: type[M]) -> M:
    """The request body as ``model``, or a 422 naming the fields (never a 500)."""
    raw = await request.body()
    if not raw:
        raise _error("missing", "Field required", raw)
    if not _is_json(request.headers.get("content-type", "")):
        raise _error("model_attributes_type", "Input should be a JSON object sent as application/json", raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None


def document(app: FastAPI, *models: type[BaseModel]) -> None:
    """Put ``models`` in the app's OpenAPI components, where routes that read their own
    body refer to them (no route declares them as a parameter, so FastAPI would not)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # cached on the app; completed in place, once
            _, definitions = models_json_schema(
                [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions.get("$defs", {}))
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
