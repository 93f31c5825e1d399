"""The ``sendgate`` command line: train, evaluate, classify, loso, promote."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from mlflow.exceptions import MlflowException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from model.artifact import ModelArtifactError
from model.settings import Settings, get_settings
from training.validation import DataValidationError

app = typer.Typer(help="sendgate: train, evaluate and run the message-type model.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    # Plain echo, not rich: error lines must not be re-wrapped, so tools can parse them.
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option("--extra", help="A labelled CSV (text,label) to train on as well; repeatable."),
]


@app.command()
def train(
    extra: ExtraOpt = None,
    corpora: Annotated[bool, typer.Option(help="Include the public corpora.")] = True,
    tune: Annotated[bool, typer.Option(help="Choose hyperparameters by cross-validation.")] = True,
    promote: Annotated[bool, typer.Option(help="Move the champion alias if the model is better.")] = True,
    run_name: Annotated[str | None, typer.Option(help="MLflow run name.")] = None,
) -> None:
    """Train on every registered source (plus --extra files), log to MLflow, register."""
    _quiet_mlflow()
    from training.evaluation import format_report
    from training.fitting import SearchSpace
    from training.sources import default_sources, user_source
    from training.train import train as run_training

    settings = get_settings()
    sources = default_sources(settings, include_corpora=corpora)
    if corpora:
        missing = [s.path for s in sources if s.origin == "corpus" and not s.path.exists()]
        if missing:
            raise _fail(
                f"corpus files not found: {', '.join(map(str, missing))}. Set SENDGATE_CORPORA_DIR "
                "or pass --no-corpora to train on the seed set alone."
            )
    sources += [user_source(path) for path in extra or []]
    started = time.perf_counter()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)
        try:
            result = run_training(
                settings,
                sources,
                run_name=run_name,
                search=SearchSpace() if tune else None,
                promote=promote,
                progress=lambda message: bar.update(task, description=message),
            )
        except DataValidationError as exc:
            raise _fail(str(exc)) from exc
    elapsed = time.perf_counter() - started
    console.print(format_report(result.report, "Test split (fixed, group-aware)"), highlight=False)
    if result.corpora_report is not None:
        console.print(
            "\n" + format_report(result.corpora_report, "Test split, public corpora only (issue 2 bar)"),
            highlight=False,
        )
    console.print("\nPer-source scores on the test split", highlight=False)
    console.print(result.per_source.to_string(index=False), highlight=False)
    console.print(
        f"\nrows: {result.rows}  hyperparameters: C={result.hyperparameters.c}, "
        f"char n-grams to {result.hyperparameters.char_ngram_max}  tau_promo={result.tau_promo:.4f}",
        highlight=False,
    )
    console.print(f"MLflow run {result.run_id}, model {result.model_uri}, version {result.model_version}")
    if result.promotion is not None:
        verdict = "promoted to champion" if result.promotion.promoted else "not promoted"
        console.print(f"{verdict}: {result.promotion.reason}", highlight=False)
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    console.print(
        f"training time (data to fitted, evaluated model): {result.seconds['train_total']:.1f}s "
        f"({timings}); whole command {elapsed:.1f}s",
        highlight=False,
        markup=False,
    )


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled CSV with text and label columns.")],
    model: Annotated[
        str | None, typer.Option(help="Model directory or models:/ URI; default: champion.")
    ] = None,
) -> None:
    """Print the evaluation report of a model on any labelled CSV."""
    _quiet_mlflow()
    from training.evaluation import evaluate as score
    from training.evaluation import format_report
    from training.prepare import read_source
    from training.resolve import load_model
    from training.sources import user_source

    settings = get_settings()
    try:
        frame, _ = read_source(user_source(data))
        classifier, _, label = _load(settings, model, load_model)
    except DataValidationError as exc:
        raise _fail(str(exc)) from exc
    if frame.empty:
        raise _fail(f"{data}: no rows to evaluate (all excluded or empty)")
    proba = classifier.predict_proba(frame["text"].tolist())
    report = score(frame["label"].tolist(), proba, classifier.tau_promo)
    console.print(format_report(report, f"{data} scored by {label}"), highlight=False)


def _load(settings: Settings, reference: str | None, loader):  # type: ignore[no-untyped-def]
    try:
        return loader(settings, reference)
    except (ModelArtifactError, MlflowException, OSError) as exc:
        hint = " (train one with `sendgate train`)" if reference is None else ""
        raise _fail(f"cannot load model {reference or 'champion'}{hint}: {exc}") from exc


@app.command()
def classify(
    input: Annotated[Path, typer.Option("--input", help="CSV to classify.")],
    output: Annotated[Path, typer.Option("--output", help="Where to write the CSV with results.")],
    text_column: Annotated[str, typer.Option(help="Column holding the message text.")] = "text",
    model: Annotated[
        str | None, typer.Option(help="Model directory or models:/ URI; default: champion.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 5_000,
    workers: Annotated[
        int, typer.Option(min=1, help="Scoring processes (forked, sharing the loaded model).")
    ] = 1,
) -> None:
    """Add message_type, one probability per class and treated_as to every row of a CSV."""
    _quiet_mlflow()
    from contextlib import nullcontext

    from model.gc_tuning import settle_after_load
    from model.parallel import ScoringPool
    from training.batch import classify_csv, count_rows
    from training.resolve import load_model

    settings = get_settings()
    if not input.is_file():
        raise _fail(f"{input}: file not found")
    classifier, _, label = _load(settings, model, load_model)
    settle_after_load()
    total = count_rows(input)
    # The pool forks before the progress bar starts its refresh thread.
    with (
        ScoringPool(classifier, workers) if workers > 1 else nullcontext(classifier) as scorer,
        Progress(
            TextColumn("classifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=errors
        ) as bar,
    ):
        task = bar.add_task("rows", total=total)
        try:
            result = classify_csv(
                scorer,
                input,
                output,
                text_column=text_column,
                chunk_size=chunk_size,
                on_chunk=lambda n: bar.advance(task, n),
            )
        except DataValidationError as exc:
            raise _fail(str(exc)) from exc
    for issue in result.bad[:20]:
        typer.echo(f"bad row: {issue}", err=True)
    if len(result.bad) > 20:
        errors.print(f"... and {len(result.bad) - 20} more bad rows (see the error column)")
    console.print(
        f"{result.classified} of {result.rows} rows classified by {label}; "
        f"{len(result.bad)} bad rows; wrote {output}",
        highlight=False,
    )


@app.command()
def loso(
    output: Annotated[Path | None, typer.Option(help="Also write the table as Markdown here.")] = None,
) -> None:
    """Leave-one-source-out table: train without each source, score on all of it."""
    _quiet_mlflow()
    import mlflow

    from model.classifier import Hyperparameters
    from training import tracking
    from training.loso import leave_one_source_out, to_markdown
    from training.prepare import prepare
    from training.sources import default_sources

    settings = get_settings()
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("preparing data", total=None)
        data = prepare(default_sources(settings), seed=settings.random_seed)
        table = leave_one_source_out(
            data, settings, Hyperparameters(), progress=lambda m: bar.update(task, description=m)
        )
    markdown = to_markdown(table)
    console.print(markdown, highlight=False)
    console.print(f"({time.perf_counter() - started:.0f}s)")
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown + "\n", encoding="utf-8")
    tracking.configure(settings, experiment_name=f"{settings.experiment_name}-loso")
    with mlflow.start_run(run_name="leave-one-source-out"):
        for row in table.to_dict("records"):
            if row.get("macro_f1") is not None:
                mlflow.log_metric(f"{row['left_out']}_macro_f1", float(row["macro_f1"]))
            if row.get("promo_leak_rate") is not None:
                mlflow.log_metric(f"{row['left_out']}_promo_leak_rate", float(row["promo_leak_rate"]))
        mlflow.log_text(markdown, "loso.md")


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to consider.")],
) -> None:
    """Move the champion alias to VERSION only if it beats the champion on the fixed test split."""
    _quiet_mlflow()
    from model import artifact
    from training import tracking
    from training.evaluation import evaluate as score
    from training.prepare import prepare
    from training.sources import default_sources
    from training.split import split
    from training.train import decide_promotion

    settings = get_settings()
    tracking.configure(settings)
    uri = f"models:/{settings.registered_model_name}/{version}"
    try:
        candidate, _ = artifact.load(tracking.download_classifier(uri))
    except (ModelArtifactError, MlflowException) as exc:
        raise _fail(f"cannot load {uri}: {exc}") from exc
    data = prepare(default_sources(settings), seed=settings.random_seed)
    test = split(
        data.frame, test_percent=settings.test_percent, validation_percent=settings.validation_percent
    )["test"]
    report = score(
        test["label"].tolist(), candidate.predict_proba(test["text"].tolist()), candidate.tau_promo
    )
    decision = decide_promotion(settings, report, test, progress=lambda m: None)
    if decision.champion_version == version:
        console.print(f"version {version} is already the champion")
        return
    if decision.promoted:
        tracking.set_champion(settings, version, decision.reason)
        console.print(f"version {version} promoted: {decision.reason}", highlight=False)
    else:
        console.print(f"version {version} not promoted: {decision.reason}", highlight=False)
        raise typer.Exit(1)


@app.command()
def serve(
    bootstrap: Annotated[
        bool, typer.Option(help="Train a default model first if there is no champion.")
    ] = True,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    worker_healthcheck_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds a worker may take to answer the supervisor's ping before it is killed "
            "and replaced (several workers only).",
        ),
    ] = 30,
) -> None:
    """Start the service on the configured host and port (default 127.0.0.1:8000)."""
    _quiet_mlflow()
    import shutil

    from training import tracking

    settings = get_settings()
    if bootstrap and settings.model_path is None:
        tracking.configure(settings)
        if tracking.champion_version(settings) is None:
            corpora = (settings.corpora_dir / "uci-sms-spam").is_dir()
            console.print(
                "no champion model yet: training one from the seed set"
                + (" and the corpora" if corpora else " (corpora not found)"),
                highlight=False,
            )
            from training.sources import default_sources
            from training.train import train as run_training

            run_training(
                settings,
                default_sources(settings, include_corpora=corpora),
                run_name="bootstrap",
                search=None,
            )
    # Several workers: each is a process with its own counters. prometheus_client's
    # multiprocess mode makes /metrics sum them; the variable must be set before the
    # workers start (they read it when they first import prometheus_client).
    from serve.observability import MULTIPROC_ENV, fresh_multiprocess_dir

    own_metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        own_metrics_dir = fresh_multiprocess_dir(settings.state_dir / "prometheus")
        os.environ[MULTIPROC_ENV] = str(own_metrics_dir)
    try:
        from serve.server import run

        run(settings, workers, worker_healthcheck_timeout=worker_healthcheck_timeout)
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


@app.command("score-archive")
def score_archive(
    input: Annotated[Path, typer.Argument(help="A .csv with a header, a .parquet file or a Parquet folder.")],
    output: Annotated[Path, typer.Argument(help="Parquet folder to write (original columns + predictions).")],
    model_uri: Annotated[
        str | None, typer.Option(help="MLflow model URI; default: the registry champion.")
    ] = None,
    master: Annotated[str, typer.Option(help="Spark master URL.")] = "local[*]",
    text_column: Annotated[str, typer.Option(help="Column holding the message text.")] = "text",
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Score a large archive on Apache Spark through the registered MLflow model (spark_udf)."""
    _quiet_mlflow()
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pyspark is a dev extra
        raise _fail(f"score-archive needs pyspark (pip install -e '.[dev]'): {exc}") from exc
    from training.spark_score import score_archive as run_scoring

    settings = get_settings()
    started = time.perf_counter()
    try:
        counts = run_scoring(
            settings,
            input,
            output,
            model_uri=model_uri,
            text_column=text_column,
            master=master,
            overwrite=overwrite,
        )
    except typer.BadParameter as exc:
        raise _fail(exc.format_message()) from exc
    except MlflowException as exc:
        hint = " (train one with `sendgate train`)" if model_uri is None else ""
        raise _fail(f"cannot load model {model_uri or settings.champion_uri}{hint}: {exc.message}") from exc
    elapsed = time.perf_counter() - started
    types = ", ".join(f"{k}={v}" for k, v in counts.by_type.items())
    console.print(
        f"{counts.scored} of {counts.rows} rows scored ({types}); {counts.skipped} blank rows kept "
        f"unscored; wrote {output} in {elapsed:.1f}s ({counts.rows / max(elapsed, 1e-9):,.0f} rows/s)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="sendgate")


if __name__ == "__main__":  # pragma: no cover
    main()
