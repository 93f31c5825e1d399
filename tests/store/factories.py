"""Builders for the records the store tests write: small defaults, explicit overrides."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from serve.consent.records import (
    CheckRequest,
    Classification,
    ConsentKind,
    ConsentMethod,
    ConsentRecord,
    Decision,
    InboundAction,
    InboundRecord,
    Jurisdiction,
    MessageType,
    Outcome,
    Reason,
    TraceEntry,
)
from serve.store import repository

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SENDER = "acme"
OTHER_SENDER = "globex"
PHONE = "+14155550123"
OTHER_PHONE = "+14155550199"
US_CA = Jurisdiction(country="US", region="CA", policy_key="US", time_zones=("America/Los_Angeles",))


@dataclass(frozen=True)
class Interpretation:
    """Stands in for the engine's reading of an inbound text."""

    action: InboundAction
    needs_review: bool = False
    keyword: str | None = None
    reason_code: str | None = None


STOP = Interpretation("opted_out", keyword="STOP", reason_code="OPT_OUT_KEYWORD")
START = Interpretation("opted_in", keyword="START", reason_code="OPT_IN_KEYWORD")
HELP = Interpretation("help", keyword="HELP", reason_code="HELP_KEYWORD")
CHAT = Interpretation("conversation_opened")


def add_senders(session: Session) -> None:
    repository.add_sender(session=session, sender=SENDER, display_name="Acme Outdoor", help_text="Acme: help")
    repository.add_sender(session=session, sender=OTHER_SENDER, display_name="Globex")


def add_consent(
    session: Session,
    *,
    sender: str = SENDER,
    phone: str = PHONE,
    kind: ConsentKind = "express_written",
    method: ConsentMethod | None = "web_form",
    evidence: str | None = "form #81, checkbox text v3",
    scope: str | None = None,
    captured_at: datetime = T0 - timedelta(days=30),
    expires_at: datetime | None = None,
) -> ConsentRecord:
    return repository.add_consent(
        session=session,
        sender=sender,
        phone=phone,
        kind=kind,
        method=method,
        evidence=evidence,
        scope=scope,
        captured_at=captured_at,
        expires_at=expires_at,
        created_by="admin:test",
    )


def inbound(
    session: Session,
    interpretation: Interpretation,
    *,
    text: str | None = None,
    sender: str = SENDER,
    phone: str = PHONE,
    received_at: datetime = T0,
) -> InboundRecord:
    return repository.record_inbound(
        session=session,
        sender=sender,
        phone=phone,
        text=text if text is not None else (interpretation.keyword or "hi, is my order late?"),
        received_at=received_at,
        interpretation=interpretation,
    )


def request(**overrides: Any) -> CheckRequest:
    base = CheckRequest(
        text="Your order #12345 has shipped.",
        to=PHONE,
        sender=SENDER,
        send_at=T0,
        declared_type=None,
        transaction_ref="order:12345",
        in_reply_to=None,
    )
    return replace(base, **overrides)


def classification(message_type: MessageType = "transactional") -> Classification:
    others = [t for t in ("promotional", "transactional", "conversational") if t != message_type]
    return Classification(
        message_type=message_type,
        probabilities={message_type: 0.9, others[0]: 0.07, others[1]: 0.03},
        tau_promo=0.35,
        tau_conf=0.6,
        model_version="sendgate-clf/7",
    )


def decision(
    outcome: Outcome = "allow",
    *,
    message_type: MessageType = "transactional",
    treated_as: MessageType | None = None,
    codes: tuple[str, ...] = ("TRANSACTIONAL_CONSENT_OK",),
    consent_id: str | None = None,
    inbound_id: str | None = None,
    not_before: datetime | None = None,
) -> Decision:
    return Decision(
        decision=outcome,
        message_type=message_type,
        treated_as=treated_as or message_type,
        reasons=tuple(Reason(code, f"{code} fired", "CTIA 5.1") for code in codes),
        jurisdiction=US_CA,
        not_before=not_before,
        consent_id=consent_id,
        inbound_id=inbound_id,
        trace=tuple(
            TraceEntry(code, applies=True, passed=outcome == "allow", effect="block") for code in codes
        ),
        policy_version="2026.11.1",
    )


def record(
    session: Session,
    outcome: Outcome = "allow",
    *,
    message_type: MessageType = "transactional",
    treated_as: MessageType | None = None,
    codes: tuple[str, ...] = ("TRANSACTIONAL_CONSENT_OK",),
    send_at: datetime = T0,
    created_at: datetime | None = None,
    text: str = "Your order #12345 has shipped.",
    phone: str = PHONE,
) -> str:
    """Store one decision of the given outcome and type, made at ``created_at`` (default:
    the send time, so the send counts at ``send_at``); its id."""
    return repository.record_decision(
        session=session,
        decision=decision(outcome, message_type=message_type, treated_as=treated_as, codes=codes),
        request=request(send_at=send_at, text=text, to=phone),
        classification=classification(message_type),
        created_at=created_at or send_at,
    )
