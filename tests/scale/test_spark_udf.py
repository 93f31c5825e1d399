"""Batch scoring on Spark (local mode) through the registered model equals in-process scoring."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from model import artifact
from model.classifier import Hyperparameters, MessageClassifier
from model.labels import LABELS
from model.settings import Settings
from training.sources import seed_sources
from training.train import train

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI is set but there is no java on PATH for Spark (see .ci/run)")
    pytest.skip("no java on PATH: Spark cannot start", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

from training.cli import app  # noqa: E402
from training.spark_score import PREDICTION_COLUMNS, build_session, score_archive  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # pyspark 4.3 warns on every pandas UDF that pandas 3 is not yet fully supported; the
    # equality assertions below are what tells whether it works.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]
# A smaller feature space than the default keeps the fit short; the comparison is exact anyway.
SMALL = Hyperparameters(char_ngram_max=3, max_features_word=20_000, max_features_char=20_000)

# Authored here: the awkward cases a CSV archive holds (line breaks, quotes, blanks).
EDGE_CASES = [
    'Your parcel is out for delivery.\nTrack it: "pkt.ly/9F2K", reply STOP to opt out',
    "",
    "   ",
    "Olá! Seu código de acesso é 402913, válido por 10 minutos.",
    'She said "see you at 7", ok?',
]


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, MessageClassifier]:
    settings = Settings(state_dir=tmp_path_factory.mktemp("spark-state"))
    result = train(settings, seed_sources(), search=None, hyperparameters=SMALL)
    assert result.promotion is not None and result.promotion.promoted
    classifier, _ = artifact.load(result.classifier_dir)
    return settings, classifier


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = build_session("local[2]", app_name="sendgate-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def messages() -> pd.DataFrame:
    """A few hundred rows resampled from our seed set, with extra columns to carry through."""
    seed = pd.concat([pd.read_csv(s.path) for s in seed_sources()], ignore_index=True)
    rows = seed.sample(320, random_state=7)[["text", "domain", "lang"]]
    extra = pd.DataFrame({"text": EDGE_CASES, "domain": "authored", "lang": "xx"})
    frame = pd.concat([rows, extra], ignore_index=True)
    frame.insert(0, "id", range(len(frame)))
    return frame


def _assert_matches_in_process(
    out: pd.DataFrame, expected: pd.DataFrame, classifier: MessageClassifier, text_column: str
) -> None:
    assert len(out) == len(expected)
    out = out.assign(id=out["id"].astype(int)).sort_values("id").reset_index(drop=True)
    for column in expected.columns:
        if column == text_column:
            continue
        assert out[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
    present = expected[text_column].fillna("").str.strip() != ""
    # Blank rows stay, with null predictions.
    assert out.loc[~present, "message_type"].isna().all()
    assert out.loc[~present, "p_promotional"].isna().all()
    texts = expected.loc[present, text_column].tolist()
    assert out.loc[present, text_column].tolist() == texts
    results = classifier.classify(texts)
    got = out.loc[present].reset_index(drop=True)
    assert got["message_type"].tolist() == [r.message_type for r in results]
    assert got["treated_as"].tolist() == [r.treated_as for r in results]
    for label in LABELS:
        want = [r.probabilities[label] for r in results]
        assert got[f"p_{label}"].tolist() == pytest.approx(want, abs=1e-6, rel=0)


def test_csv_archive_scored_on_spark_equals_in_process(
    champion: tuple[Settings, MessageClassifier],
    spark: SparkSession,
    messages: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """Every row of a CSV archive gets the champion's label and probabilities, columns kept."""
    settings, classifier = champion
    source = tmp_path / "archive.csv"
    messages.rename(columns={"text": "body"}).to_csv(source, index=False)
    output = tmp_path / "scored"
    counts = score_archive(settings, source, output, spark=spark, text_column="body")
    assert counts.rows == len(messages)
    assert counts.skipped == 2
    assert counts.scored == len(messages) - 2
    assert sum(counts.by_type.values()) == counts.scored
    out = pd.read_parquet(output)
    assert list(out.columns) == ["id", "body", "domain", "lang", *PREDICTION_COLUMNS]
    _assert_matches_in_process(out, messages.rename(columns={"text": "body"}), classifier, "body")


def test_parquet_file_and_folder_scored_on_spark_equal_in_process(
    champion: tuple[Settings, MessageClassifier],
    spark: SparkSession,
    messages: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """A Parquet file, and a folder of Parquet parts, keep their typed columns and score the same."""
    settings, classifier = champion
    single = tmp_path / "archive.parquet"
    messages.to_parquet(single, index=False)
    counts = score_archive(settings, single, tmp_path / "scored-file", spark=spark)
    assert counts.rows == len(messages)
    out = pd.read_parquet(tmp_path / "scored-file")
    assert list(out.columns) == ["id", "text", "domain", "lang", *PREDICTION_COLUMNS]
    assert str(out["id"].dtype) == "int64"
    _assert_matches_in_process(out, messages, classifier, "text")

    folder = tmp_path / "parts"
    folder.mkdir()
    half = len(messages) // 2
    messages.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
    messages.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)
    counts = score_archive(
        settings,
        folder,
        tmp_path / "scored-folder",
        spark=spark,
        model_uri=f"models:/{settings.registered_model_name}/1",
    )
    assert counts.rows == len(messages)
    _assert_matches_in_process(pd.read_parquet(tmp_path / "scored-folder"), messages, classifier, "text")


def test_missing_text_column_is_a_clear_error(
    champion: tuple[Settings, MessageClassifier],
    spark: SparkSession,
    messages: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No traceback: the file and the column are named, from the function and from the CLI."""
    settings, _ = champion
    source = tmp_path / "archive.csv"
    messages.rename(columns={"text": "body"}).to_csv(source, index=False)
    with pytest.raises(typer.BadParameter, match=r"archive\.csv: no column 'text' to score"):
        score_archive(settings, source, tmp_path / "out", spark=spark)
    assert not (tmp_path / "out").exists()

    monkeypatch.setenv("SENDGATE_STATE_DIR", str(settings.state_dir))
    result = CliRunner().invoke(
        app, ["score-archive", str(source), str(tmp_path / "out"), "--text-column", "message"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert f"{source}: no column 'message' to score (columns: id, body, domain, lang)" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

    result = CliRunner().invoke(app, ["score-archive", str(tmp_path / "nope.csv"), str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "nope.csv: file or folder not found" in result.output


def test_cli_scores_with_the_champion(
    champion: tuple[Settings, MessageClassifier],
    spark: SparkSession,
    messages: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`sendgate score-archive IN OUT` uses the configured registry's champion."""
    settings, _ = champion
    source = tmp_path / "archive.parquet"
    messages.to_parquet(source, index=False)
    monkeypatch.setenv("SENDGATE_STATE_DIR", str(settings.state_dir))
    result = CliRunner().invoke(
        app, ["score-archive", str(source), str(tmp_path / "out"), "--master", "local[2]"]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(messages) - 2} of {len(messages)} rows scored" in result.output
    assert len(pd.read_parquet(tmp_path / "out")) == len(messages)
    again = CliRunner().invoke(app, ["score-archive", str(source), str(tmp_path / "out")])
    assert again.exit_code == 2
    assert "already exists (pass --overwrite)" in again.output
