"""Request and response bodies of the v1 API (API.md). Unknown fields are rejected."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

MAX_TEXT = 2_000
MAX_BATCH = 1_000


def _message_text(value: str) -> str:
    """1-2,000 characters after trimming, and valid Unicode (no lone surrogates)."""
    if not value.strip():
        raise ValueError("text is empty after trimming")
    return _bounded_text(value)


def _bounded_text(value: str) -> str:
    """At most 2,000 characters after trimming, and valid Unicode (no lone surrogates)."""
    trimmed = value.strip()
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
    return _valid_e164(value)


# Recipients repeat: parsing and validating a number cost about 5% of a check's CPU.
# Only valid numbers are remembered (a ValueError is not cached).
@lru_cache(maxsize=65_536)
def _valid_e164(value: str) -> str:
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


# --- consents and senders (role admin) ---

ConsentKindIn = Literal["express_written", "express"]
ConsentMethodIn = Literal[
    "web_form", "checkbox", "keyword", "paper", "verbal", "purchase", "inquiry", "soft_opt_in", "other"
]
Evidence = Annotated[str, Field(min_length=1, max_length=4_000)]


def _query_phone(value: object) -> object:
    """A '+' left unencoded in a query string arrives as a space; put it back."""
    if isinstance(value, str) and value.startswith(" ") and value[1:2].isdigit():
        return "+" + value[1:]
    return value


QueryPhone = Annotated[str, BeforeValidator(_query_phone), AfterValidator(_e164)]


class ConsentIn(Strict):
    sender: SenderName | None = None
    phone: Phone
    kind: ConsentKindIn
    scope: Reference | None = None
    method: ConsentMethodIn | None = None
    evidence: Evidence | None = None
    captured_at: AwareDatetime
    expires_at: AwareDatetime | None = None


class ConsentOut(BaseModel):
    consent_id: str
    sender: str
    phone: str
    kind: ConsentKindIn
    scope: str | None
    method: ConsentMethodIn
    evidence: str | None
    captured_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class ConsentListOut(BaseModel):
    items: list[ConsentOut]


class RevokeIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=1_000)]


class SenderIn(Strict):
    sender: SenderName
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    help_text: Annotated[str, Field(max_length=1_000)] = ""


class SenderOut(BaseModel):
    sender: str
    display_name: str
    help_text: str


# --- inbound messages (role sender) ---


def _inbound_text(value: str) -> str:
    """What the provider delivered, trimmed; may be empty (e.g. a picture without text)."""
    return _bounded_text(value)


InboundAction = Literal["opted_out", "opted_in", "help", "conversation_opened", "none"]


class InboundIn(Strict):
    # ``from`` is a Python keyword: the field is ``from_`` and only the alias is accepted.
    from_: Phone = Field(alias="from")
    to_sender: SenderName
    text: Annotated[str, AfterValidator(_inbound_text)]
    received_at: AwareDatetime | None = None


class InboundOut(BaseModel):
    inbound_id: str
    action: InboundAction
    reply: str | None
    needs_review: bool
    reason_code: str | None


# --- decisions and reviews (role reviewer) ---

Verdict = Literal["confirm", "override_allow", "override_block"]


class RequestOut(BaseModel):
    text: str
    to: str
    sender: str
    send_at: datetime
    declared_type: MessageKind | None
    transaction_ref: str | None
    in_reply_to: str | None


class ReviewIn(Strict):
    verdict: Verdict
    correct_type: MessageKind | None = None
    note: Annotated[str, Field(max_length=2_000)] = ""


class ReviewOut(BaseModel):
    review_id: str
    decision_id: str
    verdict: Verdict
    correct_type: MessageKind | None
    note: str
    reviewer: str
    created_at: datetime


class DecisionOut(CheckOut):
    """Everything /v1/check returned, plus what it was asked and how it was reviewed."""

    request: RequestOut
    created_at: datetime
    reviews: list[ReviewOut]


class DecisionPageOut(BaseModel):
    items: list[DecisionOut]
    next_cursor: str | None
