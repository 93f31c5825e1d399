"""RULES.md section 7 as Hypothesis properties, one test per invariant.

The oracles here are written from RULES.md, not from the engine, so that a mistake in
the engine (a revoked consent that counts, an opt-out that does not block, a clock in
the wrong zone) makes a property fail.
"""

from __future__ import annotations

import ast
import importlib
import sys
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone

from model.labels import STRICTNESS
from serve.consent import engine as engine_module
from serve.consent.engine import decide
from serve.consent.policy import PASS_CODES, Policy, load_policy
from serve.consent.records import CheckRequest, Classification, ConsentRecord, ConsentSnapshot, Decision
from tests.consent.scenarios import (
    BRAZIL,
    CANADA,
    FRANCE,
    INDIA,
    PROMO_TEXT,
    SENDER,
    SWITZERLAND,
    UK,
    US_AK,
    US_CA,
    US_CT,
    US_FL,
    US_NJ,
    US_NY,
    US_TOLL_FREE,
    US_TX,
    on_file,
    written,
)
from tests.consent.strategies import (
    PHONES,
    TYPES,
    Case,
    cases,
    classifications,
    consent_records,
    offsets,
)

POLICY: Policy = load_policy()
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IMPLIED = frozenset({"purchase", "inquiry", "soft_opt_in"})
CONFIRMATION_WINDOW = timedelta(minutes=5)


def run(case: Case) -> Decision:
    return decide(case.classification, case.request, case.snapshot, POLICY, case.now)


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


# ------------------------------------------------------------------- oracles


