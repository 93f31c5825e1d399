"""Decisions: stored whole, with their send, refused when stale, listed page by page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serve.consent.records import ConsentSnapshot, Decision, Reason
from serve.store import repository
from serve.store.errors import (
    ConfirmationAlreadyUsed,
    InvalidInput,
    NotFound,
    StaleDecision,
)
from serve.store.schema import DecisionRow, SendRow
from serve.store.views import DecisionInput, FeatureWeight
from tests.store.factories import (
    CHAT,
    OTHER_PHONE,
    PHONE,
    SENDER,
    START,
    STOP,
    T0,
    add_consent,
    add_senders,
    classification,
    decision,
    inbound,
    record,
    request,
)

DAY = timedelta(hours=24)


@pytest.fixture(autouse=True)
def _senders(session: Session) -> None:
    add_senders(session)


def _count(session: Session, model: type[object]) -> int:
    count = session.scalar(select(func.count()).select_from(model))
    session.rollback()
    return int(count or 0)


def test_stored_decision_round_trips_every_field(session: Session) -> None:
    """What get_decision returns equals the request, classification and decision stored."""
    consent = add_consent(session, scope="order:12345")
    chat = inbound(session, CHAT, received_at=T0 - timedelta(hours=1))
    made = decision(
        "block",
        codes=("QUIET_HOURS", "TRANSACTIONAL_CONSENT_OK"),
        consent_id=consent.consent_id,
        inbound_id=chat.inbound_id,
        not_before=T0 + timedelta(hours=9, minutes=30),
    )
    sent = request(
        declared_type="transactional",
        in_reply_to=chat.inbound_id,
        send_at=datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
        text="Tu pedido #12345 ha sido enviado ✅",
    )
    explanation = (FeatureWeight("has shipped", 1.42), FeatureWeight("<URL>", 0.61))

    decision_id = repository.record_decision(
        session=session,
        decision=made,
        request=sent,
        classification=classification(),
        explanation=explanation,
        created_at=T0,
    )
    stored = repository.get_decision(session=session, decision_id=decision_id)

    assert decision_id.startswith("dec_")
    assert stored.decision == made
    assert stored.request == sent
    assert stored.classification == classification()
    assert stored.explanation == explanation
    assert (stored.created_at, stored.reviews) == (T0, ())


def test_stored_decision_datetimes_are_aware_utc(session: Session) -> None:
    """Times read back from a decision are aware and in UTC, whatever offset they came with."""
    local = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    decision_id = repository.record_decision(
        session=session,
        decision=decision("block", codes=("QUIET_HOURS",), not_before=local),
        request=request(send_at=local),
        classification=classification(),
        created_at=local,
    )

    stored = repository.get_decision(session=session, decision_id=decision_id)

    assert stored.created_at.tzinfo is UTC
    assert stored.decision.not_before is not None and stored.decision.not_before.tzinfo is UTC
    assert stored.created_at == local
    assert stored.request.send_at == local


def test_allowed_decision_records_its_send(session: Session) -> None:
    """An allow writes the send row the frequency caps count, with the treated type."""
    decision_id = record(session, message_type="transactional", treated_as="promotional")

    send = session.get(SendRow, decision_id)

    assert send is not None
    assert (send.sender, send.phone, send.treated_as, send.send_at) == (
        SENDER,
        PHONE,
        "promotional",
        T0,
    )
    session.rollback()


@pytest.mark.parametrize("outcome", ["block", "review"])
def test_blocked_or_held_decision_records_no_send(session: Session, outcome: str) -> None:
    """Only allows are sends: a block or a review writes the decision and no send row."""
    record(session, outcome, codes=("TRANSACTIONAL_NO_CONSENT",))  # type: ignore[arg-type]

    assert (_count(session, DecisionRow), _count(session, SendRow)) == (1, 0)


def test_get_unknown_decision_is_not_found(session: Session) -> None:
    """An id that was never stored is not_found."""
    with pytest.raises(NotFound) as error:
        repository.get_decision(session=session, decision_id="dec_nope")

    assert (error.value.code, error.value.entity) == ("not_found", "decision")


def test_decision_without_reasons_is_refused(session: Session) -> None:
    """A decision with no reason is not stored (every decision explains itself)."""
    bare = Decision(
        decision="allow",
        message_type="transactional",
        treated_as="transactional",
        reasons=(),
        jurisdiction=decision().jurisdiction,
    )
    with pytest.raises(InvalidInput) as error:
        repository.record_decision(
            session=session, decision=bare, request=request(), classification=classification()
        )

    assert error.value.field == "decision.reasons"
    assert _count(session, DecisionRow) == 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_decision_with_probabilities_that_are_not_finite_is_refused(session: Session, bad: float) -> None:
    """A broken model's output never enters the audit trail (it would be stored as null)."""
    broken = replace(classification(), probabilities={"transactional": bad, "promotional": 0.0})
    with pytest.raises(InvalidInput) as error:
        repository.record_decision(
            session=session, decision=decision(), request=request(), classification=broken
        )

    assert error.value.field == "classification.probabilities"
    assert _count(session, DecisionRow) == 0


