"""Senders: the programs consents are held for, with the profile the engine reads."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from serve.consent.records import SenderProfile
from serve.store import repository
from serve.store.errors import AlreadyExists, InvalidInput, NotFound


def test_added_sender_is_read_back(session: Session) -> None:
    """get_sender returns the display name and help text add_sender stored."""
    added = repository.add_sender(
        session=session, sender="acme", display_name="Acme Outdoor", help_text="Reply STOP to end"
    )

    assert repository.get_sender(session=session, sender="acme") == added
    assert added == SenderProfile("acme", "Acme Outdoor", "Reply STOP to end")


def test_unknown_sender_is_not_found(session: Session) -> None:
    """Reading a sender that was never added is not_found, naming the sender."""
    with pytest.raises(NotFound) as error:
        repository.get_sender(session=session, sender="nobody")

    assert (error.value.code, error.value.entity, error.value.key) == ("not_found", "sender", "nobody")


def test_adding_a_sender_twice_is_refused(session: Session) -> None:
    """A sender id is added once; the second add is already_exists and keeps the first."""
    repository.add_sender(session=session, sender="acme", display_name="Acme")

    with pytest.raises(AlreadyExists) as error:
        repository.add_sender(session=session, sender="acme", display_name="Other")

    assert error.value.code == "already_exists"
    assert repository.get_sender(session=session, sender="acme").display_name == "Acme"


def test_blank_display_name_is_refused(session: Session) -> None:
    """A sender needs a display name (promotions must name the sender)."""
    with pytest.raises(InvalidInput) as error:
        repository.add_sender(session=session, sender="acme", display_name="  ")

    assert error.value.field == "display_name"


def test_a_session_with_an_open_transaction_is_refused(session: Session) -> None:
    """Repository calls own their transaction: one already open is a caller bug, not joined."""
    session.begin()

    with pytest.raises(RuntimeError, match="already has a transaction open"):
        repository.get_sender(session=session, sender="acme")
    session.rollback()
