"""What a group of checks reads: one query per table for the whole group, not per check.

The decision writer decides a group of checks inside one transaction, under the pairs'
locks (decision_writer.py). Reading each (sender, phone)'s records with its own four or
five queries cost more CPU than the rules themselves; here every pair of a sender in the
group is read at once, and what the group itself writes as it goes (promotional sends,
an opt-out confirmation) is laid over those reads in memory. Each check therefore sees
exactly what a snapshot read after the checks before it were stored would show
(tests/store/test_group_reads.py compares the two). ``snapshots.snapshot`` is the same
reads for a group of one.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import BindParameter, Column, Table, bindparam, select
from sqlalchemy.orm import Session

from serve.consent.records import ConsentRecord, ConsentSnapshot, InboundRecord, OptOutState
from serve.store import validation
from serve.store.consents import consent_record
from serve.store.errors import InvalidInput
from serve.store.inbound_messages import inbound_record
from serve.store.schema import (
    Base,
    ConsentRevocationRow,
    ConsentRow,
    InboundMessageRow,
    OptOutConfirmationRow,
    OptOutEventRow,
    SendRow,
)
from serve.store.senders import load_sender

# Phones per IN list: far below SQLite's bound-parameter limit, and a group rarely
# holds more distinct numbers than this anyway.
CHUNK: Final = 500

_PHONES: Final[BindParameter[list[str]]] = bindparam("phones", expanding=True)


def _columns(entity: type[Base]) -> list[Column[Any]]:
    return list(cast(Table, entity.__table__).columns)


# Executed on the session's connection (SQLAlchemy Core): rows of columns, not ORM
# objects. The ORM's per-statement work was about half of a group's read time (327 ->
# 174 us for four reads), and a group's fixed cost is what a check pays at concurrency
# 16 (about 8 checks per group).
_CONSENTS: Final = (
    select(*_columns(ConsentRow), ConsentRevocationRow.revoked_at, ConsentRevocationRow.revoked_by)
    .outerjoin(ConsentRevocationRow, ConsentRevocationRow.consent_id == ConsentRow.consent_id)
    .where(ConsentRow.sender == bindparam("sender"), ConsentRow.phone.in_(_PHONES))
    # The order consents.consent_records gives, so each pair's slice keeps it.
    .order_by(ConsentRow.captured_at.desc(), ConsentRow.created_at.desc(), ConsentRow.consent_id.desc())
)
_INBOUND: Final = (
    select(*_columns(InboundMessageRow))
    .where(
        InboundMessageRow.sender == bindparam("sender"),
        InboundMessageRow.phone.in_(_PHONES),
        InboundMessageRow.received_at >= bindparam("since"),
        InboundMessageRow.received_at <= bindparam("until"),
    )
    .order_by(InboundMessageRow.received_at.desc(), InboundMessageRow.inbound_id.desc())
)
_SENDS: Final = select(SendRow.phone, SendRow.send_at).where(
    SendRow.sender == bindparam("sender"),
    SendRow.phone.in_(_PHONES),
    SendRow.treated_as == "promotional",
    SendRow.send_at >= bindparam("since"),
    SendRow.send_at <= bindparam("until"),
)
_OPT_EVENTS: Final = (
    select(
        OptOutEventRow.event_id,
        OptOutEventRow.phone,
        OptOutEventRow.kind,
        OptOutEventRow.at,
        OptOutEventRow.inbound_id,
    )
    .where(OptOutEventRow.sender == bindparam("sender"), OptOutEventRow.phone.in_(_PHONES))
    # The first row of each phone is its latest event: the one in force.
    .order_by(OptOutEventRow.at.desc(), OptOutEventRow.created_at.desc(), OptOutEventRow.event_id.desc())
)
_CONFIRMATIONS: Final = select(OptOutConfirmationRow.opt_out_event_id, OptOutConfirmationRow.sent_at).where(
    OptOutConfirmationRow.opt_out_event_id.in_(bindparam("events", expanding=True))
)


@dataclass(frozen=True)
class OptEvent:
    """The latest opt-out or opt-in of a pair (what the writer's guards need of it)."""

    event_id: str
    kind: str
    at: datetime
    inbound_id: str | None


@dataclass
class _Pair:
    consents: list[ConsentRecord] = field(default_factory=list)
    inbound: list[InboundRecord] = field(default_factory=list)  # newest first
    sends: list[datetime] = field(default_factory=list)  # promotional, ascending
    opt_event: OptEvent | None = None
    confirmation_sent_at: datetime | None = None


@dataclass(frozen=True)
class Wanted:
    """One check of the group: its pair and the instant the engine judges."""

    sender: str
    phone: str
    at: datetime


class GroupReads:
    """The records of every pair in a group, read lazily one sender at a time.

    Reading a sender only when its first check is decided keeps errors in item order: an
    unknown sender fails at its own check, as the per-check reads did.
    """

    def __init__(
        self, session: Session, wanted: Iterable[Wanted], *, window: timedelta, send_window: timedelta
    ) -> None:
        self._session = session
        self._window = window
        self._send_window = send_window
        self._wanted: dict[str, list[Wanted]] = defaultdict(list)
        for item in wanted:
            self._wanted[item.sender].append(item)
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._loaded: set[str] = set()

    def snapshot(self, sender: str, phone: str, at: datetime) -> ConsentSnapshot:
        check_window(at=at, window=self._window, send_window=self._send_window)
        profile = load_sender(self._session, sender)
        pair = self._pair(sender, phone)
        since, send_since = at - self._window, at - self._send_window
        sends = pair.sends[bisect.bisect_left(pair.sends, send_since) : bisect.bisect_right(pair.sends, at)]
        opt_out = None
        if pair.opt_event is not None and pair.opt_event.kind == "opt_out":
            opt_out = OptOutState(
                opted_out_at=pair.opt_event.at,
                inbound_id=pair.opt_event.inbound_id,
                confirmation_sent_at=pair.confirmation_sent_at,
            )
        return ConsentSnapshot(
            sender=profile,
            phone=phone,
            consents=tuple(pair.consents),
            inbound=tuple(m for m in pair.inbound if since <= m.received_at <= at),
            opt_out=opt_out,
            recent_promotional_sends=tuple(sends),
        )

    def consent(self, sender: str, phone: str, consent_id: str) -> ConsentRecord | None:
        return next((c for c in self._pair(sender, phone).consents if c.consent_id == consent_id), None)

    def inbound(self, sender: str, phone: str, inbound_id: str) -> InboundRecord | None:
        """Among the messages read for the group's windows; None means "not among them"."""
        return next((m for m in self._pair(sender, phone).inbound if m.inbound_id == inbound_id), None)

    def opt_event(self, sender: str, phone: str) -> OptEvent | None:
        return self._pair(sender, phone).opt_event

    def confirmation_sent_at(self, sender: str, phone: str) -> datetime | None:
        return self._pair(sender, phone).confirmation_sent_at

    def add_send(self, sender: str, phone: str, sent_at: datetime) -> None:
        """A promotional send this group allowed: later checks of the pair count it."""
        bisect.insort(self._pair(sender, phone).sends, sent_at.astimezone(UTC))

    def add_confirmation(self, sender: str, phone: str, sent_at: datetime) -> None:
        self._pair(sender, phone).confirmation_sent_at = sent_at.astimezone(UTC)

    def _pair(self, sender: str, phone: str) -> _Pair:
        if sender not in self._loaded:
            self._load(sender)
        try:
            return self._pairs[(sender, phone)]
        except KeyError:  # an empty pair would silently mean "no consent, no opt-out"
            raise LookupError(f"({sender}, {phone}) is not a pair of this group") from None

    def _load(self, sender: str) -> None:
        wanted = [w for w in self._wanted.get(sender, ()) if w.at.tzinfo is not None]
        self._loaded.add(sender)
        if not wanted:
            return
        phones = sorted({w.phone for w in wanted})
        until = max(w.at for w in wanted)
        earliest = min(w.at for w in wanted)
        for chunk in _chunks(phones):
            self._read(
                sender,
                chunk,
                since=earliest - self._window,
                send_since=earliest - self._send_window,
                until=until,
            )

    def _read(
        self, sender: str, phones: Sequence[str], *, since: datetime, send_since: datetime, until: datetime
    ) -> None:
        # Rows this unit of work added through the ORM must be in the database first: the
        # Core reads below do not flush as the session's own queries do.
        self._session.flush()
        connection = self._session.connection()
        pairs = {phone: self._pairs.setdefault((sender, phone), _Pair()) for phone in phones}
        base = {"sender": sender, "phones": list(phones)}
        for consent in connection.execute(_CONSENTS, base):
            # revoked_at is never NULL in a revocation: NULL means the outer join found none.
            revocation = consent if consent.revoked_at is not None else None
            pairs[consent.phone].consents.append(consent_record(consent, revocation))
        for inbound in connection.execute(_INBOUND, {**base, "since": since, "until": until}):
            pairs[inbound.phone].inbound.append(inbound_record(inbound))
        for phone, send_at in connection.execute(_SENDS, {**base, "since": send_since, "until": until}):
            pairs[phone].sends.append(send_at)
        for pair in pairs.values():
            pair.sends.sort()
        opted_out: dict[str, _Pair] = {}
        for event in connection.execute(_OPT_EVENTS, base):
            pair = pairs[event.phone]
            if pair.opt_event is None:
                pair.opt_event = OptEvent(event.event_id, event.kind, event.at, event.inbound_id)
                if event.kind == "opt_out":
                    opted_out[event.event_id] = pair
        if opted_out:
            for confirmation in connection.execute(_CONFIRMATIONS, {"events": list(opted_out)}):
                opted_out[confirmation.opt_out_event_id].confirmation_sent_at = confirmation.sent_at


def check_window(*, at: datetime, window: timedelta, send_window: timedelta) -> None:
    validation.aware("at", at)
    if window < timedelta(0):
        raise InvalidInput("window", "must not be negative")
    if send_window < timedelta(0):
        raise InvalidInput("send_window", "must not be negative")


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
