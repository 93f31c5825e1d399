"""Consents: added with proof, listed newest first, revoked by a new row only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serve.store import repository
from serve.store.errors import AlreadyRevoked, InvalidConsent, NotFound
from serve.store.schema import ConsentRevocationRow, ConsentRow
from tests.store.factories import PHONE, SENDER, T0, add_consent, add_senders


@pytest.fixture(autouse=True)
def _senders(session: Session) -> None:
    add_senders(session)


def _row(session: Session, consent_id: str) -> dict[str, object]:
    row = session.get(ConsentRow, consent_id)
    assert row is not None
    values = {column.name: getattr(row, column.key) for column in ConsentRow.__table__.columns}
    session.rollback()
    return values


def test_added_consent_is_listed_with_every_field(session: Session) -> None:
    """A consent comes back from the list exactly as it was added, not revoked."""
    added = add_consent(session, scope="order:12345", expires_at=T0 + timedelta(days=365))

    listed = repository.list_consents(session=session, phone=PHONE, sender=SENDER)

    assert listed == (added,)
    assert added.consent_id.startswith("con_")
    assert (added.kind, added.method, added.scope) == ("express_written", "web_form", "order:12345")
    assert added.evidence == "form #81, checkbox text v3"
    assert added.captured_at == T0 - timedelta(days=30)
    assert added.revoked_at is None and added.revoked_by is None


def test_consents_are_listed_newest_first(session: Session) -> None:
    """The most recently captured consent is listed first."""
    old = add_consent(session, captured_at=T0 - timedelta(days=90))
    new = add_consent(session, captured_at=T0 - timedelta(days=1))
    middle = add_consent(session, captured_at=T0 - timedelta(days=10))

    listed = repository.list_consents(session=session, phone=PHONE, sender=SENDER)

    assert [c.consent_id for c in listed] == [new.consent_id, middle.consent_id, old.consent_id]


def test_list_holds_only_that_sender_and_number(session: Session) -> None:
    """Consents are per (sender, recipient): other senders' and numbers' are not listed."""
    mine = add_consent(session)
    add_consent(session, sender="globex")
    add_consent(session, phone="+14155550199")

    assert repository.list_consents(session=session, phone=PHONE, sender=SENDER) == (mine,)


@pytest.mark.parametrize("evidence", [None, "", "   "])
def test_written_consent_without_evidence_is_rejected(session: Session, evidence: str | None) -> None:
    """express_written without evidence is refused with invalid_consent naming the field."""
    with pytest.raises(InvalidConsent) as error:
        add_consent(session, evidence=evidence)

    assert (error.value.code, error.value.field) == ("invalid_consent", "evidence")
    assert repository.list_consents(session=session, phone=PHONE, sender=SENDER) == ()


def test_written_consent_without_method_is_rejected(session: Session) -> None:
    """express_written without a method is refused with invalid_consent naming the field."""
    with pytest.raises(InvalidConsent) as error:
        add_consent(session, method=None)

    assert (error.value.code, error.value.field) == ("invalid_consent", "method")


def test_express_consent_without_method_is_stored_as_other(session: Session) -> None:
    """Express consent may omit method and evidence; the method is recorded as 'other'."""
    added = add_consent(session, kind="express", method=None, evidence=None)

    assert (added.kind, added.method, added.evidence) == ("express", "other", None)


def test_unknown_method_is_rejected(session: Session) -> None:
    """A method outside the vocabulary is refused, naming the field."""
    with pytest.raises(InvalidConsent) as error:
        add_consent(session, method="smoke_signal")  # type: ignore[arg-type]

    assert error.value.field == "method"


def test_expiry_before_capture_is_rejected(session: Session) -> None:
    """A consent cannot expire before it was captured."""
    with pytest.raises(InvalidConsent) as error:
        add_consent(session, expires_at=T0 - timedelta(days=60))

    assert error.value.field == "expires_at"


def test_consent_for_unknown_sender_is_not_found(session: Session) -> None:
    """Consents are held for a known sender; an unknown one is not_found."""
    with pytest.raises(NotFound) as error:
        add_consent(session, sender="nobody")

    assert (error.value.code, error.value.entity) == ("not_found", "sender")


def test_database_refuses_written_consent_without_evidence(session: Session) -> None:
    """The schema itself refuses written consent without evidence, whoever writes it."""
    session.add(
        ConsentRow(
            consent_id="con_direct",
            sender=SENDER,
            phone=PHONE,
            kind="express_written",
            method="web_form",
            evidence=None,
            captured_at=T0,
            created_at=T0,
            created_by="test",
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_revoked_consent_is_listed_with_revocation(session: Session) -> None:
    """After revoking, the list shows the consent with revoked_at and revoked_by."""
    consent = add_consent(session)

    revoked = repository.revoke_consent(
        session=session,
        consent_id=consent.consent_id,
        reason="customer called",
        revoked_by="admin:k1",
        at=T0,
    )

    listed = repository.list_consents(session=session, phone=PHONE, sender=SENDER)
    assert listed == (revoked,)
    assert (revoked.revoked_at, revoked.revoked_by) == (T0, "admin:k1")


def test_snapshot_reads_consents_as_the_listing_does(session: Session) -> None:
    """The engine's reads (Core rows, group_reads.py) give the records the ORM listing gives."""
    live = add_consent(session, kind="express", method="keyword", evidence=None, scope="orders")
    ended = add_consent(session, captured_at=T0 - timedelta(days=40), expires_at=T0 + timedelta(days=300))
    repository.revoke_consent(
        session=session, consent_id=ended.consent_id, reason="asked", revoked_by="admin:k1", at=T0
    )
    listed = repository.list_consents(session=session, phone=PHONE, sender=SENDER)
    snap = repository.snapshot(
        session=session, sender=SENDER, phone=PHONE, at=T0 + timedelta(hours=1), window=timedelta(days=1)
    )
    assert snap.consents == listed
    assert [c.consent_id for c in snap.consents] == [live.consent_id, ended.consent_id]
    assert all(c.captured_at.tzinfo is not None for c in snap.consents)
    assert (snap.consents[1].revoked_at, snap.consents[1].revoked_by) == (T0, "admin:k1")


