"""The JSON log formatter writes one parseable line whatever the fields hold."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from serve.observability import JsonFormatter


def _line(**extra: object) -> dict[str, object]:
    record = logging.makeLogRecord(
        {"name": "sendgate.test", "msg": "event", "levelno": 20, "levelname": "INFO"}
    )
    record.__dict__.update(extra)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_fields_and_odd_values_come_out_as_json() -> None:
    line = _line(
        decision_id="dec_1", codes=["A", "B"], at=datetime(2026, 11, 25, tzinfo=UTC), counts={3: "x"}
    )
    assert line["event"] == "event" and line["logger"] == "sendgate.test"
    assert line["decision_id"] == "dec_1" and line["codes"] == ["A", "B"]
    assert str(line["at"]).startswith("2026-11-25")
    assert line["counts"] == {"3": "x"}


def test_a_value_the_fast_encoder_refuses_still_gives_a_line() -> None:
    assert _line(big=2**70)["big"] == 2**70
