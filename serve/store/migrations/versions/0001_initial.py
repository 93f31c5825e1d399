"""Initial schema: senders, consents and revocations, inbound messages, opt-out events,
decisions, sends, opt-out confirmations and reviews.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Self-contained on purpose: it uses plain SQLAlchemy types, not the application's
(``UTCDateTime`` is ``DateTime(timezone=True)`` underneath), so later changes to the
models cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_TYPES = "('promotional', 'transactional', 'conversational')"


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=40), nullable=nullable)


def _sender() -> sa.Column[str]:
    return sa.Column("sender", sa.String(length=64), nullable=False)


def _phone() -> sa.Column[str]:
    return sa.Column("phone", sa.String(length=20), nullable=False)


def _word(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _sender_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["sender"], ["senders.id"], name=f"fk_{table}_sender_senders")


def upgrade() -> None:
    op.create_table(
        "senders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("help_text", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_senders"),
    )

    op.create_table(
        "consents",
        _id("consent_id"),
        _sender(),
        _phone(),
        _word("kind"),
        _word("method"),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("scope", sa.String(length=256), nullable=True),
        _timestamp("captured_at"),
        _timestamp("expires_at", nullable=True),
        _timestamp("created_at"),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        _id("restored_from", nullable=True),
        sa.CheckConstraint("kind IN ('express_written', 'express')", name="ck_consents_kind"),
        sa.CheckConstraint(
            "method IN ('web_form', 'checkbox', 'keyword', 'paper', 'verbal', 'purchase', "
            "'inquiry', 'soft_opt_in', 'other')",
            name="ck_consents_method",
        ),
        sa.CheckConstraint(
            "kind <> 'express_written' OR evidence IS NOT NULL",
            name="ck_consents_written_has_evidence",
        ),
        sa.ForeignKeyConstraint(
            ["restored_from"], ["consents.consent_id"], name="fk_consents_restored_from_consents"
        ),
        _sender_fk("consents"),
        sa.PrimaryKeyConstraint("consent_id", name="pk_consents"),
    )
    op.create_index("ix_consents_sender_phone", "consents", ["sender", "phone"])

    op.create_table(
        "inbound_messages",
        _id("inbound_id"),
        _sender(),
        _phone(),
        sa.Column("text", sa.Text(), nullable=False),
        _timestamp("received_at"),
        _word("action"),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("keyword", sa.Text(), nullable=True),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "action IN ('opted_out', 'opted_in', 'help', 'conversation_opened', 'none')",
            name="ck_inbound_messages_action",
        ),
        _sender_fk("inbound_messages"),
        sa.PrimaryKeyConstraint("inbound_id", name="pk_inbound_messages"),
    )
    op.create_index(
        "ix_inbound_messages_sender_phone_received_at",
        "inbound_messages",
        ["sender", "phone", "received_at"],
    )

    op.create_table(
        "decisions",
        _id("decision_id"),
        _timestamp("created_at"),
        sa.Column("request", sa.JSON(), nullable=False),
        _sender(),
        _phone(),
        _timestamp("send_at"),
        _word("decision"),
        _word("message_type"),
        _word("treated_as"),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("tau_promo", sa.Double(), nullable=False),
        sa.Column("tau_conf", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("trace", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=True),
        _id("consent_id", nullable=True),
        _id("inbound_id", nullable=True),
        _timestamp("not_before", nullable=True),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("jurisdiction", sa.JSON(), nullable=False),
        sa.CheckConstraint("decision IN ('allow', 'block', 'review')", name="ck_decisions_decision"),
        sa.CheckConstraint(f"message_type IN {MESSAGE_TYPES}", name="ck_decisions_message_type"),
        sa.CheckConstraint(f"treated_as IN {MESSAGE_TYPES}", name="ck_decisions_treated_as"),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.consent_id"], name="fk_decisions_consent_id_consents"
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.inbound_id"],
            name="fk_decisions_inbound_id_inbound_messages",
        ),
        _sender_fk("decisions"),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_created_at_decision_id", "decisions", ["created_at", "decision_id"])
    op.create_index("ix_decisions_decision_created_at", "decisions", ["decision", "created_at"])
    op.create_index("ix_decisions_sender_phone_created_at", "decisions", ["sender", "phone", "created_at"])

    op.create_table(
        "opt_out_events",
        _id("event_id"),
        _sender(),
        _phone(),
        _word("kind"),
        _timestamp("at"),
        _id("inbound_id", nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint("kind IN ('opt_out', 'opt_in')", name="ck_opt_out_events_kind"),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.inbound_id"],
            name="fk_opt_out_events_inbound_id_inbound_messages",
        ),
        _sender_fk("opt_out_events"),
        sa.PrimaryKeyConstraint("event_id", name="pk_opt_out_events"),
    )
    op.create_index("ix_opt_out_events_sender_phone_at", "opt_out_events", ["sender", "phone", "at"])

    op.create_table(
        "consent_revocations",
        _id("revocation_id"),
        _id("consent_id"),
        _timestamp("revoked_at"),
        sa.Column("revoked_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _id("opt_out_event_id", nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.consent_id"],
            name="fk_consent_revocations_consent_id_consents",
        ),
        sa.ForeignKeyConstraint(
            ["opt_out_event_id"],
            ["opt_out_events.event_id"],
            name="fk_consent_revocations_opt_out_event_id_opt_out_events",
        ),
        sa.PrimaryKeyConstraint("revocation_id", name="pk_consent_revocations"),
        sa.UniqueConstraint("consent_id", name="uq_consent_revocations_consent_id"),
    )
    op.create_index("ix_consent_revocations_opt_out_event_id", "consent_revocations", ["opt_out_event_id"])

    op.create_table(
        "opt_out_confirmations",
        _id("opt_out_event_id"),
        _id("decision_id"),
        _timestamp("sent_at"),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.decision_id"],
            name="fk_opt_out_confirmations_decision_id_decisions",
        ),
        sa.ForeignKeyConstraint(
            ["opt_out_event_id"],
            ["opt_out_events.event_id"],
            name="fk_opt_out_confirmations_opt_out_event_id_opt_out_events",
        ),
        sa.PrimaryKeyConstraint("opt_out_event_id", name="pk_opt_out_confirmations"),
        sa.UniqueConstraint("decision_id", name="uq_opt_out_confirmations_decision_id"),
    )

    op.create_table(
        "reviews",
        _id("review_id"),
        _id("decision_id"),
        _word("verdict"),
        _word("correct_type", nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            f"correct_type IS NULL OR correct_type IN {MESSAGE_TYPES}",
            name="ck_reviews_correct_type",
        ),
        sa.CheckConstraint(
            "verdict IN ('confirm', 'override_allow', 'override_block')",
            name="ck_reviews_verdict",
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.decision_id"], name="fk_reviews_decision_id_decisions"
        ),
        sa.PrimaryKeyConstraint("review_id", name="pk_reviews"),
    )
    op.create_index("ix_reviews_created_at", "reviews", ["created_at"])
    op.create_index("ix_reviews_decision_id_created_at", "reviews", ["decision_id", "created_at"])

    op.create_table(
        "sends",
        _id("decision_id"),
        _sender(),
        _phone(),
        _word("treated_as"),
        _timestamp("send_at"),
        sa.CheckConstraint(f"treated_as IN {MESSAGE_TYPES}", name="ck_sends_treated_as"),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.decision_id"], name="fk_sends_decision_id_decisions"
        ),
        _sender_fk("sends"),
        sa.PrimaryKeyConstraint("decision_id", name="pk_sends"),
    )
    op.create_index("ix_sends_sender_phone_send_at", "sends", ["sender", "phone", "send_at"])


def downgrade() -> None:
    # Dependants first; dropping a table drops its indexes on both backends.
    for table in (
        "sends",
        "reviews",
        "opt_out_confirmations",
        "consent_revocations",
        "opt_out_events",
        "decisions",
        "inbound_messages",
        "consents",
        "senders",
    ):
        op.drop_table(table)
