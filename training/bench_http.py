"""`make bench-http`: our /v1/check against MLflow's model server, same model, same run.

Starts both servers on 127.0.0.1 and drives them with wrk (or, without it, a Python
load generator) for a fixed number of seconds per level, level by level, ours then
MLflow at each level; prints requests/s and p50/p99 latency at concurrency 1, 16 and 64
and for 100-message requests, and the ratios ours / MLflow. Our side does strictly more work
per request: classification, explanation, the consent rules and a durable audit write.

The load generator runs on the same 2 cores as the servers, so absolute figures are
lower than with a separate client machine; the ratio is what this measures.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from model.settings import get_settings
from training import tracking
from training.sources import seed_sources

SECONDS_PER_LEVEL = float(os.environ.get("SENDGATE_BENCH_SECONDS", "8"))
LEVELS = (1, 16, 64)
KEY = "bench-sender-key-0001"


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # Set when the load generator reports percentiles itself (wrk) instead of every latency.
    reported_ms: dict[float, float] | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        if self.reported_ms is not None:
            return self.reported_ms.get(q, float("nan"))
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "requests_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "errors": self.errors,
        }

    def line(self, label: str) -> str:
        return (
            f"{label:<44} {self.rate:>9.1f} req/s  p50 {self.percentile(50):7.2f} ms  "
            f"p99 {self.percentile(99):7.2f} ms  errors {self.errors}"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become ready in {timeout:.0f}s")


class _Connection:
    """A keep-alive HTTP/1.1 connection that writes each request in one packet.

    General-purpose clients send headers and body separately; with Nagle's algorithm on
    one side and delayed ACKs on the other that adds ~40 ms to every small POST, which
    would measure the TCP stack rather than the servers.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        head = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


async def _drive(
    url: str, payloads: Sequence[Mapping[str, Any]], concurrency: int, seconds: float, headers: dict[str, str]
) -> Result:
    parsed = httpx.URL(url)
    bodies = [json.dumps(p).encode() for p in payloads]
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        connection = await _Connection.open(parsed.host, parsed.port or 80)
        i = offset
        try:
            while time.perf_counter() < stop:
                began = time.perf_counter()
                status = await connection.post(parsed.path, bodies[i % len(bodies)], headers)
                latencies.append((time.perf_counter() - began) * 1000)
                errors += status != 200
                i += concurrency
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return Result(len(latencies), errors, time.perf_counter() - started, latencies)


