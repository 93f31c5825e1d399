"""Time-sortable unique identifiers: a prefix and a 26-character ULID.

A ULID is 48 bits of milliseconds since the epoch followed by 80 random bits, written
in Crockford base 32, so ids sort by creation time (to the millisecond) as strings.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID_CHARS: Final = 26
_MAX_MS: Final = (1 << 48) - 1

CONSENT: Final = "con"
REVOCATION: Final = "rvk"
INBOUND: Final = "inb"
OPT_EVENT: Final = "opt"
DECISION: Final = "dec"
REVIEW: Final = "rvw"


def ulid(at: datetime | None = None) -> str:
    """A new ULID for the instant ``at`` (default: now)."""
    ms = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"at: {at!r} is outside the ULID time range")
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(_ULID_CHARS)))


def new_id(prefix: str, at: datetime | None = None) -> str:
    """``<prefix>_<ULID>``, e.g. ``dec_01JD...``."""
    return f"{prefix}_{ulid(at)}"


def ulid_time_ms(identifier: str) -> int:
    """The millisecond timestamp encoded in an id made by ``new_id``."""
    encoded = identifier.rsplit("_", 1)[-1]
    if len(encoded) != _ULID_CHARS:
        raise ValueError(f"{identifier!r} does not end in a ULID")
    value = 0
    for char in encoded.upper():
        digit = _CROCKFORD.find(char)
        if digit < 0:
            raise ValueError(f"{identifier!r} does not end in a ULID")
        value = (value << 5) | digit
    return value >> 80
