"""Inbound messages: STOP revokes, START restores what STOP revoked, the rest is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serve.consent.records import ConsentRecord
from serve.store import repository
from serve.store.errors import InvalidInput
from serve.store.schema import ConsentRow, InboundMessageRow, OptOutEventRow
from tests.store.factories import (
    CHAT,
    HELP,
    OTHER_PHONE,
    OTHER_SENDER,
    PHONE,
    SENDER,
    START,
    STOP,
    T0,
    Interpretation,
    add_consent,
    add_senders,
    inbound,
)


@pytest.fixture(autouse=True)
def _senders(session: Session) -> None:
    add_senders(session)


def _consents(session: Session, sender: str = SENDER, phone: str = PHONE) -> list[ConsentRecord]:
    return list(repository.list_consents(session=session, phone=phone, sender=sender))


def _active(session: Session, sender: str = SENDER, phone: str = PHONE) -> list[ConsentRecord]:
    return [c for c in _consents(session, sender, phone) if c.revoked_at is None]


def _count(session: Session, model: type[object]) -> int:
    count = session.scalar(select(func.count()).select_from(model))
    session.rollback()
    return int(count or 0)


def test_opt_out_revokes_every_consent_of_that_sender_for_that_number(session: Session) -> None:
    """STOP revokes all of the sender's consents for the number, naming the inbound message."""
    add_consent(session)
    add_consent(session, kind="express", scope="order:12345")

    stop = inbound(session, STOP)

    consents = _consents(session)
    assert stop.action == "opted_out"
    assert len(consents) == 2
    assert {(c.revoked_at, c.revoked_by) for c in consents} == {(T0, f"inbound:{stop.inbound_id}")}


def test_opt_out_leaves_other_senders_consents_active(session: Session) -> None:
    """STOP to one sender does not touch another sender's consent for the same number."""
    add_consent(session)
    theirs = add_consent(session, sender=OTHER_SENDER)

    inbound(session, STOP)

    assert _active(session, OTHER_SENDER) == [theirs]


def test_opt_out_leaves_the_senders_other_numbers_active(session: Session) -> None:
    """STOP from one number does not touch the sender's consents for other numbers."""
    other = add_consent(session, phone=OTHER_PHONE)

    inbound(session, STOP)

    assert _active(session, SENDER, OTHER_PHONE) == [other]


def test_opt_out_puts_the_pair_in_opted_out_state(session: Session) -> None:
    """After STOP the snapshot carries the opt-out, its time and the inbound message."""
    stop = inbound(session, STOP)

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=timedelta(hours=24))

    assert snap.opt_out is not None
    assert (snap.opt_out.opted_out_at, snap.opt_out.inbound_id) == (T0, stop.inbound_id)
    assert snap.opt_out.confirmation_sent_at is None


def test_opt_in_restores_what_the_opt_out_revoked_as_new_rows(session: Session) -> None:
    """START brings back each consent STOP revoked as a new, active copy of it."""
    written = add_consent(session)
    scoped = add_consent(session, kind="express", evidence=None, scope="order:12345")
    inbound(session, STOP)

    start = inbound(session, START, received_at=T0 + timedelta(hours=1))

    active = _active(session)
    assert start.action == "opted_in"
    assert len(_consents(session)) == 4  # the two revoked originals are kept as history
    copies = {(c.kind, c.method, c.scope, c.captured_at) for c in active}
    originals = {(c.kind, c.method, c.scope, c.captured_at) for c in (written, scoped)}
    assert copies == originals
    assert {c.consent_id for c in active}.isdisjoint({written.consent_id, scoped.consent_id})


def test_restored_consent_evidence_notes_the_restoration(session: Session) -> None:
    """The restored copy keeps the original evidence and says which opt-in restored it."""
    written = add_consent(session)
    inbound(session, STOP)
    start = inbound(session, START, received_at=T0 + timedelta(hours=1))

    (restored,) = _active(session)

    assert restored.evidence is not None
    assert restored.evidence.startswith("form #81, checkbox text v3\n")
    assert f"opt-in inbound:{start.inbound_id}" in restored.evidence
    assert written.consent_id in restored.evidence
    row = session.get(ConsentRow, restored.consent_id)
    assert row is not None and row.restored_from == written.consent_id
    session.rollback()


