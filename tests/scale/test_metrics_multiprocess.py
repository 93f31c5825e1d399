"""/metrics with several worker processes: counts summed over every worker.

``sendgate serve --workers 2`` runs as a subprocess; requests over fresh connections
land on both workers; whichever worker answers /metrics must report the total.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.scale.test_replicas import Service, free_port, service_env, start_service, train_model
from tests.serve.conftest import KEYS, SENDER

WORKERS = 2
BATCH = 40
MAX_BATCHES = 10
SCRAPES = 8
CLASSIFY = 'sendgate_http_requests_total{method="POST",route="/v1/classify",status="200"}'


@pytest.fixture(scope="module")
def metrics_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("metrics-model") / "classifier")


@pytest.fixture
def workers(tmp_path: Path, metrics_model: Path) -> Iterator[tuple[Service, Path]]:
    port = free_port()
    state = tmp_path / "state"
    env = service_env(
        SENDGATE_STATE_DIR=str(state),
        SENDGATE_MODEL_PATH=str(metrics_model),
        SENDGATE_API_KEYS=KEYS,
        SENDGATE_PORT=str(port),
    )
    args = [sys.executable, "-m", "training.cli", "serve", "--no-bootstrap", "--workers", str(WORKERS)]
    service = start_service(args, env, port, tmp_path / "server.log")
    try:
        service.wait_ready()
        yield service, state
    finally:
        service.stop()


def _value(exposition: str, sample: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _classify(base: str) -> int:
    # A new client per call: a fresh connection, so the kernel picks a worker each time.
    with httpx.Client(base_url=base, timeout=30.0) as client:
        return client.post(
            "/v1/classify", headers=SENDER, json={"texts": ["Your code is 123456"]}
        ).status_code


def _pids(directory: Path, prefix: str) -> set[int]:
    """Processes with a file of this kind (``counter``, ``gauge_livemax``) in the multiprocess directory."""
    pattern = re.compile(rf"^{prefix}_(\d+)\.db$")
    return {int(m.group(1)) for p in directory.iterdir() if (m := pattern.match(p.name))}


def _classify_counts(directory: Path) -> dict[int, float]:
    """/v1/classify requests counted by each worker process, read from its own file."""
    counts: dict[int, float] = {}
    for pid in _pids(directory, "counter"):
        merged = MultiProcessCollector.merge([str(directory / f"counter_{pid}.db")])  # type: ignore[no-untyped-call]
        counts[pid] = sum(
            sample.value
            for metric in merged
            for sample in metric.samples
            if sample.name == "sendgate_http_requests_total" and sample.labels.get("route") == "/v1/classify"
        )
    return counts


def _workers_classifying(directory: Path) -> int:
    return sum(1 for count in _classify_counts(directory).values() if count > 0)


def _wait_for_workers(directory: Path, service: Service) -> None:
    """Until every worker has loaded the model (each writes its model gauge then)."""
    until = time.monotonic() + 120
    while len(_pids(directory, "gauge_livemax")) < WORKERS:
        assert service.process.poll() is None, service.log_path.read_text()
        assert time.monotonic() < until, (
            f"fewer than {WORKERS} workers started: {service.log_path.read_text()}"
        )
        time.sleep(0.2)


@pytest.mark.slow
def test_metrics_sum_requests_over_all_workers(workers: tuple[Service, Path]) -> None:
    service, state = workers
    directories = [p for p in (state / "prometheus").iterdir() if p.is_dir()]
    assert len(directories) == 1, directories  # a fresh one for this run, named after the supervisor
    directory = directories[0]
    assert directory.name == str(service.process.pid)
    _wait_for_workers(directory, service)

    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        # Until both workers have answered some (the kernel picks the worker for each
        # connection). Had one worker taken them all, the test would prove nothing.
        for _ in range(MAX_BATCHES):
            statuses = list(pool.map(lambda _: _classify(service.base), range(BATCH)))
            assert statuses == [200] * BATCH
            sent += BATCH
            if _workers_classifying(directory) >= WORKERS:
                break
    by_worker = _classify_counts(directory)
    assert _workers_classifying(directory) >= WORKERS, f"one worker took every request: {by_worker}"
    assert sum(by_worker.values()) == sent

    for _ in range(SCRAPES):
        with httpx.Client(base_url=service.base, timeout=30.0) as client:
            response = client.get("/metrics")
        assert response.status_code == 200
        body = response.text
        assert _value(body, CLASSIFY) == sent, (sent, [x for x in body.splitlines() if "classify" in x])
        # The latency histogram is summed the same way.
        count = _value(
            body, 'sendgate_http_request_duration_seconds_count{method="POST",route="/v1/classify"}'
        )
        assert count == sent
        # One model line for the version every worker serves (gauge mode livemax), no pid label.
        model_lines = [x for x in body.splitlines() if x.startswith("sendgate_model_info{")]
        assert len(model_lines) == 1 and model_lines[0].endswith(" 1.0"), model_lines
        assert "pid=" not in model_lines[0]
    print(f"{sent} requests, by worker {by_worker}; /metrics reported {sent} each of {SCRAPES} times")

    service.process.send_signal(signal.SIGTERM)
    service.process.wait(timeout=30)
    assert not directory.exists(), "the run's metrics directory is removed on shutdown"
