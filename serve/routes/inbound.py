"""POST /v1/inbound: a customer's message, read as opt-out, opt-in, help or conversation.

The message and its effect on consent (revocations, restorations) are committed in one
transaction before the answer: an acknowledged STOP has already taken effect (RULES.md 3).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from serve.auth import SenderCaller
from serve.consent.inbound import help_reply, interpret_inbound, opt_out_confirmation
from serve.consent.records import InboundAction, SenderProfile
from serve.problems import unknown_sender
from serve.schemas import InboundIn, InboundOut
from serve.services import ServicesDep
from serve.store import repository
from serve.store.errors import NotFound

router = APIRouter(prefix="/v1", tags=["inbound"])


def resubscribe_confirmation(profile: SenderProfile) -> str:
    """A short, non-promotional answer to START: subscribed again, and how to stop."""
    name = profile.display_name.strip() or profile.sender
    return f"{name}: You are subscribed again. Reply HELP for help, STOP to opt out."


def _reply(action: InboundAction, profile: SenderProfile) -> str | None:
    if action == "help":
        return help_reply(profile)
    if action == "opted_out":
        # The single confirmation RULES.md 3 allows after an opt-out (47 CFR 64.1200(a)(12)).
        return opt_out_confirmation(profile)
    if action == "opted_in":
        return resubscribe_confirmation(profile)
    return None


@router.post("/inbound", response_model=InboundOut)
def inbound(body: InboundIn, services: ServicesDep, caller: SenderCaller) -> InboundOut:
    received_at = (body.received_at or datetime.now(UTC)).astimezone(UTC)
    interpretation = interpret_inbound(body.text, services.policy)
    try:
        with services.session() as session:
            profile = repository.get_sender(session=session, sender=body.to_sender)
            record = repository.record_inbound(
                session=session,
                sender=body.to_sender,
                phone=body.from_,
                text=body.text,
                received_at=received_at,
                interpretation=interpretation,
            )
    except NotFound as exc:
        raise unknown_sender(exc, "to_sender") from exc
    return InboundOut(
        inbound_id=record.inbound_id,
        action=record.action,
        reply=_reply(record.action, profile),
        needs_review=record.needs_review,
        reason_code=interpretation.reason_code,
    )
