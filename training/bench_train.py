"""Training time and peak memory against data size (issue 5): ``python -m training.bench_train``.

The prepared training split (sources + prepare + split, exactly as ``sendgate train``
builds it) is loaded once, then for each size N a frame of N rows is drawn from it with
replacement (fixed seed; text, label, group and weight travel together; duplicates are
kept on purpose, the point is scale) and the production model is fitted on it with the
default hyperparameters and no search (the bootstrap's path, calibration included) by
:func:`training.fitting.fit`, in a fresh subprocess per size so that each peak RSS
belongs to one size alone.

The child times the phases of that one fit by wrapping, in its own process only, the
methods the Pipeline calls (normaliser, feature union, calibrator, logistic regression);
production code is not changed. The prepared rows go to the child through a pickle in a
temporary directory outside the repository, removed afterwards; no message text is
written anywhere else.

Prints a table and writes JSON (default ``.sendgate/bench/train.json``). Sizes come from
``--sizes 10000,100000`` or ``SENDGATE_BENCH_TRAIN_SIZES``; default 10k, 100k and 1M.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)
SIZES_ENV = "SENDGATE_BENCH_TRAIN_SIZES"
RESAMPLE_SEED = 20_505
GIB = 1024**3


# --- /proc helpers (Linux; each degrades to None elsewhere) ---------------------------


def _proc_kib(path: str, key: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _meminfo(key: str) -> int | None:
    return _proc_kib("/proc/meminfo", key)


def _status(key: str, pid: int | str = "self") -> int | None:
    return _proc_kib(f"/proc/{pid}/status", key)


def _gib(kib: int | None) -> float | None:
    return None if kib is None else round(kib * 1024 / GIB, 3)


def _reset_peak() -> bool:
    """Reset this process's VmHWM (Linux >= 4.0) so the next reading is a phase's own peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


# --- the child: one fit, phases timed --------------------------------------------------


class _Phases:
    """Wall time and peak RSS of the phases of one Pipeline.fit, recorded as they end."""

    def __init__(self, sink: Callable[[], None]) -> None:
        self.records: list[dict[str, Any]] = []
        self._sink = sink
        self.stack: list[int] = []
        # Resetting VmHWM also resets the kernel's ru_maxrss, so the process-wide peak is
        # kept here: every reading taken before a reset is folded in.
        self.process_peak = 0

    def wrap(self, owner: type, name: str, label: str) -> None:
        original = getattr(owner, name)
        phases = self

        @functools.wraps(original)
        def timed(obj: Any, *args: Any, **kwargs: Any) -> Any:
            # A stack of running peaks: a nested phase resets VmHWM for its own peak and
            # hands what it saw on to the phases around it.
            phases.enter()
            rss_before = _status("VmRSS")
            began = time.perf_counter()
            try:
                result = original(obj, *args, **kwargs)
            finally:
                peak = phases.leave()
            record: dict[str, Any] = {
                "phase": label,
                "seconds": round(time.perf_counter() - began, 3),
                "depth": len(phases.stack),
                "rss_before_gib": _gib(rss_before),
                "rss_after_gib": _gib(_status("VmRSS")),
                "peak_rss_gib": _gib(peak),
            }
            phases.after(label, obj, args, result, record)
            phases.records.append(record)
            phases._sink()
            return result

        setattr(owner, name, timed)

    def _observe(self) -> None:
        hwm = _status("VmHWM") or 0
        self.process_peak = max(self.process_peak, hwm)
        self.stack[:] = [max(level, hwm) for level in self.stack]

    def enter(self) -> None:
        self._observe()
        _reset_peak()
        self.stack.append(_status("VmHWM") or 0)

    def leave(self) -> int:
        self._observe()
        peak = self.stack.pop()
        if self.stack:
            self.stack[-1] = max(self.stack[-1], peak)
        return peak

    def after(self, label: str, obj: Any, args: tuple[Any, ...], result: Any, record: dict[str, Any]) -> None:
        if label == "featurise" and hasattr(result, "nnz"):
            shape = tuple(int(d) for d in result.shape)
            record.update(
                rows=shape[0],
                columns=shape[1],
                nnz=int(result.nnz),
                dtype=str(result.dtype),
                matrix_gib=round(_sparse_bytes(result) / GIB, 3),
            )
        if label == "logistic_regression":
            x = args[0] if args else None
            record["rows"] = int(x.shape[0]) if x is not None else None
            n_iter = getattr(obj, "n_iter_", None)
            record["n_iter"] = [int(i) for i in n_iter] if n_iter is not None else None
            record["max_iter"] = int(obj.max_iter)


def _sparse_bytes(matrix: Any) -> int:
    return int(sum(getattr(matrix, part).nbytes for part in ("data", "indices", "indptr")))


