"""Batch scoring of a large archive on Apache Spark through the registered MLflow model.

The model is applied with ``mlflow.pyfunc.spark_udf``: the very pyfunc that the registry
serves (``training/mlflow_model.py``), not a re-implementation, so Spark's labels and
probabilities are the service's. The archive is a CSV file with a header, a Parquet file,
or a folder of Parquet files; the output is Parquet with every original column plus
``message_type``, one ``p_<label>`` column per class and ``treated_as``.

Rows whose text is null or blank keep their columns and get null predictions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import typer

from model.labels import LABELS
from model.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PREDICTION_COLUMNS = ["message_type", *(f"p_{label}" for label in LABELS), "treated_as"]
# The pyfunc's output (training/mlflow_model.py) as a Spark struct, in the same order.
RESULT_TYPE = ", ".join(
    ["message_type string", *(f"p_{label} double" for label in LABELS), "treated_as string"]
)
CSV_SUFFIXES = {".csv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
_STRUCT = "__sendgate_prediction"


@dataclass(frozen=True)
class ScoreCounts:
    rows: int
    scored: int
    skipped: int  # null or blank text: kept, with null predictions
    by_type: dict[str, int] = field(default_factory=dict)
    partitions: int = 0


def _is_parquet(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES


def check_paths(input_path: Path, output_path: Path, *, overwrite: bool = False) -> None:
    """Cheap checks before a JVM is started for nothing."""
    if not input_path.exists():
        raise typer.BadParameter(f"{input_path}: file or folder not found", param_hint="INPUT")
    if not (input_path.is_dir() or input_path.suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES):
        raise typer.BadParameter(
            f"{input_path}: expected a .csv file with a header, a .parquet file or a folder of Parquet",
            param_hint="INPUT",
        )
    if output_path.exists() and not overwrite:
        raise typer.BadParameter(f"{output_path}: already exists (pass --overwrite)", param_hint="OUTPUT")


def build_session(master: str = "local[*]", app_name: str = "sendgate-score-archive") -> SparkSession:
    """A small session: no UI, two shuffle partitions, 1 GB driver (overridable by spark conf)."""
    from pyspark.sql import SparkSession

    # Python workers must run this interpreter (the one with mlflow, scikit-learn and
    # ``model`` importable), not whatever ``python3`` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


@contextmanager
def session(spark: SparkSession | None = None, master: str = "local[*]") -> Iterator[SparkSession]:
    """Use ``spark`` or the active session as they are; stop only a session started here."""
    if spark is not None:
        yield spark
        return
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    started = build_session(master)
    try:
        yield started
    finally:
        started.stop()


def read_archive(spark: SparkSession, input_path: Path) -> DataFrame:
    if _is_parquet(input_path):
        return spark.read.parquet(str(input_path))
    # Every column is read as text (no type inference), so the originals come out unchanged.
    # multiLine: an SMS may hold a line break inside its quotes.
    return (
        spark.read.option("header", "true")
        .option("multiLine", "true")
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .option("mode", "FAILFAST")
        .csv(str(input_path))
    )


def score_archive(
    settings: Settings,
    input_path: Path,
    output_path: Path,
    *,
    model_uri: str | None = None,
    spark: SparkSession | None = None,
    text_column: str = "text",
    master: str = "local[*]",
    overwrite: bool = False,
) -> ScoreCounts:
    """Score every row of ``input_path`` with the registered model; write Parquet to ``output_path``.

    ``model_uri`` defaults to the registry champion (``models:/<name>@champion``) of the
    configured tracking store. Raises ``typer.BadParameter`` for a missing file, an unknown
    format, a missing text column or output columns that would overwrite input columns.
    """
    from pyspark.sql import functions as F

    input_path, output_path = Path(input_path), Path(output_path)
    check_paths(input_path, output_path, overwrite=overwrite)
    uri = model_uri or settings.champion_uri
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)

    with session(spark, master) as active:
        frame = read_archive(active, input_path)
        columns = list(frame.columns)
        if text_column not in columns:
            raise typer.BadParameter(
                f"{input_path}: no column {text_column!r} to score (columns: {', '.join(columns) or 'none'})",
                param_hint="--text-column",
            )
        clashes = [c for c in [*PREDICTION_COLUMNS, _STRUCT] if c in columns]
        if clashes:
            raise typer.BadParameter(
                f"{input_path}: already has the output column(s) {', '.join(clashes)}; "
                "rename or drop them first",
                param_hint="INPUT",
            )
        if frame.rdd.getNumPartitions() < active.sparkContext.defaultParallelism:
            # A multi-line CSV is one partition; spread it so every core scores.
            frame = frame.repartition(active.sparkContext.defaultParallelism)
        predict = mlflow.pyfunc.spark_udf(active, uri, result_type=RESULT_TYPE, env_manager="local")
        text = F.col(text_column).cast("string")
        present = text.isNotNull() & (F.length(F.trim(text)) > 0)
        scored = frame.withColumn(_STRUCT, F.when(present, predict(text))).select(
            *[F.col("`" + c.replace("`", "``") + "`") for c in columns],
            *[F.col(f"{_STRUCT}.{c}").alias(c) for c in PREDICTION_COLUMNS],
        )
        scored.write.mode("overwrite" if overwrite else "errorifexists").parquet(str(output_path))

        written = active.read.parquet(str(output_path))
        partitions = written.rdd.getNumPartitions()
        by_type: dict[str, int] = {}
        skipped = 0
        for row in written.groupBy("message_type").count().collect():
            if row["message_type"] is None:
                skipped = int(row["count"])
            else:
                by_type[str(row["message_type"])] = int(row["count"])
    scored_rows = sum(by_type.values())
    return ScoreCounts(
        rows=scored_rows + skipped,
        scored=scored_rows,
        skipped=skipped,
        by_type=dict(sorted(by_type.items())),
        partitions=partitions,
    )
