"""Domain errors of the store, each with a stable ``code``; HTTP mapping lives elsewhere."""

from __future__ import annotations

from typing import ClassVar


class StoreError(Exception):
    """Base of every error the store raises on purpose."""

    code: ClassVar[str] = "store_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(StoreError):
    code = "not_found"

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"{entity} {key!r} does not exist", field=entity)
        self.entity = entity
        self.key = key


class AlreadyExists(StoreError):
    code = "already_exists"

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"{entity} {key!r} already exists", field=entity)
        self.entity = entity
        self.key = key


class InvalidInput(StoreError):
    """A value the store refuses to keep; ``field`` names it."""

    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class InvalidConsent(InvalidInput):
    """A consent that would not prove what it claims (e.g. written consent, no evidence)."""

    code = "invalid_consent"


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"

    def __init__(self, message: str = "not a cursor this service returned") -> None:
        super().__init__("cursor", message)


class AlreadyRevoked(StoreError):
    code = "already_revoked"

    def __init__(self, consent_id: str) -> None:
        super().__init__(f"consent {consent_id!r} is already revoked", field="consent_id")
        self.consent_id = consent_id


class StaleDecision(StoreError):
    """An allow no longer holds against the records as they are now; it is not stored.

    E.g. an opt-out or a revocation arrived between the snapshot and the write. The caller
    must decide again on a fresh snapshot (fail closed: never send on a stale allow).
    """

    code = "stale_decision"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="decision")


class ConfirmationAlreadyUsed(StaleDecision):
    """The single confirmation allowed after an opt-out (47 CFR 64.1200(a)(12)) is spent."""

    code = "opt_out_confirmation_used"
