"""Structured JSON logs with a request id, and Prometheus metrics.

Message text is personal data: it never reaches a log line unless
``SENDGATE_LOG_MESSAGE_TEXT`` is set, and then only through ``log_text``.

Metrics have two modes. By default every app has its own registry (tests build many
apps in one process and must not share counters). With ``PROMETHEUS_MULTIPROC_DIR``
set before the process starts (``sendgate serve --workers N`` does it for N > 1),
prometheus_client's multiprocess mode is used: every worker writes its values to files
in that directory and /metrics, whichever worker answers, sums them over all workers.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Fields a route adds to its request's access line (see ``annotate``).
_access_fields: ContextVar[dict[str, object] | None] = ContextVar("access_fields", default=None)


def annotate(**fields: object) -> None:
    """Put fields on this request's access line instead of logging a line of their own.

    A single check used to write a decision line and an access line; one line with both
    costs half as much on the send path and still says everything.
    """
    current = _access_fields.get()
    if current is not None:
        current.update(fields)


class RequestIds:
    """Request ids unique across processes and restarts, without a syscall per request.

    uuid4 reads the OS random source on every call (2-3% of a check's CPU); a random
    per-process prefix and a counter are as unique and cost almost nothing.
    """

    def __init__(self) -> None:
        self._prefix = ""
        self._pid = -1
        self._counter = itertools.count()

    def new(self) -> str:
        if self._pid != os.getpid():  # a forked worker must not repeat its parent's ids
            self._pid = os.getpid()
            self._prefix = secrets.token_hex(8)
            self._counter = itertools.count()
        return f"{self._prefix}{next(self._counter):016x}"


_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": request_id.get(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        try:  # orjson: a log line per check, so its cost is on the send path
            return orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson cannot write (an int beyond 64 bits): never lose the line
            return json.dumps(payload, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (process managers and tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    # A line per check: skip what the JSON line never shows (the logging HOWTO's
    # "Optimization": caller's file and line, thread and process names).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("sendgate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    logging.Formatter.converter = time.gmtime


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Files of gauges whose mode only counts live processes: gauge_liveall_1234.db ...
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    """The directory of prometheus_client's multiprocess mode, when it is on in this process."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def fresh_multiprocess_dir(base: Path) -> Path:
    """An empty directory for one ``sendgate serve`` run: ``base/<pid of the supervisor>``.

    prometheus_client wants the directory wiped between runs. One subdirectory per
    supervisor, so two services sharing a state dir never wipe each other's files;
    those left by supervisors that no longer run are removed here.
    """
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.iterdir():
        if stale.is_dir() and stale.name.isdigit() and not _alive(int(stale.name)):
            shutil.rmtree(stale, ignore_errors=True)
    directory = base / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_processes(directory: Path) -> None:
    """Drop the live-gauge files of workers that died without cleaning up (SIGKILL, OOM).

    Their counters and histograms stay: totals must not go backwards.
    """
    for path in directory.iterdir():
        found = _LIVE_GAUGE_FILE.match(path.name)
        if found and not _alive(int(found.group(1))):
            # Another worker answering /metrics at the same moment may remove it first.
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(int(found.group(1)), str(directory))  # type: ignore[no-untyped-call]


_exit_hooked: set[int] = set()


def _hook_process_exit(directory: Path) -> None:
    """On a clean worker exit, remove its live-gauge files (once per process)."""
    pid = os.getpid()
    if pid not in _exit_hooked:
        _exit_hooked.add(pid)
        atexit.register(mark_process_dead, pid, str(directory))


class Metrics:
    """Per-app registry; or, in multiprocess mode, values shared by every worker of the service.

    In multiprocess mode the registry is only where the metrics are declared; /metrics
    reads every worker's files through ``exposition``.
    """

    def __init__(self) -> None:
        self.multiprocess_dir = multiprocess_dir()
        if self.multiprocess_dir is not None and not getattr(values.ValueClass, "_multiprocess", False):
            # prometheus_client chose its value class when it was first imported, before
            # the variable was set: the files would stay empty. Count per process instead.
            logging.getLogger("sendgate").error(
                "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported; "
                "metrics are per process",
                extra={"multiprocess_dir": str(self.multiprocess_dir)},
            )
            self.multiprocess_dir = None
        if self.multiprocess_dir is not None:
            self.multiprocess_dir.mkdir(parents=True, exist_ok=True)
            _hook_process_exit(self.multiprocess_dir)
        self._model_version: str | None = None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sendgate_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sendgate_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.decisions = Counter(
            "sendgate_decisions_total", "Decisions by outcome", ["decision"], registry=self.registry
        )
        self.reasons = Counter(
            "sendgate_decision_reasons_total", "Reason codes on decisions", ["code"], registry=self.registry
        )
        # Group commit (serve/decision_writer.py): how many checks share a transaction and
        # how long its commit (the disk sync) takes; the first to look at when p99 grows.
        self.decision_group_size = Histogram(
            "sendgate_decision_group_size",
            "Checks committed together in one transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.decision_commit_seconds = Histogram(
            "sendgate_decision_commit_seconds",
            "Time to decide, write and commit one group of checks",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        # Several workers: 1 for every version that at least one live worker serves
        # (after a reload on one worker, the others may still serve the previous one).
        self.model = Gauge(
            "sendgate_model_info",
            "The model being served (value 1)",
            ["model_version"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )

        # Children by label values: ``labels()`` validates and locks on every call, and
        # these are counted on every request. Bounded as the metrics' own children are.
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._decision_children: dict[str, Any] = {}
        self._reason_children: dict[str, Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method=method, route=route, status=key[2]),
                self.latency.labels(method=method, route=route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_decision(self, decision: str, codes: Iterable[str]) -> None:
        child = self._decision_children.get(decision)
        if child is None:
            child = self._decision_children[decision] = self.decisions.labels(decision=decision)
        child.inc()
        for code in codes:
            child = self._reason_children.get(code)
            if child is None:
                child = self._reason_children[code] = self.reasons.labels(code=code)
            child.inc()

    @property
    def multiprocess(self) -> bool:
        return self.multiprocess_dir is not None

    def set_model(self, version: str) -> None:
        previous, self._model_version = self._model_version, version
        if self.multiprocess:
            # Labels cannot be removed from the shared files: the old version goes to 0.
            if previous is not None and previous != version:
                self.model.labels(model_version=previous).set(0)
        else:
            self.model.clear()
        self.model.labels(model_version=version).set(1)

    def exposition(self) -> bytes:
        """The Prometheus text format: this app's registry, or every worker's files."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        _forget_dead_processes(self.multiprocess_dir)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


class RequestContext:
    """Request id (from X-Request-ID or new), access log line, request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("sendgate.access")
        self.ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = incoming if incoming and incoming.isprintable() else self.ids.new()
        token = request_id.set(rid)
        fields: dict[str, object] = {}
        fields_token = _access_fields.set(fields)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "-")
            self.metrics.observe_request(method, template, status, elapsed)
            fields.update(method=method, route=template, status=status, duration_ms=round(elapsed * 1000, 3))
            self.log.info("request", extra=fields)
            _access_fields.reset(fields_token)
            request_id.reset(token)
