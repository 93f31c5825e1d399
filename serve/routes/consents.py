"""Consents the business collected, their revocation, and the senders they are held for.

Admin only (API.md). Implied consents are never posted: they come from inbound messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from serve.auth import AdminCaller
from serve.problems import unknown_sender
from serve.routes.render import consent_out, sender_out
from serve.schemas import (
    ConsentIn,
    ConsentListOut,
    ConsentOut,
    QueryPhone,
    RevokeIn,
    SenderIn,
    SenderName,
    SenderOut,
)
from serve.services import ServicesDep
from serve.store import repository
from serve.store.errors import NotFound

router = APIRouter(prefix="/v1", tags=["consents"])


@router.post("/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentOut)
def add_consent(body: ConsentIn, services: ServicesDep, caller: AdminCaller) -> ConsentOut:
    """Store a consent; ``express_written`` without method or evidence is a 422 naming it."""
    try:
        with services.session() as session:
            record = repository.add_consent(
                session=session,
                sender=body.sender or services.settings.default_sender,
                phone=body.phone,
                kind=body.kind,
                method=body.method,
                evidence=body.evidence,
                captured_at=body.captured_at.astimezone(UTC),
                expires_at=None if body.expires_at is None else body.expires_at.astimezone(UTC),
                scope=body.scope,
                created_by=f"admin:{caller.key_id}",
            )
    except NotFound as exc:
        raise unknown_sender(exc, "sender") from exc
    return consent_out(record)


@router.get("/consents", response_model=ConsentListOut)
def list_consents(
    services: ServicesDep,
    caller: AdminCaller,
    phone: Annotated[QueryPhone, Query()],
    sender: Annotated[SenderName | None, Query()] = None,
) -> ConsentListOut:
    """Every consent of (sender, phone), newest first, revoked ones included."""
    with services.session() as session:
        records = repository.list_consents(
            session=session, phone=phone, sender=sender or services.settings.default_sender
        )
    return ConsentListOut(items=[consent_out(r) for r in records])


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke_consent(
    consent_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: RevokeIn,
    services: ServicesDep,
    caller: AdminCaller,
) -> ConsentOut:
    """Revoke one consent now (a new revocation row); unknown 404, already revoked 409."""
    with services.session() as session:
        record = repository.revoke_consent(
            session=session,
            consent_id=consent_id,
            reason=body.reason,
            revoked_by=f"admin:{caller.key_id}",
            at=datetime.now(UTC),
        )
    return consent_out(record)


@router.post("/senders", status_code=status.HTTP_201_CREATED, response_model=SenderOut, tags=["senders"])
def add_sender(body: SenderIn, services: ServicesDep, caller: AdminCaller) -> SenderOut:
    """Register a business or program; a name already taken is a 409."""
    with services.session() as session:
        profile = repository.add_sender(
            session=session, sender=body.sender, display_name=body.display_name, help_text=body.help_text
        )
    return sender_out(profile)


@router.get("/senders/{sender}", response_model=SenderOut, tags=["senders"])
def get_sender(
    sender: Annotated[SenderName, Path()], services: ServicesDep, caller: AdminCaller
) -> SenderOut:
    with services.session() as session:
        profile = repository.get_sender(session=session, sender=sender)
    return sender_out(profile)
