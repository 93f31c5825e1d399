"""The engine's inputs and outputs: plain frozen dataclasses, no I/O.

The store (serve/store) builds a ``ConsentSnapshot`` from the database; the engine
(serve/consent/engine.py) turns (classification, request, snapshot, policy, clock) into a
``Decision``. Every datetime here is timezone-aware (UTC in, UTC out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MessageType = Literal["promotional", "transactional", "conversational"]
ConsentKind = Literal["express_written", "express"]
ConsentMethod = Literal[
    "web_form", "checkbox", "keyword", "paper", "verbal", "purchase", "inquiry", "soft_opt_in", "other"
]
Outcome = Literal["allow", "block", "review"]
InboundAction = Literal["opted_out", "opted_in", "help", "conversation_opened", "none"]


@dataclass(frozen=True)
class Classification:
    """What the model said about the outgoing text."""

    message_type: MessageType
    probabilities: Mapping[str, float]  # keys: the three message types
    tau_promo: float  # from the model manifest
    tau_conf: float
    model_version: str


@dataclass(frozen=True)
class CheckRequest:
    text: str
    to: str  # E.164, already validated as a possible number
    sender: str
    send_at: datetime
    declared_type: MessageType | None = None
    transaction_ref: str | None = None
    in_reply_to: str | None = None  # an inbound_id


@dataclass(frozen=True)
class ConsentRecord:
    consent_id: str
    sender: str
    phone: str
    kind: ConsentKind
    method: ConsentMethod
    evidence: str | None
    captured_at: datetime
    scope: str | None = None  # None: the sender's whole program
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None  # e.g. "inbound:inb_...", "admin:<key id>"


@dataclass(frozen=True)
class InboundRecord:
    inbound_id: str
    sender: str
    phone: str
    text: str
    received_at: datetime
    action: InboundAction
    needs_review: bool = False  # a keyword buried in other text (RULES.md 3)


@dataclass(frozen=True)
class OptOutState:
    """The latest opt-out of this (sender, phone), if it is still in force."""

    opted_out_at: datetime
    inbound_id: str | None
    confirmation_sent_at: datetime | None = None  # the single allowed confirmation, once used


@dataclass(frozen=True)
class SenderProfile:
    sender: str
    display_name: str
    help_text: str = ""


@dataclass(frozen=True)
class ConsentSnapshot:
    """Everything the engine may know about one (sender, recipient) at decision time."""

    sender: SenderProfile
    phone: str
    consents: tuple[ConsentRecord, ...] = ()
    inbound: tuple[InboundRecord, ...] = ()  # recent inbound messages, newest first
    opt_out: OptOutState | None = None
    # send times of allowed promotional messages in the last 24 h, for frequency caps
    recent_promotional_sends: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Reason:
    code: str
    message: str  # a sentence a reviewer can read
    source: str  # legal or industry source from the policy


@dataclass(frozen=True)
class TraceEntry:
    """One rule evaluated: whether it applied, passed, and its effect if it failed."""

    code: str
    applies: bool
    passed: bool
    effect: Literal["block", "review", "none"]
    detail: str = ""


@dataclass(frozen=True)
class Jurisdiction:
    country: str  # ISO 3166-1 alpha-2, or "ZZ" when unknown
    region: str | None  # US state code from the area code, when known
    policy_key: str  # the policy entry applied, e.g. "US-FL", "EU", "DEFAULT"
    time_zones: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    decision: Outcome
    message_type: MessageType
    treated_as: MessageType
    reasons: tuple[Reason, ...]
    jurisdiction: Jurisdiction
    not_before: datetime | None = None
    consent_id: str | None = None  # the consent an allow relied on
    inbound_id: str | None = None  # or the inbound message (implied consent)
    trace: tuple[TraceEntry, ...] = field(default_factory=tuple)
    policy_version: str = ""
