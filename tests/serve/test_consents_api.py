"""Consents and senders over HTTP (admin), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from model.settings import Settings
from serve.app import create_app
from tests.serve.conftest import ADMIN, NOON_SF, REVIEWER, SENDER

PHONE = "+14155550123"
PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
ADMIN_ID = "admin:" + hashlib.sha256(b"admin-key-1").hexdigest()[:12]


def written(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sender": "default",
        "phone": PHONE,
        "kind": "express_written",
        "scope": None,
        "method": "web_form",
        "evidence": "signup form v3, submission #8812",
        "captured_at": "2026-11-01T10:00:00Z",
        "expires_at": None,
    }
    body.update(overrides)
    return body


def post_consent(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/consents", headers=ADMIN, json=written(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error_fields(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


def test_written_consent_is_stored_and_returned_with_its_id(db_client: TestClient) -> None:
    """POST /v1/consents answers 201 with the consent id and the stored record."""
    response = db_client.post("/v1/consents", headers=ADMIN, json=written())
    assert response.status_code == 201
    body = response.json()
    assert body["consent_id"].startswith("con_")
    assert body["sender"] == "default"
    assert body["phone"] == PHONE
    assert body["kind"] == "express_written"
    assert body["method"] == "web_form"
    assert body["evidence"] == "signup form v3, submission #8812"
    assert body["scope"] is None
    assert body["captured_at"] == "2026-11-01T10:00:00Z"
    assert body["revoked_at"] is None and body["revoked_by"] is None


def test_consent_records_the_admin_key_that_created_it(db_client: TestClient) -> None:
    """created_by is the admin's key id, never something the body could claim."""
    created = post_consent(db_client)
    services = db_client.app.state.services  # type: ignore[attr-defined]
    with services.engine.connect() as connection:
        created_by = connection.execute(
            text("SELECT created_by FROM consents WHERE consent_id = :c"), {"c": created["consent_id"]}
        ).scalar_one()
    assert created_by == ADMIN_ID


@pytest.mark.parametrize("missing", ["method", "evidence"])
def test_written_consent_without_proof_is_422_naming_the_field(db_client: TestClient, missing: str) -> None:
    """express_written without method or evidence is refused, naming what is missing."""
    response = db_client.post("/v1/consents", headers=ADMIN, json=written(**{missing: None}))
    assert response.status_code == 422
    assert error_fields(response) == [missing]