def plus_months(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=moment.year + year, month=month + 1, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def alive(consent: ConsentRecord, case: Case) -> bool:
    """For this sender and number, captured, not revoked and not expired at the instant."""
    instant = case.instant
    return (
        consent.sender == case.request.sender
        and consent.phone == case.request.to
        and consent.captured_at <= instant
        and (consent.revoked_at is None or consent.revoked_at > instant)
        and (consent.expires_at is None or consent.expires_at > instant)
    )


def promotional_grade(consent: ConsentRecord, case: Case) -> bool:
    """RULES.md section 2: the consent a promotion needs where the recipient is."""
    if not alive(consent, case):
        return False
    key = PHONES[case.request.to]
    program_wide = consent.method not in IMPLIED and consent.scope is None
    written_ok = program_wide and consent.kind == "express_written" and bool((consent.evidence or "").strip())
    if key == "CA":
        if program_wide:
            return True
        months = {"purchase": 24, "inquiry": 6}.get(consent.method)
        return months is not None and case.instant < plus_months(consent.captured_at, months)
    if key in ("EU", "UK"):
        return written_ok or consent.method == "soft_opt_in"
    return written_ok  # US and its states, India, every other country


def expired_by(consent: ConsentRecord, instant: datetime, key: str) -> bool:
    if consent.expires_at is not None and consent.expires_at <= instant:
        return True
    months = {"purchase": 24, "inquiry": 6}.get(consent.method)
    return key == "CA" and months is not None and plus_months(consent.captured_at, months) <= instant


# Allowed promotional hours per policy entry, Monday first, written from RULES.md 4.
FEDERAL = ((time(8), time(21)),) * 7
TEXAS = ((time(9), time(21)),) * 6 + ((time(12), time(21)),)
TEXAS_FROM = datetime(2025, 9, 1, tzinfo=UTC)
HOURS: dict[str, tuple[tuple[tuple[time, time], ...], ...]] = {
    "US": (FEDERAL,),
    "US-FL": (FEDERAL, ((time(8), time(20)),) * 7),
    "US-TX": (FEDERAL, TEXAS),
    "US-CT": (FEDERAL, ((time(9), time(20)),) * 7),
    "US-NJ": (FEDERAL, ((time(8), time(20)),) * 7),
    "IN": (((time(10), time(21)),) * 7,),
    "DEFAULT": (FEDERAL,),
}


def open_everywhere(phone: str, instant: datetime) -> bool:
    """Inside every window of the recipient's entry, in every zone of the number."""
    key = PHONES[phone]
    zones = [ZoneInfo(z) for z in timezone.time_zones_for_number(phonenumbers.parse(phone))]
    for weekly in HOURS.get(key, ()):
        if weekly is TEXAS and instant < TEXAS_FROM:
            continue
        for zone in zones:
            local = instant.astimezone(zone)
            start, end = weekly[local.weekday()]
            if not start <= local.time() < end:
                return False
    return True


# ---------------------------------------------------------------- invariants


@PROPERTY
@given(cases(opted_out=True))
def test_1_after_an_opt_out_only_the_single_confirmation_is_allowed(case: Case) -> None:
    """An opt-out blocks everything but one non-promotional confirmation within 5 minutes."""
    decision = run(case)
    opt = case.snapshot.opt_out
    assert opt is not None
    confirmation = (
        decision.treated_as != "promotional"
        and opt.confirmation_sent_at is None
        and opt.inbound_id is not None
        and opt.opted_out_at <= case.instant <= opt.opted_out_at + CONFIRMATION_WINDOW
    )
    if confirmation:
        assert decision.decision != "block"
        assert "OPTED_OUT" not in codes(decision)
    else:
        assert decision.decision == "block"
        assert "OPTED_OUT" in codes(decision)
    if decision.decision == "allow":
        assert codes(decision)[0] == "OPT_OUT_CONFIRMATION"
        assert decision.inbound_id == opt.inbound_id


@PROPERTY
@given(cases(opted_out=False))
def test_2_promotional_without_promotional_grade_consent_is_never_allowed(case: Case) -> None:
    """A promotion is allowed only on a consent valid for promotions where the recipient is."""
    decision = run(case)
    if decision.treated_as != "promotional" or decision.decision != "allow":
        return
    relied = [c for c in case.snapshot.consents if c.consent_id == decision.consent_id]
    assert relied, "an allowed promotion must name its consent"
    assert promotional_grade(relied[0], case), relied[0]
    assert codes(decision)[0] == "PROMO_CONSENT_OK"


@PROPERTY
@given(cases(opted_out=False), classifications())
def test_2_promotional_with_no_grade_consent_on_file_is_not_allowed(
    case: Case, classification: Classification
) -> None:
    """With nothing promotion-grade on file, a message treated promotional never goes out."""
    case = replace(case, classification=classification)
    decision = run(case)
    if any(promotional_grade(c, case) for c in case.snapshot.consents):
        return
    if decision.treated_as == "promotional":
        assert decision.decision != "allow", codes(decision)


@PROPERTY
@given(cases(), st.data())
def test_3_adding_a_consent_never_turns_allow_into_block(case: Case, data: st.DataObject) -> None:
    """More consent on file can only help."""
    before = run(case)
    extra = data.draw(consent_records(case.request.to, case.now, "con_extra"))
    after = run(case.with_snapshot(consents=(*case.snapshot.consents, extra)))
    if before.decision == "allow":
        assert after.decision != "block", codes(after)


@PROPERTY
@given(cases(), st.data())
def test_3_revoking_never_turns_block_into_allow(case: Case, data: st.DataObject) -> None:
    """Revoking a consent (at or before the instant) can only hurt."""
    consents = case.snapshot.consents
    if not consents:
        return
    index = data.draw(st.integers(0, len(consents) - 1))
    revoked_at = case.instant - data.draw(offsets(0, 90 * 24))
    changed = (*consents[:index], replace(consents[index], revoked_at=revoked_at), *consents[index + 1 :])
    before, after = run(case), run(case.with_snapshot(consents=changed))
    if before.decision == "block":
        assert after.decision != "allow", codes(after)
    assert after.consent_id != consents[index].consent_id


@PROPERTY
@given(cases(opted_out=False), st.data(), offsets(0, 3 * 365 * 24))
def test_3_a_later_clock_never_unexpires_a_consent(case: Case, data: st.DataObject, later: timedelta) -> None:
    """A consent expired at one instant is never relied on at that instant or any later one."""
    lapsed = data.draw(consent_records(case.request.to, case.now, "con_lapsed"))
    lapsed = replace(
        lapsed, sender=SENDER, revoked_at=None, expires_at=case.instant - data.draw(offsets(0, 400 * 24))
    )
    case = case.with_snapshot(consents=(lapsed, *case.snapshot.consents))
    key = PHONES[case.request.to]
    expired = {c.consent_id for c in case.snapshot.consents if expired_by(c, case.instant, key)}
    first = run(case)
    second = run(replace(case, now=case.now + later))
    assert first.consent_id not in expired
    assert second.consent_id not in expired


@PROPERTY
@given(cases(), st.sampled_from((None, *TYPES)))
def test_4_treatment_is_never_looser_than_the_label_or_the_declaration(
    case: Case, declared: str | None
) -> None:
    """treated_as >= message_type, >= the declared type, and a declaration never loosens it."""
    declared_case = replace(case, request=replace(case.request, declared_type=declared))
    undeclared_case = replace(case, request=replace(case.request, declared_type=None))
    with_declaration, without = run(declared_case), run(undeclared_case)
    assert STRICTNESS[with_declaration.treated_as] >= STRICTNESS[with_declaration.message_type]
    assert STRICTNESS[with_declaration.treated_as] >= STRICTNESS[without.treated_as]
    if declared is not None:
        assert STRICTNESS[with_declaration.treated_as] >= STRICTNESS[declared]


@PROPERTY
@given(cases())
def test_5_every_decision_has_a_reason_and_every_allow_names_its_basis(case: Case) -> None:
    """At least one reason always; an allow names a live consent or a real inbound message."""
    decision = run(case)
    assert decision.reasons
    if decision.decision != "allow":
        return
    assert codes(decision)[0] in PASS_CODES
    assert decision.consent_id is not None or decision.inbound_id is not None
    if decision.consent_id is not None:
        relied = [c for c in case.snapshot.consents if c.consent_id == decision.consent_id]
        assert relied and alive(relied[0], case)
    if decision.inbound_id is not None:
        known = {
            i.inbound_id
            for i in case.snapshot.inbound
            if i.phone == case.request.to and i.sender == case.request.sender
        }
        opt = case.snapshot.opt_out
        assert decision.inbound_id in known or (opt is not None and decision.inbound_id == opt.inbound_id)


US_DST = ("2024-03-10", "2024-11-03", "2025-03-09", "2025-11-02", "2026-03-08", "2026-11-01", "2027-03-14")
EU_DST = ("2024-03-31", "2024-10-27", "2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25")
around_dst = st.builds(
    lambda day, minutes: datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(minutes=minutes),
    st.sampled_from(US_DST + EU_DST),
    st.integers(-36 * 60, 48 * 60),
)
WINDOWED = (US_CA, US_NY, US_FL, US_TX, US_CT, US_NJ, US_AK, US_TOLL_FREE, INDIA, BRAZIL, SWITZERLAND)


def _confident_promotion_with_consent(phone: str, instant: datetime) -> Case:
    """A clear promotion with written consent on file: only the clock can stop it."""
    return Case(
        Classification(
            "promotional",
            {"promotional": 0.95, "transactional": 0.03, "conversational": 0.02},
            tau_promo=0.35,
            tau_conf=0.6,
            model_version="m/1",
        ),
        replace(_promo_request(phone), send_at=instant),
        _written_on_file(phone, instant),
        instant,
    )


@PROPERTY
@given(st.sampled_from(WINDOWED), around_dst | cases().map(lambda c: c.now))
def test_6_quiet_hours_are_judged_in_the_recipients_zones(phone: str, instant: datetime) -> None:
    """Allowed exactly when every zone's wall clock is inside every window; not_before is
    the first minute open everywhere, and sending then is allowed."""
    case = _confident_promotion_with_consent(phone, instant)
    decision = run(case)
    if open_everywhere(phone, instant):
        assert decision.decision == "allow", codes(decision)
        return
    assert decision.decision == "block"
    assert codes(decision) == ["QUIET_HOURS"] * len(codes(decision))
    nb = decision.not_before
    assert nb is not None and nb > instant
    assert open_everywhere(phone, nb)
    assert nb - timedelta(minutes=1) < instant or not open_everywhere(phone, nb - timedelta(minutes=1))
    later = run(replace(case, request=replace(case.request, send_at=nb), now=nb))
    assert later.decision == "allow", codes(later)


def _promo_request(phone: str) -> CheckRequest:
    return CheckRequest(PROMO_TEXT, phone, SENDER, datetime(2026, 1, 1, tzinfo=UTC))


def _written_on_file(phone: str, instant: datetime) -> ConsentSnapshot:
    return on_file(phone, written(phone, captured=instant - timedelta(days=10)))


# The engine and every module it keeps state in (caches included); records and policy
# stay shared so that decisions from both copies compare equal.
_ENGINE_MODULES = tuple(
    f"serve.consent.{name}" for name in ("engine", "bases", "windows", "wording", "textnorm", "jurisdiction")
)


def _fresh_engine() -> ModuleType:
    """A second, independent import of the engine: any module-level state starts empty."""
    package = sys.modules["serve.consent"]
    saved = {name: sys.modules.pop(name) for name in _ENGINE_MODULES if name in sys.modules}
    try:
        return importlib.import_module("serve.consent.engine")
    finally:
        for name in _ENGINE_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        for name, module in saved.items():
            setattr(package, name.rsplit(".", 1)[1], module)


@settings(max_examples=100, deadline=None)
@given(cases(), cases())
def test_7_same_inputs_and_clock_give_the_same_decision(case: Case, other: Case) -> None:
    """No hidden state: a decision repeats exactly whatever was decided before it, and
    matches what a freshly loaded engine decides."""
    fresh = _fresh_engine().decide(case.classification, case.request, case.snapshot, POLICY, case.now)
    run(other)
    first = run(case)
    run(other)
    copied = Case(
        replace(case.classification, probabilities=dict(case.classification.probabilities)),
        replace(case.request),
        replace(case.snapshot, consents=tuple(replace(c) for c in case.snapshot.consents)),
        case.now,
    )
    assert first == fresh
    assert run(copied) == first


CLOCK_CALLS = frozenset(
    {"now", "utcnow", "today", "time_ns", "monotonic", "perf_counter", "random", "urandom"}
)


def _reads_clock(func: ast.Attribute) -> bool:
    if func.attr in CLOCK_CALLS:
        return True
    return func.attr == "time" and isinstance(func.value, ast.Name) and func.value.id == "time"


def test_7_the_engine_reads_no_clock() -> None:
    """No module the engine runs calls now(), today(), time() or a random source."""
    package = Path(engine_module.__file__).parent
    found = []
    for name in sorted(p.name for p in package.glob("*.py")):
        tree = ast.parse((package / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _reads_clock(node.func)
            ):
                found.append(f"{name}:{node.lineno} {node.func.attr}()")
            if isinstance(node, ast.Import):
                found.extend(f"{name}:{node.lineno}" for a in node.names if a.name in ("random", "time"))
            if isinstance(node, ast.ImportFrom) and node.module in ("random", "time"):
                found.append(f"{name}:{node.lineno} from {node.module}")
    assert found == []


@settings(max_examples=50, deadline=None)
@given(st.sampled_from((CANADA, UK, FRANCE)), around_dst)
def test_6_places_without_windows_are_never_held_by_the_clock(phone: str, instant: datetime) -> None:
    """Canada, the UK and the EU set no promotional hours in this policy."""
    case = _confident_promotion_with_consent(phone, instant)
    decision = run(case)
    assert decision.decision == "allow", codes(decision)
    assert decision.not_before is None
