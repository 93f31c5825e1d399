"""POST /v1/inbound over HTTP: opt-out, opt-in, help and conversations, on SQLite and PostgreSQL."""

from __future__ import annotations

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
REPLY = "Hi! We open at 10am on Saturdays."
UNSUBSCRIBED = (
    "sendgate demo sender: You are unsubscribed and will receive no more messages from us. "
    "Reply START to resubscribe."
)


def inbound(client: TestClient, message: str, **overrides: Any) -> Any:
    body: dict[str, Any] = {"from": PHONE, "to_sender": "default", "text": message}
    body.update(overrides)
    return client.post("/v1/inbound", headers=SENDER, json=body)


def promotion(client: TestClient) -> dict[str, Any]:
    response = client.post("/v1/check", headers=SENDER, json={"text": PROMO, "to": PHONE, "send_at": NOON_SF})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def give_written_consent(client: TestClient) -> str:
    response = client.post(
        "/v1/consents",
        headers=ADMIN,
        json={
            "phone": PHONE,
            "kind": "express_written",
            "method": "web_form",
            "evidence": "signup form v3",
            "captured_at": "2026-11-01T10:00:00Z",
        },
    )
    assert response.status_code == 201
    consent_id: str = response.json()["consent_id"]
    return consent_id


def codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def test_stop_opts_out_and_answers_with_the_confirmation(db_client: TestClient) -> None:
    """STOP is an opt-out; the reply is the single confirmation RULES.md allows."""
    response = inbound(db_client, "STOP")
    assert response.status_code == 200
    body = response.json()
    assert body["inbound_id"].startswith("inb_")
    assert body["action"] == "opted_out"
    assert body["reply"] == UNSUBSCRIBED
    assert body["needs_review"] is False
    assert body["reason_code"] == "OPT_OUT_KEYWORD"


def test_stop_blocks_the_next_promotion(db_client: TestClient) -> None:
    """After STOP, a promotion that written consent allowed is blocked with OPTED_OUT."""
    give_written_consent(db_client)
    assert promotion(db_client)["decision"] == "allow"
    assert inbound(db_client, "stop").json()["action"] == "opted_out"
    after = promotion(db_client)
    assert after["decision"] == "block"
    assert "OPTED_OUT" in codes(after)


def test_stop_revokes_the_consent_as_the_inbound_message(db_client: TestClient) -> None:
    """The consent list shows the opt-out's revocation, attributed to the inbound message."""
    consent_id = give_written_consent(db_client)
    inbound_id = inbound(db_client, "STOP").json()["inbound_id"]
    listed = db_client.get("/v1/consents", headers=ADMIN, params={"phone": PHONE}).json()["items"]
    assert [(c["consent_id"], c["revoked_by"]) for c in listed] == [(consent_id, f"inbound:{inbound_id}")]


def test_start_restores_the_program_consent(db_client: TestClient) -> None:
    """START after STOP restores the consent: the promotion is allowed again, on a restored copy."""
    original = give_written_consent(db_client)
    inbound(db_client, "STOP")
    response = inbound(db_client, "START")
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "opted_in"
    assert body["reply"] is not None and "subscribed again" in body["reply"]
    assert body["reason_code"] == "OPT_IN_KEYWORD"
    after = promotion(db_client)
    assert after["decision"] == "allow"
    assert after["consent_id"] not in (None, original)


def test_start_without_consent_allows_nothing(db_client: TestClient) -> None:
    """START never creates written consent from nothing: the promotion stays blocked."""
    inbound(db_client, "STOP")
    assert inbound(db_client, "START").json()["action"] == "opted_in"
    after = promotion(db_client)
    assert after["decision"] == "block"
    assert "PROMO_NO_WRITTEN_CONSENT" in codes(after)


def test_help_answers_with_the_senders_help_text(db_client: TestClient) -> None:
    """HELP gets the sender's name, its help text, how to opt out and the rates notice."""
    db_client.post(
        "/v1/senders",
        headers=ADMIN,
        json={"sender": "acme", "display_name": "Acme Outdoor", "help_text": "Call 800-555-0100."},
    )
    response = inbound(db_client, "HELP", to_sender="acme")
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "help"
    assert body["reason_code"] == "HELP_KEYWORD"
    assert (
        body["reply"] == "Acme Outdoor: Call 800-555-0100. Reply STOP to opt out. Msg & data rates may apply."
    )


def test_question_opens_a_conversation_without_reply(db_client: TestClient) -> None:
    """An ordinary message opens a conversation; the service itself sends nothing back."""
    response = inbound(db_client, "Hi, what time do you open on Saturday?")
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "conversation_opened"
    assert body["reply"] is None
    assert body["needs_review"] is False
    assert body["reason_code"] == "CONVERSATION"


