"""Checks on labelled input that name the file, row and column of every problem.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first message row 2.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MAX_TEXT_CHARS = 2_000
MAX_REPORTED = 20


@dataclass(frozen=True)
class Issue:
    path: Path
    row: int | None
    column: str | None
    problem: str
    kind: str

    def __str__(self) -> str:
        where = str(self.path)
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.problem}"


class DataValidationError(Exception):
    """Input that cannot be trained on; ``issues`` says exactly where and why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        shown = "\n".join(f"  {issue}" for issue in self.issues[:MAX_REPORTED])
        more = len(self.issues) - MAX_REPORTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.issues)} problem(s) in labelled data:\n{shown}{tail}")


def read_text_checked(path: Path) -> str:
    """The file decoded as UTF-8, or an error naming the row and column of the bad bytes."""
    if not path.is_file():
        raise DataValidationError([Issue(path, None, None, "file not found", "missing_file")])
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataValidationError([_locate_bad_bytes(path, raw, exc)]) from exc


def _locate_bad_bytes(path: Path, raw: bytes, exc: UnicodeDecodeError) -> Issue:
    text = raw.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    for number, record in enumerate(reader, start=1):
        if number == 1:
            header = record
        for index, value in enumerate(record):
            if any("\udc80" <= ch <= "\udcff" for ch in value):
                column = header[index] if index < len(header) else f"#{index + 1}"
                bad = raw[exc.start : exc.start + 1].hex()
                return Issue(path, number, column, f"not valid UTF-8 (byte 0x{bad})", "encoding")
    return Issue(path, None, None, f"not valid UTF-8 at byte {exc.start}", "encoding")


def require_columns(path: Path, frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise DataValidationError(
            [
                Issue(path, 1, column, f"required column missing (found: {found})", "missing_column")
                for column in missing
            ]
        )


def check_rows(
    path: Path,
    frame: pd.DataFrame,
    *,
    text_column: str,
    label_column: str | None,
    allowed_labels: Iterable[str],
    names: dict[str, str] | None = None,
) -> list[Issue]:
    """Problems in the text and label columns; ``frame['row']`` holds the file row number.

    ``names`` maps frame columns to the column names the file itself uses, for messages.
    """
    allowed = set(allowed_labels)
    shown = {
        text_column: text_column,
        **({label_column: label_column} if label_column else {}),
        **(names or {}),
    }
    issues: list[Issue] = []
    for row, text in zip(frame["row"], frame[text_column], strict=True):
        if not isinstance(text, str):
            issues.append(Issue(path, int(row), shown[text_column], "empty or not text", "empty_text"))
        elif not text.strip():
            issues.append(Issue(path, int(row), shown[text_column], "empty text", "empty_text"))
        elif len(text.strip()) > MAX_TEXT_CHARS:
            issues.append(
                Issue(
                    path,
                    int(row),
                    shown[text_column],
                    f"text longer than {MAX_TEXT_CHARS} characters",
                    "too_long",
                )
            )
    if label_column is not None:
        for row, label in zip(frame["row"], frame[label_column], strict=True):
            if not isinstance(label, str) or label.strip() not in allowed:
                issues.append(
                    Issue(
                        path,
                        int(row),
                        shown[label_column],
                        f"unknown label {label!r} (expected one of {', '.join(sorted(allowed))})",
                        "unknown_label",
                    )
                )
    return issues
