"""Where a number is, which policy entry it falls under, and local-time windows."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from serve.consent.jurisdiction import _locate_prefix, locate, state_from_description
from serve.consent.policy import Policy
from serve.consent.windows import earliest_open, is_open, next_open, wall_clock_start
from tests.consent.scenarios import (
    BRAZIL,
    CANADA,
    FRANCE,
    GERMANY,
    INDIA,
    NOWHERE,
    UK,
    US_AK,
    US_CA,
    US_CT,
    US_FL,
    US_MA,
    US_MD,
    US_NJ,
    US_OK,
    US_TOLL_FREE,
    US_TX,
    US_WA,
)

NEW_YORK = ZoneInfo("America/New_York")
DAYTIME = ((time(8), time(21)),) * 7


@pytest.mark.parametrize(
    ("phone", "country", "region", "key"),
    [
        (US_CA, "US", "CA", "US"),
        (US_FL, "US", "FL", "US-FL"),
        (US_OK, "US", "OK", "US-OK"),
        (US_MD, "US", "MD", "US-MD"),
        (US_WA, "US", "WA", "US-WA"),
        (US_MA, "US", "MA", "US-MA"),
        (US_CT, "US", "CT", "US-CT"),
        (US_TX, "US", "TX", "US-TX"),
        (US_NJ, "US", "NJ", "US-NJ"),
        (US_TOLL_FREE, "US", None, "US"),
        ("+17875550123", "PR", None, "US"),
        (CANADA, "CA", None, "CA"),
        (UK, "GB", None, "UK"),
        (FRANCE, "FR", None, "EU"),
        (GERMANY, "DE", None, "EU"),
        ("+306912345678", "GR", None, "EU"),
        (INDIA, "IN", None, "IN"),
        (BRAZIL, "BR", None, "DEFAULT"),
        (NOWHERE, "ZZ", None, "DEFAULT"),
    ],
)
def test_number_falls_under_its_policy_entry(
    phone: str, country: str, region: str | None, key: str, policy: Policy
) -> None:
    """Country and US state come from the number, and pick the policy entry."""
    place = locate(phone)
    assert (place.country, place.region) == (country, region)
    assert policy.jurisdiction_for(place.country, place.region).key == key


def test_policy_covers_all_27_eu_member_states(policy: Policy) -> None:
    """Every EU member state's country code maps to the EU entry."""
    members = [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    ]  # fmt: skip
    assert len(members) == 27
    assert {policy.jurisdiction_for(c, None).key for c in members} == {"EU"}


@pytest.mark.parametrize(
    ("description", "state"),
    [
        ("San Francisco, CA", "CA"),
        ("Florida", "FL"),
        ("Washington State", "WA"),
        ("Washington D.C.", "DC"),
        ("New York, NY", "NY"),
        ("New York", "NY"),
        ("Kansas City, MO", "MO"),
        ("", None),
        ("Ontario", None),
        ("Somewhere, ZZ", None),
    ],
)
def test_state_from_geocoder_description(description: str, state: str | None) -> None:
    """A ", XX" suffix or a full state name gives the state code; anything else none."""
    assert state_from_description(description) == state


def test_alaska_number_uses_both_of_its_zones() -> None:
    """A number spanning zones keeps all of them for quiet hours."""
    assert set(locate(US_AK).zone_names) == {"America/Anchorage", "America/Adak"}


def test_toll_free_number_spans_guam_to_pago_pago() -> None:
    """A toll-free number is in every NANP zone, from UTC+10 to UTC-11."""
    zones = set(locate(US_TOLL_FREE).zone_names)
    assert {"Pacific/Guam", "Pacific/Pago_Pago", "America/New_York"} <= zones


def test_unparseable_number_has_no_country_and_no_zone() -> None:
    """A number that does not parse gets country ZZ and no time zone (fail closed)."""
    place = locate("+999123456")
    assert (place.country, place.zones) == ("ZZ", ())


def test_lookup_is_cached_per_exchange() -> None:
    """Two lines of one NANP exchange share one cached lookup."""
    locate("+14155550123")
    before = _locate_prefix.cache_info().hits
    place = locate("+14155559876")
    assert _locate_prefix.cache_info().hits == before + 1
    assert place.region == "CA"


def test_wall_clock_start_in_a_spring_forward_gap_is_the_gap_end() -> None:
    """02:30 does not exist on 8 March 2026 in New York: the first later instant is 03:00 EDT."""
    assert wall_clock_start(NEW_YORK, datetime(2026, 3, 8, 2, 30)) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_wall_clock_start_on_a_fall_back_night_is_the_first_occurrence() -> None:
    """01:30 happens twice on 1 November 2026 in New York: the earlier (EDT) counts."""
    assert wall_clock_start(NEW_YORK, datetime(2026, 11, 1, 1, 30)) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_is_open_reads_the_local_wall_clock() -> None:
    """12:30 UTC is 07:30 EST in November (closed) and 08:30 EDT in October (open)."""
    assert not is_open(DAYTIME, NEW_YORK, datetime(2026, 11, 2, 12, 30, tzinfo=UTC))
    assert is_open(DAYTIME, NEW_YORK, datetime(2026, 10, 30, 12, 30, tzinfo=UTC))


def test_next_open_is_the_next_window_start() -> None:
    """At 22:00 local the next opening is 08:00 local the next day."""
    assert next_open(DAYTIME, NEW_YORK, datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) == datetime(
        2026, 11, 26, 13, 0, tzinfo=UTC
    )


def test_earliest_open_is_open_in_every_zone() -> None:
    """Two zones three hours apart: the later zone's 08:00 is the answer."""
    zones = [(DAYTIME, NEW_YORK), (DAYTIME, ZoneInfo("America/Los_Angeles"))]
    start = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 08:00 New York, 05:00 Los Angeles
    assert earliest_open(zones, start) == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def test_earliest_open_gives_up_when_zones_never_share_an_hour() -> None:
    """Windows that never overlap give no opening, so no not_before is promised."""
    short = ((time(9), time(10)),) * 7
    zones = [(short, ZoneInfo("Pacific/Kiritimati")), (short, ZoneInfo("Pacific/Pago_Pago"))]
    assert earliest_open(zones, datetime(2026, 11, 25, tzinfo=UTC)) is None
