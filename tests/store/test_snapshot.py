"""The snapshot holds exactly what the engine needs about one (sender, recipient)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from serve.consent.records import Outcome, SenderProfile
from serve.store import repository
from serve.store.errors import NotFound
from tests.store.factories import (
    CHAT,
    OTHER_PHONE,
    OTHER_SENDER,
    PHONE,
    SENDER,
    STOP,
    T0,
    add_consent,
    add_senders,
    inbound,
    record,
)

DAY = timedelta(hours=24)


@pytest.fixture(autouse=True)
def _senders(session: Session) -> None:
    add_senders(session)


def test_snapshot_of_a_stranger_holds_only_the_sender_profile(session: Session) -> None:
    """With no records for the number, the snapshot has the profile and nothing else."""
    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=DAY)

    assert snap.sender == SenderProfile(SENDER, "Acme Outdoor", "Acme: help")
    assert snap.phone == PHONE
    assert (snap.consents, snap.inbound, snap.opt_out, snap.recent_promotional_sends) == (
        (),
        (),
        None,
        (),
    )


def test_snapshot_of_unknown_sender_is_not_found(session: Session) -> None:
    """A snapshot needs the sender's profile; an unknown sender is not_found."""
    with pytest.raises(NotFound) as error:
        repository.snapshot(session=session, sender="nobody", phone=PHONE, at=T0, window=DAY)

    assert (error.value.code, error.value.entity) == ("not_found", "sender")


def test_snapshot_holds_active_and_revoked_consents(session: Session) -> None:
    """Consents come with revocations folded in, as list_consents shows them."""
    add_consent(session)
    revoked = add_consent(session, kind="express", evidence=None)
    repository.revoke_consent(
        session=session, consent_id=revoked.consent_id, reason="x", revoked_by="admin:1", at=T0
    )
    add_consent(session, sender=OTHER_SENDER)

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=DAY)

    assert snap.consents == repository.list_consents(session=session, phone=PHONE, sender=SENDER)
    assert sorted(c.revoked_by or "" for c in snap.consents) == ["", "admin:1"]


def test_snapshot_holds_inbound_within_the_window_newest_first(session: Session) -> None:
    """Inbound messages inside the look-back come newest first; older and later ones do not."""
    too_old = inbound(session, CHAT, received_at=T0 - timedelta(hours=25))
    older = inbound(session, CHAT, received_at=T0 - timedelta(hours=5))
    newer = inbound(session, CHAT, received_at=T0 - timedelta(minutes=5))
    inbound(session, CHAT, received_at=T0 + timedelta(minutes=1))  # after the send
    inbound(session, CHAT, phone=OTHER_PHONE)

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=DAY)

    assert [m.inbound_id for m in snap.inbound] == [newer.inbound_id, older.inbound_id]
    assert too_old.inbound_id not in {m.inbound_id for m in snap.inbound}


def test_snapshot_look_back_is_configurable(session: Session) -> None:
    """A longer window reaches messages a 24 h window leaves out."""
    old = inbound(session, CHAT, received_at=T0 - timedelta(hours=30))

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=timedelta(hours=48))

    assert [m.inbound_id for m in snap.inbound] == [old.inbound_id]


def _promotion(session: Session, hours: float, outcome: Outcome = "allow") -> None:
    record(
        session,
        outcome,
        message_type="promotional",
        codes=("PROMO_CONSENT_OK",),
        send_at=T0 + timedelta(hours=hours),
    )


def test_snapshot_counts_only_allowed_promotional_sends_of_the_last_day(session: Session) -> None:
    """recent_promotional_sends holds allowed promotions of the 24 h before ``at``, no others."""
    _promotion(session, -25)  # outside the window
    _promotion(session, -3)
    _promotion(session, -1)
    _promotion(session, -2, "block")  # not sent
    record(session, send_at=T0 - timedelta(hours=2))  # transactional
    record(  # treated as promotional although the model read it as transactional
        session,
        send_at=T0 - timedelta(minutes=30),
        treated_as="promotional",
        codes=("PROMO_CONSENT_OK",),
    )
    _promotion(session, +1)  # after the send being checked

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=DAY)

    assert snap.recent_promotional_sends == (
        T0 - timedelta(hours=3),
        T0 - timedelta(hours=1),
        T0 - timedelta(minutes=30),
    )


def test_snapshot_shows_the_used_opt_out_confirmation(session: Session) -> None:
    """Once the single confirmation is allowed, the opt-out state carries its time."""
    inbound(session, STOP)
    sent_at = T0 + timedelta(minutes=1)
    record(session, send_at=sent_at, codes=("OPT_OUT_CONFIRMATION",))

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=DAY)

    assert snap.opt_out is not None
    assert snap.opt_out.confirmation_sent_at == sent_at


def test_snapshot_datetimes_are_aware_utc(session: Session) -> None:
    """Every time in a snapshot built from the database is timezone-aware UTC."""
    add_consent(session, expires_at=T0 + timedelta(days=30))
    inbound(session, CHAT, received_at=T0 - timedelta(hours=1))
    inbound(session, STOP, received_at=T0 - timedelta(minutes=1))

    snap = repository.snapshot(session=session, sender=SENDER, phone=PHONE, at=T0, window=DAY)

    consent = snap.consents[0]
    assert snap.opt_out is not None
    times = [
        consent.captured_at,
        consent.expires_at,
        consent.revoked_at,
        snap.opt_out.opted_out_at,
        *(m.received_at for m in snap.inbound),
    ]
    assert all(t is not None and t.utcoffset() == timedelta(0) for t in times)
