"""The consent rules as a table of scenarios: the specification a reviewer can read.

Each row is one situation (who the recipient is, what is on file, what is being sent,
and when) and the decision the rules must reach. ``code`` names the rule the row is
about; ``side`` says whether that rule fails ("fails") or holds ("passes") in it.

Every input lives in the four engine records (classification, request, snapshot, now),
so the same table can be replayed through the database store. Times are UTC; the
comment beside each instant gives the recipient's local time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from serve.consent.records import (
    CheckRequest,
    Classification,
    ConsentKind,
    ConsentMethod,
    ConsentRecord,
    ConsentSnapshot,
    InboundAction,
    InboundRecord,
    MessageType,
    OptOutState,
    Outcome,
    SenderProfile,
)

# ------------------------------------------------------------------ the cast

SENDER = "acme"
ACME = SenderProfile(
    sender=SENDER,
    display_name="Acme",
    help_text="Acme Outdoor support: help@acme.example or 1-800-555-0100.",
)
MODEL = "sendgate-clf/test"

# Recipients, one per jurisdiction the policy knows, plus the awkward ones.
US_CA = "+14155550123"  # San Francisco: federal rules only, America/Los_Angeles
US_NY = "+12125550123"  # New York City: federal rules only, America/New_York
US_FL = "+13055550123"  # Miami, America/New_York
US_OK = "+14055550123"  # Oklahoma City, America/Chicago
US_MD = "+13015550123"  # Maryland, America/New_York
US_WA = "+12065550123"  # Seattle, America/Los_Angeles
US_MA = "+16175550123"  # Boston, America/New_York
US_CT = "+12035550123"  # Connecticut, America/New_York
US_TX = "+12145550123"  # Dallas, America/Chicago
US_NJ = "+12015550123"  # New Jersey, America/New_York
US_AK = "+19075550123"  # Alaska: America/Anchorage and America/Adak
US_TOLL_FREE = "+18005550123"  # every NANP zone, Guam to Pago Pago
CANADA = "+14165550123"  # Toronto
UK = "+447400123456"
FRANCE = "+33612345678"
GERMANY = "+4915112345678"
INDIA = "+919876543210"  # Asia/Kolkata
BRAZIL = "+5511912345678"  # no policy: strict default
SWITZERLAND = "+41791234567"  # no policy: strict default, Europe/Zurich
NOWHERE = "+999123456"  # no country at all

# Wednesday 25 November 2026, 18:00 UTC: 10:00 in San Francisco, 13:00 in New York,
# 12:00 in Dallas, 19:00 in Paris, 23:30 in India.
T = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
T_INDIA = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)  # 12:00 IST

PROMO_TEXT = "Acme: 20% off all tents this weekend! Reply STOP to opt out."
TRANSACTIONAL_TEXT = "Acme: your order 12345 has shipped. Track it at https://ex.co/t/1"
CHAT_TEXT = "Hi! Yes, the Mission store opens at 9 tomorrow."
CONFIRMATION_TEXT = "Acme: You are unsubscribed and will receive no more messages from us."


def utc(text: str) -> datetime:
    """An instant written as ISO 8601 with its offset, e.g. "2026-11-25T18:00Z"."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ------------------------------------------------------------ classifications


def classified(
    promotional: float, transactional: float, conversational: float, label: MessageType | None = None
) -> Classification:
    """What the model said; the label defaults to the most probable type."""
    probabilities = {
        "promotional": promotional,
        "transactional": transactional,
        "conversational": conversational,
    }
    top: MessageType = label or max(
        ("promotional", "transactional", "conversational"), key=lambda t: probabilities[t]
    )
    return Classification(top, probabilities, tau_promo=0.35, tau_conf=0.6, model_version=MODEL)


def promo(p: float = 0.92) -> Classification:
    return classified(p, (1 - p) / 2, (1 - p) / 2)


def transactional(p: float = 0.93, p_promo: float = 0.03) -> Classification:
    return classified(p_promo, p, 1 - p - p_promo)


def conversational(p: float = 0.9, p_promo: float = 0.02) -> Classification:
    return classified(p_promo, 1 - p - p_promo, p)


# ------------------------------------------------------------------- requests


def send(
    text: str,
    to: str = US_CA,
    at: datetime = T,
    *,
    declared: MessageType | None = None,
    ref: str | None = None,
    reply_to: str | None = None,
) -> CheckRequest:
    return CheckRequest(
        text=text,
        to=to,
        sender=SENDER,
        send_at=at,
        declared_type=declared,
        transaction_ref=ref,
        in_reply_to=reply_to,
    )


# ------------------------------------------------------------- what is on file


def consent(
    phone: str,
    kind: ConsentKind,
    *,
    consent_id: str = "con_1",
    method: ConsentMethod = "web_form",
    evidence: str | None = "web form v3, checkbox text shown, IP 203.0.113.7",
    captured: datetime = T - timedelta(days=30),
    scope: str | None = None,
    expires: datetime | None = None,
    revoked: datetime | None = None,
    sender: str = SENDER,
) -> ConsentRecord:
    return ConsentRecord(
        consent_id=consent_id,
        sender=sender,
        phone=phone,
        kind=kind,
        method=method,
        evidence=evidence,
        captured_at=captured,
        scope=scope,
        expires_at=expires,
        revoked_at=revoked,
        revoked_by="inbound:inb_stop" if revoked else None,
    )


def written(phone: str, **overrides: object) -> ConsentRecord:
    """Express written consent with method and evidence: what US marketing needs."""
    return consent(phone, "express_written", **overrides)  # type: ignore[arg-type]


