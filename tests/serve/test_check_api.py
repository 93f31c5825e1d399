"""POST /v1/check and /v1/check/batch over HTTP: decisions, storage, failure modes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from model.settings import Settings
from serve.app import create_app
from serve.observability import RequestIds
from tests.serve.conftest import ADMIN, NOON_SF, REVIEWER, SENDER


@pytest.fixture
def client(db_client: TestClient) -> TestClient:
    """Every test in this module runs on SQLite and on PostgreSQL."""
    return db_client


PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
OTP = "Your Quillpay verification code is 730142. It expires in 10 minutes."


def test_promotion_without_consent_is_blocked_with_reasons(client: TestClient) -> None:
    """No written consent on file: block, with the rule's code, message and source."""
    response = client.post(
        "/v1/check", headers=SENDER, json={"text": PROMO, "to": "+14155550123", "send_at": NOON_SF}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "block"
    assert body["treated_as"] == "promotional"
    codes = [r["code"] for r in body["reasons"]]
    assert "PROMO_NO_WRITTEN_CONSENT" in codes
    assert all(r["message"] and r["source"] for r in body["reasons"])
    assert body["decision_id"].startswith("dec_")
    assert body["model_version"].startswith("file:")
    assert body["explanation"] and body["explanation"][0]["weight"] > 0


def test_decision_is_stored_before_the_answer(client: TestClient, service_settings: Settings) -> None:
    """The decision id returned is already a row in the audit store."""
    response = client.post("/v1/check", headers=SENDER, json={"text": OTP, "to": "+14155550123"})
    decision_id = response.json()["decision_id"]
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.engine.connect() as connection:
        row = connection.execute(
            text("SELECT decision FROM decisions WHERE decision_id = :d"), {"d": decision_id}
        ).one()
    assert row[0] == response.json()["decision"]


@pytest.mark.parametrize("on_loop", [True, False])
def test_where_the_audit_write_runs(db_settings: Settings, db_backend: str, on_loop: bool) -> None:
    """SQLite writes on the event loop unless turned off; PostgreSQL always on the thread."""
    settings = db_settings.model_copy(update={"sqlite_write_on_loop": on_loop})
    with TestClient(create_app(settings)) as client:
        for phone in ("+14155550123", "+14155550124"):
            response = client.post("/v1/check", headers=SENDER, json={"text": OTP, "to": phone})
            assert response.status_code == 200
        writer = client.app.state.services.writer  # type: ignore[attr-defined]
        assert writer.groups == 2
        assert writer.groups_on_loop == (2 if db_backend == "sqlite" and on_loop else 0)


def test_invalid_phone_is_422_naming_to(client: TestClient) -> None:
    """A number that does not parse as a valid E.164 number is refused."""
    response = client.post("/v1/check", headers=SENDER, json={"text": OTP, "to": "+1555"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "to"


# The check routes read their key and body by direct calls (serve.bodies), not through
# FastAPI: bad input must get the problem FastAPI's handling would give (the same error
# types), and the single and batch routes must name the same field.
BAD_BODIES = [
    pytest.param(b'{"text": "hi", "to": ', "application/json", "body", "json_invalid", id="malformed-json"),
    pytest.param(b"", "application/json", "body", "missing", id="empty-body"),
    pytest.param(b'{"text": "hi", "to": "+14155550123"}', "text/plain", "body", None, id="not-json-type"),
    pytest.param(b'["hi"]', "application/json", "body", "model_type", id="not-an-object"),
    pytest.param(b'{"text": "hi"}', "application/json", "to", "missing", id="missing-to"),
    pytest.param(
        b'{"text": "  ", "to": "+14155550123"}', "application/json", "text", "value_error", id="blank"
    ),
    pytest.param(
        b'{"text": "hi", "to": "+14155550123", "x": 1}', "application/json", "x", "extra_forbidden", id="x"
    ),
    pytest.param(
        b'{"text": 5, "to": "+14155550123"}', "application/json", "text", "string_type", id="text-int"
    ),
    pytest.param(
        b'{"text": "hi", "to": "+14155550123", "declared_type": "spam"}',
        "application/json",
        "declared_type",
        "literal_error",
        id="bad-kind",
    ),
]


@pytest.mark.parametrize(("raw", "content_type", "field", "kind"), BAD_BODIES)
def test_bad_bodies_are_422_problems_naming_the_field(
    client: TestClient, raw: bytes, content_type: str, field: str, kind: str | None
) -> None:
    response = client.post("/v1/check", headers={**SENDER, "Content-Type": content_type}, content=raw)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation")
    assert problem["errors"][0]["field"] == field
    if kind is not None:
        assert problem["errors"][0]["type"] == kind
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 0


@pytest.mark.parametrize(
    "item", [{"text": "hi"}, {"text": "  ", "to": "+14155550123"}, {"text": "hi", "to": "+1555"}]
)
def test_single_and_batch_routes_name_the_same_field(client: TestClient, item: dict[str, object]) -> None:
    single = client.post("/v1/check", headers=SENDER, json=item)
    batch = client.post("/v1/check/batch", headers=SENDER, json={"messages": [item]})
    assert single.status_code == batch.status_code == 422
    one, many = single.json()["errors"][0], batch.json()["errors"][0]
    assert "messages.0." + one["field"] == many["field"]
    assert (one["type"], one["message"]) == (many["type"], many["message"])


@pytest.mark.parametrize(
    ("check_body", "classify_body"),
    [
        ({"text": "hi", "to": "+14155550123", "x": 1}, {"texts": ["hi"], "x": 1}),
        ({"text": 5, "to": "+14155550123"}, {"texts": [5]}),
        ({"to": "+14155550123"}, {}),
    ],
)
def test_check_errors_read_like_fastapis(
    client: TestClient, check_body: dict[str, object], classify_body: dict[str, object]
) -> None:
    """/v1/classify's body goes through FastAPI: the same mistake reads the same on /v1/check."""
    ours = client.post("/v1/check", headers=SENDER, json=check_body).json()["errors"][0]
    theirs = client.post("/v1/classify", headers=SENDER, json=classify_body).json()["errors"][0]
    assert (ours["type"], ours["message"]) == (theirs["type"], theirs["message"])
    assert ours["field"].split(".")[0] in {"x", "text", "to"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-key"}, 401),
        ({"Authorization": "Basic x"}, 401),
        (REVIEWER, 403),
    ],
)
def test_check_needs_a_sender_key_before_reading_the_body(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    """No key, an unknown key or a reviewer's key: refused, whatever the body holds."""
    for body in ({"text": OTP, "to": "+14155550123"}, {"text": ""}):
        response = client.post("/v1/check", headers=headers, json=body)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    assert (
        client.post("/v1/check", headers=ADMIN, json={"text": OTP, "to": "+14155550123"}).status_code == 200
    )


def test_naive_send_at_is_422(client: TestClient) -> None:
    """send_at without a time zone is refused rather than guessed."""
    response = client.post(
        "/v1/check",
        headers=SENDER,
        json={"text": OTP, "to": "+14155550123", "send_at": "2026-11-25T12:00:00"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "send_at"


def test_unknown_sender_is_422_naming_sender(client: TestClient) -> None:
    """A sender that was never registered cannot be decided for."""
    response = client.post(
        "/v1/check", headers=SENDER, json={"text": OTP, "to": "+14155550123", "sender": "nobody"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sender"


def test_batch_keeps_order_and_one_bad_item_fails_all(client: TestClient) -> None:
    """Results come back in request order; an invalid item is named by index and nothing is stored."""
    ok = client.post(
        "/v1/check/batch",
        headers=SENDER,
        json={
            "messages": [
                {"text": OTP, "to": "+14155550123", "send_at": NOON_SF},
                {"text": PROMO, "to": "+14155550123", "send_at": NOON_SF},
            ]
        },
    )
    assert ok.status_code == 200
    assert [r["treated_as"] for r in ok.json()["results"]] == ["transactional", "promotional"]
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.engine.connect() as connection:
        before = connection.execute(text("SELECT count(*) FROM decisions")).scalar_one()
    bad = client.post(
        "/v1/check/batch",
        headers=SENDER,
        json={"messages": [{"text": OTP, "to": "+14155550123"}, {"text": "", "to": "+14155550123"}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "messages.1.text"
    with services.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM decisions")).scalar_one() == before


def test_database_down_means_503_never_allow(tmp_path: Path, model_dir: Path) -> None:
    """With the database unreachable, /readyz and /v1/check answer 503."""
    settings = Settings(
        state_dir=tmp_path / "s",
        api_keys="sender:sender-key-1",
        model_path=model_dir,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/check", headers=SENDER, json={"text": OTP, "to": "+14155550123"})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"


def test_model_missing_means_503_on_check(tmp_path: Path) -> None:
    """Without a model, /v1/check fails closed."""
    settings = Settings(
        state_dir=tmp_path / "s", api_keys="sender:sender-key-1", model_path=tmp_path / "none"
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/check", headers=SENDER, json={"text": OTP, "to": "+14155550123"})
    assert response.status_code == 503


def test_metrics_count_decisions_and_reasons(client: TestClient) -> None:
    """Decisions by outcome and by reason code appear in /metrics."""
    client.post("/v1/check", headers=SENDER, json={"text": PROMO, "to": "+14155550123", "send_at": NOON_SF})
    body = client.get("/metrics").text
    assert 'sendgate_decisions_total{decision="block"} 1.0' in body
    assert 'sendgate_decision_reasons_total{code="PROMO_NO_WRITTEN_CONSENT"} 1.0' in body


def test_decision_log_has_no_text_unless_configured(
    service_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A check's log line names id, outcome and codes; the text only when configured.

    A single check logs one line, its access line, carrying the decision fields.
    """
    for log_text in (False, True):
        settings = service_settings.model_copy(update={"log_message_text": log_text})
        with TestClient(create_app(settings)) as client:
            client.post("/v1/check", headers=SENDER, json={"text": OTP, "to": "+14155550123"})
        events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        assert not [e for e in events if e["event"] == "decision"]
        (event,) = [e for e in events if e.get("route") == "/v1/check"]
        assert event["event"] == "request" and event["status"] == 200
        assert event["decision_id"].startswith("dec_") and event["codes"]
        assert ("text" in event) is log_text


def test_a_batch_logs_one_decision_line_per_message(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    messages = [{"text": OTP, "to": "+14155550123"}, {"text": PROMO, "to": "+14155550124"}]
    response = client.post("/v1/check/batch", headers=SENDER, json={"messages": messages})
    assert response.status_code == 200
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    decisions = [e for e in events if e["event"] == "decision"]
    assert sorted(e["decision_id"] for e in decisions) == sorted(
        r["decision_id"] for r in response.json()["results"]
    )
    assert all(e["request_id"] == response.headers["x-request-id"] for e in decisions)


def test_request_ids_are_unique_and_differ_after_fork() -> None:
    ids = RequestIds()
    mine = {ids.new() for _ in range(1000)}
    assert len(mine) == 1000
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave at once
        os.write(writer, ids.new().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(reader, 64).decode()
    assert child not in mine and child[:16] != next(iter(mine))[:16]


def test_reload_under_load_fails_no_request(client: TestClient) -> None:
    """Requests in flight while the model is swapped all succeed."""
    statuses: list[int] = []

    def hammer() -> None:
        for _ in range(15):
            statuses.append(client.post("/v1/classify", headers=SENDER, json={"texts": [OTP]}).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        assert client.post("/v1/admin/reload-model", headers=ADMIN).status_code == 200
    for thread in threads:
        thread.join()
    assert statuses and set(statuses) == {200}
