"""`make bench`: every speed figure of issue 5, measured in one run, written to a file.

1. In-process model: single-message latency, batches of 1,000 (one process; cold and
   warm word cache), and the same batches on every core (``model.parallel``).
2. The consent rules engine alone (``serve.bench_rules``).
3. HTTP: our /v1/check (rules and a durable audit write per request) against
   ``mlflow models serve`` on the same registered model (``training.bench_http``).
4. Training time and peak memory against data size (``training.bench_train``).

Prints as it goes and writes everything to ``docs/benchmarks.md`` (override with
``SENDGATE_BENCH_OUTPUT``); the README summarises that file. Nothing here asserts a
speed: figures are measured, never tested.

Parts can be skipped for a quick look: ``SENDGATE_BENCH_PARTS=model,rules,http,train``
(default all). ``SENDGATE_BENCH_SECONDS`` sets seconds per HTTP load level;
``SENDGATE_BENCH_TRAIN_SIZES`` the training sizes (default 10k, 100k, 1M).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

from model.classifier import Hyperparameters, MessageClassifier
from model.gc_tuning import settle_after_load
from model.parallel import ScoringPool
from model.settings import REPO_ROOT, get_settings
from training.fitting import fit
from training.prepare import prepare
from training.sources import default_sources, seed_sources

PARTS = tuple(os.environ.get("SENDGATE_BENCH_PARTS", "model,rules,http,train").split(","))
OUTPUT = Path(os.environ.get("SENDGATE_BENCH_OUTPUT", str(REPO_ROOT / "docs" / "benchmarks.md")))
LIBRARIES = (
    "scikit-learn",
    "numpy",
    "scipy",
    "fastapi",
    "uvicorn",
    "SQLAlchemy",
    "mlflow",
    "pydantic",
    "orjson",
)

lines: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    lines.append(line)


def _model() -> tuple[MessageClassifier, str]:
    from training.resolve import load_model

    settings = get_settings()
    try:
        classifier, _, label = load_model(settings, None)
        return classifier, label
    except Exception:  # any failure: fall back to a fresh seed model
        data = prepare(seed_sources(), seed=settings.random_seed)
        pipeline = fit(data.frame, Hyperparameters(), seed=settings.random_seed)
        return MessageClassifier(pipeline, tau_promo=0.35, tau_conf=0.6), "seed-only model (no champion)"


def _texts() -> list[str]:
    """Distinct messages of every source, shuffled: none is scored twice in a measurement.

    Read as the files hold them (no de-duplication by template, no NUS cap): scoring
    speed does not care about labels, and more distinct messages keep the caches honest.
    """
    settings = get_settings()
    corpora = (settings.corpora_dir / "uci-sms-spam").is_dir()
    texts: list[str] = []
    for source in default_sources(settings, include_corpora=corpora):
        frame = source.reader(source.path)
        texts.extend(str(t) for t in frame["text"].dropna())
    distinct = list(dict.fromkeys(texts))
    order = np.random.default_rng(0).permutation(len(distinct))
    return [distinct[i] for i in order]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _rate(classify: Callable[[list[str]], object], batches: list[list[str]]) -> tuple[float, float]:
    rates = []
    for batch in batches:
        began = time.perf_counter()
        classify(batch)
        rates.append(len(batch) / (time.perf_counter() - began))
    return statistics.median(rates), min(rates)


def bench_model() -> None:
    classifier, label = _model()
    texts = _texts()
    say(f"model: {label}; {len(texts):,} distinct messages from the seed set and corpora")
    say()
    say("### In-process model")
    for text in texts[:200]:  # warm-up (imports, first allocations)
        classifier.classify([text])
    single: list[float] = []
    for text in texts[200:2200]:
        start = time.perf_counter_ns()
        classifier.classify([text])
        single.append((time.perf_counter_ns() - start) / 1e3)
    say(
        f"- single-message classify: p50 {_percentile(single, 50):.0f} us, "
        f"p99 {_percentile(single, 99):.0f} us, mean {statistics.fmean(single):.0f} us "
        "(n=2,000, distinct messages)"
    )
    explain: list[float] = []
    for text in texts[2200:2700]:
        start = time.perf_counter_ns()
        classifier.classify_explained(text)
        explain.append((time.perf_counter_ns() - start) / 1e3)
    say(
        f"- classify + explain (the /v1/check path): p50 {_percentile(explain, 50):.0f} us, "
        f"p99 {_percentile(explain, 99):.0f} us"
    )

    fresh, _ = _model()  # an empty word cache: the first batches pay for every new word
    settle_after_load()  # as the service and the scoring pool do after loading a model
    cold = [texts[i : i + 1000] for i in range(3000, 13_000, 1000)]
    median, low = _rate(fresh.classify, cold)
    say(
        f"- batches of 1,000, one process, cold word cache: median {median:,.0f} msgs/s, "
        f"min {low:,.0f} (10 batches)"
    )
    warm = [texts[i : i + 1000] for i in range(13_000, 23_000, 1000)]
    median, low = _rate(fresh.classify, warm)
    say(
        f"- batches of 1,000, one process, after 10,000 other messages: median {median:,.0f} msgs/s, "
        f"min {low:,.0f} (10 batches of messages not seen before)"
    )
    workers = os.cpu_count() or 1
    with ScoringPool(fresh, workers=workers) as pool:
        pool.predict_proba(texts[:4000])  # start the workers
        big = texts[23_000:63_000] if len(texts) >= 63_000 else texts[:40_000]
        began = time.perf_counter()
        pool.classify(big)
        rate = len(big) / (time.perf_counter() - began)
    say(
        f"- {len(big):,} messages on {workers} processes (model.parallel.ScoringPool, 2,000 per task): "
        f"{rate:,.0f} msgs/s"
    )


def bench_rules() -> None:
    say()
    say("### Consent rules engine (`python -m serve.bench_rules`)")
    result = subprocess.run(
        [sys.executable, "-m", "serve.bench_rules"], check=True, capture_output=True, text=True
    )
    for line in result.stdout.splitlines():
        if line.strip():
            say(f"    {line}")


def bench_http() -> None:
    from training import bench_http

    say()
    say("### HTTP (`python -m training.bench_http`)")
    say("```")
    try:
        bench_http.run(out=lines)
    finally:
        say("```")


def bench_train() -> None:
    from training import bench_train

    say()
    say("### Training time and peak memory against data size (`python -m training.bench_train`)")
    text = os.environ.get(bench_train.SIZES_ENV)
    sizes = bench_train.parse_sizes(text) if text else list(bench_train.DEFAULT_SIZES)
    results = bench_train.run(sizes, None)
    say("```")
    for line in bench_train.format_table(results).splitlines():
        say(line)
    say("```")


def main() -> None:
    say(f"# sendgate benchmarks ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    say()
    say("Written by `make bench` (`python -m training.bench`); the figures below come from this run.")
    say()
    say(
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
        f"python {platform.python_version()}"
    )
    say("- " + ", ".join(f"{name} {version(name)}" for name in LIBRARIES))
    say(f"- parts: {', '.join(PARTS)}")
    say()
    steps = {"model": bench_model, "rules": bench_rules, "http": bench_http, "train": bench_train}
    for part in PARTS:
        steps[part.strip()]()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {OUTPUT}")


if __name__ == "__main__":
    main()