def express(phone: str, **overrides: object) -> ConsentRecord:
    return consent(phone, "express", **overrides)  # type: ignore[arg-type]


def inbound(
    phone: str,
    *,
    inbound_id: str = "inb_1",
    text: str = "Do you have the blue tent in stock?",
    received: datetime = T - timedelta(hours=2),
    action: InboundAction = "conversation_opened",
    needs_review: bool = False,
    sender: str = SENDER,
) -> InboundRecord:
    return InboundRecord(
        inbound_id=inbound_id,
        sender=sender,
        phone=phone,
        text=text,
        received_at=received,
        action=action,
        needs_review=needs_review,
    )


def opted_out(
    at: datetime, *, inbound_id: str | None = "inb_stop", confirmed: datetime | None = None
) -> OptOutState:
    return OptOutState(opted_out_at=at, inbound_id=inbound_id, confirmation_sent_at=confirmed)


def on_file(
    phone: str,
    *consents: ConsentRecord,
    inbound: tuple[InboundRecord, ...] = (),
    opt_out: OptOutState | None = None,
    sends: tuple[datetime, ...] = (),
    profile: SenderProfile = ACME,
) -> ConsentSnapshot:
    return ConsentSnapshot(
        sender=profile,
        phone=phone,
        consents=consents,
        inbound=tuple(sorted(inbound, key=lambda i: i.received_at, reverse=True)),
        opt_out=opt_out,
        recent_promotional_sends=sends,
    )


# ------------------------------------------------------------------- the table

Side = Literal["fails", "passes"]


@dataclass(frozen=True)
class Scenario:
    name: str
    code: str  # the rule this row is about
    side: Side  # whether that rule fails or holds here
    classification: Classification
    request: CheckRequest
    snapshot: ConsentSnapshot
    now: datetime
    expected_decision: Outcome
    expected_codes_present: tuple[str, ...]
    expected_codes_absent: tuple[str, ...]
    expected_not_before: datetime | None = None
    note: str = ""


def row(
    name: str,
    code: str,
    side: Side,
    classification: Classification,
    request: CheckRequest,
    snapshot: ConsentSnapshot,
    expected: Outcome,
    present: tuple[str, ...] = (),
    absent: tuple[str, ...] = (),
    *,
    now: datetime | None = None,
    not_before: datetime | None = None,
    note: str = "",
) -> Scenario:
    """A scenario whose clock is the send time unless ``now`` says otherwise."""
    return Scenario(
        name=name,
        code=code,
        side=side,
        classification=classification,
        request=request,
        snapshot=snapshot,
        now=now or request.send_at,
        expected_decision=expected,
        expected_codes_present=present,
        expected_codes_absent=absent,
        expected_not_before=not_before,
        note=note,
    )


def _in(phone: str, at: datetime = T, text: str = PROMO_TEXT) -> CheckRequest:
    return send(text, phone, at)


OK_PROMO = written(US_CA)
STOP_AT = T - timedelta(minutes=2)

