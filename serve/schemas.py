"""Request and response bodies of the v1 API (API.md). Unknown fields are rejected."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_TEXT = 2_000
MAX_BATCH = 1_000


def _message_text(value: str) -> str:
    """1-2,000 characters after trimming, and valid Unicode (no lone surrogates)."""
    trimmed = value.strip()
    if not trimmed:
        raise ValueError("text is empty after trimming")
    if len(trimmed) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters after trimming")
    try:
        trimmed.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode") from exc
    return trimmed


MessageText = Annotated[str, AfterValidator(_message_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ClassifyRequest(Strict):
    texts: list[MessageText] = Field(min_length=1, max_length=MAX_BATCH)


class Probabilities(BaseModel):
    promotional: float
    transactional: float
    conversational: float


class ClassifyResult(BaseModel):
    message_type: str
    probabilities: Probabilities
    treated_as: str


class ClassifyResponse(BaseModel):
    model_version: str
    results: list[ClassifyResult]


class ReloadResponse(BaseModel):
    model_version: str
    previous_version: str | None
