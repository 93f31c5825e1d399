"""The store's public persistence functions, in one place for callers.

Each function takes the session and keyword-only arguments, runs in one transaction
and commits before it returns; each returns records, never ORM rows.
"""

from __future__ import annotations

from serve.store.consents import add_consent, list_consents, revoke_consent
from serve.store.decisions import (
    CheckBatch,
    decide_and_record,
    decide_and_record_batch,
    decide_and_record_batches,
    get_decision,
    list_decisions,
    record_decision,
    record_decisions_batch,
)
from serve.store.inbound_messages import record_inbound
from serve.store.reviews import add_review, export_reviews
from serve.store.senders import add_sender, get_sender
from serve.store.snapshots import snapshot

__all__ = [
    "CheckBatch",
    "add_consent",
    "add_review",
    "add_sender",
    "decide_and_record",
    "decide_and_record_batch",
    "decide_and_record_batches",
    "export_reviews",
    "get_decision",
    "get_sender",
    "list_consents",
    "list_decisions",
    "record_decision",
    "record_decisions_batch",
    "record_inbound",
    "revoke_consent",
    "snapshot",
]
