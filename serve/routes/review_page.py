"""The reviewers' web page under /review/ (API.md, last bullet of "Decisions and review").

Server-rendered with Jinja2 (autoescape on; user text is never marked safe) and one small
script for keyboard shortcuts. A reviewer logs in with a reviewer or admin key; the page
keeps only a signed session token in an HttpOnly, SameSite=Strict cookie, never the key.
Every state-changing form carries a CSRF token bound to the session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, cast, get_args
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from serve.auth import Caller
from serve.consent.records import ConsentRecord, MessageType, Outcome
from serve.problems import Problem
from serve.services import ServicesDep
from serve.store import repository
from serve.store.decisions import encode_cursor
from serve.store.views import StoredDecision, Verdict

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"

COOKIE = "sendgate_review"
SESSION_SECONDS = 8 * 3600
PAGE_SIZE = 25
MAX_NOTE = 2_000
MAX_FORM_BYTES = 16_000
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
MESSAGE_TYPES: tuple[MessageType, ...] = get_args(MessageType)
QUEUE_DECISIONS: tuple[Outcome, ...] = ("block", "review")
REVIEWED = {"no": False, "yes": True, "all": None}
# Placeholder tokens the normalizer puts where a URL, number, phone... stood.
_PLACEHOLDER = re.compile(r"<[A-Z]+>")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages hold message text: personal data
}

router = APIRouter(prefix="/review", tags=["review page"], include_in_schema=False)


def install(app: FastAPI) -> None:
    """Mount the page, its static files and a per-app session secret on ``app``."""
    # A configured secret lets sessions survive restarts and span worker processes;
    # without one, each process signs with its own random key.
    configured = app.state.settings.review_session_secret
    app.state.review_secret = (
        configured.get_secret_value().encode() if configured else secrets.token_bytes(32)
    )
    app.mount("/review/static", StaticFiles(directory=STATIC), name="review-static")
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)


# --- sessions and CSRF ---------------------------------------------------------------


class LoginRequired(Exception):
    """No valid session: the handler sends the browser to the login form."""


async def _to_login(_: Request, __: Exception) -> Response:
    return RedirectResponse("/review/login", status_code=303)


@dataclass(frozen=True)
class ReviewSession:
    key_id: str
    token: str  # the cookie value, which CSRF tokens are bound to


def _secret(request: Request) -> bytes:
    secret: bytes = request.app.state.review_secret
    return secret


def _sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def issue_token(secret: bytes, key_id: str, now: float) -> str:
    payload = f"{key_id}.{int(now) + SESSION_SECONDS}"
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(secret: bytes, token: str, now: float) -> str | None:
    """The key id of a genuine, unexpired token; None otherwise."""
    key_id, _, rest = token.partition(".")
    expiry, _, signature = rest.partition(".")
    if not (key_id and expiry.isdigit() and signature):
        return None
    if not hmac.compare_digest(signature, _sign(secret, f"{key_id}.{expiry}")):
        return None
    return key_id if int(expiry) > now else None


def csrf_token(secret: bytes, session: ReviewSession, purpose: str) -> str:
    return _sign(secret, f"csrf|{session.token}|{purpose}")


def _reviewer(request: Request, key_id: str) -> Caller | None:
    """The key behind a session, if it is still configured with the reviewer role."""
    keys: dict[str, Caller] = request.app.state.api_keys
    for caller in keys.values():
        if caller.key_id == key_id and caller.has("reviewer"):
            return caller
    return None


def current_session(request: Request) -> ReviewSession:
    token = request.cookies.get(COOKIE, "")
    key_id = verify_token(_secret(request), token, time.time())
    if key_id is None or _reviewer(request, key_id) is None:
        raise LoginRequired()
    return ReviewSession(key_id=key_id, token=token)


SessionDep = Annotated[ReviewSession, Depends(current_session)]


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded form body as {name: last value}; anything else is refused."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise Problem(415, "unsupported_media_type", "Unsupported media type", "send the page's form")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Problem(413, "payload_too_large", "Payload too large", "the form is too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise Problem(422, "validation", "Invalid request", "the form is not UTF-8") from exc
    return {name: values[-1] for name, values in parsed.items()}


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def _check_csrf(request: Request, session: ReviewSession, purpose: str, form: dict[str, str]) -> None:
    expected = csrf_token(_secret(request), session, purpose)
    if not hmac.compare_digest(form.get("csrf_token", ""), expected):
        raise Problem(
            403,
            "csrf",
            "Forbidden",
            "the form's CSRF token is missing or wrong; reload the page and try again",
            [{"field": "csrf_token", "message": "missing or does not match this session and item"}],
        )


# --- rendering -------------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["phone"] = mask_phone
    return env


def _render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def mask_phone(phone: str) -> str:
    """'+14155550123' -> '+•••••••0123': only the last four digits are shown."""
    digits = sum(ch.isdigit() for ch in phone)
    shown, out = 0, []
    for ch in phone:
        if ch.isdigit():
            shown += 1
            out.append(ch if shown > digits - 4 else "•")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


def is_placeholder(feature: str) -> bool:
    return bool(_PLACEHOLDER.search(feature))


def highlight(text: str, features: list[str]) -> list[Segment]:
    """Split ``text`` so each occurrence of a feature (case-insensitive, whole words) is marked.

    Features holding a placeholder such as ``<URL>`` stand for text the normalizer
    replaced, so they match nothing here; callers list them separately.
    """
    words = sorted({f for f in features if f.strip() and not is_placeholder(f)}, key=len, reverse=True)
    if not words:
        return [Segment(text, False)] if text else []
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in word.split()) for word in words)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    segments, at = [], 0
    for match in pattern.finditer(text):
        if match.start() > at:
            segments.append(Segment(text[at : match.start()], False))
        segments.append(Segment(match.group(0), True))
        at = match.end()
    if at < len(text):
        segments.append(Segment(text[at:], False))
    return segments


# --- login -----------------------------------------------------------------------------


@router.get("/login")
def login_form() -> HTMLResponse:
    return _render("login.html", error=None)


@router.post("/login")
def login(request: Request, form: FormDep) -> Response:
    key = form.get("key", "").strip()
    keys: dict[str, Caller] = request.app.state.api_keys
    caller = keys.get(hashlib.sha256(key.encode()).hexdigest()) if key else None
    if caller is None:
        return _render("login.html", status=401, error="That key is not known. Check it and try again.")
    if not caller.has("reviewer"):
        return _render("login.html", status=403, error="That key cannot review decisions.")
    response = RedirectResponse("/review/", status_code=303)
    response.set_cookie(
        COOKIE,
        issue_token(_secret(request), caller.key_id, time.time()),
        max_age=SESSION_SECONDS,
        path="/review",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, form: FormDep) -> Response:
    _check_csrf(request, session, "logout", form)
    response = RedirectResponse("/review/login", status_code=303)
    response.delete_cookie(COOKIE, path="/review", httponly=True, samesite="strict")
    return response


def _layout(request: Request, session: SessionDep) -> dict[str, Any]:
    return {"reviewer": session.key_id, "logout_csrf": csrf_token(_secret(request), session, "logout")}


# --- queue -----------------------------------------------------------------------------


def _since(value: str) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise Problem(
            422,
            "validation",
            "Invalid request",
            "invalid field(s): since",
            [{"field": "since", "message": "expected a date as YYYY-MM-DD"}],
        ) from exc
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _queue_page(
    services: ServicesDep,
    decisions: tuple[Outcome, ...],
    reviewed: bool | None,
    since: datetime | None,
    cursor: str | None,
) -> tuple[list[StoredDecision], str | None]:
    """Newest first across ``decisions``; the cursor marks the last row shown."""
    found: list[StoredDecision] = []
    more = False
    with services.session() as session:
        for outcome in decisions:
            page = repository.list_decisions(
                session=session,
                decision=outcome,
                reviewed=reviewed,
                since=since,
                limit=PAGE_SIZE,
                cursor=cursor,
            )
            found.extend(page.items)
            more = more or page.next_cursor is not None
    found.sort(key=lambda d: (d.created_at, d.decision_id), reverse=True)
    shown = found[:PAGE_SIZE]
    more = more or len(found) > PAGE_SIZE
    next_cursor = encode_cursor(shown[-1].created_at, shown[-1].decision_id) if more and shown else None
    return shown, next_cursor


@router.get("/")
def queue(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    decision: str = "",
    reviewed: str = "no",
    since: str = "",
    cursor: str = "",
) -> HTMLResponse:
    if decision not in ("", *QUEUE_DECISIONS):
        raise Problem(
            422,
            "validation",
            "Invalid request",
            "invalid field(s): decision",
            [{"field": "decision", "message": "expected block, review or empty for both"}],
        )
    if reviewed not in REVIEWED:
        raise Problem(
            422,
            "validation",
            "Invalid request",
            "invalid field(s): reviewed",
            [{"field": "reviewed", "message": "expected yes, no or all"}],
        )
    outcomes = (cast(Outcome, decision),) if decision else QUEUE_DECISIONS
    items, next_cursor = _queue_page(services, outcomes, REVIEWED[reviewed], _since(since), cursor or None)
    filters = {"decision": decision, "reviewed": reviewed, "since": since}
    next_url = "/review/?" + urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    return _render(
        "queue.html",
        **_layout(request, session),
        items=items,
        filters=filters,
        next_url=next_url,
        first_url="/review/?" + urlencode(filters) if cursor else None,
    )


# --- detail and verdict ----------------------------------------------------------------


def _consent(services: ServicesDep, stored: StoredDecision) -> ConsentRecord | None:
    consent_id = stored.decision.consent_id
    if consent_id is None:
        return None
    with services.session() as session:
        records = repository.list_consents(
            session=session, phone=stored.request.to, sender=stored.request.sender
        )
    return next((r for r in records if r.consent_id == consent_id), None)


@router.get("/{decision_id}")
def detail(
    request: Request, decision_id: str, services: ServicesDep, session: SessionDep, saved: str = ""
) -> HTMLResponse:
    with services.session() as db:
        stored = repository.get_decision(session=db, decision_id=decision_id)
    features = [f.feature for f in stored.explanation or ()]
    return _render(
        "detail.html",
        **_layout(request, session),
        item=stored,
        segments=highlight(stored.request.text, features),
        explanation=list(stored.explanation or ()),
        placeholders=[f for f in features if is_placeholder(f)],
        consent=_consent(services, stored),
        verdicts=VERDICTS,
        message_types=MESSAGE_TYPES,
        csrf=csrf_token(_secret(request), session, decision_id),
        saved=saved == "1",
    )


def _verdict_problem(field: str, message: str) -> Problem:
    return Problem(
        422,
        "validation",
        "Invalid request",
        f"invalid field(s): {field}",
        [{"field": field, "message": message}],
    )


@router.post("/{decision_id}/verdict")
def verdict(
    request: Request, decision_id: str, services: ServicesDep, session: SessionDep, form: FormDep
) -> Response:
    _check_csrf(request, session, decision_id, form)
    chosen = form.get("verdict", "")
    if chosen not in VERDICTS:
        raise _verdict_problem("verdict", f"expected one of {', '.join(VERDICTS)}")
    correct_type = form.get("correct_type", "") or None
    if correct_type is not None and correct_type not in MESSAGE_TYPES:
        raise _verdict_problem("correct_type", f"expected none or one of {', '.join(MESSAGE_TYPES)}")
    note = form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        raise _verdict_problem("note", f"at most {MAX_NOTE} characters")
    with services.session() as db:
        repository.add_review(
            session=db,
            decision_id=decision_id,
            verdict=chosen,
            correct_type=correct_type,
            note=note,
            reviewer=f"reviewer:{session.key_id}",
        )
    return RedirectResponse(f"/review/{quote(decision_id, safe='')}?saved=1#verdict", status_code=303)
