"""Data preparation: exclusion, scrubbing, de-duplication, conflict resolution, splits."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from training.prepare import prepare
from training.sources import user_source
from training.split import split


def _csv(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    import csv

    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_exclude_rows_never_reach_training(tmp_path: Path) -> None:
    """Rows labelled exclude (scams, unreadable text) are dropped and counted."""
    path = _csv(
        tmp_path,
        "a.csv",
        [("Your code is 1234", "transactional"), ("You won a prize, send your PIN", "exclude")],
    )
    data = prepare([user_source(path)], seed=1)
    assert data.frame["label"].tolist() == ["transactional"]
    assert data.reports[0].excluded == 1


def test_template_duplicates_collapse_to_one_row(tmp_path: Path) -> None:
    """Messages that differ only in numbers, names or links count once."""
    path = _csv(
        tmp_path,
        "a.csv",
        [
            ("Dear Ravi, Rs.200 debited from A/c XX1111. Ref 123456789012", "transactional"),
            ("Dear Meena, Rs.9,950 debited from A/c XX2222. Ref 998877665544", "transactional"),
            ("Dear Ravi, Rs.200 debited from A/c XX1111. Ref 123456789012", "transactional"),
            ("Flat 20% off on all loans, apply now", "promotional"),
        ],
    )
    data = prepare([user_source(path)], seed=1)
    assert len(data.frame) == 2
    report = data.reports[0]
    assert (report.exact_duplicates, report.template_duplicates) == (1, 1)


def test_personal_data_is_scrubbed_before_anything_else(tmp_path: Path) -> None:
    """Training text holds placeholders, never the phone number or name."""
    path = _csv(tmp_path, "a.csv", [("Dear Imran, call 9876543210 about loan 4003226505", "transactional")])
    (text,) = prepare([user_source(path)], seed=1).frame["text"]
    assert "9876543210" not in text and "Imran" not in text and "4003226505" not in text


def test_a_users_correction_beats_a_corpus_label(tmp_path: Path) -> None:
    """The same text in a user file and a lower-priority source keeps the user's label."""
    from dataclasses import replace

    corpus = replace(
        user_source(_csv(tmp_path, "c.csv", [("Get 10% back on bills", "transactional")])),
        origin="corpus",
        name="corpus",
    )
    user = user_source(_csv(tmp_path, "u.csv", [("Get 10% back on bills", "promotional")]))
    data = prepare([corpus, user], seed=1)
    assert data.frame["label"].tolist() == ["promotional"]


def test_a_users_exclude_removes_a_corpus_row(tmp_path: Path) -> None:
    """A reviewer's exclude overrides the corpus label for the same text."""
    from dataclasses import replace

    corpus = replace(
        user_source(_csv(tmp_path, "c.csv", [("Claim your cash now", "promotional")])),
        origin="corpus",
        name="corpus",
    )
    user = user_source(_csv(tmp_path, "u.csv", [("Claim your cash now", "exclude")]))
    assert prepare([corpus, user], seed=1).frame.empty


def test_tied_conflicting_labels_are_dropped(tmp_path: Path) -> None:
    """One text labelled two ways by equally trusted rows is not trained on."""
    path = _csv(
        tmp_path,
        "a.csv",
        [
            ("See you at 5", "conversational"),
            ("See you at 5", "transactional"),
            ("Your code is 1234", "transactional"),
        ],
    )
    data = prepare([user_source(path)], seed=1)
    assert data.frame["text"].tolist() == ["Your code is 1234"]
    assert data.reports[0].conflicts_dropped == 2


def test_digest_changes_with_content(tmp_path: Path) -> None:
    """The data digest identifies the exact training content."""
    a = prepare([user_source(_csv(tmp_path, "a.csv", [("Your code is 1234", "transactional")]))], seed=1)
    b = prepare([user_source(_csv(tmp_path, "b.csv", [("Your code is 1234", "promotional")]))], seed=1)
    assert a.digest != b.digest


@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=200))
@settings(max_examples=100, deadline=None)
def test_a_group_never_sits_on_two_sides(groups: list[str]) -> None:
    """Whatever the groups, each lands on exactly one side of the split."""
    import pandas as pd

    frame = pd.DataFrame({"group": groups, "text": "x", "label": "promotional"})
    parts = split(frame, test_percent=20, validation_percent=10)
    sides = [set(part["group"]) for part in parts.values()]
    assert sum(len(p) for p in parts.values()) == len(frame)
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_split_is_stable_across_calls() -> None:
    """The test split is fixed: the same groups go to the same side every run."""
    import pandas as pd

    frame = pd.DataFrame({"group": [f"g{i}" for i in range(500)], "text": "x", "label": "promotional"})
    first = split(frame, test_percent=20, validation_percent=10)["test"]["group"].tolist()
    again = split(frame.sample(frac=1, random_state=3), test_percent=20, validation_percent=10)["test"]
    assert sorted(first) == sorted(again["group"].tolist())
    assert 60 <= len(first) <= 140
