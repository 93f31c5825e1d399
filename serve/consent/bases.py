"""Which consent (or inbound message) a send could rely on: RULES.md section 2.

One ``BasisFinder`` serves one decision. For each message type it evaluates the
consent rule that type needs and returns a ``Basis``: whether the rule passes, on
which record, and, when it fails, which records were refused and why (expired,
limited to another subject...), which the engine turns into its reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from serve.consent.policy import Policy, PromoConsent, Rule
from serve.consent.records import CheckRequest, ConsentRecord, ConsentSnapshot, InboundRecord
from serve.consent.wording import day, hours, kind_words, listing, stamp

PROMOTIONAL: Final = "promotional"
TRANSACTIONAL: Final = "transactional"
# Inbound actions by which the recipient texted the sender and so opened a reply window.
WINDOW_OPENERS: Final = frozenset({"conversation_opened", "help", "opted_in"})


@dataclass(slots=True)
class Basis:
    """What one consent rule found: whether it passed, on what, and why not."""

    rule: Rule
    in_force: bool
    passed: bool
    detail: str
    pass_code: str = ""
    consent: ConsentRecord | None = None
    inbound: InboundRecord | None = None
    expired: list[str] = field(default_factory=list)  # would have counted but for expiry
    other_scopes: list[str] = field(default_factory=list)


class BasisFinder:
    """The consent rules for one (sender, phone) at one instant, memoised per type."""

    def __init__(
        self,
        request: CheckRequest,
        snapshot: ConsentSnapshot,
        policy: Policy,
        instant: datetime,
        promotional: PromoConsent,
        sender_name: str,
    ) -> None:
        self.request = request
        self.snapshot = snapshot
        self.policy = policy
        self.instant = instant
        self.promotional = promotional
        self.sender_name = sender_name
        # Only this (sender, phone)'s records count, whatever else a snapshot carries.
        self.consents = tuple(
            c for c in snapshot.consents if c.sender == request.sender and c.phone == request.to
        )
        self.inbound = tuple(
            i for i in snapshot.inbound if i.sender == request.sender and i.phone == request.to
        )
        self._found: dict[str, Basis] = {}

    def found(self, message_type: str) -> Basis | None:
        """The basis already evaluated for ``message_type``, if any."""
        return self._found.get(message_type)

    def basis_for(self, message_type: str) -> Basis:
        """The consent rule for ``message_type``, evaluated once per decision."""
        found = self._found.get(message_type)
        if found is None:
            if message_type == PROMOTIONAL:
                found = self._promotional(self.promotional)
            elif message_type == TRANSACTIONAL:
                found = self._transactional()
            else:
                found = self._conversational()
            self._found[message_type] = found
        return found

    def active(self, consent: ConsentRecord) -> bool:
        """Captured by now and not revoked by now; expiry is judged by the caller."""
        instant = self.instant
        if consent.captured_at > instant:
            return False
        return consent.revoked_at is None or consent.revoked_at > instant

    def expiry(self, consent: ConsentRecord) -> datetime | None:
        """When the consent expired, if it has by the instant."""
        ends = consent.expires_at
        return ends if ends is not None and ends <= self.instant else None

    def _promotional(self, spec: PromoConsent) -> Basis:
        rule = spec.rule
        if not rule.in_force(self.instant):
            return Basis(rule, False, False, "")
        implied_methods = self.policy.implied_methods
        best: tuple[tuple[int, float, str], ConsentRecord, str] | None = None
        expired: list[str] = []
        refused: list[str] = []
        for consent in self.consents:
            if not self.active(consent):
                refused.append(f"{consent.consent_id} ({_inactive(consent, self.instant)})")
                continue
            what = ""
            rank = 0
            if consent.method in implied_methods:
                implied = spec.implied.get(consent.method)
                if implied is None:
                    refused.append(f"{consent.consent_id} ({consent.method} is not consent here)")
                    continue
                until = (
                    _add_months(consent.captured_at, implied.valid_months)
                    if implied.valid_months is not None
                    else None
                )
                ends = [end for end in (consent.expires_at, until) if end is not None and end <= self.instant]
                if ends:
                    expired.append(
                        f"{consent.consent_id} ({consent.method} of {day(consent.captured_at)}, "
                        f"ended {day(min(ends))})"
                    )
                    continue
                rank = 2
                what = f"implied consent from a {consent.method} recorded {day(consent.captured_at)}"
                if until is not None:
                    what += f" (valid until {day(until)})"
            else:
                if consent.kind not in spec.accepts:
                    refused.append(
                        f"{consent.consent_id} ({kind_words(consent.kind)}, not "
                        + " or ".join(kind_words(k) for k in sorted(spec.accepts))
                        + ")"
                    )
                    continue
                if spec.require_evidence and not (consent.evidence or "").strip():
                    refused.append(f"{consent.consent_id} (no evidence on file)")
                    continue
                if spec.require_program_scope and consent.scope is not None:
                    refused.append(f"{consent.consent_id} (limited to {consent.scope})")
                    continue
                ended = self.expiry(consent)
                if ended is not None:
                    expired.append(f"{consent.consent_id} (expired {day(ended)})")
                    continue
                rank = 0 if consent.kind == "express_written" else 1
                recorded = day(consent.captured_at)
                what = f"{kind_words(consent.kind)} consent recorded {recorded} via {consent.method}"
            key = (rank, -consent.captured_at.timestamp(), consent.consent_id)
            if best is None or key < best[0]:
                best = (key, consent, what)
        if best is not None:
            _, consent, what = best
            return Basis(rule, True, True, f"{what} ({consent.consent_id})", "PROMO_CONSENT_OK", consent)
        return Basis(rule, True, False, _none_found(refused, expired), expired=expired)

    def _transactional(self) -> Basis:
        rule = self.policy.rule("TRANSACTIONAL_NO_CONSENT")
        if not rule.in_force(self.instant):
            return Basis(rule, False, False, "")
        ref = self.request.transaction_ref
        best: tuple[tuple[int, float, str], ConsentRecord] | None = None
        expired: list[str] = []
        refused: list[str] = []
        scopes: list[str] = []
        for consent in self.consents:
            if not self.active(consent):
                refused.append(f"{consent.consent_id} ({_inactive(consent, self.instant)})")
                continue
            ended = self.expiry(consent)
            if consent.scope is not None and consent.scope != ref:
                if ended is None:
                    scopes.append(consent.scope)
                refused.append(f"{consent.consent_id} (for {consent.scope})")
                continue
            if ended is not None:
                expired.append(f"{consent.consent_id} (expired {day(ended)})")
                continue
            # Prefer the consent naming this transaction over the program-wide one.
            rank = 0 if consent.scope is not None else 1
            key = (rank, -consent.captured_at.timestamp(), consent.consent_id)
            if best is None or key < best[0]:
                best = (key, consent)
        if best is not None:
            consent = best[1]
            subject = f"for {consent.scope}" if consent.scope else "for the whole program"
            detail = (
                f"{kind_words(consent.kind)} consent {subject} recorded "
                f"{day(consent.captured_at)} via {consent.method} ({consent.consent_id})"
            )
            return Basis(rule, True, True, detail, "TRANSACTIONAL_CONSENT_OK", consent)
        return Basis(
            rule,
            True,
            False,
            _none_found(refused, expired),
            expired=expired,
            other_scopes=sorted(set(scopes)),
        )

    def _conversational(self) -> Basis:
        rule = self.policy.rule("CONVERSATIONAL_NO_THREAD")
        if not rule.in_force(self.instant):
            return Basis(rule, False, False, "")
        window = self.policy.conversation_window
        reply_to = self.request.in_reply_to
        named: InboundRecord | None = None
        if reply_to is not None:
            named = next((i for i in self.snapshot.inbound if i.inbound_id == reply_to), None)
            problem = self._reply_problem(named, reply_to)
            if problem:
                return Basis(rule, True, False, problem)
        opener = named if named is not None else self._latest_open_window()
        if opener is not None and self.window_open(opener):
            detail = (
                f"the recipient texted {self.sender_name} at {stamp(opener.received_at)} "
                f"({opener.inbound_id}); the {hours(window)} reply window is open"
            )
            return Basis(rule, True, True, detail, "CONVERSATION_OPEN", inbound=opener)
        express: ConsentRecord | None = None
        expired: list[str] = []
        for consent in self.consents:
            if not self.active(consent) or consent.method in self.policy.implied_methods:
                continue
            ended = self.expiry(consent)
            if ended is not None:
                expired.append(f"{consent.consent_id} (expired {day(ended)})")
            elif express is None or consent.captured_at > express.captured_at:
                express = consent
        if express is not None:
            detail = (
                f"{kind_words(express.kind)} consent recorded {day(express.captured_at)} "
                f"via {express.method} ({express.consent_id})"
            )
            return Basis(rule, True, True, detail, "CONVERSATIONAL_CONSENT_OK", express)
        if named is not None:
            why = f"{named.inbound_id} arrived {stamp(named.received_at)}, outside the window"
            if self._closed_by_opt_out(named):
                why = f"{named.inbound_id} was followed by an opt-out"
        else:
            why = f"the recipient has not texted {self.sender_name} in the last {hours(window)}"
        return Basis(rule, True, False, why + "; no express consent either", expired=expired)

    def _reply_problem(self, named: InboundRecord | None, reply_to: str) -> str:
        if named is None:
            return f"in_reply_to {reply_to} is not an inbound message on file for this number"
        if named.phone != self.request.to:
            return f"in_reply_to {reply_to} came from another number"
        if named.sender != self.request.sender:
            return f"in_reply_to {reply_to} was sent to another sender"
        if named.received_at > self.instant:
            return f"in_reply_to {reply_to} is dated after this send"
        if named.action not in WINDOW_OPENERS:
            return f"in_reply_to {reply_to} was an {named.action} message, not a conversation"
        return ""

    def window_open(self, inbound: InboundRecord) -> bool:
        instant = self.instant
        return (
            inbound.action in WINDOW_OPENERS
            and inbound.received_at <= instant < inbound.received_at + self.policy.conversation_window
            and not self._closed_by_opt_out(inbound)
        )

    def _latest_open_window(self) -> InboundRecord | None:
        latest: InboundRecord | None = None
        for inbound in self.inbound:
            if self.window_open(inbound) and (latest is None or inbound.received_at > latest.received_at):
                latest = inbound
        return latest

    def _closed_by_opt_out(self, opener: InboundRecord) -> bool:
        opt = self.snapshot.opt_out
        if opt is not None and opt.opted_out_at >= opener.received_at:
            return True
        return any(
            i.action == "opted_out" and opener.received_at <= i.received_at <= self.instant
            for i in self.inbound
        )


def _inactive(consent: ConsentRecord, instant: datetime) -> str:
    if consent.captured_at > instant:
        return f"captured later, {stamp(consent.captured_at)}"
    if consent.revoked_at is not None:
        return f"revoked {stamp(consent.revoked_at)}"
    return "not active"


def _none_found(refused: Sequence[str], expired: Sequence[str]) -> str:
    if not refused and not expired:
        return "no consent on file"
    return "none of the consents on file qualifies: " + listing([*expired, *refused])


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    days = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
