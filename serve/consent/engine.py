"""The consent-rules engine: (classification, request, snapshot, policy, clock) -> Decision.

Pure: no I/O and no clock reads; ``now`` comes in and the evaluation instant is
max(request.send_at, now). Every rule evaluated is recorded in the trace; the outcome
is combined deny-overrides (RULES.md 6): any failing block rule blocks, else any
failing review rule reviews, else the message is allowed on a named basis (a consent
or an inbound message).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from model.labels import LABELS, STRICTNESS
from serve.consent.bases import Basis, BasisFinder
from serve.consent.jurisdiction import UNKNOWN_COUNTRY, Place, locate
from serve.consent.policy import DEFAULT_KEY, JurisdictionPolicy, Policy, Rule
from serve.consent.records import (
    CheckRequest,
    Classification,
    ConsentSnapshot,
    Decision,
    Jurisdiction,
    MessageType,
    Outcome,
    Reason,
    TraceEntry,
)
from serve.consent.textnorm import fold
from serve.consent.windows import earliest_open, is_open, local_label
from serve.consent.wording import SHOWN, hours, listing, minutes, stamp

PROMOTIONAL: Final = "promotional"
TRANSACTIONAL: Final = "transactional"
CONVERSATIONAL: Final = "conversational"


class SnapshotMismatchError(ValueError):
    """The snapshot is for another (sender, phone) than the request: a caller bug."""


@dataclass(slots=True)
class _Check:
    rule: Rule
    applies: bool
    passed: bool
    detail: str
    is_time: bool = False
    # A treatment note (UNCERTAIN_PROMOTIONAL, DECLARED_TYPE_MISMATCH): shown among the
    # reasons when it fires, because it explains which rules ran.
    is_note: bool = False


def decide(
    classification: Classification,
    request: CheckRequest,
    snapshot: ConsentSnapshot,
    policy: Policy,
    now: datetime,
) -> Decision:
    """Decide whether ``request`` may be sent; see RULES.md for every rule applied."""
    _require_aware("now", now)
    _require_aware("request.send_at", request.send_at)
    if snapshot.sender.sender != request.sender or snapshot.phone != request.to:
        raise SnapshotMismatchError(
            f"snapshot is for ({snapshot.sender.sender!r}, {snapshot.phone!r}), "
            f"request is for ({request.sender!r}, {request.to!r})"
        )
    instant = max(request.send_at, now).astimezone(UTC)
    place = locate(request.to)
    jurisdiction = policy.jurisdiction_for(place.country, place.region)
    try:
        return _Evaluation(classification, request, snapshot, policy, instant, place, jurisdiction).run()
    except TypeError as exc:
        # Comparing a naive datetime from the snapshot with the instant: name the field.
        raise ValueError(_naive_field(snapshot) or str(exc)) from exc


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def _naive_field(snapshot: ConsentSnapshot) -> str | None:
    def naive(value: datetime | None) -> bool:
        return value is not None and value.tzinfo is None

    for i, c in enumerate(snapshot.consents):
        for name in ("captured_at", "expires_at", "revoked_at"):
            if naive(getattr(c, name)):
                return f"snapshot.consents[{i}].{name} must be timezone-aware"
    for i, inbound in enumerate(snapshot.inbound):
        if naive(inbound.received_at):
            return f"snapshot.inbound[{i}].received_at must be timezone-aware"
    if snapshot.opt_out is not None:
        for name in ("opted_out_at", "confirmation_sent_at"):
            if naive(getattr(snapshot.opt_out, name)):
                return f"snapshot.opt_out.{name} must be timezone-aware"
    for i, sent in enumerate(snapshot.recent_promotional_sends):
        if naive(sent):
            return f"snapshot.recent_promotional_sends[{i}] must be timezone-aware"
    return None


class _Evaluation:
    """One call of ``decide``: holds the inputs and the checks gathered so far."""

    def __init__(
        self,
        classification: Classification,
        request: CheckRequest,
        snapshot: ConsentSnapshot,
        policy: Policy,
        instant: datetime,
        place: Place,
        jurisdiction: JurisdictionPolicy,
    ) -> None:
        self.classification = classification
        self.request = request
        self.snapshot = snapshot
        self.policy = policy
        self.instant = instant
        self.place = place
        self.jurisdiction = jurisdiction
        self.checks: list[_Check] = []
        self.sender_name = snapshot.sender.display_name.strip() or request.sender
        if jurisdiction.key == DEFAULT_KEY:
            where = "an unknown country" if place.country == UNKNOWN_COUNTRY else place.country
            self.where = where
        else:
            self.where = jurisdiction.name
        self.probabilities = _probabilities(classification.probabilities)
        self.tau_promo = _threshold(classification.tau_promo, policy.tau_promo)
        self.tau_conf = _threshold(classification.tau_conf, policy.tau_conf)
        self.bases = BasisFinder(
            request, snapshot, policy, instant, jurisdiction.promotional, self.sender_name
        )
        self.treated: MessageType = classification.message_type

    # ------------------------------------------------------------------ helpers
    def add(
        self, rule: Rule, *, passed: bool, detail: str, is_time: bool = False, is_note: bool = False
    ) -> None:
        self.checks.append(_Check(rule, True, passed, detail, is_time, is_note))

    def skip(self, rule: Rule, detail: str) -> None:
        self.checks.append(_Check(rule, False, True, detail))

    def in_force(self, rule: Rule) -> bool:
        if rule.in_force(self.instant):
            return True
        self.skip(rule, f"not in force until {rule.effective_from.isoformat()}")
        return False

    # --------------------------------------------------------------------- run
    def run(self) -> Decision:
        policy = self.policy
        self.treated = self._treatment()
        confirmation = self._opt_out()
        basis: Basis | None = None
        if confirmation:
            for rule_id in (
                "TRANSACTIONAL_NO_CONSENT",
                "TRANSACTIONAL_OUT_OF_SCOPE",
                "CONVERSATIONAL_NO_THREAD",
                "REPLY_BEYOND_QUESTION",
                "CONSENT_EXPIRED",
                "NO_CONSENT_RULE_IN_FORCE",
            ):
                self.skip(policy.rule(rule_id), "the single opt-out confirmation is exempt")
            self.skip(self.jurisdiction.promotional.rule, "the opt-out confirmation is exempt")
        else:
            basis = self._consent_rules()
        self._inbound_review()
        self._low_confidence(confirmation)
        cap_clear_at = self._time_rules()
        self._content_rules()
        return self._combine(basis, confirmation, cap_clear_at)

    # --------------------------------------------------------------- treatment
    def _treatment(self) -> MessageType:
        policy, request = self.policy, self.request
        model_type = self.classification.message_type
        p_promo = self.probabilities[PROMOTIONAL]
        reads_promo = p_promo >= self.tau_promo
        model_reading: MessageType = PROMOTIONAL if reads_promo else model_type
        treated: MessageType = model_type

        uncertain = policy.rule("UNCERTAIN_PROMOTIONAL")
        if self.in_force(uncertain):
            fired = reads_promo and model_type != PROMOTIONAL
            if fired:
                treated = PROMOTIONAL
                detail = (
                    f"P(promotional) {p_promo:.2f} >= tau_promo {self.tau_promo:.2f} "
                    f"although the model's label is {model_type}"
                )
            elif model_type == PROMOTIONAL:
                detail = "the model's label is already promotional"
            else:
                detail = f"P(promotional) {p_promo:.2f} < tau_promo {self.tau_promo:.2f}"
            self.add(uncertain, passed=not fired, detail=detail, is_note=True)

        declared = request.declared_type
        mismatch = policy.rule("DECLARED_TYPE_MISMATCH")
        if declared is None:
            self.skip(mismatch, "no declared type")
        elif self.in_force(mismatch):
            fired = STRICTNESS[declared] < STRICTNESS[model_reading]
            if fired:
                treated = _stricter(treated, model_reading)
                why = f"P(promotional) {p_promo:.2f}" if reads_promo else "its label"
                detail = f"declared {declared}, the model reads it as {model_reading} ({why})"
            else:
                detail = f"declared {declared}; the model reads it as {model_reading}"
            self.add(mismatch, passed=not fired, detail=detail, is_note=True)
        # A declaration can make the treatment stricter, never looser, in force or not.
        if declared is not None:
            treated = _stricter(treated, declared)
        return _stricter(treated, model_type)

    # ----------------------------------------------------------------- opt-out
    def _opt_out(self) -> bool:
        """Record OPTED_OUT / OPT_OUT_CONFIRMATION; True when the confirmation is allowed."""
        policy, opt = self.policy, self.snapshot.opt_out
        opted_out = policy.rule("OPTED_OUT")
        confirm = policy.rule("OPT_OUT_CONFIRMATION")
        if opt is None:
            self.skip(opted_out, "no opt-out in force")
            self.skip(confirm, "no opt-out in force")
            return False
        window = policy.confirmation_window
        allowed = False
        if self.in_force(confirm):
            refusals = []
            if self.treated == PROMOTIONAL:
                refusals.append("the message is treated as promotional")
            if opt.confirmation_sent_at is not None:
                refusals.append(f"the confirmation was already sent at {stamp(opt.confirmation_sent_at)}")
            if opt.inbound_id is None:
                refusals.append("the opt-out came from no inbound message to confirm")
            if self.instant < opt.opted_out_at:
                refusals.append("the send is dated before the opt-out")
            elif self.instant > opt.opted_out_at + window:
                refusals.append(f"it is more than {minutes(window)} after the opt-out")
            allowed = not refusals
            detail = (
                f"one confirmation within {minutes(window)} of the opt-out at "
                f"{stamp(opt.opted_out_at)} (inbound {opt.inbound_id})"
                if allowed
                else "; ".join(refusals)
            )
            self.add(confirm, passed=allowed, detail=detail)
        if self.in_force(opted_out):
            via = f" (inbound {opt.inbound_id})" if opt.inbound_id else ""
            detail = f"opted out at {stamp(opt.opted_out_at)}{via}"
            if allowed:
                detail += "; this is the single confirmation allowed"
            self.add(opted_out, passed=allowed, detail=detail)
        return allowed

    # ----------------------------------------------------------------- consent
    def _consent_rules(self) -> Basis | None:
        policy, treated = self.policy, self.treated
        promo_rule = self.jurisdiction.promotional.rule
        trans_rule = policy.rule("TRANSACTIONAL_NO_CONSENT")
        scope_rule = policy.rule("TRANSACTIONAL_OUT_OF_SCOPE")
        thread_rule = policy.rule("CONVERSATIONAL_NO_THREAD")
        not_this = f"the message is treated as {treated}"

        basis = self.bases.basis_for(treated)
        if not basis.in_force:
            self.skip(basis.rule, f"not in force until {basis.rule.effective_from.isoformat()}")
        else:
            self.add(basis.rule, passed=basis.passed, detail=basis.detail)
        for rule, kind in ((promo_rule, PROMOTIONAL), (trans_rule, TRANSACTIONAL)):
            if kind != treated:
                self.skip(rule, not_this)
        if treated != CONVERSATIONAL:
            self.skip(thread_rule, not_this)

        if treated == TRANSACTIONAL and self.in_force(scope_rule):
            fails = basis.in_force and not basis.passed and bool(basis.other_scopes)
            wanted = self.request.transaction_ref or "no transaction (program-wide consent needed)"
            detail = (
                f"this message is about {wanted}; consent on file covers " + listing(basis.other_scopes)
                if fails
                else "no consent limited to another subject is the obstacle"
            )
            self.add(scope_rule, passed=not fails, detail=detail)
        elif treated != TRANSACTIONAL:
            self.skip(scope_rule, not_this)

        expired_rule = policy.rule("CONSENT_EXPIRED")
        if self.in_force(expired_rule):
            fails = basis.in_force and not basis.passed and bool(basis.expired)
            detail = listing(basis.expired) if fails else "no expired consent is the obstacle"
            self.add(expired_rule, passed=not fails, detail=detail)

        reply_rule = policy.rule("REPLY_BEYOND_QUESTION")
        if self.request.in_reply_to is None:
            self.skip(reply_rule, "not a reply")
        elif treated == CONVERSATIONAL:
            self.skip(reply_rule, "the reply is conversational")
        elif self.in_force(reply_rule):
            passed = basis.in_force and basis.passed
            detail = (
                f"the reply to {self.request.in_reply_to} has the {treated} consent it needs"
                if passed
                else f"the reply to {self.request.in_reply_to} is {treated} and that consent is missing"
            )
            self.add(reply_rule, passed=passed, detail=detail)

        no_rule = policy.rule("NO_CONSENT_RULE_IN_FORCE")
        if self.in_force(no_rule):
            detail = (
                f"{basis.rule.rule_id} is in force"
                if basis.in_force
                else f"{basis.rule.rule_id} takes effect {basis.rule.effective_from.isoformat()}"
            )
            self.add(no_rule, passed=basis.in_force, detail=detail)
        return basis if basis.in_force and basis.passed else None

    def _inbound_review(self) -> None:
        rule = self.policy.rule("INBOUND_NEEDS_REVIEW")
        relied = self.bases.found(CONVERSATIONAL)
        inbound = relied.inbound if relied is not None and self.treated == CONVERSATIONAL else None
        reply_to = self.request.in_reply_to
        if inbound is None and reply_to is not None:
            inbound = next((i for i in self.bases.inbound if i.inbound_id == reply_to), None)
        if inbound is None:
            self.skip(rule, "relies on no inbound message")
            return
        if self.in_force(rule):
            flagged = inbound.needs_review
            detail = (
                f"{inbound.inbound_id} holds an opt-out keyword inside other text"
                if flagged
                else f"{inbound.inbound_id} is not flagged"
            )
            self.add(rule, passed=not flagged, detail=detail)

    # ---------------------------------------------------------- low confidence
    def _low_confidence(self, confirmation: bool) -> None:
        rule = self.policy.rule("LOW_CONFIDENCE")
        if not self.in_force(rule):
            return
        probabilities = self.probabilities
        top = max(probabilities.values())
        if top >= self.tau_conf:
            self.add(rule, passed=True, detail=f"top probability {top:.2f} >= {self.tau_conf:.2f}")
            return
        floor = self.policy.plausible_min_probability
        plausible = [t for t in LABELS if probabilities[t] >= floor]
        strictest = max((*plausible, self.treated), key=STRICTNESS.__getitem__)
        if confirmation:
            # The confirmation exemption covers any non-promotional type.
            covered = strictest != PROMOTIONAL
        else:
            basis = self.bases.basis_for(strictest)
            covered = basis.in_force and basis.passed
        detail = (
            f"top probability {top:.2f} < {self.tau_conf:.2f}; strictest plausible type "
            f"{strictest} (P {probabilities[strictest]:.2f}) is "
            + ("covered by the consent on file" if covered else "not covered by the consent on file")
        )
        self.add(rule, passed=covered, detail=detail)

    # -------------------------------------------------------------- time rules
    def _time_rules(self) -> datetime | None:
        """Quiet hours and frequency caps; returns when the caps next allow a send."""
        treated, instant, zones = self.treated, self.instant, self.place.zones
        for window in self.jurisdiction.windows:
            rule = window.rule
            if treated not in window.types:
                self.skip(rule, f"the window does not restrict {treated} messages")
                continue
            if not self.in_force(rule):
                continue
            if not zones:
                self.add(rule, passed=False, detail="the recipient's time zone is unknown", is_time=True)
                continue
            closed = [z for z in zones if not is_open(window.weekly, z, instant)]
            shown = closed or zones
            local = "; ".join(
                f"it is {local_label(instant, z)} in {z.key}, allowed "
                f"{window.describe(instant.astimezone(z).weekday())}"
                for z in shown[:SHOWN]
            )
            more = f" and {len(shown) - SHOWN} more zones" if len(shown) > SHOWN else ""
            self.add(rule, passed=not closed, detail=local + more, is_time=True)

        clear_at: datetime | None = None
        for cap in self.jurisdiction.caps:
            rule = cap.rule
            if treated not in cap.types:
                self.skip(rule, f"the cap does not count {treated} messages")
                continue
            if not self.in_force(rule):
                continue
            # Sends dated after the instant count too: fail closed on skewed clocks.
            counted = sorted(s for s in self.snapshot.recent_promotional_sends if s > instant - cap.window)
            over = len(counted) >= cap.max_messages
            if over:
                leaves = counted[len(counted) - cap.max_messages] + cap.window
                clear_at = leaves if clear_at is None else max(clear_at, leaves)
                detail = (
                    f"{len(counted)} sent in the last {hours(cap.window)} (max {cap.max_messages}); "
                    f"the oldest counted leaves the window at {stamp(leaves)}"
                )
            else:
                detail = f"{len(counted)} sent in the last {hours(cap.window)} (max {cap.max_messages})"
            self.add(rule, passed=not over, detail=detail, is_time=True)
        return clear_at

    def _not_before(self, cap_clear_at: datetime | None) -> datetime | None:
        zones = self.place.zones
        constraints = [
            (window.weekly, zone)
            for window in self.jurisdiction.windows
            if self.treated in window.types and window.rule.in_force(self.instant)
            for zone in zones
        ]
        if not zones and any(self.treated in w.types for w in self.jurisdiction.windows):
            return None
        start = max(self.instant, cap_clear_at) if cap_clear_at else self.instant
        # A later instant could bring a rule into force; the engine judges rules at the
        # decision instant, as RULES.md asks, and the send is re-checked when made.
        return earliest_open(constraints, start)

    # ---------------------------------------------------------------- content
    def _content_rules(self) -> None:
        opt_out_rule = self.policy.rule("PROMO_MISSING_OPT_OUT")
        sender_rule = self.policy.rule("PROMO_MISSING_SENDER_ID")
        if self.treated != PROMOTIONAL:
            self.skip(opt_out_rule, "content rules apply to promotional messages")
            self.skip(sender_rule, "content rules apply to promotional messages")
            return
        text = fold(self.request.text)
        if self.in_force(opt_out_rule):
            has = any(p.search(text) for p in self.policy.opt_out_content)
            self.add(
                opt_out_rule,
                passed=has,
                detail="opt-out instructions found" if has else "no opt-out instructions found",
            )
        if self.in_force(sender_rule):
            name = fold(self.snapshot.sender.display_name).strip()
            if not name:
                self.add(sender_rule, passed=False, detail="the sender has no display name configured")
            else:
                found = _contains_word(text, name)
                shown = self.snapshot.sender.display_name.strip()
                detail = f"{shown!r} {'appears' if found else 'does not appear'} in the text"
                self.add(sender_rule, passed=found, detail=detail)

    # ---------------------------------------------------------------- combine
    def _combine(self, basis: Basis | None, confirmation: bool, cap_clear_at: datetime | None) -> Decision:
        blocks: list[_Check] = []
        reviews: list[_Check] = []
        notes: list[_Check] = []
        for check in self.checks:
            if not check.applies or check.passed:
                continue
            effect = check.rule.effect
            if effect == "block":
                blocks.append(check)
            elif effect == "review":
                reviews.append(check)
            elif check.is_note:
                notes.append(check)
        consent_id = inbound_id = None
        not_before = None
        reasons: list[Reason]
        outcome: Outcome
        if blocks:
            outcome = "block"
            reasons = [self._reason(c) for c in (*blocks, *reviews)]
            if all(c.is_time for c in (*blocks, *reviews)):
                not_before = self._not_before(cap_clear_at)
        elif reviews:
            outcome = "review"
            reasons = [self._reason(c) for c in reviews]
        elif confirmation:
            outcome = "allow"
            rule = self.policy.rule("OPT_OUT_CONFIRMATION")
            detail = next(c.detail for c in self.checks if c.rule is rule)
            reasons = [self._pass_reason("OPT_OUT_CONFIRMATION", rule, detail)]
            opt = self.snapshot.opt_out
            inbound_id = opt.inbound_id if opt is not None else None
        elif basis is not None:
            outcome = "allow"
            reasons = [self._pass_reason(basis.pass_code, basis.rule, basis.detail)]
            consent_id = basis.consent.consent_id if basis.consent else None
            inbound_id = basis.inbound.inbound_id if basis.inbound else None
        else:
            # Nothing failed yet nothing was relied on: never allow on an empty basis.
            outcome = "review"
            rule = self.policy.rule("NO_CONSENT_RULE_IN_FORCE")
            check = _Check(rule, True, False, "no rule established a consent basis")
            self.checks.append(check)
            reasons = [self._reason(check)]
        reasons.extend(self._reason(c) for c in notes)
        place = self.place
        return Decision(
            decision=outcome,
            message_type=self.classification.message_type,
            treated_as=self.treated,
            reasons=tuple(reasons),
            jurisdiction=Jurisdiction(place.country, place.region, self.jurisdiction.key, place.zone_names),
            not_before=not_before,
            consent_id=consent_id,
            inbound_id=inbound_id,
            trace=tuple(_trace(c) for c in self.checks),
            policy_version=self.policy.version,
        )

    def _reason(self, check: _Check) -> Reason:
        rule = check.rule
        message = rule.render(
            sender=self.sender_name, jurisdiction=self.where, treated_as=self.treated, detail=check.detail
        )
        return Reason(rule.code, message, rule.source)

    def _pass_reason(self, code: str, rule: Rule, detail: str) -> Reason:
        message = self.policy.passes[code].format(
            sender=self.sender_name, jurisdiction=self.where, treated_as=self.treated, detail=detail
        )
        return Reason(code, message, rule.source)


# --------------------------------------------------------------------- helpers


def _trace(check: _Check) -> TraceEntry:
    rule = check.rule
    detail = check.detail if rule.rule_id == rule.code else f"{rule.rule_id}: {check.detail}"
    return TraceEntry(rule.code, check.applies, check.passed, rule.effect, detail)


def _probabilities(raw: Mapping[str, float]) -> dict[str, float]:
    """The three probabilities, with anything missing or not finite read the strict way."""
    cleaned: dict[str, float] = {}
    for label in LABELS:
        value = raw.get(label)
        if value is None or not math.isfinite(value):
            # An unreadable P(promotional) must not let a promotion through.
            cleaned[label] = 1.0 if label == PROMOTIONAL else 0.0
        else:
            cleaned[label] = min(1.0, max(0.0, float(value)))
    return cleaned


def _threshold(value: float, default: float) -> float:
    return value if math.isfinite(value) and 0.0 < value <= 1.0 else default


def _stricter(a: MessageType, b: MessageType) -> MessageType:
    return a if STRICTNESS[a] >= STRICTNESS[b] else b


def _contains_word(text: str, name: str) -> bool:
    """``name`` occurs in ``text`` not glued to other letters or digits."""
    start = text.find(name)
    while start != -1:
        end = start + len(name)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(name, start + 1)
    return False


def codes(reasons: Iterable[Reason]) -> list[str]:
    """The codes of ``reasons``, in order (for logs, metrics and tests)."""
    return [reason.code for reason in reasons]
