"""Allowed sending hours in the recipient's local time, across DST changes.

A window is a weekly table of local (start, end) times. "Open" is judged on the wall
clock of each zone, which is what the statutes speak of. The earliest instant open in
every zone is found by moving forward to the latest next-opening among all
(window, zone) pairs until all agree; each step lands on a window start, so the first
instant where all agree is the earliest one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from serve.consent.policy import Weekly

# How far ahead to look for an opening before giving up (fail closed: no not_before).
HORIZON: Final = timedelta(days=14)
_MAX_STEPS: Final = 512


def local_label(instant: datetime, zone: tzinfo) -> str:
    """e.g. "Sun 07:30 EDT", for trace details."""
    return instant.astimezone(zone).strftime("%a %H:%M %Z")


def is_open(weekly: Weekly, zone: tzinfo, instant: datetime) -> bool:
    local = instant.astimezone(zone)
    start, end = weekly[local.weekday()]
    now = local.time()
    return start <= now < end


def next_open(weekly: Weekly, zone: tzinfo, instant: datetime) -> datetime | None:
    """The earliest instant >= ``instant`` whose wall clock in ``zone`` is inside the window."""
    if is_open(weekly, zone, instant):
        return instant
    day = instant.astimezone(zone).date()
    for offset in range(HORIZON.days + 1):
        current = day + timedelta(days=offset)
        start, _ = weekly[current.weekday()]
        candidate = wall_clock_start(zone, datetime.combine(current, start))
        if candidate > instant and is_open(weekly, zone, candidate):
            return candidate
    return None


def earliest_open(constraints: Sequence[tuple[Weekly, tzinfo]], start: datetime) -> datetime | None:
    """The earliest instant >= ``start`` open for every (window, zone); None if none is near."""
    if not constraints:
        return start
    current = start
    for _ in range(_MAX_STEPS):
        latest = current
        for weekly, zone in constraints:
            opening = next_open(weekly, zone, current)
            if opening is None:
                return None
            latest = max(latest, opening)
        if latest == current:
            return current
        if latest - start > HORIZON:
            return None
        current = latest
    return None


def wall_clock_start(zone: tzinfo, local: datetime) -> datetime:
    """The first UTC instant whose wall clock in ``zone`` reads ``local`` or later that day.

    ``local`` is naive. On a fall-back night a wall time happens twice: the first counts.
    On a spring-forward night it may not happen at all: the gap's end is the answer.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    real = [u for u in (first, second) if _wall(u, zone) == local]
    if real:
        return min(real)
    # In a gap fold=1 maps before the transition and fold=0 after it; the transition
    # instant lies between. Bisect to the second (transitions fall on whole seconds).
    low, high = min(first, second), max(first, second)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _wall(middle, zone) >= local:
            high = middle
        else:
            low = middle
    return high


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)
