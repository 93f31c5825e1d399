"""Two stateless replicas of the service on one PostgreSQL database.

Two real service processes (uvicorn, separate state dirs, nothing shared but the
settings an operator shares: database URL, API keys, review session secret and the
model) answer requests alternately from several threads. What one replica writes, the
other sees at once; the frequency cap holds across both (the PostgreSQL advisory lock
per (sender, phone) serialises the replicas, not only the threads of one process); and
when one replica is SIGKILLed mid-load the other keeps answering and every decision
either acknowledged is in the database.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from model import artifact
from model.classifier import Hyperparameters, MessageClassifier
from serve.consent.jurisdiction import locate
from serve.consent.policy import load_policy
from tests.serve.conftest import ADMIN, KEYS, REVIEWER, SENDER
from tests.store.conftest import connect_postgres_server
from training.fitting import fit
from training.prepare import prepare
from training.sources import seed_sources

REPO = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE = 120.0
REVIEW_SECRET = "replica-test-review-session-secret-0123456789abcdef"
PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
CAPPED_PHONE = "+13055550188"  # Miami: Florida caps promotional messages
THREADS = 8


# --- helpers shared with test_metrics_multiprocess ------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def train_model(directory: Path) -> Path:
    """A seed-trained classifier with its manifest, as an operator would configure it."""
    data = prepare(seed_sources(), seed=13)
    classifier = MessageClassifier(fit(data.frame, Hyperparameters(), seed=13), tau_promo=0.35, tau_conf=0.6)
    artifact.save(classifier, directory, data_digest=data.digest)
    return directory


def service_env(**settings: str) -> dict[str, str]:
    """The test's environment without any SENDGATE_ setting or metrics directory, plus ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENDGATE_") and k.upper() != "PROMETHEUS_MULTIPROC_DIR"
    }
    return env | settings


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def wait_ready(self, deadline: float = STARTUP_DEADLINE) -> None:
        until = time.monotonic() + deadline
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.base} exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > until:
                pytest.fail(f"{self.base} did not become ready: {self.log_path.read_text()[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()


def start_service(args: list[str], env: dict[str, str], port: int, log_path: Path) -> Service:
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Service(process, f"http://127.0.0.1:{port}", log_path)


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replica_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("replica-model") / "classifier")


@pytest.fixture(scope="module")
def shared_database() -> Iterator[URL]:
    """A fresh PostgreSQL database for this module, dropped at the end."""
    server = connect_postgres_server()
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
        server.close()


def _start_pair(directory: Path, model: Path, database: URL) -> tuple[Service, Service]:
    """Two replicas started at the same moment on an empty database (both migrate)."""
    services = []
    for name in ("a", "b"):
        port = free_port()
        env = service_env(
            SENDGATE_STATE_DIR=str(directory / f"state-{name}"),
            SENDGATE_DATABASE_URL=database.render_as_string(hide_password=False),
            SENDGATE_API_KEYS=KEYS,
            SENDGATE_REVIEW_SESSION_SECRET=REVIEW_SECRET,
            SENDGATE_MODEL_PATH=str(model),
        )
        args = [sys.executable, "-m", "uvicorn", "serve.app:create_app", "--factory", "--port", str(port)]
        services.append(start_service(args, env, port, directory / f"replica-{name}.log"))
    try:
        for service in services:
            service.wait_ready()
    except BaseException:
        for service in services:
            service.stop()
        raise
    return services[0], services[1]


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, replica_model: Path, shared_database: URL
) -> Iterator[tuple[Service, Service]]:
    a, b = _start_pair(tmp_path_factory.mktemp("replicas"), replica_model, shared_database)
    yield a, b
    a.stop()
    b.stop()


# --- requests --------------------------------------------------------------------------


