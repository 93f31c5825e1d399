"""Hypothesis strategies for the engine's inputs: classifications, consents, inbound
messages, opt-outs, clocks. Times are drawn relative to the decision clock so that
revoked, expired, future and live records all turn up often.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, get_args

from hypothesis import strategies as st

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
)
from tests.consent.scenarios import (
    ACME,
    BRAZIL,
    CANADA,
    FRANCE,
    INDIA,
    PROMO_TEXT,
    SENDER,
    SWITZERLAND,
    TRANSACTIONAL_TEXT,
    UK,
    US_AK,
    US_CA,
    US_CT,
    US_FL,
    US_NJ,
    US_NY,
    US_TOLL_FREE,
    US_TX,
)

TYPES: Final[tuple[MessageType, ...]] = ("promotional", "transactional", "conversational")
KINDS: Final[tuple[ConsentKind, ...]] = get_args(ConsentKind)
METHODS: Final[tuple[ConsentMethod, ...]] = get_args(ConsentMethod)
ACTIONS: Final[tuple[InboundAction, ...]] = get_args(InboundAction)

# Each phone with the policy entry it must fall under (written out here, not asked of
# the engine, so the oracles below do not share its mistakes).
PHONES: Final[dict[str, str]] = {
    US_CA: "US",
    US_NY: "US",
    US_FL: "US-FL",
    US_TX: "US-TX",
    US_CT: "US-CT",
    US_NJ: "US-NJ",
    US_AK: "US",
    US_TOLL_FREE: "US",
    CANADA: "CA",
    UK: "UK",
    FRANCE: "EU",
    INDIA: "IN",
    BRAZIL: "DEFAULT",
    SWITZERLAND: "DEFAULT",
}
TEXTS: Final = (
    PROMO_TEXT,
    TRANSACTIONAL_TEXT,
    "20% off everything today",
    "Acme: 20% off everything today",
    "See you at 3!",
)
REFS: Final = (None, "order:1", "order:2")

# Noon UTC, a day of year 2024-2027, plus minutes: covers weekdays, Sundays, DST days.
clocks = st.builds(
    lambda day, minute: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day, minutes=minute),
    st.integers(0, 4 * 365),
    st.integers(0, 24 * 60 - 1),
)


def offsets(low_hours: float, high_hours: float) -> st.SearchStrategy[timedelta]:
    return st.integers(int(low_hours * 60), int(high_hours * 60)).map(lambda m: timedelta(minutes=m))


@st.composite
def uncertain_classifications(draw: st.DrawFn) -> Classification:
    """Any three probabilities, and sometimes a label that is not the top one."""
    weights = [draw(st.floats(0.001, 1.0)) for _ in TYPES]
    total = sum(weights)
    probabilities = {t: w / total for t, w in zip(TYPES, weights, strict=True)}
    top = max(TYPES, key=lambda t: probabilities[t])
    label = draw(st.sampled_from((top, top, *TYPES)))
    return Classification(label, probabilities, tau_promo=0.35, tau_conf=0.6, model_version="m/1")


@st.composite
def confident_classifications(draw: st.DrawFn) -> Classification:
    """One clear type, as the model says of most real messages."""
    label = draw(st.sampled_from(TYPES))
    top = draw(st.floats(0.6, 0.98))
    share = draw(st.floats(0.0, 1.0))
    others = [t for t in TYPES if t != label]
    probabilities = {label: top, others[0]: (1 - top) * share, others[1]: (1 - top) * (1 - share)}
    return Classification(label, probabilities, tau_promo=0.35, tau_conf=0.6, model_version="m/1")


def classifications() -> st.SearchStrategy[Classification]:
    return st.one_of(confident_classifications(), confident_classifications(), uncertain_classifications())


@st.composite
def consent_records(draw: st.DrawFn, phone: str, now: datetime, consent_id: str) -> ConsentRecord:
    """Mostly consents that would count, each sometimes spoilt in one or more ways."""
    captured = now - draw(offsets(-2, 3 * 365 * 24))
    return ConsentRecord(
        consent_id=consent_id,
        sender=draw(st.sampled_from((SENDER,) * 5 + ("globex",))),
        phone=phone,
        kind=draw(st.sampled_from(("express_written", "express_written", *KINDS))),
        method=draw(st.sampled_from(("web_form", "checkbox", "paper", *METHODS))),
        evidence=draw(st.sampled_from(("web form v3", "signed paper form", "", None))),
        captured_at=captured,
        scope=draw(st.sampled_from((None, None, *REFS))),
        expires_at=draw(st.one_of(st.none(), st.none(), offsets(-400 * 24, 400 * 24).map(lambda d: now + d))),
        revoked_at=draw(st.one_of(st.none(), st.none(), offsets(-100 * 24, 24).map(lambda d: now + d))),
    )


@st.composite
def inbound_records(draw: st.DrawFn, phone: str, now: datetime, inbound_id: str) -> InboundRecord:
    return InboundRecord(
        inbound_id=inbound_id,
        sender=SENDER,
        phone=draw(st.sampled_from((phone, phone, phone, US_NY))),
        text="hello",
        received_at=now - draw(offsets(-1, 48)),
        action=draw(st.sampled_from(ACTIONS)),
        needs_review=draw(st.booleans()),
    )


@st.composite
def opt_outs(draw: st.DrawFn, now: datetime) -> OptOutState:
    at = now - draw(offsets(0, 48) | st.integers(0, 10).map(lambda m: timedelta(minutes=m)))
    return OptOutState(
        opted_out_at=at,
        inbound_id=draw(st.sampled_from(("inb_stop", None))),
        confirmation_sent_at=draw(st.none() | st.just(at + timedelta(seconds=3))),
    )


@dataclass(frozen=True)
class Case:
    """One set of engine inputs."""

    classification: Classification
    request: CheckRequest
    snapshot: ConsentSnapshot
    now: datetime

    @property
    def instant(self) -> datetime:
        return max(self.request.send_at, self.now)

    def with_snapshot(self, **changes: object) -> Case:
        return replace(self, snapshot=replace(self.snapshot, **changes))  # type: ignore[arg-type]


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    opted_out: bool | None = None,
    phones: tuple[str, ...] = tuple(PHONES),
    classification: st.SearchStrategy[Classification] | None = None,
    max_consents: int = 4,
) -> Case:
    """A whole decision: (classification, request, snapshot, now).

    ``opted_out`` True forces an opt-out in force, False forbids one, None draws.
    """
    now = draw(clocks)
    phone = draw(st.sampled_from(phones))
    consents = tuple(
        draw(consent_records(phone, now, f"con_{i}")) for i in range(draw(st.integers(0, max_consents)))
    )
    inbound = tuple(
        sorted(
            (draw(inbound_records(phone, now, f"inb_{i}")) for i in range(draw(st.integers(0, 3)))),
            key=lambda record: record.received_at,
            reverse=True,
        )
    )
    if opted_out is None:
        opt_out = draw(st.one_of(st.none(), st.none(), opt_outs(now)))
    else:
        opt_out = draw(opt_outs(now)) if opted_out else None
    reply_ids = [None, None, None, "inb_missing", *(record.inbound_id for record in inbound)]
    request = CheckRequest(
        text=draw(st.sampled_from((PROMO_TEXT, PROMO_TEXT, *TEXTS))),
        to=phone,
        sender=SENDER,
        send_at=now + draw(st.sampled_from((timedelta(0), timedelta(0))) | offsets(-2, 48)),
        declared_type=draw(st.sampled_from((None, None, None, *TYPES))),
        transaction_ref=draw(st.sampled_from(REFS)),
        in_reply_to=draw(st.sampled_from(reply_ids)),
    )
    snapshot = ConsentSnapshot(
        sender=ACME,
        phone=phone,
        consents=consents,
        inbound=inbound,
        opt_out=opt_out,
        recent_promotional_sends=tuple(now - draw(offsets(0, 30)) for _ in range(draw(st.integers(0, 4)))),
    )
    return Case(draw(classification or classifications()), request, snapshot, now)
