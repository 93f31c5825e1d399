"""The command line: train, classify and evaluate end to end on the seed set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from training.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("cli-state")
    mp = pytest.MonkeyPatch()
    mp.setenv("SENDGATE_STATE_DIR", str(state))
    from model.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["train", "--no-corpora", "--no-tune"])
    mp.undo()
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "promoted to champion" in result.output
    return state


def test_classify_adds_columns_and_reports_bad_rows(
    champion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every good row gets a type, probabilities and treated_as; bad rows are listed, not fatal."""
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(champion))
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "body": ["Your code is 730142", "", "Winter sale! 40% off coats"]}).to_csv(
        source, index=False
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        [
            "classify",
            "--input",
            str(source),
            "--text-column",
            "body",
            "--output",
            str(out),
            "--chunk-size",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"bad row: {source}, row 3, column 'body': empty or not text" in result.output
    frame = pd.read_csv(out, keep_default_na=False)
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["message_type"].tolist() == ["transactional", "", "promotional"]
    assert frame["error"].tolist() == ["", "empty or not text", ""]
    assert {"p_promotional", "p_transactional", "p_conversational", "treated_as"} <= set(frame.columns)


def test_classify_names_a_missing_text_column(
    champion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong --text-column is an error naming the file and the column."""
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(champion))
    source = tmp_path / "in.csv"
    source.write_text("message\nhello\n")
    result = runner.invoke(app, ["classify", "--input", str(source), "--output", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "column 'text': column not found (found: message)" in result.output


def test_evaluate_prints_the_report_for_any_labelled_csv(
    champion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sendgate evaluate` scores the champion on a user's file with the full report."""
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(champion))
    data = tmp_path / "labelled.csv"
    pd.DataFrame(
        {
            "text": [
                "Your Quillpay code is 730142",
                "Winter sale! 40% off all coats today",
                "Yes we're open until 9 tonight",
            ],
            "label": ["transactional", "promotional", "conversational"],
        }
    ).to_csv(data, index=False)
    result = runner.invoke(app, ["evaluate", "--data", str(data)])
    assert result.exit_code == 0, result.output
    for needle in ("macro-F1", "promotional leak rate", "calibration error", "confusion"):
        assert needle in result.output


def test_no_champion_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any trained model, classify says how to get one instead of crashing."""
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(tmp_path / "empty"))
    source = tmp_path / "in.csv"
    source.write_text("text\nhello\n")
    result = runner.invoke(app, ["classify", "--input", str(source), "--output", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "sendgate train" in result.output


def test_classify_with_two_workers_writes_the_same_file(
    champion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers 2 scores on forked processes; rows, order, figures and bad rows are unchanged."""
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(champion))
    seed = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "seed" / "transactional.csv")
    texts = [*seed["text"].head(40).tolist(), "", *seed["text"].tail(40).tolist()]
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(source, index=False)
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.csv"
        args = ["classify", "--input", str(source), "--output", str(out), "--chunk-size", "30"]
        result = runner.invoke(app, [*args, "--workers", workers])
        assert result.exit_code == 0, result.output
        assert "80 of 81 rows classified" in result.output
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