# wrk's Lua side: each thread cycles through the bodies from its own offset, and the
# summary comes back as one JSON line (latencies in microseconds).
_WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end
function init(args)
  bodies = {}
  for line in io.lines(os.getenv("SENDGATE_WRK_BODIES")) do bodies[#bodies + 1] = line end
  counter = offset
end
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %.1f, "p99_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def drive_wrk(
    url: str, payloads: Sequence[Mapping[str, Any]], concurrency: int, seconds: float, headers: dict[str, str]
) -> Result:
    """The same closed-loop load as ``_drive``, generated by wrk (C, a few % of a core).

    The Python generator takes about a third of a core on this 2-core machine, which the
    servers then do not have; wrk leaves them nearly both cores.
    """
    with tempfile.TemporaryDirectory(prefix="sendgate-wrk-") as tmp:
        bodies = Path(tmp) / "bodies.jsonl"
        bodies.write_text("".join(json.dumps(p) + "\n" for p in payloads))
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT)
        command = [
            "wrk",
            f"-t{min(2, concurrency)}",
            f"-c{concurrency}",
            f"-d{seconds:g}s",
            "-s",
            str(script),
        ]
        command += [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
        done = subprocess.run(
            [*command, url],
            env={**os.environ, "SENDGATE_WRK_BODIES": str(bodies)},
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return Result(
        requests=summary["requests"],
        errors=summary["status_errors"] + summary["socket_errors"],
        seconds=summary["duration_us"] / 1e6,
        latencies_ms=[],
        reported_ms={50: summary["p50_us"] / 1000, 99: summary["p99_us"] / 1000},
    )


def drive(
    url: str, payloads: Sequence[Mapping[str, Any]], concurrency: int, seconds: float, headers: dict[str, str]
) -> Result:
    """wrk when it is installed (``apt-get install wrk``), else the Python generator."""
    if wrk_available():
        return drive_wrk(url, payloads, concurrency, seconds, headers)
    return asyncio.run(_drive(url, payloads, concurrency, seconds, headers))


def _per_message(result: Result) -> str:
    return f"  = {100 * result.requests / result.seconds:,.0f} msgs/s"


def _texts() -> list[str]:
    """Authored seed messages: realistic, and ours to send through any server."""
    frames = [pd.read_csv(s.path)["text"] for s in seed_sources()]
    return [str(t) for t in pd.concat(frames).sample(2000, random_state=7)]


def _start_ours(
    env: dict[str, str], workers: int, port: int, database_url: str | None
) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    env = {**env, "SENDGATE_PORT": str(port)}
    if database_url:
        env["SENDGATE_DATABASE_URL"] = database_url
    return subprocess.Popen(
        [str(bin_dir / "sendgate"), "serve", "--no-bootstrap", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _start_mlflow(env: dict[str, str], workers: int, port: int, model_uri: str) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local"]
    command += ["-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _fresh_postgres_database() -> str | None:
    """A new, empty database on the local PostgreSQL server, or None if there is none."""
    import psycopg

    name = f"sendgate_bench_{os.getpid()}_{int(time.time())}"
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(seconds: float = SECONDS_PER_LEVEL, out: list[str] | None = None) -> dict[str, Any]:
    """Drive both servers; print each line (and append it to ``out``); return the figures."""
    lines = out if out is not None else []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    settings = get_settings()
    tracking.configure(settings)
    if tracking.champion_version(settings) is None:
        raise SystemExit("no champion model: run `make train` (or `make run` once) first")
    classifier_dir = tracking.download_classifier(settings.champion_uri)
    texts = _texts()
    bin_dir = Path(sys.executable).parent
    state = Path(tempfile.mkdtemp(prefix="sendgate-bench-"))
    env = {
        **os.environ,
        "SENDGATE_STATE_DIR": str(state),
        "SENDGATE_MODEL_PATH": str(classifier_dir),
        "SENDGATE_API_KEYS": f"sender:{KEY}",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
    }
    env.pop("SENDGATE_DATABASE_URL", None)
    auth = {"Authorization": f"Bearer {KEY}"}
    # 100 recipients, so checks spread over (sender, number) pairs as real traffic does.
    singles = [{"text": t, "to": f"+1415555{100 + i % 100:04d}"} for i, t in enumerate(texts)]
    mlflow_singles = [{"dataframe_split": {"columns": ["text"], "data": [[t]]}} for t in texts]
    batches = [{"messages": singles[i : i + 100]} for i in range(0, len(singles), 100)]
    mlflow_batches = [
        {"dataframe_split": {"columns": ["text"], "data": [[m["text"]] for m in b["messages"]]}}
        for b in batches
    ]
    figures: dict[str, Any] = {"seconds_per_level": seconds, "levels": {}}
    generator = "wrk 4 (C)" if wrk_available() else "Python asyncio (wrk not installed)"
    say(f"HTTP, {seconds:.0f} s per load level, load generator {generator} on 127.0.0.1 (same 2 cores)")

    def warm(url: str, payloads: Sequence[Any], headers: dict[str, str]) -> None:
        # Unmeasured: imports, first allocations, our word cache; both servers get it.
        drive(url, payloads, 8, max(3.0, seconds / 2), headers)

    def drive_pairs(
        ours_url: str, theirs_url: str, headers: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Each load level on ours, then at once on MLflow: both servers stay up, and a
        pair is measured seconds apart, so a machine that speeds up or slows down during
        the run (back-to-back runs here vary by 15%) weighs on both sides of a ratio."""
        ours_results: dict[str, Any] = {}
        theirs_results: dict[str, Any] = {}
        for level in LEVELS:
            r = drive(ours_url, singles, level, seconds, headers)
            say(r.line(f"ours   /v1/check, 1 message, c={level}"))
            t = drive(theirs_url, mlflow_singles, level, seconds, {})
            say(t.line(f"mlflow /invocations, 1 message, c={level}"))
            ours_results[f"c{level}"], theirs_results[f"c{level}"] = r, t
        r = drive(ours_url + "/batch", batches, 4, seconds, headers)
        say(r.line("ours   /v1/check, 100 messages, c=4") + _per_message(r))
        t = drive(theirs_url, mlflow_batches, 4, seconds, {})
        say(t.line("mlflow /invocations, 100 messages, c=4") + _per_message(t))
        ours_results["batch100"], theirs_results["batch100"] = r, t
        return ours_results, theirs_results

    ours_port, mlflow_port = _free_port(), _free_port()
    ours = _start_ours(env, 1, ours_port, None)
    theirs = _start_mlflow(env, 1, mlflow_port, settings.champion_uri)
    try:
        _wait(f"http://127.0.0.1:{ours_port}/readyz", ours)
        _wait(f"http://127.0.0.1:{mlflow_port}/ping", theirs)
        say("ours: sendgate serve, 1 worker, SQLite audit store (WAL, synchronous=FULL), group commit")
        say("mlflow: mlflow models serve --env-manager local -w 1 (its default), same registered model")
        warm(f"http://127.0.0.1:{ours_port}/v1/check", singles, auth)
        warm(f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_singles, {})
        a, b = drive_pairs(
            f"http://127.0.0.1:{ours_port}/v1/check", f"http://127.0.0.1:{mlflow_port}/invocations", auth
        )
    finally:
        _stop(ours, theirs)
    for key in [f"c{level}" for level in LEVELS] + ["batch100"]:
        ratio = a[key].rate / max(b[key].rate, 1e-9)
        say(f"ratio ours/mlflow throughput, {key}: {ratio:.2f}")
        figures["levels"][key] = {
            "ours": a[key].summary(),
            "mlflow": b[key].summary(),
            "ratio": round(ratio, 2),
        }

    # Two workers each, as an operator of a 2-core machine would run either server: ours
    # on SQLite (the default store; the workers' writers queue on one file lock) and on
    # PostgreSQL (the scale-out store), MLflow with -w 2.
    two: dict[str, Any] = {}
    ours_state = Path(tempfile.mkdtemp(prefix="sendgate-bench-2w-"))
    ours = _start_ours({**env, "SENDGATE_STATE_DIR": str(ours_state)}, 2, ours_port, None)
    theirs = _start_mlflow(env, 2, mlflow_port, settings.champion_uri)
    try:
        _wait(f"http://127.0.0.1:{ours_port}/readyz", ours)
        _wait(f"http://127.0.0.1:{mlflow_port}/ping", theirs)
        warm(f"http://127.0.0.1:{ours_port}/v1/check", singles, auth)
        warm(f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_singles, {})
        x = drive(f"http://127.0.0.1:{ours_port}/v1/check", singles, 16, seconds, auth)
        say(x.line("ours   /v1/check, 2 workers, SQLite, c=16"))
        y = drive(f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_singles, 16, seconds, {})
        say(y.line("mlflow /invocations, 2 workers, c=16"))
        two = {"ours_sqlite": x, "mlflow": y}
    finally:
        _stop(ours, theirs)
        shutil.rmtree(ours_state, ignore_errors=True)
    database_url = _fresh_postgres_database()
    if database_url is None:
        say("PostgreSQL not reachable on 127.0.0.1:5432: the PostgreSQL round is skipped")
    else:
        ours = _start_ours(env, 2, ours_port, database_url)
        try:
            _wait(f"http://127.0.0.1:{ours_port}/readyz", ours)
            warm(f"http://127.0.0.1:{ours_port}/v1/check", singles, auth)
            z = drive(f"http://127.0.0.1:{ours_port}/v1/check", singles, 16, seconds, auth)
            say(z.line("ours   /v1/check, 2 workers, PostgreSQL, c=16"))
            two["ours_postgresql"] = z
        finally:
            _stop(ours)
            _drop_postgres_database(database_url)
    shutil.rmtree(state, ignore_errors=True)
    mlflow_one, mlflow_two = b["c16"].rate, two["mlflow"].rate
    for name in ("ours_sqlite", "ours_postgresql"):
        if name in two:
            rate = two[name].rate
            say(
                f"ratio {name}(2 workers)/mlflow at c=16: {rate / max(mlflow_two, 1e-9):.2f} "
                f"against mlflow -w 2, {rate / max(mlflow_one, 1e-9):.2f} against mlflow -w 1 (its default)"
            )
    figures["two_workers_c16"] = {name: result.summary() for name, result in two.items()}
    return figures


def main() -> None:
    print(f"command: python -m training.bench_http  (make bench-http), {SECONDS_PER_LEVEL:.0f}s per level")
    print(f"python {platform.python_version()}, {os.cpu_count()} cores")
    run()


if __name__ == "__main__":
    main()