def test_revoking_adds_a_row_and_leaves_the_consent_row_unchanged(session: Session) -> None:
    """A revocation is a new row; the consent row keeps every original value."""
    consent = add_consent(session)
    before = _row(session, consent.consent_id)

    repository.revoke_consent(
        session=session,
        consent_id=consent.consent_id,
        reason="customer called",
        revoked_by="admin:k1",
        at=T0,
    )

    assert _row(session, consent.consent_id) == before
    revocations = session.scalars(select(ConsentRevocationRow)).all()
    assert [(r.consent_id, r.reason, r.revoked_by) for r in revocations] == [
        (consent.consent_id, "customer called", "admin:k1")
    ]


def test_revoking_unknown_consent_is_not_found(session: Session) -> None:
    """Revoking an id that does not exist is not_found, naming the consent."""
    with pytest.raises(NotFound) as error:
        repository.revoke_consent(
            session=session, consent_id="con_nope", reason="x", revoked_by="admin:k1", at=T0
        )

    assert (error.value.code, error.value.entity, error.value.key) == (
        "not_found",
        "consent",
        "con_nope",
    )


def test_revoking_twice_is_refused_and_keeps_the_first_revocation(session: Session) -> None:
    """A consent is revoked once; a second revocation is already_revoked and changes nothing."""
    consent = add_consent(session)
    first = repository.revoke_consent(
        session=session, consent_id=consent.consent_id, reason="one", revoked_by="a:1", at=T0
    )

    with pytest.raises(AlreadyRevoked) as error:
        repository.revoke_consent(
            session=session,
            consent_id=consent.consent_id,
            reason="two",
            revoked_by="a:2",
            at=T0 + timedelta(hours=1),
        )

    assert error.value.code == "already_revoked"
    assert repository.list_consents(session=session, phone=PHONE, sender=SENDER) == (first,)
