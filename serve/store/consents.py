"""Consents and their revocations (append-only: revoking adds a row, never edits one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, cast, get_args

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from serve.consent.records import ConsentKind, ConsentMethod, ConsentRecord
from serve.store import ids, validation
from serve.store.errors import AlreadyRevoked, InvalidConsent, NotFound
from serve.store.schema import ConsentRevocationRow, ConsentRow
from serve.store.senders import load_sender
from serve.store.units import lock_pairs, read_unit, utc_now, write_unit

CONSENT_KINDS = get_args(ConsentKind)
CONSENT_METHODS = get_args(ConsentMethod)


def add_consent(
    *,
    session: Session,
    sender: str,
    phone: str,
    kind: ConsentKind,
    method: ConsentMethod | None,
    evidence: str | None,
    captured_at: datetime,
    created_by: str,
    scope: str | None = None,
    expires_at: datetime | None = None,
    created_at: datetime | None = None,
) -> ConsentRecord:
    """Store a consent the business collected; ``express_written`` must prove itself.

    ``method`` may be omitted for ``express`` consent only; it is then stored as
    ``"other"`` because the record contract has no "unknown" method.
    """
    _check_consent(kind=kind, method=method, evidence=evidence, scope=scope)
    validation.phone("phone", phone, error=InvalidConsent)
    validation.aware("captured_at", captured_at, error=InvalidConsent)
    if expires_at is not None:
        validation.aware("expires_at", expires_at, error=InvalidConsent)
        if expires_at <= captured_at:
            raise InvalidConsent("expires_at", "must be later than captured_at")
    validation.text("created_by", created_by, max_length=128, error=InvalidConsent)
    created = validation.aware("created_at", created_at or utc_now())
    row = ConsentRow(
        consent_id=ids.new_id(ids.CONSENT, created),
        sender=sender,
        phone=phone,
        kind=kind,
        method=method or "other",
        evidence=evidence,
        scope=scope,
        captured_at=captured_at,
        expires_at=expires_at,
        created_at=created,
        created_by=created_by,
    )
    with write_unit(session):
        load_sender(session, sender)
        lock_pairs(session, [(sender, phone)])
        session.add(row)
        session.flush()
        return consent_record(row, None)


def _check_consent(*, kind: str, method: str | None, evidence: str | None, scope: str | None) -> None:
    validation.one_of("kind", kind, CONSENT_KINDS, error=InvalidConsent)
    if method is not None:
        validation.one_of("method", method, CONSENT_METHODS, error=InvalidConsent)
    if scope is not None:
        validation.text("scope", scope, max_length=256, error=InvalidConsent)
    if evidence is not None:
        validation.text("evidence", evidence, error=InvalidConsent)
    if kind == "express_written":
        # 47 CFR 64.1200(f)(9): written consent is the signed agreement, so without how
        # it was given and the proof of it there is nothing to rely on.
        if method is None:
            raise InvalidConsent("method", "required for express_written consent")
        if evidence is None:
            raise InvalidConsent("evidence", "required for express_written consent")


def revoke_consent(
    *,
    session: Session,
    consent_id: str,
    reason: str,
    revoked_by: str,
    at: datetime,
    created_at: datetime | None = None,
) -> ConsentRecord:
    """Revoke one consent by adding a revocation row; the consent row is left as it was."""
    validation.text("reason", reason)
    validation.text("revoked_by", revoked_by, max_length=128)
    validation.aware("at", at)
    created = validation.aware("created_at", created_at or utc_now())
    with write_unit(session):
        row = session.get(ConsentRow, consent_id)
        if row is None:
            raise NotFound("consent", consent_id)
        lock_pairs(session, [(row.sender, row.phone)])
        if _revocation_of(session, consent_id) is not None:
            raise AlreadyRevoked(consent_id)
        revocation = ConsentRevocationRow(
            revocation_id=ids.new_id(ids.REVOCATION, created),
            consent_id=consent_id,
            revoked_at=at,
            revoked_by=revoked_by,
            reason=reason,
            opt_out_event_id=None,
            created_at=created,
        )
        session.add(revocation)
        session.flush()
        return consent_record(row, revocation)


def list_consents(*, session: Session, phone: str, sender: str) -> tuple[ConsentRecord, ...]:
    """Every consent of (sender, phone), newest first, revoked ones included."""
    with read_unit(session):
        return consent_records(session, sender=sender, phone=phone)


# Built once (every check reads it); see snapshots.py.
_CONSENTS_WITH_REVOCATIONS: Final = (
    select(ConsentRow, ConsentRevocationRow)
    .outerjoin(ConsentRevocationRow, ConsentRevocationRow.consent_id == ConsentRow.consent_id)
    .where(ConsentRow.sender == bindparam("sender"), ConsentRow.phone == bindparam("phone"))
    .order_by(
        ConsentRow.captured_at.desc(),
        ConsentRow.created_at.desc(),
        ConsentRow.consent_id.desc(),
    )
)


def consent_records(session: Session, *, sender: str, phone: str) -> tuple[ConsentRecord, ...]:
    """Inside an open unit of work: the consents with their revocations folded in."""
    rows = session.execute(_CONSENTS_WITH_REVOCATIONS, {"sender": sender, "phone": phone}).all()
    return tuple(consent_record(consent, revocation) for consent, revocation in rows)


def unrevoked_consents(session: Session, *, sender: str, phone: str) -> list[ConsentRow]:
    """Inside an open unit of work: the consent rows no revocation has ended yet."""
    return list(
        session.scalars(
            select(ConsentRow)
            .outerjoin(ConsentRevocationRow, ConsentRevocationRow.consent_id == ConsentRow.consent_id)
            .where(
                ConsentRow.sender == sender,
                ConsentRow.phone == phone,
                ConsentRevocationRow.revocation_id.is_(None),
            )
            .order_by(ConsentRow.created_at, ConsentRow.consent_id)
        )
    )


def _revocation_of(session: Session, consent_id: str) -> ConsentRevocationRow | None:
    return session.scalars(
        select(ConsentRevocationRow).where(ConsentRevocationRow.consent_id == consent_id)
    ).first()


def consent_record(
    row: ConsentRow | Row[*tuple[Any, ...]], revocation: ConsentRevocationRow | Row[*tuple[Any, ...]] | None
) -> ConsentRecord:
    """From ORM objects, or from a Core row of the consent's columns plus revoked_at/by."""
    return ConsentRecord(
        consent_id=row.consent_id,
        sender=row.sender,
        phone=row.phone,
        kind=cast(ConsentKind, row.kind),
        method=cast(ConsentMethod, row.method),
        evidence=row.evidence,
        captured_at=row.captured_at,
        scope=row.scope,
        expires_at=row.expires_at,
        revoked_at=None if revocation is None else revocation.revoked_at,
        revoked_by=None if revocation is None else revocation.revoked_by,
    )
