"""Classifying a CSV of messages in a stream, reporting bad rows without stopping."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from model.classifier import Classification
from model.labels import LABELS
from training.validation import MAX_TEXT_CHARS, DataValidationError, Issue

OUTPUT_COLUMNS = ["message_type", *(f"p_{label}" for label in LABELS), "treated_as", "error"]


@dataclass
class BatchResult:
    rows: int = 0
    classified: int = 0
    bad: list[Issue] = field(default_factory=list)


def count_rows(path: Path) -> int:
    """Approximate row count for the progress bar (newlines; quoted newlines overcount)."""
    with path.open("rb") as handle:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)


def _row_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "empty or not text"
    if len(value.strip()) > MAX_TEXT_CHARS:
        return f"text longer than {MAX_TEXT_CHARS} characters"
    return None


class Classifies(Protocol):
    """A ``MessageClassifier`` or a ``model.parallel.ScoringPool`` around one."""

    def classify(self, texts: Sequence[str]) -> list[Classification]: ...


def classify_csv(
    classifier: Classifies,
    source: Path,
    destination: Path,
    *,
    text_column: str = "text",
    chunk_size: int = 5_000,
    on_chunk: Callable[[int], object] | None = None,
) -> BatchResult:
    result = BatchResult()
    first = True
    try:
        reader = pd.read_csv(
            source,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_size,
            encoding="utf-8",
            encoding_errors="strict",
        )
        for chunk in reader:
            if text_column not in chunk.columns:
                found = ", ".join(map(str, chunk.columns))
                raise DataValidationError(
                    [Issue(source, 1, text_column, f"column not found (found: {found})", "missing_column")]
                )
            texts = chunk[text_column].tolist()
            problems = [_row_problem(t) for t in texts]
            good = [i for i, p in enumerate(problems) if p is None]
            out = {column: [""] * len(chunk) for column in OUTPUT_COLUMNS}
            for i, problem in enumerate(problems):
                if problem is not None:
                    row = result.rows + i + 2  # header is row 1
                    result.bad.append(Issue(source, row, text_column, problem, "bad_row"))
                    out["error"][i] = problem
            if good:
                for i, c in zip(good, classifier.classify([texts[i] for i in good]), strict=True):
                    out["message_type"][i] = c.message_type
                    out["treated_as"][i] = c.treated_as
                    for label in LABELS:
                        out[f"p_{label}"][i] = f"{c.probabilities[label]:.6f}"
            for column in OUTPUT_COLUMNS:
                chunk[column] = out[column]
            chunk.to_csv(
                destination, mode="w" if first else "a", header=first, index=False, quoting=csv.QUOTE_MINIMAL
            )
            first = False
            result.rows += len(chunk)
            result.classified += len(good)
            if on_chunk:
                on_chunk(len(chunk))
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            [
                Issue(
                    source,
                    result.rows + 2,
                    None,
                    f"not valid UTF-8 in the chunk starting at this row ({exc.reason})",
                    "encoding",
                )
            ]
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataValidationError([Issue(source, None, None, f"not a readable CSV: {exc}", "parse")]) from exc
    if first:
        raise DataValidationError([Issue(source, None, None, "no rows", "empty_file")])
    return result
