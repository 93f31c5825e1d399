"""One training run end to end: data, split, tuning, fit, thresholds, evaluation, MLflow."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from model import artifact
from model.classifier import Hyperparameters, MessageClassifier
from model.settings import Settings
from training import plots, tracking
from training.evaluation import Report, choose_tau_promo, evaluate, format_report, per_source_table
from training.fitting import SearchSpace, fit, tune
from training.prepare import PreparedData, prepare
from training.sources import Source
from training.split import split

Progress = Callable[[str], Any]
DEFAULT_SEARCH = SearchSpace()


@dataclass
class PromotionDecision:
    promoted: bool
    reason: str
    champion_version: str | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    run_id: str
    model_version: str | None
    model_uri: str
    report: Report
    corpora_report: Report | None
    per_source: pd.DataFrame
    tau_promo: float
    hyperparameters: Hyperparameters
    promotion: PromotionDecision | None
    classifier_dir: Path
    seconds: dict[str, float]
    rows: dict[str, int]


def better_or_equal(candidate: Report, champion: Report) -> tuple[bool, str]:
    """The promotion rule: macro-F1 at least the champion's and leak rate not worse."""
    c_leak = candidate.promo_leak_rate or 0.0
    h_leak = champion.promo_leak_rate or 0.0
    if candidate.macro_f1 < champion.macro_f1:
        return False, (f"macro-F1 {candidate.macro_f1:.4f} is below the champion's {champion.macro_f1:.4f}")
    if c_leak > h_leak:
        return False, f"promotional leak rate {c_leak:.4f} is worse than the champion's {h_leak:.4f}"
    return True, (
        f"macro-F1 {candidate.macro_f1:.4f} >= {champion.macro_f1:.4f} and "
        f"leak rate {c_leak:.4f} <= {h_leak:.4f} on the fixed test split"
    )


def decide_promotion(
    settings: Settings, candidate: Report, test: pd.DataFrame, progress: Progress
) -> PromotionDecision:
    current = tracking.champion_version(settings)
    if current is None:
        return PromotionDecision(True, "no champion yet")
    progress(f"scoring champion version {current} on the same test split")
    uri = settings.champion_uri
    try:
        directory = tracking.download_classifier(uri)
        champion, _ = artifact.load(directory)
    except artifact.ModelArtifactError as exc:
        # A champion this environment cannot load cannot be served either.
        return PromotionDecision(True, f"champion {current} cannot be loaded here: {exc}", current)
    champion_report = evaluate(
        test["label"].tolist(), champion.predict_proba(test["text"].tolist()), champion.tau_promo
    )
    promoted, reason = better_or_equal(candidate, champion_report)
    return PromotionDecision(promoted, reason, current, champion_report.flat_metrics())


def _noop(_: str) -> None:
    return None