def _send_at() -> str:
    """Tomorrow 18:00 UTC: inside the allowed hours in California and Florida, and not in the past."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, 18, tzinfo=UTC).isoformat()


SEND_AT = _send_at()


def _post_consent(client: httpx.Client, phone: str, evidence: str) -> httpx.Response:
    """Express written consent captured a day ago, recorded through ``client``."""
    captured = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {
        "phone": phone,
        "kind": "express_written",
        "method": "web_form",
        "evidence": evidence,
        "captured_at": captured,
    }
    return client.post("/v1/consents", headers=ADMIN, json=body)


def _consent(client: httpx.Client, phone: str) -> str:
    r = _post_consent(client, phone, f"signup form for {phone}")
    assert r.status_code == 201, r.text
    consent_id: str = r.json()["consent_id"]
    return consent_id


def _check(client: httpx.Client, phone: str) -> dict[str, Any]:
    r = client.post("/v1/check", headers=SENDER, json={"text": PROMO, "to": phone, "send_at": SEND_AT})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _codes(decision: dict[str, Any]) -> set[str]:
    return {reason["code"] for reason in decision["reasons"]}


def _clients(a: Service, b: Service) -> tuple[httpx.Client, httpx.Client]:
    return httpx.Client(base_url=a.base, timeout=30.0), httpx.Client(base_url=b.base, timeout=30.0)


# --- tests -----------------------------------------------------------------------------


@pytest.mark.slow
def test_consent_and_opt_out_on_one_replica_are_seen_by_the_other(replicas: tuple[Service, Service]) -> None:
    """Consent on one replica, allow on the other; STOP on one, OPTED_OUT on the other; all ids shared."""
    a, b = replicas
    made: list[tuple[str, int]] = []  # (decision id, index of the replica that answered)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker(w: int) -> None:
        clients = _clients(a, b)
        try:
            for j in range(3):
                phone = f"+1415555{2000 + w * 10 + j:04d}"
                first = (w + j) % 2
                writer, reader = clients[first], clients[1 - first]
                consent_id = _consent(writer, phone)
                allowed = _check(reader, phone)
                assert allowed["decision"] == "allow", allowed
                assert "PROMO_CONSENT_OK" in _codes(allowed)
                assert allowed["consent_id"] == consent_id
                stop = writer.post(
                    "/v1/inbound",
                    headers=SENDER,
                    json={"from": phone, "to_sender": "default", "text": "STOP"},
                )
                assert stop.status_code == 200, stop.text
                assert stop.json()["action"] == "opted_out"
                blocked = _check(reader, phone)
                assert blocked["decision"] == "block", blocked
                assert "OPTED_OUT" in _codes(blocked)
                with lock:
                    made.extend([(allowed["decision_id"], 1 - first), (blocked["decision_id"], 1 - first)])
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            for client in clients:
                client.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    assert len(made) == THREADS * 3 * 2
    _assert_readable_on_the_other(a, b, made)


@pytest.mark.slow
def test_frequency_cap_holds_across_replicas(replicas: tuple[Service, Service]) -> None:
    """Concurrent promotional checks to one consented Florida number: at most the cap are allowed."""
    a, b = replicas
    place = locate(CAPPED_PHONE)
    jurisdiction = load_policy().jurisdiction_for(place.country, place.region)
    caps = [cap for cap in jurisdiction.caps if "promotional" in cap.types]
    assert caps, f"{jurisdiction.key} has no promotional frequency cap"
    cap = min(c.max_messages for c in caps)
    attempts = cap * 8

    with httpx.Client(base_url=a.base, timeout=30.0) as client:
        _consent(client, CAPPED_PHONE)
    start = threading.Barrier(attempts)
    bases = (a.base, b.base)

    def one(i: int) -> tuple[dict[str, Any], int]:
        with httpx.Client(base_url=bases[i % 2], timeout=60.0) as client:
            start.wait(timeout=60)
            return _check(client, CAPPED_PHONE), i % 2

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(one, range(attempts)))

    allowed = [d for d, _ in answers if d["decision"] == "allow"]
    by_replica = {r: sum(1 for d, rr in answers if rr == r and d["decision"] == "allow") for r in (0, 1)}
    print(
        f"frequency cap {cap} ({jurisdiction.key}): {attempts} concurrent checks, "
        f"allows by replica {by_replica}"
    )
    assert len(allowed) <= cap
    # Nothing but the cap stands in the way: exactly `cap` go through, the rest hit it.
    assert len(allowed) == cap
    for decision, _ in answers:
        if decision["decision"] != "allow":
            assert "FREQUENCY_CAP" in _codes(decision), decision
    _assert_readable_on_the_other(a, b, [(d["decision_id"], r) for d, r in answers])


@pytest.mark.slow
def test_review_session_from_one_replica_works_on_the_other(replicas: tuple[Service, Service]) -> None:
    """The shared review session secret: a reviewer signed in on A is signed in on B."""
    a, b = replicas
    with httpx.Client(base_url=a.base, timeout=30.0) as client:
        login = client.post("/review/login", data={"key": "reviewer-key-1"}, follow_redirects=False)
        assert login.status_code == 303
        cookies = login.cookies
    with httpx.Client(base_url=b.base, timeout=30.0, cookies=cookies) as client:
        page = client.get("/review/", follow_redirects=False)
    assert page.status_code == 200, (page.status_code, page.headers.get("location"))


def _assert_readable_on_the_other(a: Service, b: Service, made: list[tuple[str, int]]) -> None:
    clients = _clients(a, b)
    try:
        for decision_id, answered_by in made:
            r = clients[1 - answered_by].get(f"/v1/decisions/{decision_id}", headers=REVIEWER)
            assert r.status_code == 200, (decision_id, r.status_code, r.text)
            assert r.json()["decision_id"] == decision_id
    finally:
        for client in clients:
            client.close()


@dataclass
class Acks:
    lock: threading.Lock = field(default_factory=threading.Lock)
    decisions: list[tuple[str, int, float]] = field(default_factory=list)  # id, replica, when
    consents: list[str] = field(default_factory=list)

    def after(self, replica: int, moment: float) -> int:
        with self.lock:
            return sum(1 for _, r, at in self.decisions if r == replica and at > moment)


def _drive(bases: tuple[str, str], worker: int, stop: threading.Event, acks: Acks) -> None:
    """Alternate replicas: a consent, then a check, each on numbers of this worker's own."""
    clients = [httpx.Client(base_url=base, timeout=10.0) for base in bases]
    try:
        for n in itertools.count():
            if stop.is_set():
                return
            replica = (worker + n) % 2
            phone = f"+1415556{(worker * 1000 + n // 2) % 10000:04d}"
            try:
                if n % 2 == 0:
                    r = _post_consent(clients[replica], phone, f"form {worker}-{n}")
                else:
                    r = clients[replica].post(
                        "/v1/check", headers=SENDER, json={"text": PROMO, "to": phone, "send_at": SEND_AT}
                    )
            except httpx.TransportError:
                # The killed replica: not acknowledged. Reconnect for the next round.
                clients[replica].close()
                clients[replica] = httpx.Client(base_url=bases[replica], timeout=10.0)
                continue
            if 200 <= r.status_code < 300:
                with acks.lock:
                    if n % 2 == 0:
                        acks.consents.append(r.json()["consent_id"])
                    else:
                        acks.decisions.append((r.json()["decision_id"], replica, time.monotonic()))
    finally:
        for client in clients:
            client.close()