def test_reply_in_an_open_conversation_is_allowed(db_client: TestClient) -> None:
    """A conversational reply naming the inbound message is allowed with CONVERSATION_OPEN."""
    inbound_id = inbound(db_client, "Hi, what time do you open on Saturday?").json()["inbound_id"]
    response = db_client.post(
        "/v1/check",
        headers=SENDER,
        json={"text": REPLY, "to": PHONE, "in_reply_to": inbound_id, "send_at": NOON_SF},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "allow"
    assert body["treated_as"] == "conversational"
    assert codes(body) == ["CONVERSATION_OPEN"]
    assert body["inbound_id"] == inbound_id


def test_reply_without_any_inbound_is_not_allowed(db_client: TestClient) -> None:
    """The same reply to a number that never wrote is not allowed."""
    response = db_client.post(
        "/v1/check", headers=SENDER, json={"text": REPLY, "to": PHONE, "send_at": NOON_SF}
    )
    assert response.json()["decision"] != "allow"


def test_buried_keyword_is_flagged_for_review(db_client: TestClient) -> None:
    """A keyword inside other text opens a conversation and is flagged, not silently ignored."""
    body = inbound(db_client, "Count me in! STOP this bill").json()
    assert body["action"] == "conversation_opened"
    assert body["needs_review"] is True
    assert body["reason_code"] == "KEYWORD_IN_TEXT"
    assert body["reply"] is None


def test_inbound_is_stored_with_the_given_received_at(db_client: TestClient) -> None:
    """The message is stored before the answer, with the provider's received_at in UTC."""
    body = inbound(db_client, "STOP", received_at="2026-11-25T10:00:00-05:00").json()
    services = db_client.app.state.services  # type: ignore[attr-defined]
    with services.engine.connect() as connection:
        row = connection.execute(
            text("SELECT phone, action, received_at FROM inbound_messages WHERE inbound_id = :i"),
            {"i": body["inbound_id"]},
        ).one()
    assert (row[0], row[1]) == (PHONE, "opted_out")
    assert str(row[2]).startswith("2026-11-25 15:00:00")


def test_unknown_sender_is_422_naming_to_sender(db_client: TestClient) -> None:
    """A message to a sender that was never registered is refused, naming to_sender."""
    response = inbound(db_client, "STOP", to_sender="nobody")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["to_sender"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"from": "+1555"}, "from"),
        ({"from": "4155550123"}, "from"),
        ({"received_at": "2026-11-25T10:00:00"}, "received_at"),
        ({"to_sender": "bad name"}, "to_sender"),
        ({"text": "x" * 2_001}, "text"),
        ({"from_": PHONE}, "from_"),
        ({"extra": True}, "extra"),
    ],
)
def test_invalid_inbound_is_422_naming_the_field(
    db_client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    """Bad numbers, naive times, long texts and unknown fields are refused, each named."""
    response = inbound(db_client, "STOP", **overrides)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


def test_missing_from_is_422(db_client: TestClient) -> None:
    """The sender of the inbound message is required."""
    response = db_client.post("/v1/inbound", headers=SENDER, json={"to_sender": "default", "text": "STOP"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["from"]


def test_inbound_needs_a_key(client: TestClient) -> None:
    """Without a key, /v1/inbound answers 401."""
    response = client.post("/v1/inbound", json={"from": PHONE, "to_sender": "default", "text": "STOP"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_reviewer_key_cannot_post_inbound(client: TestClient) -> None:
    """A reviewer key lacks the sender role: 403."""
    response = client.post(
        "/v1/inbound", headers=REVIEWER, json={"from": PHONE, "to_sender": "default", "text": "STOP"}
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_admin_key_may_post_inbound(client: TestClient) -> None:
    """An admin key can do everything, inbound included."""
    response = client.post(
        "/v1/inbound", headers=ADMIN, json={"from": PHONE, "to_sender": "default", "text": "HELP"}
    )
    assert response.status_code == 200
    assert response.json()["action"] == "help"


def test_oversized_inbound_is_413(client: TestClient) -> None:
    """A body over the configured limit is refused with 413 before it is parsed."""
    response = inbound(client, "x" * 4_100_000)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_database_down_means_stop_is_not_acknowledged(tmp_path: Path, model_dir: Path) -> None:
    """With the database unreachable a STOP gets 503, so the provider retries instead of trusting it."""
    settings = Settings(
        state_dir=tmp_path / "s",
        api_keys="sender:sender-key-1",
        model_path=model_dir,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
    )
    with TestClient(create_app(settings)) as client:
        response = inbound(client, "STOP")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