def train(
    settings: Settings,
    sources: Sequence[Source],
    *,
    run_name: str | None = None,
    search: SearchSpace | None = DEFAULT_SEARCH,
    hyperparameters: Hyperparameters | None = None,
    register: bool = True,
    promote: bool = True,
    progress: Progress = _noop,
) -> TrainResult:
    """Train on ``sources``; log everything to MLflow; register and maybe promote."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    data: PreparedData = prepare(sources, seed=settings.random_seed, progress=progress)
    parts = split(
        data.frame,
        test_percent=settings.test_percent,
        validation_percent=settings.validation_percent,
    )
    train_frame, validation, test = parts["train"], parts["validation"], parts["test"]
    seconds["prepare"] = time.perf_counter() - start

    base = hyperparameters or Hyperparameters()
    tuning_table = None
    if search is not None:
        t0 = time.perf_counter()
        tuned = tune(train_frame, base, search, seed=settings.random_seed, progress=progress)
        base, tuning_table = tuned.best, tuned.table
        seconds["tune"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress(f"fitting on {len(train_frame)} messages (C={base.c}, char n-grams to {base.char_ngram_max})")
    pipeline = fit(train_frame, base, seed=settings.random_seed)
    seconds["fit"] = time.perf_counter() - t0

    progress("choosing tau_promo on the validation split")
    provisional = MessageClassifier(
        pipeline, tau_promo=settings.tau_promo_default, tau_conf=settings.tau_conf_default
    )
    tau_promo = choose_tau_promo(
        validation["label"].tolist(),
        provisional.predict_proba(validation["text"].tolist()),
        recall_target=settings.promo_recall_target,
        ceiling=settings.tau_promo_default,
    )
    classifier = MessageClassifier(pipeline, tau_promo=tau_promo, tau_conf=settings.tau_conf_default)
    validation_report = evaluate(
        validation["label"].tolist(),
        classifier.predict_proba(validation["text"].tolist()),
        tau_promo,
    )

    progress("evaluating on the test split")
    test_proba = classifier.predict_proba(test["text"].tolist())
    report = evaluate(test["label"].tolist(), test_proba, tau_promo)
    by_source = per_source_table(test, test_proba, tau_promo)
    # The bar of issue 2 is on the public corpora: our authored seed rows are reported
    # beside it, never as real-world accuracy (data/cards/seed.md).
    corpora_rows = (test["origin"] == "corpus").to_numpy()
    corpora_report = (
        evaluate(test["label"][corpora_rows].tolist(), test_proba[corpora_rows], tau_promo)
        if corpora_rows.any()
        else None
    )
    seconds["train_total"] = time.perf_counter() - start

    params: dict[str, Any] = {
        **{f"hp_{k}": v for k, v in base.as_params().items()},
        "tau_promo": tau_promo,
        "tau_conf": settings.tau_conf_default,
        "promo_recall_target": settings.promo_recall_target,
        "test_percent": settings.test_percent,
        "validation_percent": settings.validation_percent,
        "nus_max_rows": settings.nus_max_rows,
        "random_seed": settings.random_seed,
        "sources": ",".join(sorted({s.group_name for s in sources})),
        "rows_train": len(train_frame),
        "rows_validation": len(validation),
        "rows_test": len(test),
        "tuned": search is not None,
    }
    metrics = {
        **report.flat_metrics("test_"),
        **validation_report.flat_metrics("validation_"),
        **(corpora_report.flat_metrics("test_corpora_") if corpora_report else {}),
        **{f"seconds_{k}": v for k, v in seconds.items()},
    }
    for source_name, source_f1 in zip(by_source["source"], by_source["macro_f1"], strict=True):
        metrics[f"source_{source_name}_macro_f1"] = float(source_f1)

    tracking.configure(settings)
    with (
        tempfile.TemporaryDirectory(prefix="sendgate-train-") as tmp,
        mlflow.start_run(run_name=run_name) as run,
    ):
        work = Path(tmp)
        evaluation_dir = work / "evaluation"
        evaluation_dir.mkdir()
        _write_evaluation(
            evaluation_dir,
            report,
            validation_report,
            corpora_report,
            by_source,
            tuning_table,
            data,
            test_proba,
            test,
        )
        classifier_dir = work / "classifier"
        artifact.save(
            classifier,
            classifier_dir,
            data_digest=data.digest,
            metrics=report.flat_metrics("test_"),
            params=params,
            sources=[s.describe() for s in sources],
        )
        tracking.log_datasets(sources, data.reports)
        tracking.log_run_outputs(
            params=params,
            metrics=metrics,
            artifacts_dir=evaluation_dir,
            tags={"sendgate.data_digest": data.digest, "sendgate.task": "message-type"},
        )
        progress("logging the model to MLflow")
        info = tracking.log_model(
            classifier_dir,
            registered_model_name=settings.registered_model_name if register else None,
            example_output=tracking.example_output(),
        )
        version = None
        if register:
            version = tracking.model_version_for_run(
                mlflow.tracking.MlflowClient(), settings.registered_model_name, run.info.run_id
            )
        promotion = None
        if register and promote and version is not None:
            promotion = decide_promotion(settings, report, test, progress)
            if promotion.promoted:
                tracking.set_champion(settings, version, promotion.reason)
            else:
                tracking.tag_version(settings, version, "not_promoted", promotion.reason)
            mlflow.set_tag("sendgate.promoted", str(promotion.promoted).lower())
            mlflow.set_tag("sendgate.promotion_reason", promotion.reason)
        kept_dir = settings.state_dir / "runs" / run.info.run_id / "classifier"
        kept_dir.parent.mkdir(parents=True, exist_ok=True)
        if not kept_dir.exists():
            shutil.move(str(classifier_dir), str(kept_dir))
    return TrainResult(
        run_id=run.info.run_id,
        model_version=version,
        model_uri=info.model_uri,
        report=report,
        corpora_report=corpora_report,
        per_source=by_source,
        tau_promo=tau_promo,
        hyperparameters=base,
        promotion=promotion,
        classifier_dir=kept_dir,
        seconds=seconds,
        rows={"train": len(train_frame), "validation": len(validation), "test": len(test)},
    )


def _write_evaluation(
    directory: Path,
    report: Report,
    validation_report: Report,
    corpora_report: Report | None,
    by_source: pd.DataFrame,
    tuning_table: pd.DataFrame | None,
    data: PreparedData,
    test_proba: Any,
    test: pd.DataFrame,
) -> None:
    """Reports and plots. Aggregates only: no message text leaves the process."""
    text = "\n\n".join(
        [
            format_report(report, "Test split (fixed, group-aware)"),
            format_report(validation_report, "Validation split (chooses tau_promo)"),
            *([format_report(corpora_report, "Test split, public corpora only")] if corpora_report else []),
            "Per-source scores on the test split\n" + by_source.to_string(index=False),
        ]
    )
    (directory / "report.txt").write_text(text + "\n", encoding="utf-8")
    (directory / "report.json").write_text(
        json.dumps({"test": report.as_dict(), "validation": validation_report.as_dict()}, indent=2),
        encoding="utf-8",
    )
    by_source.to_csv(directory / "per_source.csv", index=False)
    pd.DataFrame([asdict(r) for r in data.reports]).to_csv(directory / "data_report.csv", index=False)
    if tuning_table is not None:
        tuning_table.to_csv(directory / "tuning.csv", index=False)
    plots.confusion_matrix_png(
        report.confusion, directory / "confusion_matrix.png", "Confusion matrix (test split)"
    )
    plots.reliability_png(test["label"].tolist(), test_proba, directory / "calibration.png")
