"""Decisions, reviews and the training export over HTTP (reviewer), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import ADMIN, NOON_SF, REVIEWER, SENDER
from training.prepare import read_source
from training.sources import user_source

PHONE = "+14155550123"
PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
OTP = "Your Quillpay verification code is 730142. It expires in 10 minutes."
# Commas, quotes and a line break: the CSV must quote them.
TRICKY = 'Your order #12345, "blue coat", has shipped.\nTrack it at https://ex.co/t/1'
REVIEWER_ID = "reviewer:" + hashlib.sha256(b"reviewer-key-1").hexdigest()[:12]
CHECK_FIELDS = {
    "decision",
    "decision_id",
    "message_type",
    "probabilities",
    "treated_as",
    "reasons",
    "consent_id",
    "inbound_id",
    "not_before",
    "model_version",
    "policy_version",
    "jurisdiction",
    "explanation",
}


def check(client: TestClient, message: str = PROMO, **extra: Any) -> dict[str, Any]:
    body = {"text": message, "to": PHONE, "send_at": NOON_SF, **extra}
    response = client.post("/v1/check", headers=SENDER, json=body)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def review(client: TestClient, decision_id: str, **body: Any) -> Any:
    payload = {"verdict": "confirm", "correct_type": None, "note": "", **body}
    return client.post(f"/v1/decisions/{decision_id}/review", headers=REVIEWER, json=payload)


def listing(client: TestClient, **params: Any) -> Any:
    return client.get("/v1/decisions", headers=REVIEWER, params=params)


def fields(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


def test_list_is_newest_first_with_request_and_reviews(db_client: TestClient) -> None:
    """Each listed decision has every /v1/check field, the request, created_at and reviews."""
    first = check(db_client, OTP, declared_type="transactional", transaction_ref="order:1")
    second = check(db_client)
    response = listing(db_client)
    assert response.status_code == 200
    body = response.json()
    assert [d["decision_id"] for d in body["items"]] == [second["decision_id"], first["decision_id"]]
    assert body["next_cursor"] is None
    item = body["items"][1]
    assert {k: item[k] for k in CHECK_FIELDS} == first
    assert item["request"] == {
        "text": OTP,
        "to": PHONE,
        "sender": "default",
        "send_at": NOON_SF,
        "declared_type": "transactional",
        "transaction_ref": "order:1",
        "in_reply_to": None,
    }
    assert item["created_at"].endswith("Z")
    assert item["reviews"] == []


def test_list_filters_by_outcome(db_client: TestClient) -> None:
    """decision=block lists only blocks."""
    blocked = check(db_client)
    assert blocked["decision"] == "block"
    response = listing(db_client, decision="allow")
    assert response.status_code == 200
    assert blocked["decision_id"] not in [d["decision_id"] for d in response.json()["items"]]
    blocks = listing(db_client, decision="block").json()["items"]
    assert [d["decision_id"] for d in blocks] == [blocked["decision_id"]]


def test_list_filters_by_reviewed(db_client: TestClient) -> None:
    """reviewed=false leaves out reviewed decisions; reviewed=true lists only them."""
    done, open_ = check(db_client), check(db_client, OTP)
    assert review(db_client, done["decision_id"]).status_code == 201
    unreviewed = listing(db_client, reviewed="false").json()["items"]
    assert [d["decision_id"] for d in unreviewed] == [open_["decision_id"]]
    reviewed = listing(db_client, reviewed="true").json()["items"]
    assert [d["decision_id"] for d in reviewed] == [done["decision_id"]]


def test_list_since_in_the_future_is_empty(db_client: TestClient) -> None:
    """since filters on when the decision was made."""
    check(db_client)
    assert len(listing(db_client, since="2000-01-01T00:00:00Z").json()["items"]) == 1
    response = listing(db_client, since="2999-01-01T00:00:00+02:00")
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_cursor_pages_through_everything_once(db_client: TestClient) -> None:
    """limit=2 with the returned cursor visits every decision once, newest first."""
    made = [check(db_client, f"Order {n} has shipped.")["decision_id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = listing(db_client, **params).json()
        seen += [d["decision_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "2026-11-25T10:00:00"}, "since"),
        ({"decision": "maybe"}, "decision"),
        ({"reviewed": "perhaps"}, "reviewed"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(
    db_client: TestClient, params: dict[str, Any], field: str
) -> None:
    """Bad cursors, limits, naive times and unknown outcomes are refused, each named."""
    response = listing(db_client, **params)
    assert response.status_code == 422
    assert fields(response) == [field]


def test_limit_of_500_is_accepted(db_client: TestClient) -> None:
    """The largest page allowed is 500."""
    check(db_client)
    response = listing(db_client, limit=500)
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


def test_get_one_decision(db_client: TestClient) -> None:
    """GET /v1/decisions/{id} returns what /v1/check answered, plus request and reviews."""
    made = check(db_client)
    response = db_client.get(f"/v1/decisions/{made['decision_id']}", headers=REVIEWER)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in CHECK_FIELDS} == made
    assert body["request"]["text"] == PROMO
    assert body["reviews"] == []


def test_unknown_decision_is_404(db_client: TestClient) -> None:
    """A decision id that was never issued is a 404."""
    response = db_client.get("/v1/decisions/dec_nope", headers=REVIEWER)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not_found")


def test_review_is_stored_with_the_reviewers_identity(db_client: TestClient) -> None:
    """A review answers 201 with the record; the reviewer is the calling key, not the body."""
    made = check(db_client)
    response = review(
        db_client, made["decision_id"], verdict="override_allow", correct_type="transactional", note="x"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["review_id"].startswith("rvw_")
    assert body["decision_id"] == made["decision_id"]
    assert body["verdict"] == "override_allow"
    assert body["correct_type"] == "transactional"
    assert body["note"] == "x"
    assert body["reviewer"] == REVIEWER_ID
    assert body["created_at"].endswith("Z")


def test_every_review_is_kept(db_client: TestClient) -> None:
    """Reviewing twice keeps both reviews, oldest first."""
    made = check(db_client)
    review(db_client, made["decision_id"], verdict="confirm")
    review(db_client, made["decision_id"], verdict="override_block", correct_type="promotional")
    body = db_client.get(f"/v1/decisions/{made['decision_id']}", headers=REVIEWER).json()
    assert [r["verdict"] for r in body["reviews"]] == ["confirm", "override_block"]


def test_review_of_unknown_decision_is_404(db_client: TestClient) -> None:
    """Only stored decisions can be reviewed."""
    response = review(db_client, "dec_nope")
    assert response.status_code == 404
    assert response.json()["status"] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"verdict": "maybe"}, "verdict"),
        ({"correct_type": "spam"}, "correct_type"),
        ({"reviewer": "someone-else"}, "reviewer"),
        ({"note": "x" * 2_001}, "note"),
    ],
)
def test_invalid_review_is_422_naming_the_field(
    db_client: TestClient, body: dict[str, Any], field: str
) -> None:
    """Unknown verdicts and types, an over-long note and a self-declared reviewer are refused."""
    made = check(db_client)
    response = review(db_client, made["decision_id"], **body)
    assert response.status_code == 422
    assert fields(response) == [field]


def test_export_has_the_corrected_label(db_client: TestClient) -> None:
    """A review correcting the type appears in the CSV with that label."""
    made = check(db_client, TRICKY)
    review(db_client, made["decision_id"], verdict="override_allow", correct_type="transactional")
    response = db_client.get("/v1/reviews/export", headers=REVIEWER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["text"], r["label"], r["source"]) for r in rows] == [(TRICKY, "transactional", "review")]
    assert rows[0]["reviewed_at"].startswith("20")


def test_export_header_only_when_nothing_reviewed(db_client: TestClient) -> None:
    """With no reviews the export is the header alone."""
    check(db_client)
    response = db_client.get("/v1/reviews/export", headers=REVIEWER)
    assert response.status_code == 200
    assert response.text == "text,label,source,reviewed_at\n"


def test_export_since_leaves_out_older_reviews(db_client: TestClient) -> None:
    """since filters on review time."""
    made = check(db_client)
    review(db_client, made["decision_id"], correct_type="promotional")
    response = db_client.get("/v1/reviews/export", headers=REVIEWER, params={"since": "2999-01-01T00:00:00Z"})
    assert response.status_code == 200
    assert response.text == "text,label,source,reviewed_at\n"


def test_export_since_must_be_aware(db_client: TestClient) -> None:
    """A naive since is refused, naming it."""
    response = db_client.get("/v1/reviews/export", headers=REVIEWER, params={"since": "2026-01-01T00:00:00"})
    assert response.status_code == 422
    assert fields(response) == ["since"]


def test_export_is_read_by_the_training_reader(db_client: TestClient, tmp_path: Path) -> None:
    """The export, saved to a file, is a valid training source with the corrected labels."""
    tricky = check(db_client, TRICKY)
    promo = check(db_client)
    review(db_client, tricky["decision_id"], verdict="override_allow", correct_type="transactional")
    review(db_client, promo["decision_id"], verdict="confirm")
    path = tmp_path / "reviews.csv"
    path.write_bytes(db_client.get("/v1/reviews/export", headers=REVIEWER).content)
    frame, report = read_source(user_source(path))
    assert sorted(zip(frame["text"], frame["label"], strict=True)) == sorted(
        [(TRICKY, "transactional"), (PROMO, promo["message_type"])]
    )
    assert report.invalid_dropped == 0


REVIEWER_ROUTES = [
    ("get", "/v1/decisions", None),
    ("get", "/v1/decisions/dec_x", None),
    ("post", "/v1/decisions/dec_x/review", {"verdict": "confirm"}),
    ("get", "/v1/reviews/export", None),
]


@pytest.mark.parametrize(("method", "path", "body"), REVIEWER_ROUTES)
def test_reviewer_routes_need_a_key(client: TestClient, method: str, path: str, body: Any) -> None:
    """Without a valid key every decision route answers 401."""
    for headers in ({}, {"Authorization": "Bearer not-a-real-key"}):
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "body"), REVIEWER_ROUTES)
def test_sender_key_cannot_read_decisions(client: TestClient, method: str, path: str, body: Any) -> None:
    """A sender key lacks the reviewer role: 403."""
    response = client.request(method, path, headers=SENDER, json=body)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_admin_key_may_review(client: TestClient) -> None:
    """An admin key can do everything, reviews included."""
    made = check(client)
    response = client.post(
        f"/v1/decisions/{made['decision_id']}/review", headers=ADMIN, json={"verdict": "confirm"}
    )
    assert response.status_code == 201
    assert response.json()["reviewer"].startswith("reviewer:")


def test_oversized_review_is_413(client: TestClient) -> None:
    """A body over the configured limit is refused with 413."""
    made = check(client)
    response = review(client, made["decision_id"], note="x" * 4_100_000)
    assert response.status_code == 413
    assert response.json()["status"] == 413
