"""The reviewers' web page under /review/, server side: sessions, queue, detail, verdicts."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from serve.routes import review_page
from serve.routes.review_page import Segment, highlight, mask_phone
from serve.services import Services
from serve.store import repository
from tests.serve.conftest import NOON_SF, SENDER

PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
PHONE = "+14155550123"
REVIEWER_KEY = "reviewer-key-1"
REVIEWER_ID = hashlib.sha256(REVIEWER_KEY.encode()).hexdigest()[:12]


def _check(client: TestClient, text: str = PROMO, to: str = PHONE) -> dict[str, object]:
    response = client.post("/v1/check", headers=SENDER, json={"text": text, "to": to, "send_at": NOON_SF})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def _login(client: TestClient, key: str = REVIEWER_KEY) -> None:
    response = client.post("/review/login", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.split('class="verdict"')[1])
    assert match is not None
    return match.group(1)


# --- login and sessions ------------------------------------------------------------


def test_queue_without_session_redirects_to_login(client: TestClient) -> None:
    """Without a session the queue sends the browser to the login form."""
    response = client.get("/review/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/review/login"


def test_detail_without_session_redirects_to_login(client: TestClient) -> None:
    """Without a session a decision's page is not shown, even when the id exists."""
    decision_id = _check(client)["decision_id"]
    response = client.get(f"/review/{decision_id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/review/login"


def test_login_form_has_a_labelled_key_field(client: TestClient) -> None:
    """The login form is a page in English with a label tied to the key input."""
    response = client.get("/review/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert '<label for="key">' in response.text
    assert 'id="key" name="key" type="password"' in response.text


def test_unknown_key_is_401_with_the_form_again(client: TestClient) -> None:
    """A wrong key gets the form back with an error, status 401 and no cookie."""
    response = client.post("/review/login", data={"key": "not-a-key-at-all"}, follow_redirects=False)
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert "not known" in response.text
    assert "set-cookie" not in response.headers


def test_sender_key_cannot_log_in(client: TestClient) -> None:
    """A key without the reviewer role gets the form back with 403 and no session."""
    response = client.post("/review/login", data={"key": "sender-key-1"}, follow_redirects=False)
    assert response.status_code == 403
    assert "cannot review" in response.text
    assert "set-cookie" not in response.headers


def test_admin_key_can_log_in(client: TestClient) -> None:
    """An admin key opens the reviewer page too."""
    _login(client, "admin-key-1")
    response = client.get("/review/")
    assert response.status_code == 200
    assert "Blocked and held decisions" in response.text


def test_session_cookie_is_httponly_strict_and_never_holds_the_key(client: TestClient) -> None:
    """The cookie is HttpOnly and SameSite=Strict and carries a signed key id, not the key."""
    response = client.post("/review/login", data={"key": REVIEWER_KEY}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert response.headers["location"] == "/review/"
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert REVIEWER_KEY not in cookie
    assert cookie.startswith(f"sendgate_review={REVIEWER_ID}.")


def test_forged_session_redirects_to_login(client: TestClient) -> None:
    """A cookie whose signature does not match is no session."""
    _login(client)
    token = client.cookies["sendgate_review"]
    client.cookies.set("sendgate_review", token[:-4] + "0000", path="/review")
    response = client.get("/review/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/review/login"


def test_logout_ends_the_session(client: TestClient) -> None:
    """After logging out the queue asks for the key again."""
    _login(client)
    page = client.get("/review/").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    response = client.post("/review/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/review/login"
    assert client.get("/review/", follow_redirects=False).status_code == 303


# --- queue ---------------------------------------------------------------------------


def test_queue_lists_unreviewed_blocks_with_a_masked_phone(client: TestClient) -> None:
    """A blocked decision appears with its reason code and only the phone's last four digits."""
    decision_id = _check(client)["decision_id"]
    _login(client)
    response = client.get("/review/")
    assert response.status_code == 200
    assert f'href="/review/{decision_id}"' in response.text
    assert "PROMO_NO_WRITTEN_CONSENT" in response.text
    assert "+•••••••0123" in response.text
    assert "4155550123" not in response.text


def test_queue_hides_allowed_decisions(client: TestClient) -> None:
    """An allowed send is not queued for review."""
    _consent(client)
    allowed = _check(client)
    assert allowed["decision"] == "allow"
    _login(client)
    response = client.get("/review/?reviewed=all")
    assert response.status_code == 200
    assert str(allowed["decision_id"]) not in response.text
    assert "Nothing to review" in response.text


def test_reviewed_decisions_leave_the_default_queue(client: TestClient) -> None:
    """Once reviewed, a decision shows under reviewed=yes and not in the default queue."""
    decision_id = str(_check(client)["decision_id"])
    with _services(client).session() as session:
        repository.add_review(
            session=session,
            decision_id=decision_id,
            verdict="confirm",
            correct_type=None,
            note="",
            reviewer="reviewer:test",
        )
    _login(client)
    assert decision_id not in client.get("/review/").text
    assert decision_id in client.get("/review/?reviewed=yes").text


def test_decision_filter_review_excludes_blocks(client: TestClient) -> None:
    """Filtering on decision=review leaves blocked decisions out."""
    decision_id = str(_check(client)["decision_id"])
    _login(client)
    response = client.get("/review/?decision=review")
    assert response.status_code == 200
    assert decision_id not in response.text
    assert 'value="review" selected' in response.text


def test_since_filter_hides_older_decisions(client: TestClient) -> None:
    """A since date after today leaves nothing in the queue."""
    decision_id = str(_check(client)["decision_id"])
    _login(client)
    response = client.get("/review/?since=2999-01-01")
    assert response.status_code == 200
    assert decision_id not in response.text
    assert "Nothing to review" in response.text


def test_invalid_since_is_422_naming_since(client: TestClient) -> None:
    """A since that is not a date is a problem naming the field."""
    _login(client)
    response = client.get("/review/?since=yesterday")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "since"


def test_queue_pages_with_the_store_cursor(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """With more rows than a page holds, the next page continues where the first stopped."""
    monkeypatch.setattr(review_page, "PAGE_SIZE", 1)
    first, second = (str(_check(client)["decision_id"]) for _ in range(2))
    _login(client)
    page_one = client.get("/review/").text
    assert second in page_one and first not in page_one
    next_url = re.search(r'href="(/review/\?[^"]*cursor=[^"]+)" rel="next"', page_one)
    assert next_url is not None
    page_two = client.get(next_url.group(1).replace("&amp;", "&")).text
    assert first in page_two and second not in page_two


# --- detail --------------------------------------------------------------------------


def test_detail_escapes_message_text(client: TestClient) -> None:
    """A message holding a script tag is shown as text, never as markup."""
    decision_id = _check(client, text="Big sale <script>alert('x')</script> 40% off today only!")[
        "decision_id"
    ]
    _login(client)
    response = client.get(f"/review/{decision_id}")
    assert response.status_code == 200
    assert "&lt;script&gt;alert(" in response.text
    assert "<script>alert" not in response.text


def test_detail_marks_the_explanation_words(client: TestClient) -> None:
    """Every word feature of the explanation found in the text is wrapped in <mark>."""
    body = _check(client)
    _login(client)
    page = client.get(f"/review/{body['decision_id']}").text
    marked = {m.lower() for m in re.findall(r"<mark>([^<]*)</mark>", page)}
    words = {str(f["feature"]) for f in body["explanation"] if "<" not in str(f["feature"])}  # type: ignore[attr-defined]
    assert words
    assert words <= marked


def test_detail_shows_reasons_with_sources_and_no_consent(client: TestClient) -> None:
    """Each reason shows code, message and source; a block without consent says so."""
    body = _check(client)
    _login(client)
    page = client.get(f"/review/{body['decision_id']}").text
    for reason in body["reasons"]:  # type: ignore[attr-defined]
        assert reason["code"] in page
        assert f"Source: {reason['source']}" in page
    assert "None: no consent record was relied on." in page
    assert '<details class="trace">' in page
    assert str(body["model_version"]) in page


def test_detail_shows_the_consent_relied_on(client: TestClient) -> None:
    """An allow's consent record is shown with its method and evidence."""
    consent_id = _consent(client)
    body = _check(client)
    assert body["consent_id"] == consent_id
    _login(client)
    page = client.get(f"/review/{body['decision_id']}").text
    assert consent_id in page
    assert "signup form #77" in page
    assert "web_form" in page


def test_unknown_decision_is_404(client: TestClient) -> None:
    """A decision id that is not stored is a problem, not an empty page."""
    _login(client)
    response = client.get("/review/dec_does_not_exist")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# --- verdicts ------------------------------------------------------------------------


def test_verdict_is_stored_with_the_reviewer_and_shown_as_saved(client: TestClient) -> None:
    """A verdict posted from the page is kept with the key's reviewer id and the page says saved."""
    decision_id = str(_check(client)["decision_id"])
    _login(client)
    csrf = _csrf(client.get(f"/review/{decision_id}").text)
    response = client.post(
        f"/review/{decision_id}/verdict",
        data={"csrf_token": csrf, "verdict": "override_allow", "correct_type": "transactional", "note": "ok"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/review/{decision_id}?saved=1#verdict"
    with _services(client).session() as session:
        stored = repository.get_decision(session=session, decision_id=decision_id)
    review = stored.reviews[-1]
    assert (review.verdict, review.correct_type, review.note) == ("override_allow", "transactional", "ok")
    assert review.reviewer == f"reviewer:{REVIEWER_ID}"
    assert "Review saved." in client.get(response.headers["location"]).text


def test_verdict_without_csrf_token_is_403_and_stores_nothing(client: TestClient) -> None:
    """A verdict form without the CSRF token is refused and no review is kept."""
    decision_id = str(_check(client)["decision_id"])
    _login(client)
    response = client.post(f"/review/{decision_id}/verdict", data={"verdict": "confirm"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "csrf_token"
    with _services(client).session() as session:
        assert repository.get_decision(session=session, decision_id=decision_id).reviews == ()


def test_csrf_token_of_another_decision_is_403(client: TestClient) -> None:
    """A CSRF token is bound to its decision: it cannot post a verdict on another one."""
    first, second = (str(_check(client)["decision_id"]) for _ in range(2))
    _login(client)
    csrf = _csrf(client.get(f"/review/{first}").text)
    response = client.post(f"/review/{second}/verdict", data={"csrf_token": csrf, "verdict": "confirm"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "csrf_token"


def test_unknown_verdict_is_422_naming_verdict(client: TestClient) -> None:
    """A verdict outside the three is refused naming the field."""
    decision_id = str(_check(client)["decision_id"])
    _login(client)
    csrf = _csrf(client.get(f"/review/{decision_id}").text)
    response = client.post(f"/review/{decision_id}/verdict", data={"csrf_token": csrf, "verdict": "maybe"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "verdict"


def test_verdict_without_session_redirects_to_login(client: TestClient) -> None:
    """Posting a verdict needs a session first."""
    decision_id = str(_check(client)["decision_id"])
    response = client.post(
        f"/review/{decision_id}/verdict", data={"verdict": "confirm"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/review/login"


def test_static_script_is_served(client: TestClient) -> None:
    """The shortcut script ships with the package and is served under /review/static."""
    response = client.get("/review/static/review.js")
    assert response.status_code == 200
    assert "data-shortcut" in response.text


# --- pure helpers --------------------------------------------------------------------


def test_highlight_matches_whole_words_ignoring_case() -> None:
    """'off' marks 'OFF' but not the 'off' inside 'offer'."""
    assert highlight("OFF the offer", ["off"]) == [Segment("OFF", True), Segment(" the offer", False)]


def test_highlight_skips_placeholder_features() -> None:
    """A placeholder feature such as <URL> marks nothing, even text that looks like it."""
    assert highlight("see <URL> now", ["<URL>", "<PCT> off"]) == [Segment("see <URL> now", False)]


def test_highlight_matches_phrases_across_spacing() -> None:
    """A two-word feature marks the phrase even with extra spaces between the words."""
    assert highlight("It has  shipped.", ["has shipped"]) == [
        Segment("It ", False),
        Segment("has  shipped", True),
        Segment(".", False),
    ]


def test_mask_phone_keeps_only_the_last_four_digits() -> None:
    """Every digit but the last four is hidden; the plus sign stays."""
    assert mask_phone("+442071838750") == "+••••••••8750"


def _consent(client: TestClient) -> str:
    with _services(client).session() as session:
        record = repository.add_consent(
            session=session,
            sender="default",
            phone=PHONE,
            kind="express_written",
            method="web_form",
            evidence="signup form #77",
            captured_at=datetime(2026, 1, 2, tzinfo=UTC),
            created_by="admin:test",
        )
    return record.consent_id