SCENARIOS: list[Scenario] = [
    # ---------------------------------------------------------- 1. treatment
    row(
        "uncertain-promotional-needs-written-consent",
        "UNCERTAIN_PROMOTIONAL", "fails",
        classified(0.36, 0.62, 0.02),
        send("Acme: your table is ready. Show this text for a free dessert!", US_CA),
        on_file(US_CA, express(US_CA)),
        "block", ("UNCERTAIN_PROMOTIONAL", "PROMO_NO_WRITTEN_CONSENT"), ("TRANSACTIONAL_CONSENT_OK",),
        note="P(promotional) 0.36 >= tau_promo 0.35: treated as promotional although labelled transactional.",
    ),
    row(
        "uncertain-promotional-allowed-with-written-consent",
        "UNCERTAIN_PROMOTIONAL", "fails",
        classified(0.36, 0.62, 0.02),
        send("Acme: your table is ready. Show this text for a free dessert! Reply STOP to opt out", US_CA),
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK", "UNCERTAIN_PROMOTIONAL"), (),
        note="The treatment note travels with the allow so a reviewer sees why promotional rules ran.",
    ),
    row(
        "clear-transactional-stays-transactional",
        "UNCERTAIN_PROMOTIONAL", "passes",
        transactional(),
        send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345"),
        on_file(US_CA, express(US_CA, scope="order:12345", method="checkbox")),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("UNCERTAIN_PROMOTIONAL",),
    ),
    row(
        "declared-transactional-read-as-promotional",
        "DECLARED_TYPE_MISMATCH", "fails",
        promo(0.8),
        send("Acme: order 12345 shipped! Use SAVE20 for 20% off your next order", US_CA,
             declared="transactional", ref="order:12345"),
        on_file(US_CA, express(US_CA, scope="order:12345")),
        "block", ("DECLARED_TYPE_MISMATCH", "PROMO_NO_WRITTEN_CONSENT"), ("TRANSACTIONAL_CONSENT_OK",),
        note="A declaration can only make the treatment stricter (CTIA, TRAI).",
    ),
    row(
        "declared-conversational-cannot-loosen-transactional",
        "DECLARED_TYPE_MISMATCH", "fails",
        transactional(),
        send(TRANSACTIONAL_TEXT, US_CA, declared="conversational"),
        on_file(US_CA, inbound=(inbound(US_CA),)),
        "block", ("DECLARED_TYPE_MISMATCH", "TRANSACTIONAL_NO_CONSENT"), ("CONVERSATION_OPEN",),
    ),
    row(
        "declared-promotional-is-promotional",
        "DECLARED_TYPE_MISMATCH", "passes",
        transactional(),
        send("Acme: thanks for your order! Reply STOP to opt out", US_CA, declared="promotional"),
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK",), ("DECLARED_TYPE_MISMATCH",),
        note="Declaring promotional is always honoured: promotional rules run on a transactional label.",
    ),
    row(
        "low-confidence-promotion-not-covered",
        "LOW_CONFIDENCE", "fails",
        classified(0.30, 0.45, 0.25),
        send("Acme: your points balance is 1,200. See what they buy you", US_CA),
        on_file(US_CA, express(US_CA)),
        "review", ("LOW_CONFIDENCE",), ("TRANSACTIONAL_NO_CONSENT", "PROMO_NO_WRITTEN_CONSENT"),
        note="Top probability 0.45 < 0.6; promotional is plausible (0.30 >= 0.15) and not covered.",
    ),
    row(
        "low-confidence-but-covered-by-written-consent",
        "LOW_CONFIDENCE", "passes",
        classified(0.30, 0.45, 0.25),
        send("Acme: your points balance is 1,200. See what they buy you", US_CA),
        on_file(US_CA, OK_PROMO),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("LOW_CONFIDENCE",),
    ),
    # ------------------------------------------------------------ 3. opt-out
    row(
        "opted-out-blocks-everything",
        "OPTED_OUT", "fails",
        transactional(),
        send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345"),
        on_file(US_CA, express(US_CA, revoked=T - timedelta(days=2)),
                opt_out=opted_out(T - timedelta(days=2))),
        "block", ("OPTED_OUT",), ("OPT_OUT_CONFIRMATION",),
    ),
    row(
        "opted-out-blocks-even-with-fresh-written-consent",
        "OPTED_OUT", "fails",
        promo(),
        _in(US_CA),
        on_file(US_CA, written(US_CA, captured=T - timedelta(hours=1)),
                opt_out=opted_out(T - timedelta(days=1))),
        "block", ("OPTED_OUT",), ("PROMO_CONSENT_OK",),
        note="Only an opt-in (which clears the opt-out) lets sends resume.",
    ),
    row(
        "opted-back-in-sends-resume",
        "OPTED_OUT", "passes",
        transactional(),
        send(TRANSACTIONAL_TEXT, US_CA),
        on_file(US_CA, express(US_CA, consent_id="con_restored", captured=T - timedelta(hours=3))),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("OPTED_OUT",),
    ),
    row(
        "single-opt-out-confirmation-allowed",
        "OPT_OUT_CONFIRMATION", "passes",
        conversational(),
        send(CONFIRMATION_TEXT, US_CA),
        on_file(US_CA, express(US_CA, revoked=STOP_AT), opt_out=opted_out(STOP_AT)),
        "allow", ("OPT_OUT_CONFIRMATION",), ("OPTED_OUT",),
        note="47 CFR 64.1200(a)(12): one confirmation within 5 minutes, not promotional.",
    ),
    row(
        "second-opt-out-confirmation-blocked",
        "OPT_OUT_CONFIRMATION", "fails",
        conversational(),
        send(CONFIRMATION_TEXT, US_CA),
        on_file(US_CA, opt_out=opted_out(STOP_AT, confirmed=STOP_AT + timedelta(seconds=5))),
        "block", ("OPTED_OUT",), ("OPT_OUT_CONFIRMATION",),
    ),
    row(
        "opt-out-confirmation-after-5-minutes-blocked",
        "OPT_OUT_CONFIRMATION", "fails",
        conversational(),
        send(CONFIRMATION_TEXT, US_CA),
        on_file(US_CA, opt_out=opted_out(T - timedelta(minutes=5, seconds=1))),
        "block", ("OPTED_OUT",), ("OPT_OUT_CONFIRMATION",),
    ),
    row(
        "promotional-opt-out-confirmation-blocked",
        "OPT_OUT_CONFIRMATION", "fails",
        promo(),
        send("Acme: You're unsubscribed. Before you go: 30% off with code BYE30!", US_CA),
        on_file(US_CA, opt_out=opted_out(STOP_AT)),
        "block", ("OPTED_OUT",), ("OPT_OUT_CONFIRMATION",),
    ),
    # ---------------------------------------------------- 2. consent by place
    row(
        "us-promo-with-express-consent-only",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, express(US_CA)),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), ("PROMO_CONSENT_OK",),
    ),
    row(
        "us-promo-written-consent-without-evidence",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, written(US_CA, evidence=None)),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), (),
    ),
    row(
        "us-promo-written-consent-scoped-to-an-order",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, written(US_CA, scope="order:12345")),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), (),
        note="Consent given about one order is not consent to marketing.",
    ),
    row(
        "us-promo-purchase-is-not-written-consent",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, written(US_CA, method="purchase")),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), (),
    ),
    row(
        "us-promo-consent-for-another-sender",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, written(US_CA, sender="globex")),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), (),
    ),
    row(
        "us-promo-revoked-written-consent",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, written(US_CA, revoked=T - timedelta(days=1))),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), ("CONSENT_EXPIRED",),
    ),
    row(
        "us-promo-consent-captured-after-the-send",
        "PROMO_NO_WRITTEN_CONSENT", "fails",
        promo(), _in(US_CA),
        on_file(US_CA, written(US_CA, captured=T + timedelta(minutes=1))),
        "block", ("PROMO_NO_WRITTEN_CONSENT",), (),
    ),
    row(
        "us-promo-written-consent-allowed",
        "PROMO_NO_WRITTEN_CONSENT", "passes",
        promo(), _in(US_CA),
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_NO_WRITTEN_CONSENT",),
    ),
    row(
        "canada-promo-without-consent",
        "PROMO_NO_CONSENT_CA", "fails",
        promo(), _in(CANADA),
        on_file(CANADA),
        "block", ("PROMO_NO_CONSENT_CA",), (),
    ),
    row(
        "canada-promo-express-consent-allowed",
        "PROMO_NO_CONSENT_CA", "passes",
        promo(), _in(CANADA),
        on_file(CANADA, express(CANADA, evidence=None, method="verbal")),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_NO_CONSENT_CA",),
    ),
    row(
        "canada-promo-purchase-18-months-ago-allowed",
        "PROMO_NO_CONSENT_CA", "passes",
        promo(), _in(CANADA),
        on_file(CANADA, express(CANADA, method="purchase", captured=utc("2025-05-20T12:00Z"))),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_NO_CONSENT_CA",),
        note="CASL s.10(9): implied consent from a purchase lasts 2 years.",
    ),
    row(
        "canada-promo-inquiry-5-months-ago-allowed",
        "PROMO_NO_CONSENT_CA", "passes",
        promo(), _in(CANADA),
        on_file(CANADA, express(CANADA, method="inquiry", captured=utc("2026-06-26T12:00Z"))),
        "allow", ("PROMO_CONSENT_OK",), (),
    ),
    row(
        "canada-promo-purchase-25-months-ago-expired",
        "CONSENT_EXPIRED", "fails",
        promo(), _in(CANADA),
        on_file(CANADA, express(CANADA, method="purchase", captured=utc("2024-10-20T12:00Z"))),
        "block", ("PROMO_NO_CONSENT_CA", "CONSENT_EXPIRED"), (),
    ),
    row(
        "canada-promo-inquiry-7-months-ago-expired",
        "CONSENT_EXPIRED", "fails",
        promo(), _in(CANADA),
        on_file(CANADA, express(CANADA, method="inquiry", captured=utc("2026-04-20T12:00Z"))),
        "block", ("PROMO_NO_CONSENT_CA", "CONSENT_EXPIRED"), (),
    ),
    row(
        "eu-promo-express-is-not-a-clear-affirmative-act",
        "PROMO_NO_CONSENT_EU_UK", "fails",
        promo(), _in(FRANCE, text="Acme : -20 % sur les tentes ce week-end ! STOP au 36111"),
        on_file(FRANCE, express(FRANCE)),
        "block", ("PROMO_NO_CONSENT_EU_UK",), (),
    ),
    row(
        "eu-promo-soft-opt-in-allowed",
        "PROMO_NO_CONSENT_EU_UK", "passes",
        promo(), _in(GERMANY, text="Acme: 20% Rabatt auf Zelte. Reply STOP to opt out"),
        on_file(GERMANY, express(GERMANY, method="soft_opt_in", evidence="order 5521, refusal offered")),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_NO_CONSENT_EU_UK",),
    ),
    row(
        "eu-promo-french-opt-out-wording-allowed",
        "PROMO_NO_CONSENT_EU_UK", "passes",
        promo(), _in(FRANCE, text="Acme : -20 % sur les tentes ce week-end ! STOP au 36111"),
        on_file(FRANCE, written(FRANCE)),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_MISSING_OPT_OUT",),
    ),
    row(
        "uk-promo-without-consent",
        "PROMO_NO_CONSENT_EU_UK", "fails",
        promo(), _in(UK),
        on_file(UK),
        "block", ("PROMO_NO_CONSENT_EU_UK",), (),
    ),
    row(
        "uk-promo-written-consent-allowed",
        "PROMO_NO_CONSENT_EU_UK", "passes",
        promo(), _in(UK),
        on_file(UK, written(UK)),
        "allow", ("PROMO_CONSENT_OK",), (),
    ),
    row(
        "india-promo-express-is-not-digital-written-consent",
        "PROMO_NO_CONSENT_IN", "fails",
        promo(), _in(INDIA, T_INDIA),
        on_file(INDIA, express(INDIA)),
        "block", ("PROMO_NO_CONSENT_IN",), ("QUIET_HOURS",),
    ),
    row(
        "india-promo-written-consent-at-noon-allowed",
        "PROMO_NO_CONSENT_IN", "passes",
        promo(), _in(INDIA, T_INDIA),
        on_file(INDIA, written(INDIA)),
        "allow", ("PROMO_CONSENT_OK",), (),
    ),
    row(
        "brazil-has-no-policy-so-express-is-not-enough",
        "UNKNOWN_JURISDICTION", "fails",
        promo(), _in(BRAZIL),
        on_file(BRAZIL, express(BRAZIL)),
        "block", ("UNKNOWN_JURISDICTION",), (),
    ),
    row(
        "brazil-promo-written-consent-allowed",
        "UNKNOWN_JURISDICTION", "passes",
        promo(), _in(BRAZIL),
        on_file(BRAZIL, written(BRAZIL)),
        "allow", ("PROMO_CONSENT_OK",), ("UNKNOWN_JURISDICTION",),
    ),
    row(
        "number-without-a-country-fails-closed-on-time",
        "QUIET_HOURS", "fails",
        promo(), _in(NOWHERE),
        on_file(NOWHERE, written(NOWHERE)),
        "block", ("QUIET_HOURS",), ("PROMO_CONSENT_OK",),
        note="No time zone can be known, so promotional hours cannot be checked: block, no not_before.",
    ),
    row(
        "transactional-without-consent",
        "TRANSACTIONAL_NO_CONSENT", "fails",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345"),
        on_file(US_CA),
        "block", ("TRANSACTIONAL_NO_CONSENT",), ("TRANSACTIONAL_OUT_OF_SCOPE",),
    ),
    row(
        "transactional-program-wide-consent-allowed",
        "TRANSACTIONAL_NO_CONSENT", "passes",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345"),
        on_file(US_CA, express(US_CA, method="checkbox")),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("TRANSACTIONAL_NO_CONSENT",),
    ),
    row(
        "transactional-consent-for-another-order",
        "TRANSACTIONAL_OUT_OF_SCOPE", "fails",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345"),
        on_file(US_CA, express(US_CA, scope="order:999")),
        "block", ("TRANSACTIONAL_NO_CONSENT", "TRANSACTIONAL_OUT_OF_SCOPE"), (),
        note="Van Patten: consent covers the same subject matter; the reason names order:999.",
    ),
    row(
        "transactional-scoped-consent-without-a-reference",
        "TRANSACTIONAL_OUT_OF_SCOPE", "fails",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA),
        on_file(US_CA, express(US_CA, scope="order:12345")),
        "block", ("TRANSACTIONAL_OUT_OF_SCOPE",), (),
    ),
    row(
        "transactional-consent-for-this-order-allowed",
        "TRANSACTIONAL_OUT_OF_SCOPE", "passes",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345"),
        on_file(US_CA, express(US_CA, scope="order:12345", method="checkbox",
                               captured=utc("2026-11-20T16:00Z"))),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("TRANSACTIONAL_OUT_OF_SCOPE",),
    ),
    row(
        "transactional-consent-expired",
        "CONSENT_EXPIRED", "fails",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA),
        on_file(US_CA, express(US_CA, expires=T - timedelta(days=1))),
        "block", ("TRANSACTIONAL_NO_CONSENT", "CONSENT_EXPIRED"), (),
    ),
    row(
        "expired-consent-beside-an-active-one",
        "CONSENT_EXPIRED", "passes",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA),
        on_file(US_CA, express(US_CA, consent_id="con_old", expires=T - timedelta(days=1)),
                express(US_CA, consent_id="con_new")),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("CONSENT_EXPIRED",),
    ),
    row(
        "conversational-without-any-thread",
        "CONVERSATIONAL_NO_THREAD", "fails",
        conversational(), send(CHAT_TEXT, US_CA),
        on_file(US_CA),
        "block", ("CONVERSATIONAL_NO_THREAD",), (),
    ),
    row(
        "conversational-window-closed-after-24-hours",
        "CONVERSATIONAL_NO_THREAD", "fails",
        conversational(), send(CHAT_TEXT, US_CA),
        on_file(US_CA, inbound=(inbound(US_CA, received=T - timedelta(hours=24, minutes=1)),)),
        "block", ("CONVERSATIONAL_NO_THREAD",), (),
    ),
    row(
        "conversational-reply-to-an-unknown-inbound",
        "CONVERSATIONAL_NO_THREAD", "fails",
        conversational(), send(CHAT_TEXT, US_CA, reply_to="inb_404"),
        on_file(US_CA, inbound=(inbound(US_CA),)),
        "block", ("CONVERSATIONAL_NO_THREAD",), (),
    ),
    row(
        "conversational-reply-to-another-numbers-inbound",
        "CONVERSATIONAL_NO_THREAD", "fails",
        conversational(), send(CHAT_TEXT, US_CA, reply_to="inb_other"),
        on_file(US_CA, inbound=(inbound(US_NY, inbound_id="inb_other"),)),
        "block", ("CONVERSATIONAL_NO_THREAD",), (),
    ),
    row(
        "conversational-window-closed-by-an-opt-out",
        "CONVERSATIONAL_NO_THREAD", "fails",
        conversational(), send(CHAT_TEXT, US_CA),
        on_file(US_CA, inbound=(
            inbound(US_CA, received=T - timedelta(hours=3)),
            inbound(US_CA, inbound_id="inb_stop", text="STOP", action="opted_out",
                    received=T - timedelta(hours=2)),
        ), opt_out=opted_out(T - timedelta(hours=2))),
        "block", ("CONVERSATIONAL_NO_THREAD", "OPTED_OUT"), ("CONVERSATION_OPEN",),
        note="A message sent before an opt-out opens no reply window after it.",
    ),
    row(
        "conversational-reply-in-open-window-allowed",
        "CONVERSATIONAL_NO_THREAD", "passes",
        conversational(), send(CHAT_TEXT, US_CA, reply_to="inb_1"),
        on_file(US_CA, inbound=(inbound(US_CA),)),
        "allow", ("CONVERSATION_OPEN",), ("CONVERSATIONAL_NO_THREAD",),
    ),
    row(
        "conversational-with-express-consent-allowed",
        "CONVERSATIONAL_NO_THREAD", "passes",
        conversational(), send(CHAT_TEXT, US_CA),
        on_file(US_CA, express(US_CA)),
        "allow", ("CONVERSATIONAL_CONSENT_OK",), (),
    ),
    row(
        "reply-to-a-message-with-a-buried-stop",
        "INBOUND_NEEDS_REVIEW", "fails",
        conversational(), send("Sure, which bill do you mean?", US_CA, reply_to="inb_1"),
        on_file(US_CA, inbound=(inbound(US_CA, text="Count me in! STOP this bill", needs_review=True),)),
        "review", ("INBOUND_NEEDS_REVIEW",), (),
    ),
    row(
        "reply-to-an-unflagged-inbound",
        "INBOUND_NEEDS_REVIEW", "passes",
        conversational(), send(CHAT_TEXT, US_CA, reply_to="inb_1"),
        on_file(US_CA, inbound=(inbound(US_CA),)),
        "allow", ("CONVERSATION_OPEN",), ("INBOUND_NEEDS_REVIEW",),
    ),
    row(
        "answering-a-question-with-marketing",
        "REPLY_BEYOND_QUESTION", "fails",
        promo(), send("Acme: yes! And tents are 20% off this weekend. Reply STOP to opt out", US_CA,
                      reply_to="inb_1"),
        on_file(US_CA, inbound=(inbound(US_CA),)),
        "block", ("REPLY_BEYOND_QUESTION", "PROMO_NO_WRITTEN_CONSENT"), (),
        note="Implied consent covers answering, not marketing.",
    ),
    row(
        "transactional-reply-with-scoped-consent",
        "REPLY_BEYOND_QUESTION", "passes",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA, ref="order:12345", reply_to="inb_1"),
        on_file(US_CA, express(US_CA, scope="order:12345"),
                inbound=(inbound(US_CA, text="Where is my order 12345?"),)),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("REPLY_BEYOND_QUESTION",),
    ),
    row(
        "canada-before-casl-took-effect",
        "NO_CONSENT_RULE_IN_FORCE", "fails",
        promo(), _in(CANADA, utc("2014-01-15T18:00Z")),
        on_file(CANADA, express(CANADA, captured=utc("2013-12-01T12:00Z"))),
        "review", ("NO_CONSENT_RULE_IN_FORCE",), (),
        note="Fail closed: with no consent rule in force there is nothing to rely on.",
    ),
    row(
        "canada-after-casl-took-effect",
        "NO_CONSENT_RULE_IN_FORCE", "passes",
        promo(), _in(CANADA),
        on_file(CANADA, express(CANADA)),
        "allow", ("PROMO_CONSENT_OK",), ("NO_CONSENT_RULE_IN_FORCE",),
    ),
    # -------------------------------------------------------------- 4. time
    row(
        "us-federal-quiet-hours-after-9pm",
        "QUIET_HOURS", "fails",
        promo(), _in(US_CA, utc("2026-11-26T05:30Z")),  # Wed 21:30 PST
        on_file(US_CA, OK_PROMO),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T16:00Z"),  # Thu 08:00 PST
    ),
    row(
        "us-federal-quiet-hours-before-8am",
        "QUIET_HOURS", "fails",
        promo(), _in(US_CA, utc("2026-11-25T15:59Z")),  # Wed 07:59 PST
        on_file(US_CA, OK_PROMO),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-25T16:00Z"),
    ),
    row(
        "us-federal-scheduled-send-judged-at-its-send-time",
        "QUIET_HOURS", "fails",
        promo(), _in(US_CA, utc("2026-11-26T06:00Z")),  # Wed 22:00 PST, asked at 10:00
        on_file(US_CA, OK_PROMO),
        "block", ("QUIET_HOURS",), (),
        now=T, not_before=utc("2026-11-26T16:00Z"),
    ),
    row(
        "us-federal-8pm-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(US_CA, utc("2026-11-26T04:59Z")),  # Wed 20:59 PST
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "transactional-at-night-is-not-held",
        "QUIET_HOURS", "passes",
        transactional(), send(TRANSACTIONAL_TEXT, US_CA, utc("2026-11-26T07:00Z")),  # 23:00 PST
        on_file(US_CA, express(US_CA)),
        "allow", ("TRANSACTIONAL_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "florida-8pm-is-too-late",
        "QUIET_HOURS", "fails",
        promo(), _in(US_FL, utc("2026-11-26T01:30Z")),  # Wed 20:30 EST
        on_file(US_FL, written(US_FL)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T13:00Z"),  # Thu 08:00 EST
    ),
    row(
        "florida-7-59pm-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(US_FL, utc("2026-11-26T00:59Z")),  # Wed 19:59 EST
        on_file(US_FL, written(US_FL)),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "oklahoma-8pm-is-too-late",
        "QUIET_HOURS", "fails",
        promo(), _in(US_OK, utc("2026-11-26T02:30Z")),  # Wed 20:30 CST
        on_file(US_OK, written(US_OK)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T14:00Z"),  # Thu 08:00 CST
    ),
    row(
        "maryland-8pm-is-too-late",
        "QUIET_HOURS", "fails",
        promo(), _in(US_MD, utc("2026-11-26T01:30Z")),  # Wed 20:30 EST
        on_file(US_MD, written(US_MD)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T13:00Z"),
    ),
    row(
        "washington-8pm-is-too-late",
        "QUIET_HOURS", "fails",
        promo(), _in(US_WA, utc("2026-11-26T04:30Z")),  # Wed 20:30 PST
        on_file(US_WA, written(US_WA)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T16:00Z"),
    ),
    row(
        "massachusetts-8pm-is-too-late",
        "QUIET_HOURS", "fails",
        promo(), _in(US_MA, utc("2026-11-26T01:30Z")),  # Wed 20:30 EST
        on_file(US_MA, written(US_MA)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T13:00Z"),
    ),
    row(
        "new-york-8-30pm-allowed-federal-only",
        "QUIET_HOURS", "passes",
        promo(), _in(US_NY, utc("2026-11-26T01:30Z")),  # Wed 20:30 EST
        on_file(US_NY, written(US_NY)),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "connecticut-8-30am-is-too-early",
        "QUIET_HOURS", "fails",
        promo(), _in(US_CT, utc("2026-11-25T13:30Z")),  # Wed 08:30 EST
        on_file(US_CT, written(US_CT)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-25T14:00Z"),  # Wed 09:00 EST
    ),
    row(
        "connecticut-9am-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(US_CT, utc("2026-11-25T14:00Z")),
        on_file(US_CT, written(US_CT)),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "texas-sunday-morning-waits-for-noon",
        "QUIET_HOURS", "fails",
        promo(), _in(US_TX, utc("2026-11-29T16:00Z")),  # Sun 10:00 CST
        on_file(US_TX, written(US_TX)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-29T18:00Z"),  # Sun 12:00 CST
    ),
    row(
        "texas-saturday-10am-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(US_TX, utc("2026-11-28T16:00Z")),  # Sat 10:00 CST
        on_file(US_TX, written(US_TX)),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "texas-saturday-night-waits-for-sunday-noon",
        "QUIET_HOURS", "fails",
        promo(), _in(US_TX, utc("2026-11-29T03:30Z")),  # Sat 21:30 CST
        on_file(US_TX, written(US_TX)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-29T18:00Z"),
    ),
    row(
        "texas-sunday-window-not-yet-in-force-in-august-2025",
        "QUIET_HOURS", "passes",
        promo(), _in(US_TX, utc("2025-08-31T15:00Z")),  # Sun 10:00 CDT, before SB 140
        on_file(US_TX, written(US_TX, captured=utc("2025-08-01T12:00Z"))),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
        note="A rule whose effective date is later than the send is not applied (TX SB 140: 2025-09-01).",
    ),
    row(
        "new-jersey-8pm-is-too-late",
        "QUIET_HOURS", "fails",
        promo(), _in(US_NJ, utc("2026-11-26T01:15Z")),  # Wed 20:15 EST
        on_file(US_NJ, written(US_NJ)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T13:00Z"),
    ),
    row(
        "india-9-30am-waits-for-10am-ist",
        "QUIET_HOURS", "fails",
        promo(), _in(INDIA, utc("2026-11-25T04:00Z")),  # 09:30 IST
        on_file(INDIA, written(INDIA)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-25T04:30Z"),  # 10:00 IST
    ),
    row(
        "india-9pm-waits-for-tomorrow",
        "QUIET_HOURS", "fails",
        promo(), _in(INDIA, utc("2026-11-25T15:30Z")),  # 21:00 IST
        on_file(INDIA, written(INDIA)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-26T04:30Z"),
    ),
    row(
        "us-spring-forward-night-opens-at-8am-daylight-time",
        "QUIET_HOURS", "fails",
        promo(), _in(US_NY, utc("2026-03-08T06:30Z")),  # Sun 01:30 EST, clocks jump at 02:00
        on_file(US_NY, written(US_NY, captured=utc("2026-02-01T12:00Z"))),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-03-08T12:00Z"),  # 08:00 EDT, one hour earlier in UTC than the day before
    ),
    row(
        "us-spring-forward-morning-7-30am-daylight-time",
        "QUIET_HOURS", "fails",
        promo(), _in(US_NY, utc("2026-03-08T11:30Z")),  # 07:30 EDT (would be 06:30 EST)
        on_file(US_NY, written(US_NY, captured=utc("2026-02-01T12:00Z"))),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-03-08T12:00Z"),
    ),
    row(
        "us-spring-forward-8am-daylight-time-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(US_NY, utc("2026-03-08T12:00Z")),  # 08:00 EDT (07:00 had DST not begun)
        on_file(US_NY, written(US_NY, captured=utc("2026-02-01T12:00Z"))),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "us-fall-back-night-lasts-an-hour-longer",
        "QUIET_HOURS", "fails",
        promo(), _in(US_NY, utc("2026-11-01T01:30Z")),  # Sat 21:30 EDT, clocks fall back at 02:00
        on_file(US_NY, written(US_NY, captured=utc("2026-10-01T12:00Z"))),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-01T13:00Z"),  # Sun 08:00 EST
    ),
    row(
        "us-fall-back-morning-7-30am-standard-time",
        "QUIET_HOURS", "fails",
        promo(), _in(US_NY, utc("2026-11-01T12:30Z")),  # 07:30 EST (08:30 had DST continued)
        on_file(US_NY, written(US_NY, captured=utc("2026-10-01T12:00Z"))),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-01T13:00Z"),
    ),
    row(
        "europe-spring-forward-8-30am-summer-time-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(SWITZERLAND, utc("2026-03-29T06:30Z")),  # 08:30 CEST (07:30 CET the day before)
        on_file(SWITZERLAND, written(SWITZERLAND, captured=utc("2026-02-01T12:00Z"))),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "europe-spring-forward-7-30am-summer-time",
        "QUIET_HOURS", "fails",
        promo(), _in(SWITZERLAND, utc("2026-03-29T05:30Z")),  # 07:30 CEST
        on_file(SWITZERLAND, written(SWITZERLAND, captured=utc("2026-02-01T12:00Z"))),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-03-29T06:00Z"),  # 08:00 CEST
    ),
    row(
        "europe-fall-back-7-30am-winter-time",
        "QUIET_HOURS", "fails",
        promo(), _in(SWITZERLAND, utc("2026-10-25T06:30Z")),  # 07:30 CET (08:30 CEST the day before)
        on_file(SWITZERLAND, written(SWITZERLAND, captured=utc("2026-10-01T12:00Z"))),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-10-25T07:00Z"),  # 08:00 CET
    ),
    row(
        "alaska-waits-for-8am-on-adak",
        "QUIET_HOURS", "fails",
        promo(), _in(US_AK, utc("2026-11-25T17:30Z")),  # 08:30 AKST Anchorage, 07:30 HST Adak
        on_file(US_AK, written(US_AK)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-25T18:00Z"),  # 08:00 on Adak
        note="A number spanning two zones must be inside the window in both.",
    ),
    row(
        "alaska-8am-in-both-zones-allowed",
        "QUIET_HOURS", "passes",
        promo(), _in(US_AK, utc("2026-11-25T18:00Z")),
        on_file(US_AK, written(US_AK)),
        "allow", ("PROMO_CONSENT_OK",), ("QUIET_HOURS",),
    ),
    row(
        "toll-free-waits-for-the-hours-every-zone-shares",
        "QUIET_HOURS", "fails",
        promo(), _in(US_TOLL_FREE),  # 04:00 in Guam
        on_file(US_TOLL_FREE, written(US_TOLL_FREE)),
        "block", ("QUIET_HOURS",), (),
        not_before=utc("2026-11-25T22:00Z"),  # 08:00 Guam, 11:00 Pago Pago, 18:30 St John's
    ),
    row(
        "florida-fourth-promotion-in-24-hours",
        "FREQUENCY_CAP", "fails",
        promo(), _in(US_FL),  # Wed 13:00 EST
        on_file(US_FL, written(US_FL), sends=(T - timedelta(hours=20), T - timedelta(hours=10),
                                              T - timedelta(hours=1))),
        "block", ("FREQUENCY_CAP",), ("QUIET_HOURS",),
        not_before=T + timedelta(hours=4),  # the oldest leaves the window at 17:00 EST
    ),
    row(
        "florida-cap-clears-at-night-so-wait-for-8am",
        "FREQUENCY_CAP", "fails",
        promo(), _in(US_FL),
        on_file(US_FL, written(US_FL), sends=(T - timedelta(hours=13), T - timedelta(hours=5),
                                              T - timedelta(hours=1))),
        "block", ("FREQUENCY_CAP",), (),
        not_before=utc("2026-11-26T13:00Z"),  # clears 00:00 EST, Florida opens 08:00 EST
    ),
    row(
        "oklahoma-fourth-promotion-in-24-hours",
        "FREQUENCY_CAP", "fails",
        promo(), _in(US_OK),  # Wed 12:00 CST
        on_file(US_OK, written(US_OK), sends=(T - timedelta(hours=23), T - timedelta(hours=2),
                                              T - timedelta(hours=1))),
        "block", ("FREQUENCY_CAP",), (),
        not_before=T + timedelta(hours=1),
    ),
    row(
        "maryland-third-promotion-allowed",
        "FREQUENCY_CAP", "passes",
        promo(), _in(US_MD),
        on_file(US_MD, written(US_MD), sends=(T - timedelta(hours=25), T - timedelta(hours=10),
                                              T - timedelta(hours=1))),
        "allow", ("PROMO_CONSENT_OK",), ("FREQUENCY_CAP",),
    ),
    row(
        "california-has-no-frequency-cap",
        "FREQUENCY_CAP", "passes",
        promo(), _in(US_CA),
        on_file(US_CA, OK_PROMO, sends=tuple(T - timedelta(hours=h) for h in (1, 2, 3, 4, 5))),
        "allow", ("PROMO_CONSENT_OK",), ("FREQUENCY_CAP",),
    ),
    row(
        "quiet-hours-and-a-missing-opt-out-line-no-not-before",
        "PROMO_MISSING_OPT_OUT", "fails",
        promo(), _in(US_CA, utc("2026-11-26T05:30Z"), "Acme: 20% off all tents this weekend!"),
        on_file(US_CA, OK_PROMO),
        "block", ("QUIET_HOURS", "PROMO_MISSING_OPT_OUT"), (),
        not_before=None,
        note="not_before is only given when time is the only obstacle.",
    ),
    # ----------------------------------------------------------- 5. content
    row(
        "promotion-without-opt-out-instructions",
        "PROMO_MISSING_OPT_OUT", "fails",
        promo(), _in(US_CA, text="Acme: 20% off all tents this weekend!"),
        on_file(US_CA, OK_PROMO),
        "review", ("PROMO_MISSING_OPT_OUT",), ("PROMO_CONSENT_OK",),
    ),
    row(
        "promotion-with-spanish-opt-out-instructions",
        "PROMO_MISSING_OPT_OUT", "passes",
        promo(), _in(US_CA, text="Acme: 20% de descuento en tiendas. Responde BAJA para darte de baja."),
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_MISSING_OPT_OUT",),
    ),
    row(
        "promotion-with-txt-stop-to-end",
        "PROMO_MISSING_OPT_OUT", "passes",
        promo(), _in(US_CA, text="ACME deals: 2-for-1 camp stoves today only. Txt STOP to end"),
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_MISSING_OPT_OUT", "PROMO_MISSING_SENDER_ID"),
    ),
    row(
        "promotion-that-does-not-name-the-sender",
        "PROMO_MISSING_SENDER_ID", "fails",
        promo(), _in(US_CA, text="20% off all tents this weekend! Reply STOP to opt out."),
        on_file(US_CA, OK_PROMO),
        "review", ("PROMO_MISSING_SENDER_ID",), (),
    ),
    row(
        "sender-name-inside-another-word-does-not-count",
        "PROMO_MISSING_SENDER_ID", "fails",
        promo(), _in(US_CA, text="Acmeville camping: 20% off tents! Reply STOP to opt out."),
        on_file(US_CA, OK_PROMO),
        "review", ("PROMO_MISSING_SENDER_ID",), (),
    ),
    row(
        "promotion-naming-the-sender-in-capitals",
        "PROMO_MISSING_SENDER_ID", "passes",
        promo(), _in(US_CA, text="ACME: 20% off all tents this weekend! Reply STOP to opt out."),
        on_file(US_CA, OK_PROMO),
        "allow", ("PROMO_CONSENT_OK",), ("PROMO_MISSING_SENDER_ID",),
    ),
]  # fmt: skip


def by_name(name: str) -> Scenario:
    """One scenario, for tests that vary it."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)


def varied(scenario: Scenario, **changes: object) -> Scenario:
    return replace(scenario, **changes)  # type: ignore[arg-type]
