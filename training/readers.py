"""One reader per file format. Each returns columns text, raw_label, row, group.

``row`` is the spreadsheet row number (header = 1) used in every error message; ``group``
is a template id when the source provides one, else empty.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd

from training.validation import DataValidationError, Issue, read_text_checked, require_columns

COLUMNS = ["text", "raw_label", "row", "group"]


def _finish(frame: pd.DataFrame, *, first_row: int) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["row"] = range(first_row, first_row + len(frame))
    if "group" not in frame.columns:
        frame["group"] = ""
    return frame[COLUMNS]


def _read_csv(path: Path, **kwargs: object) -> pd.DataFrame:
    text = read_text_checked(path)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, **kwargs)  # type: ignore[call-overload, no-any-return]
    except (pd.errors.ParserError, csv.Error) as exc:
        raise DataValidationError([Issue(path, None, None, f"not a readable CSV: {exc}", "parse")]) from exc


def labelled_csv(path: Path) -> pd.DataFrame:
    """Our own format (seed set, user files, review exports): a header with text and label."""
    frame = _read_csv(path)
    require_columns(path, frame, ["text", "label"])
    frame = frame.rename(columns={"label": "raw_label"})
    frame["text"] = frame["text"].replace("", None)
    if "group" not in frame.columns:
        frame["group"] = ""
    return _finish(frame, first_row=2)


def uci_sms_spam(path: Path) -> pd.DataFrame:
    """``label<TAB>text`` without header; quoting off because texts hold stray quotes."""
    text = read_text_checked(path)
    frame = pd.read_csv(
        io.StringIO(text),
        sep="\t",
        header=None,
        names=["raw_label", "text"],
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
    )
    return _finish(frame, first_row=1)


def nus_sms(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    require_columns(path, frame, ["Message"])
    frame = frame.rename(columns={"Message": "text"})
    frame["text"] = frame["text"].replace("", None)
    frame["raw_label"] = "p2p_sms"
    return _finish(frame, first_row=2)


def twcs_replies(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    require_columns(path, frame, ["text", "label"])
    return _finish(frame.rename(columns={"label": "raw_label"}), first_row=2)


def indian_bank_sms(path: Path) -> pd.DataFrame:
    """Texts joined to their hand labels in ``labels.csv`` by sha1 of the exact text.

    Texts without a label (held out for a separate evaluation) are dropped.
    """
    frame = _read_csv(path)
    require_columns(path, frame, ["text"])
    frame["row"] = range(2, 2 + len(frame))
    labels_path = path.parent / "labels.csv"
    labels = _read_csv(labels_path)
    require_columns(labels_path, labels, ["text_sha1", "label", "group_id"])
    by_hash = labels.set_index("text_sha1")
    sha1 = frame["text"].map(lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest())
    known = sha1.isin(by_hash.index)
    frame = frame.loc[known].copy()
    frame["raw_label"] = by_hash.loc[sha1[known], "label"].to_numpy()
    frame["group"] = "bank:" + by_hash.loc[sha1[known], "group_id"].astype(str).to_numpy()
    return frame[COLUMNS].reset_index(drop=True)
