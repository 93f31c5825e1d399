"""Checks on values before they are stored: each failure names its field.

``error`` lets a caller raise a more specific code (e.g. ``InvalidConsent``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Final

from serve.store.errors import InvalidInput

_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}")


def aware(field: str, value: datetime, *, error: type[InvalidInput] = InvalidInput) -> datetime:
    if not isinstance(value, datetime):
        raise error(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(field, "must carry a time zone (naive datetimes are ambiguous)")
    return value


def one_of(
    field: str,
    value: object,
    choices: Collection[str],
    *,
    error: type[InvalidInput] = InvalidInput,
) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(sorted(choices))
        raise error(field, f"{value!r} is not one of {allowed}")
    return value


def text(
    field: str,
    value: object,
    *,
    max_length: int | None = None,
    error: type[InvalidInput] = InvalidInput,
) -> str:
    """A non-blank string, kept exactly as given (evidence must stay verbatim)."""
    if not isinstance(value, str) or not value.strip():
        raise error(field, "must be a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise error(field, f"must be at most {max_length} characters")
    return value


def phone(field: str, value: object, *, error: type[InvalidInput] = InvalidInput) -> str:
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise error(field, f"{value!r} is not an E.164 number like +14155550123")
    return value
