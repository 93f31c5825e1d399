"""A group of checks sees exactly what each check would see decided and stored alone.

The group path reads every pair once and lays its own sends and confirmations over those
reads (serve/store/group_reads.py). Here random histories are decided twice, from two
copies of one SQLite file: once as one group, once check by check, each of those after
a read-only snapshot of the committed records (``repository.snapshot``). All three views
must agree at every check, and the stored rows must match.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serve.consent.records import CheckRequest, ConsentSnapshot, Decision, Reason
from serve.store import repository
from serve.store.database import make_engine, session_factory
from serve.store.schema import DecisionRow, OptOutConfirmationRow, SendRow
from tests.store.factories import (
    CHAT,
    OTHER_SENDER,
    SENDER,
    START,
    STOP,
    T0,
    add_consent,
    add_senders,
    classification,
    decision,
    inbound,
    record,
    request,
)

PHONES = ("+14155550101", "+14155550102", "+14155550103")
WINDOW = timedelta(hours=24)


def _history(session: Session, rng: random.Random) -> None:
    add_senders(session)
    for phone in PHONES:
        for _ in range(rng.randint(0, 2)):
            consent = add_consent(session, phone=phone, sender=rng.choice((SENDER, OTHER_SENDER)))
            if rng.random() < 0.3:
                repository.revoke_consent(
                    session=session,
                    consent_id=consent.consent_id,
                    reason="asked",
                    revoked_by="admin:test",
                    at=T0 - timedelta(hours=1),
                )
        # Sends first: the store refuses an allow once the number has opted out.
        for _ in range(rng.randint(0, 3)):
            when = T0 - timedelta(minutes=rng.randint(0, 26 * 60))
            record(session, message_type="promotional", phone=phone, send_at=when)
        for _ in range(rng.randint(0, 3)):
            when = T0 - timedelta(minutes=rng.randint(-30, 30 * 60))
            inbound(session, rng.choice((STOP, START, CHAT, CHAT)), phone=phone, received_at=when)


def _decide(snap: ConsentSnapshot) -> Decision:
    """Allows whenever the store would accept it, to exercise every write the group makes."""
    if snap.opt_out is not None:
        if snap.opt_out.confirmation_sent_at is None:
            return decision("allow", codes=("OPT_OUT_CONFIRMATION",))
        return decision("block", codes=("OPTED_OUT",))
    live = [c for c in snap.consents if c.revoked_at is None]
    if len(snap.recent_promotional_sends) >= 2 or not live:
        return decision("block", message_type="promotional", codes=("FREQUENCY_CAP",))
    chosen = replace(decision("allow", message_type="promotional"), consent_id=live[0].consent_id)
    if snap.inbound:
        chosen = replace(chosen, inbound_id=snap.inbound[0].inbound_id)
    return replace(chosen, reasons=(Reason("PROMO_CONSENT_OK", "ok", "TCPA"),))


def _checks(rng: random.Random) -> list[list[CheckRequest]]:
    batches = []
    for _ in range(rng.randint(2, 6)):
        batches.append(
            [
                request(
                    to=rng.choice(PHONES),
                    sender=rng.choice((SENDER, SENDER, OTHER_SENDER)),
                    send_at=T0 + timedelta(minutes=rng.randint(-90, 90)),
                )
                for _ in range(rng.randint(1, 4))
            ]
        )
    return batches


def _batch(checks: list[CheckRequest], seen: list[ConsentSnapshot], index: int) -> repository.CheckBatch:
    def judge(_: int, snap: ConsentSnapshot) -> Decision:
        seen.append(snap)
        outcome = _decide(snap)
        return replace(outcome, message_type=classification("promotional").message_type)

    return repository.CheckBatch(
        items=[(check, classification("promotional"), None) for check in checks],
        decide=judge,
        created_at=T0 + timedelta(seconds=index),
    )


def _stored(session: Session) -> list[tuple[object, ...]]:
    with session.begin():
        decisions = session.execute(
            select(DecisionRow.phone, DecisionRow.sender, DecisionRow.decision, DecisionRow.send_at).order_by(
                DecisionRow.created_at, DecisionRow.decision_id
            )
        ).all()
        sends = session.scalar(select(func.count()).select_from(SendRow))
        confirmations = session.scalar(select(func.count()).select_from(OptOutConfirmationRow))
    # Sorted: ids within one call share a millisecond, so their order is not the check order.
    return [*sorted(map(tuple, decisions)), ("sends", sends), ("confirmations", confirmations)]


@pytest.mark.parametrize("seed", range(12))
def test_a_group_sees_what_each_check_alone_would(seed: int, sqlite_template: Path, tmp_path: Path) -> None:
    rng = random.Random(seed)
    grouped_path, alone_path = tmp_path / "grouped.db", tmp_path / "alone.db"
    shutil.copyfile(sqlite_template, grouped_path)
    grouped_engine = make_engine(f"sqlite:///{grouped_path}")
    with session_factory(grouped_engine)() as session:
        _history(session, rng)
    grouped_engine.dispose()  # checkpoints the WAL, so the copy holds the history
    shutil.copyfile(grouped_path, alone_path)
    grouped_engine = make_engine(f"sqlite:///{grouped_path}")
    alone_engine = make_engine(f"sqlite:///{alone_path}")
    batches = _checks(rng)
    try:
        in_group: list[ConsentSnapshot] = []
        with session_factory(grouped_engine)() as session:
            repository.decide_and_record_batches(
                session=session,
                batches=[_batch(checks, in_group, i) for i, checks in enumerate(batches)],
                window=WINDOW,
            )
            grouped_rows = _stored(session)

        alone: list[ConsentSnapshot] = []
        queried: list[ConsentSnapshot] = []
        with session_factory(alone_engine)() as session:
            for index, checks in enumerate(batches):
                for check in checks:
                    created = T0 + timedelta(seconds=index)
                    at = max(check.send_at, created)
                    queried.append(
                        repository.snapshot(
                            session=session, sender=check.sender, phone=check.to, at=at, window=WINDOW
                        )
                    )
                    repository.decide_and_record_batches(
                        session=session, batches=[_batch([check], alone, index)], window=WINDOW
                    )
            alone_rows = _stored(session)
    finally:
        grouped_engine.dispose()
        alone_engine.dispose()

    assert len(in_group) == sum(len(b) for b in batches)
    assert in_group == alone == queried
    assert grouped_rows == alone_rows


def test_group_covers_caps_and_confirmations_across_seeds(sqlite_template: Path, tmp_path: Path) -> None:
    """Across the seeds above, the group path meets a cap and a confirmation at least once."""
    capped = confirmed = 0
    for seed in range(12):
        rng = random.Random(seed)
        path = tmp_path / f"s{seed}.db"
        shutil.copyfile(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            seen: list[ConsentSnapshot] = []
            with session_factory(engine)() as session:
                _history(session, rng)
                repository.decide_and_record_batches(
                    session=session,
                    batches=[_batch(checks, seen, i) for i, checks in enumerate(_checks(rng))],
                    window=WINDOW,
                )
        finally:
            engine.dispose()
        capped += sum(len(s.recent_promotional_sends) >= 2 for s in seen)
        confirmed += sum(s.opt_out is not None and s.opt_out.confirmation_sent_at is not None for s in seen)
    assert capped > 0
    assert confirmed > 0
