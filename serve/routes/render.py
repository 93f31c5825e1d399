"""Stored records as API bodies: one mapping each, shared by every route that shows them."""

from __future__ import annotations

from serve.consent.records import ConsentRecord, SenderProfile
from serve.schemas import (
    CheckOut,
    ConsentOut,
    DecisionOut,
    RequestOut,
    ReviewOut,
    SenderOut,
)
from serve.store.views import ReviewRecord, StoredDecision


def check_out(stored: StoredDecision) -> CheckOut:
    """What /v1/check answers for a stored decision."""
    d, c = stored.decision, stored.classification
    # One validation call over plain dicts: a dozen nested model constructors cost a
    # check more than the rest of its answer.
    return CheckOut.model_validate(
        {
            "decision": d.decision,
            "decision_id": stored.decision_id,
            "message_type": d.message_type,
            "probabilities": {k: float(v) for k, v in c.probabilities.items()},
            "treated_as": d.treated_as,
            "reasons": [{"code": r.code, "message": r.message, "source": r.source} for r in d.reasons],
            "consent_id": d.consent_id,
            "inbound_id": d.inbound_id,
            "not_before": d.not_before,
            "model_version": c.model_version,
            "policy_version": d.policy_version,
            "jurisdiction": d.jurisdiction.policy_key,
            "explanation": [{"feature": f.feature, "weight": f.weight} for f in stored.explanation or ()],
        }
    )


def review_out(review: ReviewRecord) -> ReviewOut:
    return ReviewOut(
        review_id=review.review_id,
        decision_id=review.decision_id,
        verdict=review.verdict,
        correct_type=review.correct_type,
        note=review.note,
        reviewer=review.reviewer,
        created_at=review.created_at,
    )


def decision_out(stored: StoredDecision) -> DecisionOut:
    """The /v1/check answer plus the original request, when it was stored, and its reviews."""
    r = stored.request
    return DecisionOut(
        **dict(check_out(stored)),
        request=RequestOut(
            text=r.text,
            to=r.to,
            sender=r.sender,
            send_at=r.send_at,
            declared_type=r.declared_type,
            transaction_ref=r.transaction_ref,
            in_reply_to=r.in_reply_to,
        ),
        created_at=stored.created_at,
        reviews=[review_out(review) for review in stored.reviews],
    )


def consent_out(record: ConsentRecord) -> ConsentOut:
    return ConsentOut(
        consent_id=record.consent_id,
        sender=record.sender,
        phone=record.phone,
        kind=record.kind,
        scope=record.scope,
        method=record.method,
        evidence=record.evidence,
        captured_at=record.captured_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        revoked_by=record.revoked_by,
    )


def sender_out(profile: SenderProfile) -> SenderOut:
    return SenderOut(sender=profile.sender, display_name=profile.display_name, help_text=profile.help_text)
