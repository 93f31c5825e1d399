"""`make bench`: in-process figures for the model (and the rules engine when present).

Prints, never asserts: speed is measured here, not in tests. Uses the registry champion
when there is one, else trains a seed-only model first (and says so).
"""

from __future__ import annotations

import importlib.util
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import sklearn

from model.classifier import Hyperparameters, MessageClassifier
from model.settings import get_settings
from training.fitting import fit
from training.prepare import prepare
from training.sources import default_sources, seed_sources


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
    settings = get_settings()
    corpora = (settings.corpora_dir / "uci-sms-spam").is_dir()
    data = prepare(default_sources(settings, include_corpora=corpora), seed=settings.random_seed)
    texts = data.frame["text"].tolist()
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.integers(0, len(texts), 20_000)]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    print(f"command: {' '.join(sys.argv)}  (make bench)")
    print(f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    classifier, label = _model()
    texts = _texts()
    print(f"model: {label}; {len(texts)} sampled messages")

    for text in texts[:200]:  # warm-up
        classifier.classify([text])
    single: list[float] = []
    for text in texts[:2000]:
        start = time.perf_counter_ns()
        classifier.classify([text])
        single.append((time.perf_counter_ns() - start) / 1e3)
    print(
        f"single-message classify: p50 {_percentile(single, 50):.0f} us, "
        f"p99 {_percentile(single, 99):.0f} us, mean {statistics.fmean(single):.0f} us (n=2000)"
    )

    rates: list[float] = []
    for i in range(0, 10_000, 1000):
        batch = texts[i : i + 1000]
        began = time.perf_counter()
        classifier.classify(batch)
        rates.append(len(batch) / (time.perf_counter() - began))
    print(
        f"batch classify (1,000 per call): median {statistics.median(rates):,.0f} messages/s, "
        f"min {min(rates):,.0f} (10 batches)"
    )

    explain: list[float] = []
    for text in texts[:500]:
        start = time.perf_counter_ns()
        classifier.explain(text)
        explain.append((time.perf_counter_ns() - start) / 1e3)
    print(f"explain(): p50 {_percentile(explain, 50):.0f} us, p99 {_percentile(explain, 99):.0f} us")

    if importlib.util.find_spec("serve.bench_rules") is not None:
        sys.stdout.flush()
        subprocess.run([sys.executable, "-m", "serve.bench_rules"], check=True)


if __name__ == "__main__":
    main()