def test_decision_naming_another_pairs_consent_is_refused(session: Session) -> None:
    """The consent an allow relies on must belong to that sender and number."""
    elsewhere = add_consent(session, phone=OTHER_PHONE)

    with pytest.raises(InvalidInput) as error:
        repository.record_decision(
            session=session,
            decision=decision(consent_id=elsewhere.consent_id),
            request=request(),
            classification=classification(),
        )

    assert error.value.field == "decision.consent_id"


def test_allow_relying_on_a_consent_revoked_since_is_stale(session: Session) -> None:
    """An allow whose consent was revoked after the snapshot is refused as stale_decision."""
    consent = add_consent(session)
    repository.revoke_consent(
        session=session, consent_id=consent.consent_id, reason="x", revoked_by="admin:1", at=T0
    )

    with pytest.raises(StaleDecision) as error:
        repository.record_decision(
            session=session,
            decision=decision(consent_id=consent.consent_id),
            request=request(),
            classification=classification(),
        )

    assert error.value.code == "stale_decision"
    assert _count(session, DecisionRow) == 0


def test_allow_after_an_opt_out_is_stale_unless_it_is_the_confirmation(session: Session) -> None:
    """An ordinary allow for a number that opted out since the snapshot is refused."""
    inbound(session, STOP)

    with pytest.raises(StaleDecision) as error:
        record(session, send_at=T0 + timedelta(minutes=1))

    assert error.value.code == "stale_decision"
    assert _count(session, DecisionRow) == 0


def test_block_after_an_opt_out_is_stored(session: Session) -> None:
    """Blocking an opted-out number is always storable."""
    inbound(session, STOP)

    decision_id = record(session, "block", codes=("OPTED_OUT",))

    assert repository.get_decision(session=session, decision_id=decision_id).decision.reasons[0].code == (
        "OPTED_OUT"
    )


def test_opt_out_confirmation_can_be_allowed_once(session: Session) -> None:
    """The first confirmation allow is stored; a second is opt_out_confirmation_used."""
    inbound(session, STOP)
    record(session, send_at=T0 + timedelta(minutes=1), codes=("OPT_OUT_CONFIRMATION",))

    with pytest.raises(ConfirmationAlreadyUsed) as error:
        record(session, send_at=T0 + timedelta(minutes=2), codes=("OPT_OUT_CONFIRMATION",))

    assert error.value.code == "opt_out_confirmation_used"
    assert (_count(session, DecisionRow), _count(session, SendRow)) == (1, 1)


def test_a_new_opt_out_allows_a_new_confirmation(session: Session) -> None:
    """Each opt-out has its own single confirmation."""
    inbound(session, STOP)
    record(session, send_at=T0 + timedelta(minutes=1), codes=("OPT_OUT_CONFIRMATION",))
    inbound(session, START, received_at=T0 + timedelta(hours=1))
    inbound(session, STOP, received_at=T0 + timedelta(hours=2))

    record(session, send_at=T0 + timedelta(hours=2, minutes=1), codes=("OPT_OUT_CONFIRMATION",))

    assert _count(session, SendRow) == 2


def test_confirmation_without_an_opt_out_in_force_is_stale(session: Session) -> None:
    """A confirmation allow after the person opted back in is refused as stale."""
    inbound(session, STOP)
    inbound(session, START, received_at=T0 + timedelta(minutes=1))

    with pytest.raises(StaleDecision):
        record(session, send_at=T0 + timedelta(minutes=2), codes=("OPT_OUT_CONFIRMATION",))


def test_batch_stores_every_decision_in_order(session: Session) -> None:
    """A batch returns one id per item, in order, each readable afterwards."""
    items = [DecisionInput(decision(), request(text=f"message {i}"), classification()) for i in range(3)]

    ids = repository.record_decisions_batch(session=session, items=items)

    texts = [repository.get_decision(session=session, decision_id=i).request.text for i in ids]
    assert texts == ["message 0", "message 1", "message 2"]


