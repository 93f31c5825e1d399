"""Small phrases shared by trace details and reasons: dates, spans, short lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

_KIND_WORDS: Final = {"express_written": "express written", "express": "express"}
SHOWN: Final = 3  # how many items a listing names before "and N more"


def kind_words(kind: str) -> str:
    return _KIND_WORDS.get(kind, kind)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} h"


def minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} minutes"


def listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