def _child(frame_path: Path, size: int, result_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion

    from model.classifier import Hyperparameters, SmsNormalizer
    from training.fitting import fit

    out: dict[str, Any] = {"size": size, "status": "running"}

    def sink() -> None:
        out["phases"] = phases.records
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out), encoding="utf-8")
        tmp.replace(result_path)

    phases = _Phases(sink)
    out["rss_after_imports_gib"] = _gib(_status("VmRSS"))
    with frame_path.open("rb") as handle:
        payload = pickle.load(handle)
    base: pd.DataFrame = payload["frame"]
    seed: int = payload["seed"]
    rng = np.random.default_rng(RESAMPLE_SEED)
    picks = rng.integers(0, len(base), size)
    # Whole rows move together, so labels, groups and weights stay consistent.
    frame = base.iloc[picks].reset_index(drop=True)
    del base, payload
    out["distinct_base_rows"] = len(np.unique(picks))
    out["groups"] = int(frame["group"].nunique())
    out["labels"] = {str(k): int(v) for k, v in frame["label"].value_counts().sort_index().items()}
    out["rss_before_fit_gib"] = _gib(_status("VmRSS"))
    out["peak_reset_supported"] = _reset_peak()

    phases.wrap(SmsNormalizer, "transform", "normalise")
    phases.wrap(FeatureUnion, "fit_transform", "featurise")
    phases.wrap(CalibratedClassifierCV, "fit", "calibrated_fit")
    phases.wrap(LogisticRegression, "fit", "logistic_regression")

    began = time.perf_counter()
    hp = Hyperparameters()
    pipeline = fit(frame, hp, seed=seed)
    out["fit_seconds"] = round(time.perf_counter() - began, 3)
    out["hyperparameters"] = hp.as_params()
    union = pipeline.named_steps["features"]
    out["vocabulary"] = {name: len(vec.vocabulary_) for name, vec in union.transformer_list}
    out["status"] = "ok"
    phases._observe()
    out["peak_rss_gib"] = _gib(phases.process_peak)
    sink()


# --- the parent: one subprocess per size ------------------------------------------------


def _prepared_train_frame() -> tuple[Any, dict[str, Any]]:
    from model.settings import get_settings
    from training.prepare import prepare
    from training.sources import default_sources
    from training.split import split

    settings = get_settings()
    corpora = (settings.corpora_dir / "uci-sms-spam").is_dir()
    data = prepare(default_sources(settings, include_corpora=corpora), seed=settings.random_seed)
    parts = split(
        data.frame,
        test_percent=settings.test_percent,
        validation_percent=settings.validation_percent,
    )
    train = parts["train"][["text", "label", "group", "weight"]].reset_index(drop=True)
    info = {
        "corpora": corpora,
        "prepared_rows": len(data.frame),
        "train_rows": len(train),
        "train_groups": int(train["group"].nunique()),
        "seed": settings.random_seed,
    }
    return train, info


def _run_one(
    frame_path: Path, size: int, workdir: Path, timeout: float | None, sample_every: float = 0.5
) -> dict[str, Any]:
    result_path = workdir / f"result-{size}.json"
    command = [sys.executable, "-m", "training.bench_train", "--child", str(frame_path), str(size)]
    command.append(str(result_path))
    swap_free_before = _meminfo("SwapFree")
    min_available = _meminfo("MemAvailable")
    max_child_swap = 0
    began = time.perf_counter()
    proc = subprocess.Popen(command)
    status = "ok"
    usage = None
    while True:
        pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(wait_status)
            break
        available = _meminfo("MemAvailable")
        if available is not None and min_available is not None:
            min_available = min(min_available, available)
        max_child_swap = max(max_child_swap, _status("VmSwap", proc.pid) or 0)
        if timeout is not None and time.perf_counter() - began > timeout:
            proc.kill()  # only the child this function started
            _, wait_status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(wait_status)
            status = "timeout"
            break
        time.sleep(sample_every)
    wall = time.perf_counter() - began
    child: dict[str, Any] = {}
    if result_path.exists():
        child = json.loads(result_path.read_text(encoding="utf-8"))
    if status == "ok" and (proc.returncode != 0 or child.get("status") != "ok"):
        status = f"failed (exit {proc.returncode})"
    swap_free_after = _meminfo("SwapFree")
    fit_seconds = child.get("fit_seconds")
    phases = child.get("phases", [])
    featurise: dict[str, Any] = next((p for p in phases if p["phase"] == "featurise"), {})
    lr = [p for p in phases if p["phase"] == "logistic_regression"]
    # The child resets VmHWM per phase, which resets ru_maxrss too: the peak is the larger
    # of what the kernel reports at exit and the child's own running maximum.
    peaks = [usage.ru_maxrss if usage is not None else 0]  # Linux: KiB
    peaks += [int(p["peak_rss_gib"] * GIB / 1024) for p in phases if p.get("peak_rss_gib") is not None]
    if child.get("peak_rss_gib") is not None:
        peaks.append(int(child["peak_rss_gib"] * GIB / 1024))
    peak_kib = max(peaks) or None
    return {
        "size": size,
        "status": status,
        "fit_seconds": fit_seconds,
        "featurise_seconds": featurise.get("seconds"),
        "logistic_regression_seconds": round(sum(p["seconds"] for p in lr), 3) if lr else None,
        "logistic_regression_fits": len(lr),
        "lbfgs_iterations": [p.get("n_iter") for p in lr],
        "messages_per_second": round(size / fit_seconds, 1) if fit_seconds else None,
        "peak_rss_gib": _gib(peak_kib),
        "child_wall_seconds": round(wall, 3),
        "vocabulary": child.get("vocabulary"),
        "nnz": featurise.get("nnz"),
        "columns": featurise.get("columns"),
        "matrix_dtype": featurise.get("dtype"),
        "matrix_gib": featurise.get("matrix_gib"),
        "swap_total_gib": _gib(_meminfo("SwapTotal")),
        "swap_used_delta_gib": _gib((swap_free_before or 0) - (swap_free_after or 0)),
        "child_max_vmswap_gib": _gib(max_child_swap),
        "min_mem_available_gib": _gib(min_available),
        "child": child,
    }


