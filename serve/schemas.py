"""Request and response bodies of the v1 API (API.md). Unknown fields are rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

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


def _e164(value: str) -> str:
    """A valid E.164 number, normalised; anything else is a 422 naming the field."""
    if not value.startswith("+"):
        raise ValueError("phone number must be in E.164 form, starting with +")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Phone = Annotated[str, AfterValidator(_e164)]
SenderName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Reference = Annotated[str, Field(min_length=1, max_length=200)]
MessageKind = Literal["promotional", "transactional", "conversational"]


class CheckIn(Strict):
    text: MessageText
    to: Phone
    sender: SenderName | None = None
    declared_type: MessageKind | None = None
    transaction_ref: Reference | None = None
    in_reply_to: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    send_at: AwareDatetime | None = None


class CheckBatchIn(Strict):
    messages: list[CheckIn] = Field(min_length=1, max_length=MAX_BATCH)


class ReasonOut(BaseModel):
    code: str
    message: str
    source: str


class FeatureOut(BaseModel):
    feature: str
    weight: float


class CheckOut(BaseModel):
    decision: Literal["allow", "block", "review"]
    decision_id: str
    message_type: MessageKind
    probabilities: Probabilities
    treated_as: MessageKind
    reasons: list[ReasonOut]
    consent_id: str | None
    inbound_id: str | None
    not_before: datetime | None
    model_version: str
    policy_version: str
    jurisdiction: str
    explanation: list[FeatureOut]


class CheckBatchOut(BaseModel):
    results: list[CheckOut]