def test_opt_in_does_not_restore_consents_revoked_before_the_opt_out(session: Session) -> None:
    """A consent an admin had already revoked stays revoked after STOP then START."""
    withdrawn = add_consent(session)
    repository.revoke_consent(
        session=session,
        consent_id=withdrawn.consent_id,
        reason="customer asked by phone",
        revoked_by="admin:k1",
        at=T0 - timedelta(days=1),
    )
    inbound(session, STOP)

    inbound(session, START, received_at=T0 + timedelta(hours=1))

    assert _active(session) == []


def test_opt_in_without_opt_out_creates_no_consent(session: Session) -> None:
    """START from someone who never opted out creates nothing (never consent from nothing)."""
    inbound(session, START)

    assert _consents(session) == []
    assert _count(session, OptOutEventRow) == 1  # the opt-in itself is on record


def test_opt_in_after_two_stops_restores_what_the_first_revoked(session: Session) -> None:
    """A second STOP revokes nothing new, yet START still restores the first STOP's revocations."""
    add_consent(session)
    inbound(session, STOP)
    inbound(session, STOP, received_at=T0 + timedelta(minutes=1))

    inbound(session, START, received_at=T0 + timedelta(hours=1))

    assert len(_active(session)) == 1


def test_opt_in_ends_the_opt_out_state(session: Session) -> None:
    """After STOP then START the snapshot carries no opt-out."""
    inbound(session, STOP)
    inbound(session, START, received_at=T0 + timedelta(hours=1))

    snap = repository.snapshot(
        session=session,
        sender=SENDER,
        phone=PHONE,
        at=T0 + timedelta(hours=2),
        window=timedelta(hours=24),
    )

    assert snap.opt_out is None


def test_late_start_older_than_the_stop_restores_nothing(session: Session) -> None:
    """A START received before the STOP in force (delivered late) neither restores nor opts in."""
    add_consent(session)
    inbound(session, STOP)

    inbound(session, START, received_at=T0 - timedelta(minutes=5))

    assert _active(session) == []
    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=timedelta(hours=24))
    assert snap.opt_out is not None


@pytest.mark.parametrize("interpretation", [HELP, CHAT, Interpretation("none")])
def test_help_and_conversation_only_store_the_message(
    session: Session, interpretation: Interpretation
) -> None:
    """HELP and ordinary messages change no consent and write no opt-out event."""
    consent = add_consent(session)

    stored = inbound(session, interpretation, text="HELP")

    assert stored.action == interpretation.action
    assert _consents(session) == [consent]
    assert _count(session, OptOutEventRow) == 0
    assert _count(session, InboundMessageRow) == 1


def test_inbound_keeps_review_flag_keyword_and_reason(session: Session) -> None:
    """An unclear message is stored with its review flag, the keyword found and the reason code."""
    unclear = Interpretation(
        "conversation_opened", needs_review=True, keyword="STOP", reason_code="KEYWORD_IN_TEXT"
    )

    stored = inbound(session, unclear, text="Count me in! STOP this bill")

    assert stored.needs_review is True
    row = session.get(InboundMessageRow, stored.inbound_id)
    assert row is not None
    assert (row.text, row.keyword, row.reason_code) == (
        "Count me in! STOP this bill",
        "STOP",
        "KEYWORD_IN_TEXT",
    )
    session.rollback()


def test_unknown_action_is_rejected_naming_the_field(session: Session) -> None:
    """An interpretation with an action outside the vocabulary is refused and nothing stored."""
    with pytest.raises(InvalidInput) as error:
        inbound(session, Interpretation("explode"))  # type: ignore[arg-type]

    assert error.value.field == "interpretation.action"
    assert _count(session, InboundMessageRow) == 0