@pytest.mark.slow
def test_one_replica_killed_mid_load(tmp_path: Path, replica_model: Path, shared_database: URL) -> None:
    """SIGKILL one replica under load: the other keeps answering; no acknowledged write is lost."""
    a, b = _start_pair(tmp_path, replica_model, shared_database)
    try:
        stop, acks = threading.Event(), Acks()
        threads = [
            threading.Thread(target=_drive, args=((a.base, b.base), w, stop, acks), daemon=True)
            for w in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        while time.monotonic() - began < 2.0 or min(acks.after(0, began), acks.after(1, began)) < 10:
            assert time.monotonic() - began < 60, "no load reached the replicas"
            time.sleep(0.05)
        b.process.send_signal(signal.SIGKILL)
        b.process.wait()
        killed = time.monotonic()
        while acks.after(0, killed) < 30:
            assert time.monotonic() - killed < 60, "the surviving replica stopped answering"
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert httpx.get(f"{a.base}/readyz", timeout=5.0).status_code == 200
    finally:
        a.stop()
        b.stop()

    decisions = {decision_id for decision_id, _, _ in acks.decisions}
    consents = set(acks.consents)
    engine = create_engine(shared_database)
    try:
        with engine.connect() as connection:
            stored_decisions = {
                row[0] for row in connection.execute(text("SELECT decision_id FROM decisions"))
            }
            stored_consents = {row[0] for row in connection.execute(text("SELECT consent_id FROM consents"))}
    finally:
        engine.dispose()
    before = sum(1 for _, _, at in acks.decisions if at <= killed)
    print(
        f"replica kill: {len(decisions)} decisions acknowledged ({before} before the kill, "
        f"{acks.after(0, killed)} by the survivor after it), {len(consents)} consents; "
        f"missing {len(decisions - stored_decisions)} decisions, {len(consents - stored_consents)} consents"
    )
    assert b.process.returncode == -signal.SIGKILL
    assert decisions <= stored_decisions, sorted(decisions - stored_decisions)[:5]
    assert consents <= stored_consents, sorted(consents - stored_consents)[:5]