def test_express_consent_without_method_defaults_to_other(db_client: TestClient) -> None:
    """Plain express consent may omit method and evidence; the method is stored as other."""
    body = post_consent(db_client, kind="express", method=None, evidence=None, scope="order:12345")
    assert body["kind"] == "express"
    assert body["method"] == "other"
    assert body["scope"] == "order:12345"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "+1555"}, "phone"),
        ({"phone": "4155550123"}, "phone"),
        ({"captured_at": "2026-11-01T10:00:00"}, "captured_at"),
        ({"expires_at": "2027-11-01T10:00:00"}, "expires_at"),
        ({"expires_at": "2026-10-01T10:00:00Z"}, "expires_at"),
        ({"kind": "implied"}, "kind"),
        ({"method": "telepathy"}, "method"),
        ({"sender": "no spaces allowed"}, "sender"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_consent_is_422_naming_the_field(
    db_client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    """Bad phone, naive or inverted times, unknown kinds, methods and fields are each named."""
    response = db_client.post("/v1/consents", headers=ADMIN, json=written(**overrides))
    assert response.status_code == 422
    assert field in error_fields(response)


def test_consent_for_unknown_sender_is_422_naming_sender(db_client: TestClient) -> None:
    """Consents can only be held for a registered sender."""
    response = db_client.post("/v1/consents", headers=ADMIN, json=written(sender="nobody"))
    assert response.status_code == 422
    assert error_fields(response) == ["sender"]


def test_consent_sender_defaults_to_the_configured_sender(db_client: TestClient) -> None:
    """A consent posted without sender is held for the default sender, and listed for it."""
    body = written()
    del body["sender"]
    created = db_client.post("/v1/consents", headers=ADMIN, json=body).json()
    assert created["sender"] == "default"
    listed = db_client.get("/v1/consents", headers=ADMIN, params={"phone": PHONE}).json()
    assert [c["consent_id"] for c in listed["items"]] == [created["consent_id"]]


def test_list_is_newest_first_with_revocations(db_client: TestClient) -> None:
    """GET /v1/consents lists newest first, revoked ones included with revoked_at and revoked_by."""
    old = post_consent(db_client, captured_at="2026-10-01T10:00:00Z")
    new = post_consent(db_client, captured_at="2026-11-01T10:00:00Z")
    revoked = db_client.post(
        f"/v1/consents/{old['consent_id']}/revoke", headers=ADMIN, json={"reason": "asked"}
    )
    assert revoked.status_code == 200
    response = db_client.get("/v1/consents", headers=ADMIN, params={"phone": PHONE, "sender": "default"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert [c["consent_id"] for c in items] == [new["consent_id"], old["consent_id"]]
    assert items[0]["revoked_at"] is None
    assert items[1]["revoked_at"] is not None
    assert items[1]["revoked_by"] == ADMIN_ID


def test_list_accepts_an_unencoded_plus(db_client: TestClient) -> None:
    """?phone=+1... written literally (the + decodes as a space) still finds the number."""
    created = post_consent(db_client)
    response = db_client.get(f"/v1/consents?phone={PHONE}", headers=ADMIN)
    assert response.status_code == 200
    assert [c["consent_id"] for c in response.json()["items"]] == [created["consent_id"]]


@pytest.mark.parametrize(("query", "field"), [({}, "phone"), ({"phone": "+1555"}, "phone")])
def test_list_needs_a_valid_phone(db_client: TestClient, query: dict[str, str], field: str) -> None:
    """Listing without a phone, or with an invalid one, is a 422 naming phone."""
    response = db_client.get("/v1/consents", headers=ADMIN, params=query)
    assert response.status_code == 422
    assert error_fields(response) == [field]


def test_list_of_another_sender_is_empty(db_client: TestClient) -> None:
    """Consents are held per (sender, phone): another sender sees none of these."""
    post_consent(db_client)
    db_client.post("/v1/senders", headers=ADMIN, json={"sender": "acme", "display_name": "Acme"})
    response = db_client.get("/v1/consents", headers=ADMIN, params={"phone": PHONE, "sender": "acme"})
    assert response.status_code == 200
    assert response.json() == {"items": []}


def test_revoke_returns_the_revoked_record(db_client: TestClient) -> None:
    """Revoking answers 200 with revoked_at set and the admin key as revoked_by."""
    created = post_consent(db_client)
    response = db_client.post(
        f"/v1/consents/{created['consent_id']}/revoke", headers=ADMIN, json={"reason": "customer called"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["consent_id"] == created["consent_id"]
    assert body["revoked_at"] is not None
    assert body["revoked_by"] == ADMIN_ID


def test_revoke_unknown_consent_is_404(db_client: TestClient) -> None:
    """A consent id that was never issued cannot be revoked."""
    response = db_client.post("/v1/consents/con_nope/revoke", headers=ADMIN, json={"reason": "x"})
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not_found")


def test_revoke_twice_is_409(db_client: TestClient) -> None:
    """A revoked consent stays revoked once; the second revocation conflicts."""
    created = post_consent(db_client)
    path = f"/v1/consents/{created['consent_id']}/revoke"
    assert db_client.post(path, headers=ADMIN, json={"reason": "first"}).status_code == 200
    again = db_client.post(path, headers=ADMIN, json={"reason": "second"})
    assert again.status_code == 409
    assert again.json()["type"].endswith("/already_revoked")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x", "extra": 1}])
def test_revoke_needs_a_reason(db_client: TestClient, body: dict[str, Any]) -> None:
    """A revocation without a reason (or with unknown fields) is a 422."""
    created = post_consent(db_client)
    response = db_client.post(f"/v1/consents/{created['consent_id']}/revoke", headers=ADMIN, json=body)
    assert response.status_code == 422
    assert set(error_fields(response)) & {"reason", "extra"}


def test_written_consent_allows_a_promotion_at_noon(db_client: TestClient) -> None:
    """After posting written consent, a promotion at noon local time is allowed and names it."""
    created = post_consent(db_client)
    response = db_client.post(
        "/v1/check", headers=SENDER, json={"text": PROMO, "to": PHONE, "send_at": NOON_SF}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "allow"
    assert body["consent_id"] == created["consent_id"]
    assert [r["code"] for r in body["reasons"]] == ["PROMO_CONSENT_OK"]


def test_revoked_consent_no_longer_allows_a_promotion(db_client: TestClient) -> None:
    """Once the admin revokes the consent, the same promotion is blocked."""
    created = post_consent(db_client)
    db_client.post(f"/v1/consents/{created['consent_id']}/revoke", headers=ADMIN, json={"reason": "asked"})
    response = db_client.post(
        "/v1/check", headers=SENDER, json={"text": PROMO, "to": PHONE, "send_at": NOON_SF}
    )
    body = response.json()
    assert body["decision"] == "block"
    assert "PROMO_NO_WRITTEN_CONSENT" in [r["code"] for r in body["reasons"]]


def test_sender_is_registered_and_read_back(db_client: TestClient) -> None:
    """POST /v1/senders answers 201; GET /v1/senders/{sender} returns the same profile."""
    profile = {"sender": "acme", "display_name": "Acme Outdoor", "help_text": "Call 800-555-0100."}
    created = db_client.post("/v1/senders", headers=ADMIN, json=profile)
    assert created.status_code == 201
    assert created.json() == profile
    read = db_client.get("/v1/senders/acme", headers=ADMIN)
    assert read.status_code == 200
    assert read.json() == profile


def test_duplicate_sender_is_409(db_client: TestClient) -> None:
    """A sender name is registered once."""
    profile = {"sender": "acme", "display_name": "Acme"}
    assert db_client.post("/v1/senders", headers=ADMIN, json=profile).status_code == 201
    again = db_client.post("/v1/senders", headers=ADMIN, json=profile)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/already_exists")


def test_unknown_sender_is_404(db_client: TestClient) -> None:
    """Reading a sender that was never registered is a 404."""
    response = db_client.get("/v1/senders/nobody", headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["status"] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sender": "bad name", "display_name": "x"}, "sender"),
        ({"sender": "acme", "display_name": ""}, "display_name"),
        ({"sender": "acme"}, "display_name"),
    ],
)
def test_invalid_sender_is_422_naming_the_field(
    db_client: TestClient, body: dict[str, Any], field: str
) -> None:
    """Sender names are short identifiers and need a display name."""
    response = db_client.post("/v1/senders", headers=ADMIN, json=body)
    assert response.status_code == 422
    assert error_fields(response) == [field]


ADMIN_ROUTES = [
    ("post", "/v1/consents", written()),
    ("get", f"/v1/consents?phone=%2B{PHONE[1:]}", None),
    ("post", "/v1/consents/con_x/revoke", {"reason": "x"}),
    ("post", "/v1/senders", {"sender": "acme", "display_name": "Acme"}),
    ("get", "/v1/senders/default", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_a_key(client: TestClient, method: str, path: str, body: Any) -> None:
    """Without a key (or with an unknown one) every consent and sender route answers 401."""
    for headers in ({}, {"Authorization": "Bearer not-a-real-key"}):
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize("headers", [SENDER, REVIEWER], ids=["sender", "reviewer"])
def test_admin_routes_refuse_other_roles(
    client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    """Sender and reviewer keys get 403 on consent and sender routes."""
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_oversized_consent_is_413(client: TestClient) -> None:
    """A body over the configured limit is refused before it is parsed."""
    huge = written(evidence="x" * 4_100_000)
    response = client.post("/v1/consents", headers=ADMIN, json=huge)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_database_down_is_503_and_nothing_claimed(tmp_path: Path, model_dir: Path) -> None:
    """With the database unreachable a consent is not acknowledged: 503, problem+json."""
    settings = Settings(
        state_dir=tmp_path / "s",
        api_keys="admin:admin-key-1",
        model_path=model_dir,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/consents", headers=ADMIN, json=written())
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
