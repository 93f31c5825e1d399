"""POST /v1/classify, auth, problem+json and readiness over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model.settings import Settings
from serve.app import create_app
from tests.serve.conftest import ADMIN, REVIEWER, SENDER


def test_classify_returns_type_and_probabilities(client: TestClient) -> None:
    """A sender key gets one result per text, in order, with the model version."""
    response = client.post(
        "/v1/classify",
        headers=SENDER,
        json={"texts": ["Your Quillpay code is 730142", "Winter sale: 40% off coats"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"].startswith("file:")
    assert [r["message_type"] for r in body["results"]] == ["transactional", "promotional"]
    probabilities = body["results"][0]["probabilities"]
    assert set(probabilities) == {"promotional", "transactional", "conversational"}
    assert abs(sum(probabilities.values()) - 1) < 1e-6


def test_missing_key_is_401_problem(client: TestClient) -> None:
    """No Authorization header: 401 as problem+json."""
    response = client.post("/v1/classify", json={"texts": ["hi"]})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_unknown_key_is_401(client: TestClient) -> None:
    """A key that is not configured is refused."""
    response = client.post(
        "/v1/classify", headers={"Authorization": "Bearer nope-nope-nope"}, json={"texts": ["hi"]}
    )
    assert response.status_code == 401


def test_wrong_role_is_403(client: TestClient) -> None:
    """A reviewer key cannot classify (sender role); admin can do everything."""
    assert client.post("/v1/classify", headers=REVIEWER, json={"texts": ["hi"]}).status_code == 403
    assert client.post("/v1/classify", headers=ADMIN, json={"texts": ["hi"]}).status_code == 200


def test_empty_text_is_422_naming_the_field(client: TestClient) -> None:
    """An empty text names its index in the errors list."""
    response = client.post("/v1/classify", headers=SENDER, json={"texts": ["ok", "   "]})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "texts.1"
    assert "empty" in body["errors"][0]["message"]


def test_overlong_text_is_422(client: TestClient) -> None:
    """Text over 2,000 characters after trimming is 422 (the README says so)."""
    response = client.post("/v1/classify", headers=SENDER, json={"texts": ["x" * 2001]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "texts.0"


def test_unknown_field_is_422(client: TestClient) -> None:
    """Unknown fields are rejected, not ignored."""
    response = client.post("/v1/classify", headers=SENDER, json={"texts": ["hi"], "lang": "en"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lang"


def test_too_many_texts_is_422(client: TestClient) -> None:
    """More than 1,000 texts in one call is refused."""
    response = client.post("/v1/classify", headers=SENDER, json={"texts": ["hi"] * 1001})
    assert response.status_code == 422


def test_oversized_body_is_413(service_settings: Settings) -> None:
    """A body larger than the configured limit is 413 problem+json."""
    small = service_settings.model_copy(update={"max_body_bytes": 1_000})
    with TestClient(create_app(small)) as client:
        response = client.post("/v1/classify", headers=SENDER, json={"texts": ["a" * 500] * 3})
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_without_a_model_readyz_and_classify_are_503(tmp_path: Path) -> None:
    """No model: the service starts but fails closed."""
    settings = Settings(
        state_dir=tmp_path / "s", api_keys="sender:sender-key-1", model_path=tmp_path / "missing"
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "model" in ready.json()["checks"]
        response = client.post("/v1/classify", headers=SENDER, json={"texts": ["hi"]})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"


def test_reload_keeps_serving(client: TestClient) -> None:
    """An admin reload swaps in the model again and reports both versions."""
    response = client.post("/v1/admin/reload-model", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["previous_version"] == response.json()["model_version"]
    assert client.post("/v1/admin/reload-model", headers=SENDER).status_code == 403


def test_openapi_is_served(client: TestClient) -> None:
    """The OpenAPI document and /docs are available."""
    assert client.get("/docs").status_code == 200
    assert "/v1/classify" in client.get("/openapi.json").json()["paths"]


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    """/metrics (no key) exposes request counts by route template and the model version."""
    client.post("/v1/classify", headers=SENDER, json={"texts": ["hi there"]})
    client.post("/v1/classify", json={"texts": ["hi there"]})
    body = client.get("/metrics").text
    assert 'sendgate_http_requests_total{method="POST",route="/v1/classify",status="200"} 1.0' in body
    assert 'sendgate_http_requests_total{method="POST",route="/v1/classify",status="401"} 1.0' in body
    assert 'sendgate_model_info{model_version="file:' in body


def test_request_id_is_echoed_or_created(client: TestClient) -> None:
    """Each response carries X-Request-ID: the caller's, or a new one."""
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_logs_are_json_without_message_text(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    """Access logs are JSON lines with the request id and never contain the text sent."""
    client.post(
        "/v1/classify",
        headers={**SENDER, "X-Request-ID": "log-test-1"},
        json={"texts": ["Secret personal message 4417"]},
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "log-test-1"]
    assert access and access[-1]["route"] == "/v1/classify" and access[-1]["status"] == 200
    assert not any("Secret personal message" in json.dumps(line) for line in lines)
