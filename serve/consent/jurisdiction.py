"""Where a phone number is: country, US state (from the area code) and time zones.

Lookups go through phonenumbers' metadata once per number prefix and are cached, so
``decide`` pays a dictionary lookup, not a parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder, timezone

UNKNOWN_COUNTRY: Final = "ZZ"
_UNKNOWN_ZONE: Final = "Etc/Unknown"

US_STATES: Final[dict[str, str]] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "district of columbia": "DC",
}  # fmt: skip
# How phonenumbers' English geocoder spells the two Washingtons.
_ALIASES: Final[dict[str, str]] = {
    "washington state": "WA",
    "washington d.c.": "DC",
    "washington, d.c.": "DC",
    "washington dc": "DC",
}
_STATE_CODES: Final = frozenset(US_STATES.values())


@dataclass(frozen=True, slots=True)
class Place:
    """What the number tells us. ``zones`` is empty when no time zone is known."""

    country: str  # ISO 3166-1 alpha-2, or "ZZ"
    region: str | None  # US state code
    zone_names: tuple[str, ...]
    zones: tuple[ZoneInfo, ...]


def locate(phone: str) -> Place:
    """Country, US state and time zones of an E.164 number (cached per prefix)."""
    return _locate_prefix(_cache_key(phone))


def cache_info() -> str:
    return str(_locate_prefix.cache_info())


def _cache_key(phone: str) -> str:
    # In the North American plan, region, geocoding and zones depend only on
    # +1 NPA NXX (checked on 20,000 random numbers against phonenumbers 9.0), so one
    # entry serves every line of an exchange. Elsewhere the whole number is the key.
    if len(phone) == 12 and phone.startswith("+1") and phone[1:].isdigit():
        return phone[:8] + "0123"
    return phone


@lru_cache(maxsize=65_536)
def _locate_prefix(phone: str) -> Place:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return Place(UNKNOWN_COUNTRY, None, (), ())
    country = phonenumbers.region_code_for_number(number) or UNKNOWN_COUNTRY
    region = None
    if country == "US":
        region = state_from_description(geocoder.description_for_number(number, "en"))
    names = tuple(z for z in timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE)
    if not names:
        # An unassigned prefix: take every zone of its calling code (the strictest).
        names = tuple(z for z in timezone.time_zones_for_geographical_number(number) if z != _UNKNOWN_ZONE)
    try:
        zones = tuple(ZoneInfo(name) for name in names)
    except (ZoneInfoNotFoundError, ValueError):
        # A zone we cannot load would make every window guess; treat the zone as unknown.
        return Place(country, region, (), ())
    return Place(country, region, names, zones)


def state_from_description(description: str) -> str | None:
    """US state code from a geocoder description: "San Francisco, CA" or "Florida"."""
    text = description.strip()
    if not text:
        return None
    lowered = text.casefold()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if lowered in US_STATES:
        return US_STATES[lowered]
    head, sep, tail = text.rpartition(",")
    if sep and head and tail.strip().upper() in _STATE_CODES:
        return tail.strip().upper()
    return None