def test_batch_with_one_refused_item_stores_nothing(session: Session) -> None:
    """One invalid item fails the whole batch, naming its index; nothing is stored."""
    bare = Decision(
        decision="block",
        message_type="transactional",
        treated_as="transactional",
        reasons=(),
        jurisdiction=decision().jurisdiction,
    )
    items = [
        DecisionInput(decision(), request(), classification()),
        DecisionInput(bare, request(), classification()),
    ]

    with pytest.raises(InvalidInput) as error:
        repository.record_decisions_batch(session=session, items=items)

    assert error.value.field == "items[1].decision.reasons"
    assert _count(session, DecisionRow) == 0


def test_batch_refused_at_write_time_stores_nothing(session: Session) -> None:
    """A batch whose second confirmation is refused rolls back the first one too."""
    inbound(session, STOP)
    confirmation = decision(codes=("OPT_OUT_CONFIRMATION",))
    items = [DecisionInput(confirmation, request(), classification())] * 2

    with pytest.raises(ConfirmationAlreadyUsed):
        repository.record_decisions_batch(session=session, items=items)

    assert _count(session, DecisionRow) == 0


def _cap_of_one(snap: ConsentSnapshot) -> Decision:
    """A stand-in engine: allows one promotion per day, blocks the next."""
    if snap.recent_promotional_sends:
        return decision("block", message_type="promotional", codes=("FREQUENCY_CAP",))
    return decision(message_type="promotional", codes=("PROMO_CONSENT_OK",))


def test_decide_and_record_batch_sees_sends_allowed_earlier_in_the_batch(
    session: Session,
) -> None:
    """Each item is decided on a snapshot holding the sends the batch allowed before it."""
    promo = request(text="20% off today", transaction_ref=None)
    items = [(promo, classification("promotional"), None)] * 3

    stored = repository.decide_and_record_batch(
        session=session,
        items=items,
        decide=lambda _i, snap: _cap_of_one(snap),
        window=DAY,
        created_at=T0,
    )

    assert [s.decision.decision for s in stored] == ["allow", "block", "block"]
    assert [s.decision.reasons[0].code for s in stored] == [
        "PROMO_CONSENT_OK",
        "FREQUENCY_CAP",
        "FREQUENCY_CAP",
    ]
    assert _count(session, SendRow) == 1


def test_decide_and_record_stores_what_the_engine_decided(session: Session) -> None:
    """The single-item form stores the decision the engine returned for the fresh snapshot."""
    seen: list[ConsentSnapshot] = []

    def engine(snap: ConsentSnapshot) -> Decision:
        seen.append(snap)
        return decision("block", codes=("TRANSACTIONAL_NO_CONSENT",))

    stored = repository.decide_and_record(
        session=session,
        request=request(),
        classification=classification(),
        decide=engine,
        window=DAY,
        created_at=T0,
    )

    assert seen[0].phone == PHONE and seen[0].consents == ()
    fetched = repository.get_decision(session=session, decision_id=stored.decision_id)
    assert fetched.decision == stored.decision
    assert fetched.decision.reasons == (
        Reason("TRANSACTIONAL_NO_CONSENT", "TRANSACTIONAL_NO_CONSENT fired", "CTIA 5.1"),
    )


def test_decide_and_record_judges_a_backdated_send_at_the_decision_time(
    session: Session,
) -> None:
    """A send dated in the past is decided on the records of the 24 h before now."""
    record(session, message_type="promotional", codes=("PROMO_CONSENT_OK",), send_at=T0 - timedelta(hours=1))
    seen: list[ConsentSnapshot] = []

    def engine(snap: ConsentSnapshot) -> Decision:
        seen.append(snap)
        return decision("block", codes=("FREQUENCY_CAP",))

    repository.decide_and_record(
        session=session,
        request=request(send_at=T0 - timedelta(hours=48)),
        classification=classification(),
        decide=engine,
        window=DAY,
        created_at=T0,
    )

    assert seen[0].recent_promotional_sends == (T0 - timedelta(hours=1),)


def test_backdated_allow_counts_as_sent_at_the_decision_time(session: Session) -> None:
    """An allowed send dated in the past goes out now, so its send row carries now."""
    decision_id = record(
        session,
        message_type="promotional",
        codes=("PROMO_CONSENT_OK",),
        send_at=T0 - timedelta(hours=30),
        created_at=T0,
    )

    send = session.get(SendRow, decision_id)

    assert send is not None and send.send_at == T0
    session.rollback()
