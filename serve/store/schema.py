"""The tables of the consent and audit store (SQLAlchemy 2 declarative, typed).

Append-only where the law asks for history (RULES.md 8): a revocation, an opt-out, an
opt-in and a review are each a new row; nothing here is ever updated or deleted by the
repository. Closed vocabularies are CHECK constraints built from the record Literals, so
the database refuses what the engine could not read back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Final, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from serve.consent.records import ConsentKind, ConsentMethod, InboundAction, MessageType, Outcome
from serve.store.timestamps import UTCDateTime

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OPT_EVENT_KINDS: Final = ("opt_out", "opt_in")
VERDICTS: Final = ("confirm", "override_allow", "override_block")

ID = String(40)
SENDER = String(64)
PHONE = String(20)  # E.164: '+' and at most 15 digits
WORD = String(32)
CODE = String(64)
ACTOR = String(128)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class SenderRow(Base):
    __tablename__ = "senders"

    id: Mapped[str] = mapped_column(SENDER, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    help_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ConsentRow(Base):
    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(_one_of("kind", get_args(ConsentKind)), name="kind"),
        CheckConstraint(_one_of("method", get_args(ConsentMethod)), name="method"),
        # Written consent is only as good as its proof (47 CFR 64.1200(f)(9)).
        CheckConstraint("kind <> 'express_written' OR evidence IS NOT NULL", name="written_has_evidence"),
        Index("ix_consents_sender_phone", "sender", "phone"),
    )

    consent_id: Mapped[str] = mapped_column(ID, primary_key=True)
    sender: Mapped[str] = mapped_column(SENDER, ForeignKey("senders.id"))
    phone: Mapped[str] = mapped_column(PHONE)
    kind: Mapped[str] = mapped_column(WORD)
    method: Mapped[str] = mapped_column(WORD)
    evidence: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(String(256))
    captured_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(ACTOR)
    # Set when an opt-in restored this consent from one an opt-out had revoked.
    restored_from: Mapped[str | None] = mapped_column(ID, ForeignKey("consents.consent_id"))


class OptOutEventRow(Base):
    __tablename__ = "opt_out_events"
    __table_args__ = (
        CheckConstraint(_one_of("kind", OPT_EVENT_KINDS), name="kind"),
        Index("ix_opt_out_events_sender_phone_at", "sender", "phone", "at"),
    )

    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    sender: Mapped[str] = mapped_column(SENDER, ForeignKey("senders.id"))
    phone: Mapped[str] = mapped_column(PHONE)
    kind: Mapped[str] = mapped_column(WORD)
    at: Mapped[datetime]
    inbound_id: Mapped[str | None] = mapped_column(ID, ForeignKey("inbound_messages.inbound_id"))
    created_at: Mapped[datetime]


class ConsentRevocationRow(Base):
    __tablename__ = "consent_revocations"
    __table_args__ = (
        # One revocation per consent: a restored consent is a new consent row.
        UniqueConstraint("consent_id"),
        Index("ix_consent_revocations_opt_out_event_id", "opt_out_event_id"),
    )

    revocation_id: Mapped[str] = mapped_column(ID, primary_key=True)
    consent_id: Mapped[str] = mapped_column(ID, ForeignKey("consents.consent_id"))
    revoked_at: Mapped[datetime]
    revoked_by: Mapped[str] = mapped_column(ACTOR)
    reason: Mapped[str] = mapped_column(Text)
    opt_out_event_id: Mapped[str | None] = mapped_column(ID, ForeignKey("opt_out_events.event_id"))
    created_at: Mapped[datetime]


class InboundMessageRow(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        CheckConstraint(_one_of("action", get_args(InboundAction)), name="action"),
        Index("ix_inbound_messages_sender_phone_received_at", "sender", "phone", "received_at"),
    )

    inbound_id: Mapped[str] = mapped_column(ID, primary_key=True)
    sender: Mapped[str] = mapped_column(SENDER, ForeignKey("senders.id"))
    phone: Mapped[str] = mapped_column(PHONE)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(WORD)
    needs_review: Mapped[bool] = mapped_column(Boolean)
    keyword: Mapped[str | None] = mapped_column(Text)  # a keyword or the phrase matched
    reason_code: Mapped[str | None] = mapped_column(CODE)
    created_at: Mapped[datetime]


class DecisionRow(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(_one_of("decision", get_args(Outcome)), name="decision"),
        CheckConstraint(_one_of("message_type", get_args(MessageType)), name="message_type"),
        CheckConstraint(_one_of("treated_as", get_args(MessageType)), name="treated_as"),
        Index("ix_decisions_created_at_decision_id", "created_at", "decision_id"),
        Index("ix_decisions_decision_created_at", "decision", "created_at"),
        Index("ix_decisions_sender_phone_created_at", "sender", "phone", "created_at"),
    )

    decision_id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime]
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    sender: Mapped[str] = mapped_column(SENDER, ForeignKey("senders.id"))
    phone: Mapped[str] = mapped_column(PHONE)
    send_at: Mapped[datetime]
    decision: Mapped[str] = mapped_column(WORD)
    message_type: Mapped[str] = mapped_column(WORD)
    treated_as: Mapped[str] = mapped_column(WORD)
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    tau_promo: Mapped[float] = mapped_column(Double)
    tau_conf: Mapped[float] = mapped_column(Double)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    trace: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    explanation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    consent_id: Mapped[str | None] = mapped_column(ID, ForeignKey("consents.consent_id"))
    inbound_id: Mapped[str | None] = mapped_column(ID, ForeignKey("inbound_messages.inbound_id"))
    not_before: Mapped[datetime | None]
    model_version: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(CODE)
    jurisdiction: Mapped[dict[str, Any]] = mapped_column(JSON)


class SendRow(Base):
    """An allowed send, counted by the frequency caps (RULES.md 4)."""

    __tablename__ = "sends"
    __table_args__ = (
        CheckConstraint(_one_of("treated_as", get_args(MessageType)), name="treated_as"),
        Index("ix_sends_sender_phone_send_at", "sender", "phone", "send_at"),
    )

    decision_id: Mapped[str] = mapped_column(ID, ForeignKey("decisions.decision_id"), primary_key=True)
    sender: Mapped[str] = mapped_column(SENDER, ForeignKey("senders.id"))
    phone: Mapped[str] = mapped_column(PHONE)
    treated_as: Mapped[str] = mapped_column(WORD)
    send_at: Mapped[datetime]


class OptOutConfirmationRow(Base):
    """The single confirmation allowed after an opt-out (47 CFR 64.1200(a)(12)).

    The primary key on the opt-out event makes "one" a database guarantee, so two
    concurrent confirmations cannot both be stored.
    """

    __tablename__ = "opt_out_confirmations"
    __table_args__ = (UniqueConstraint("decision_id"),)

    opt_out_event_id: Mapped[str] = mapped_column(ID, ForeignKey("opt_out_events.event_id"), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ID, ForeignKey("decisions.decision_id"))
    sent_at: Mapped[datetime]


class ReviewRow(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(_one_of("verdict", VERDICTS), name="verdict"),
        CheckConstraint(
            "correct_type IS NULL OR " + _one_of("correct_type", get_args(MessageType)),
            name="correct_type",
        ),
        Index("ix_reviews_decision_id_created_at", "decision_id", "created_at"),
        Index("ix_reviews_created_at", "created_at"),
    )

    review_id: Mapped[str] = mapped_column(ID, primary_key=True)
    decision_id: Mapped[str] = mapped_column(ID, ForeignKey("decisions.decision_id"))
    verdict: Mapped[str] = mapped_column(WORD)
    correct_type: Mapped[str | None] = mapped_column(WORD)
    note: Mapped[str] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(ACTOR)
    created_at: Mapped[datetime]