def _environment() -> dict[str, Any]:
    import numpy
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "cpus": os.cpu_count(),
        "mem_total_gib": _gib(_meminfo("MemTotal")),
        "swap_total_gib": _gib(_meminfo("SwapTotal")),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(results: Sequence[dict[str, Any]]) -> str:
    header = (
        f"{'messages':>10} {'fit s':>9} {'featurise s':>12} {'LR s':>9} {'peak RSS GiB':>13} "
        f"{'messages/s':>11} {'nnz':>13} {'vocab w+c':>15} {'swap GiB':>9}  status"
    )
    lines = [header]
    for r in results:
        vocab = r.get("vocabulary") or {}
        vocab_text = "+".join(str(v) for v in vocab.values()) if vocab else "-"
        lines.append(
            f"{r['size']:>10,} {_fmt(r['fit_seconds'], '9.1f')} {_fmt(r['featurise_seconds'], '12.1f')} "
            f"{_fmt(r['logistic_regression_seconds'], '9.1f')} {_fmt(r['peak_rss_gib'], '13.2f')} "
            f"{_fmt(r['messages_per_second'], '11,.0f')} {_fmt(r['nnz'], '13,')} {vocab_text:>15} "
            f"{_fmt(r['swap_used_delta_gib'], '9.2f')}  {r['status']}"
        )
    return "\n".join(lines)


def run(
    sizes: Sequence[int], output: Path | None, *, timeout: float | None = None
) -> list[dict[str, object]]:
    """Fit at each size in its own subprocess; print the table; write JSON to ``output``."""
    environment = _environment()
    frame, info = _prepared_train_frame()
    print(
        f"prepared training split: {info['train_rows']:,} rows, {info['train_groups']:,} groups "
        f"({'corpora + seed' if info['corpora'] else 'seed only: corpora not found'}); "
        f"swap total {environment['swap_total_gib']} GiB, load {environment['load_average_at_start']}",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sendgate-bench-train-") as tmp:
        workdir = Path(tmp)
        frame_path = workdir / "train.pkl"
        with frame_path.open("wb") as handle:
            pickle.dump({"frame": frame, "seed": info["seed"]}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        del frame
        for size in sizes:
            print(f"fitting on {size:,} resampled messages in a fresh subprocess ...", flush=True)
            result = _run_one(frame_path, size, workdir, timeout)
            results.append(result)
            print(format_table([result]).splitlines()[1], flush=True)
    print()
    print(format_table(results))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        document = {"environment": environment, "data": info, "results": results}
        output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"written to {output}")
    return [dict(r) for r in results]


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or any(s <= 0 for s in sizes):
        raise ValueError(f"sizes must be positive integers, got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        _child(Path(args[1]), int(args[2]), Path(args[3]))
        return
    from model.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", default=os.environ.get(SIZES_ENV), help="comma separated, e.g. 10000,100000"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON path (default .sendgate/bench/train.json)"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per size")
    parsed = parser.parse_args(args)
    sizes = parse_sizes(parsed.sizes) if parsed.sizes else list(DEFAULT_SIZES)
    output = parsed.output or get_settings().state_dir / "bench" / "train.json"
    print(f"command: {' '.join([sys.executable, '-m', 'training.bench_train', *args])}")
    run(sizes, output, timeout=parsed.timeout)


if __name__ == "__main__":
    main()
