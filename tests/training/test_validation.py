"""Bad labelled input is refused with the file, row and column named."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.prepare import prepare, read_source
from training.sources import user_source
from training.validation import DataValidationError

GOOD = "text,label\nYour code is 1234,transactional\nBig sale today,promotional\n"


def _write(tmp_path: Path, body: str | bytes, name: str = "extra.csv") -> Path:
    path = tmp_path / name
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    return path


def _issues(path: Path) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        read_source(user_source(path))
    return [str(issue) for issue in caught.value.issues]


def test_good_file_is_read(tmp_path: Path) -> None:
    """A well-formed CSV loads with its labels."""
    frame, report = read_source(user_source(_write(tmp_path, GOOD)))
    assert frame["label"].tolist() == ["transactional", "promotional"]
    assert report.rows_read == 2


def test_missing_label_column_is_named(tmp_path: Path) -> None:
    """A file without a label column names the file, the header row and the column."""
    path = _write(tmp_path, "text,kind\nhello,promotional\n")
    assert _issues(path) == [f"{path}, row 1, column 'label': required column missing (found: text, kind)"]


def test_unknown_label_names_row_and_column(tmp_path: Path) -> None:
    """An unknown label is reported with its spreadsheet row."""
    path = _write(tmp_path, GOOD + "Hello there,chitchat\n")
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}, row 4, column 'label': unknown label 'chitchat'")


def test_empty_text_names_row_and_column(tmp_path: Path) -> None:
    """An empty or whitespace-only text is an error, not a silent skip."""
    path = _write(tmp_path, GOOD + '"   ",promotional\n,transactional\n')
    assert _issues(path) == [
        f"{path}, row 4, column 'text': empty text",
        f"{path}, row 5, column 'text': empty or not text",
    ]


def test_bad_encoding_names_row_and_column(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are located by row and column."""
    path = _write(tmp_path, GOOD.encode() + b"Caf\xe9 open late,conversational\n")
    (issue,) = _issues(path)
    assert issue == f"{path}, row 4, column 'text': not valid UTF-8 (byte 0xe9)"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """All bad rows of all files come back together, so one fix pass suffices."""
    a = _write(tmp_path, GOOD + "x,bogus\n", "a.csv")
    b = _write(tmp_path, "text\nonly text\n", "b.csv")
    with pytest.raises(DataValidationError) as caught:
        prepare([user_source(a), user_source(b)], seed=1)
    assert {issue.path for issue in caught.value.issues} == {a, b}


def test_cli_names_file_row_and_column(tmp_path: Path) -> None:
    """`sendgate train --extra` exits 2 with the location of the problem."""
    from training.cli import app

    path = _write(tmp_path, GOOD + "Hello there,chitchat\n")
    result = CliRunner().invoke(app, ["train", "--no-corpora", "--extra", str(path)])
    assert result.exit_code == 2
    assert "row 4, column 'label': unknown label 'chitchat'" in result.output.replace("\n", "")
