"""The fixed, group-aware train / validation / test split.

A row's side is a function of its group alone (a hash), so one template never sits on
both sides, and the test split stays the same across runs and as data is added: a
candidate model and the champion are always compared on the same messages.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import pandas as pd

Side = Literal["train", "validation", "test"]


def bucket(group: str) -> int:
    """0-99, stable across processes and Python versions (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha1(group.encode("utf-8")).digest()[:4], "big") % 100


def side_of(group: str, *, test_percent: int, validation_percent: int) -> Side:
    b = bucket(group)
    if b < test_percent:
        return "test"
    if b < test_percent + validation_percent:
        return "validation"
    return "train"


def split(frame: pd.DataFrame, *, test_percent: int, validation_percent: int) -> dict[Side, pd.DataFrame]:
    sides = frame["group"].map(
        lambda g: side_of(g, test_percent=test_percent, validation_percent=validation_percent)
    )
    return {side: frame[sides == side].reset_index(drop=True) for side in ("train", "validation", "test")}
