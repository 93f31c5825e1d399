"""The scenario table replayed through the database: same records, same decisions.

For every row of ``tests/consent/scenarios.py`` and both backends, the row's snapshot
records are written into a fresh database, the snapshot is rebuilt by the store and the
engine decides on it. The store must neither lose nor invent anything the rules read.

Writing paths: senders, consents, revocations, promotional sends and the opt-out
confirmation go through the repository. Inbound messages and the opt-out state go
straight into their tables, because the repository's only path for them
(``record_inbound``) also applies their effect (revoking, restoring), which the
scenario's snapshot has already folded in; the scenario's inbound ids are kept so
``in_reply_to`` still names them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import serve.consent
from serve.consent.engine import decide
from serve.consent.policy import Policy, load_policy
from serve.consent.records import (
    CheckRequest,
    Classification,
    ConsentRecord,
    ConsentSnapshot,
    Decision,
    Jurisdiction,
    MessageType,
    OptOutState,
    Reason,
)
from serve.store import ids, repository
from serve.store.errors import InvalidConsent
from serve.store.schema import InboundMessageRow, OptOutEventRow
from tests.consent.scenarios import SCENARIOS, Scenario

POLICY_PATH = Path(serve.consent.__file__).with_name("policy.toml")
REPLAYED = Jurisdiction(country="ZZ", region=None, policy_key="REPLAY", time_zones=())


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY_PATH)


@dataclass(frozen=True)
class Replay:
    """What writing a scenario into the database gave."""

    refused: tuple[tuple[ConsentRecord, InvalidConsent], ...]  # records the store will not keep


def _replay(session: Session, snapshot: ConsentSnapshot) -> Replay:
    _add_senders(session, snapshot)
    refused: list[tuple[ConsentRecord, InvalidConsent]] = []
    revoke: list[tuple[str, datetime, str]] = []
    for consent in snapshot.consents:
        try:
            stored = repository.add_consent(
                session=session,
                sender=consent.sender,
                phone=consent.phone,
                kind=consent.kind,
                method=consent.method,
                evidence=consent.evidence,
                scope=consent.scope,
                captured_at=consent.captured_at,
                expires_at=consent.expires_at,
                created_by="scenario",
            )
        except InvalidConsent as error:
            refused.append((consent, error))
            continue
        if consent.revoked_at is not None:
            revoke.append((stored.consent_id, consent.revoked_at, consent.revoked_by or "admin:x"))
    # Sends before the opt-out: the store refuses an ordinary allow to an opted-out number.
    for sent_at in snapshot.recent_promotional_sends:
        _allow(session, snapshot, sent_at, "promotional", "PROMO_CONSENT_OK")
    _add_inbound(session, snapshot)
    for consent_id, revoked_at, revoked_by in revoke:
        repository.revoke_consent(
            session=session,
            consent_id=consent_id,
            reason="replayed from the scenario",
            revoked_by=revoked_by,
            at=revoked_at,
        )
    if snapshot.opt_out is not None:
        _add_opt_out(session, snapshot, snapshot.opt_out)
        confirmed = snapshot.opt_out.confirmation_sent_at
        if confirmed is not None:
            _allow(session, snapshot, confirmed, "conversational", "OPT_OUT_CONFIRMATION")
    return Replay(refused=tuple(refused))


def _add_senders(session: Session, snapshot: ConsentSnapshot) -> None:
    profile = snapshot.sender
    repository.add_sender(
        session=session,
        sender=profile.sender,
        display_name=profile.display_name,
        help_text=profile.help_text,
    )
    others = {c.sender for c in snapshot.consents} | {i.sender for i in snapshot.inbound}
    for sender in sorted(others - {profile.sender}):
        repository.add_sender(session=session, sender=sender, display_name=sender.title())


def _allow(
    session: Session, snapshot: ConsentSnapshot, at: datetime, message_type: MessageType, code: str
) -> None:
    """An allowed send at ``at``, stored the way the service stores one."""
    repository.record_decision(
        session=session,
        decision=Decision(
            decision="allow",
            message_type=message_type,
            treated_as=message_type,
            reasons=(Reason(code, "replayed from the scenario", "scenario"),),
            jurisdiction=REPLAYED,
        ),
        request=CheckRequest(text="replayed", to=snapshot.phone, sender=snapshot.sender.sender, send_at=at),
        classification=Classification(
            message_type=message_type,
            probabilities={"promotional": 0.0, "transactional": 0.0, message_type: 1.0},
            tau_promo=0.35,
            tau_conf=0.6,
            model_version="replay",
        ),
        created_at=at,
    )


def _add_inbound(session: Session, snapshot: ConsentSnapshot) -> None:
    for message in snapshot.inbound:
        session.add(
            InboundMessageRow(
                inbound_id=message.inbound_id,
                sender=message.sender,
                phone=message.phone,
                text=message.text,
                received_at=message.received_at,
                action=message.action,
                needs_review=message.needs_review,
                keyword=None,
                reason_code=None,
                created_at=message.received_at,
            )
        )
    session.commit()


def _add_opt_out(session: Session, snapshot: ConsentSnapshot, opt_out: OptOutState) -> None:
    known = {message.inbound_id for message in snapshot.inbound}
    if opt_out.inbound_id is not None and opt_out.inbound_id not in known:
        # The opt-out names the STOP that caused it; the table keeps that message too.
        session.add(
            InboundMessageRow(
                inbound_id=opt_out.inbound_id,
                sender=snapshot.sender.sender,
                phone=snapshot.phone,
                text="STOP",
                received_at=opt_out.opted_out_at,
                action="opted_out",
                needs_review=False,
                keyword="STOP",
                reason_code=None,
                created_at=opt_out.opted_out_at,
            )
        )
    session.add(
        OptOutEventRow(
            event_id=ids.new_id(ids.OPT_EVENT, opt_out.opted_out_at),
            sender=snapshot.sender.sender,
            phone=snapshot.phone,
            kind="opt_out",
            at=opt_out.opted_out_at,
            inbound_id=opt_out.inbound_id,
            created_at=opt_out.opted_out_at,
        )
    )
    session.commit()


def _send_window(policy: Policy) -> timedelta:
    windows = [cap.window for j in policy.jurisdictions.values() for cap in j.caps]
    return max([timedelta(hours=24), *windows])


def _rebuilt(session: Session, scenario: Scenario, policy: Policy) -> ConsentSnapshot:
    request = scenario.request
    return repository.snapshot(
        session=session,
        sender=request.sender,
        phone=request.to,
        # The instant the engine judges: the send time, or now for a back-dated send.
        at=max(request.send_at, scenario.now),
        window=policy.conversation_window,
        send_window=_send_window(policy),
    )


@pytest.fixture(params=SCENARIOS, ids=[s.name for s in SCENARIOS])
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def replayed(session: Session, scenario: Scenario) -> Iterator[Replay]:
    yield _replay(session, scenario.snapshot)


def test_scenario_decision_is_the_same_from_the_database(
    session: Session, scenario: Scenario, policy: Policy, replayed: Replay
) -> None:
    """Deciding on the snapshot the store rebuilds gives the row's outcome, codes and not_before."""
    snapshot = _rebuilt(session, scenario, policy)

    decision = decide(scenario.classification, scenario.request, snapshot, policy, scenario.now)

    codes = [reason.code for reason in decision.reasons]
    assert decision.decision == scenario.expected_decision, codes
    assert set(scenario.expected_codes_present) <= set(codes), codes
    assert not set(scenario.expected_codes_absent) & set(codes), codes
    assert decision.not_before == scenario.expected_not_before


def test_scenario_records_the_store_refuses_are_exactly_the_unprovable_consents(
    scenario: Scenario, replayed: Replay
) -> None:
    """The store refuses a row's written consents without evidence, and nothing else."""
    unprovable = [
        c
        for c in scenario.snapshot.consents
        if c.kind == "express_written" and not (c.evidence or "").strip()
    ]

    assert [consent for consent, _ in replayed.refused] == unprovable
    assert {(error.code, error.field) for _, error in replayed.refused} <= {("invalid_consent", "evidence")}


def test_scenario_decision_round_trips_through_the_audit_trail(
    session: Session, scenario: Scenario, policy: Policy, replayed: Replay
) -> None:
    """The engine's decision on the rebuilt snapshot is stored and read back unchanged."""
    snapshot = _rebuilt(session, scenario, policy)
    decision = decide(scenario.classification, scenario.request, snapshot, policy, scenario.now)

    decision_id = repository.record_decision(
        session=session,
        decision=decision,
        request=scenario.request,
        classification=scenario.classification,
        created_at=scenario.now,
    )

    stored = repository.get_decision(session=session, decision_id=decision_id)
    assert stored.decision == decision
    assert stored.request == scenario.request
    assert stored.created_at == scenario.now.astimezone(UTC)
