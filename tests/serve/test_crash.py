"""Kill -9 under load: every id the service acknowledged with a 2xx is in the database.

The real service runs as a subprocess (uvicorn, SQLite); threads send checks, consents and
STOPs; the process is SIGKILLed mid-load, then the database file is opened directly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.serve.conftest import ADMIN, KEYS, SENDER

REPO = Path(__file__).resolve().parents[2]
THREADS = 8
LOAD_SECONDS = 3.0
STARTUP_DEADLINE = 90.0
PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
TABLES = {
    "decision": ("decisions", "decision_id"),
    "consent": ("consents", "consent_id"),
    "inbound": ("inbound_messages", "inbound_id"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Acks:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in TABLES})

    def add(self, kind: str, value: str) -> None:
        with self.lock:
            self.ids[kind].append(value)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {kind: len(values) for kind, values in self.ids.items()}


@pytest.fixture
def server(tmp_path: Path, model_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = _free_port()
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDGATE_")}
    env |= {
        "SENDGATE_STATE_DIR": str(state),
        "SENDGATE_MODEL_PATH": str(model_dir),
        "SENDGATE_API_KEYS": KEYS,
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serve.app:create_app", "--factory", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the service exited with {process.returncode}: {(tmp_path / 'server.log').read_text()}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the service did not become ready")
            time.sleep(0.1)
        yield process, base, state / "sendgate.db"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def _drive(base: str, worker: int, stop: threading.Event, acks: Acks) -> None:
    """One client: a check, a consent and a STOP in turn, each on numbers of its own."""
    with httpx.Client(base_url=base, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            phone = f"+1415555{(worker * 1000 + n) % 10000:04d}"
            kind = ("decision", "consent", "inbound")[n % 3]
            n += 1
            try:
                if kind == "decision":
                    r = client.post("/v1/check", headers=SENDER, json={"text": PROMO, "to": phone})
                    key = "decision_id"
                elif kind == "consent":
                    r = client.post(
                        "/v1/consents",
                        headers=ADMIN,
                        json={
                            "phone": phone,
                            "kind": "express_written",
                            "method": "web_form",
                            "evidence": f"form {worker}-{n}",
                            "captured_at": "2026-11-01T10:00:00Z",
                        },
                    )
                    key = "consent_id"
                else:
                    r = client.post(
                        "/v1/inbound",
                        headers=SENDER,
                        json={"from": phone, "to_sender": "default", "text": "STOP"},
                    )
                    key = "inbound_id"
            except httpx.TransportError:
                continue  # the server is gone or the request was cut: not acknowledged
            if 200 <= r.status_code < 300:
                acks.add(kind, r.json()[key])


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(server: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    """Every decision, consent and inbound id answered with a 2xx is in the database after kill -9."""
    process, base, database = server
    stop, acks = threading.Event(), Acks()
    threads = [
        threading.Thread(target=_drive, args=(base, w, stop, acks), daemon=True) for w in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    # Load for LOAD_SECONDS, and at least until every kind has been acknowledged a few times.
    while time.monotonic() - started < LOAD_SECONDS or min(acks.counts().values()) < 5:
        if time.monotonic() - started > 60:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # mid-load: the clients are still sending
    process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    acknowledged = {kind: set(values) for kind, values in acks.ids.items()}

    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            found = {
                kind: {row[0] for row in connection.execute(text(f"SELECT {column} FROM {table}"))}
                for kind, (table, column) in TABLES.items()
            }
    finally:
        engine.dispose()

    for kind in TABLES:
        present = len(acknowledged[kind] & found[kind])
        print(
            f"crash test {kind}: acknowledged {len(acknowledged[kind])}, found {present}, "
            f"rows in table {len(found[kind])}"
        )
    assert process.returncode == -signal.SIGKILL
    assert all(acknowledged[kind] for kind in TABLES), acks.counts()
    for kind in TABLES:
        assert acknowledged[kind] <= found[kind], (
            f"{kind}: lost {sorted(acknowledged[kind] - found[kind])[:5]}"
        )
