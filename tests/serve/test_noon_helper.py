"""The send time the HTTP tests use stays noon in San Francisco, and in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tests.serve.conftest import next_noon_in_san_francisco

SAN_FRANCISCO = ZoneInfo("America/Los_Angeles")


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_next_noon_is_local_noon_one_to_twenty_six_hours_ahead(now: datetime) -> None:
    noon = datetime.fromisoformat(next_noon_in_san_francisco(now))
    assert noon.astimezone(SAN_FRANCISCO).time().isoformat() == "12:00:00"
    # A day is 25 hours long when the clocks go back.
    assert now + timedelta(hours=1) <= noon <= now + timedelta(hours=26)
