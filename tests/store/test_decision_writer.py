"""Group commit: many callers' checks in one transaction, each answered after the commit."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from serve.consent.engine import decide
from serve.consent.policy import Policy, load_policy
from serve.consent.records import CheckRequest
from serve.decision_writer import MAX_PASSES, DecisionWriter
from serve.store import repository
from serve.store.database import WriterQueue, make_engine, session_factory
from serve.store.errors import NotFound
from serve.store.schema import DecisionRow, SendRow
from serve.store.views import StoredDecision
from tests.store.factories import T0, add_consent, add_senders, classification, request

FLORIDA = "+13055550123"  # Florida caps promotional messages at 3 per 24 hours
POLICY: Policy = load_policy()


def _batch(check: CheckRequest, message_type: str = "promotional") -> repository.CheckBatch:
    labelled = classification(message_type)  # type: ignore[arg-type]
    return repository.CheckBatch(
        items=[(check, labelled, None)],
        decide=lambda _i, snap: decide(labelled, check, snap, POLICY, T0),
        created_at=T0,
    )


def _promotion(phone: str = FLORIDA, sender: str = "acme") -> CheckRequest:
    return replace(
        request(),
        to=phone,
        sender=sender,
        text="Acme Outdoor: 20% off boots this weekend. Reply STOP to opt out.",
        transaction_ref=None,
    )


def _count(engine: Engine, table: type[object]) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def writer(engine: Engine, session: Session, gate: threading.Event) -> Iterator[DecisionWriter]:
    """A writer whose first transaction waits for ``gate``: everything submitted meanwhile
    queues up and must then be written as one group."""
    add_senders(session)
    sessions = session_factory(engine)
    first = threading.Event()

    @contextmanager
    def scope() -> Iterator[Session]:
        if not first.is_set():
            first.set()
            assert gate.wait(timeout=30)
        with sessions() as s:
            yield s

    def scope_factory() -> AbstractContextManager[Session]:
        return scope()

    writer = DecisionWriter(scope_factory, POLICY.conversation_window)
    yield writer
    gate.set()
    writer.stop()


def _results(futures: list[Future[tuple[StoredDecision, ...]]]) -> list[tuple[StoredDecision, ...]]:
    return [f.result(timeout=60) for f in futures]


def test_queued_checks_share_one_transaction(
    writer: DecisionWriter, engine: Engine, gate: threading.Event
) -> None:
    futures = [writer.submit(_batch(_promotion(f"+1415555{100 + i:04d}"))) for i in range(20)]
    gate.set()
    results = _results(futures)

    assert [len(r) for r in results] == [1] * 20
    assert len({r[0].decision_id for r in results}) == 20
    # Whatever the writer took before the gate opened, then all the rest: two at most.
    assert writer.groups <= 2
    assert _count(engine, DecisionRow) == 20


def test_frequency_cap_holds_inside_one_group(
    writer: DecisionWriter, engine: Engine, session: Session, gate: threading.Event
) -> None:
    add_consent(session, phone=FLORIDA)
    futures = [writer.submit(_batch(_promotion())) for _ in range(7)]
    gate.set()
    outcomes = [r[0].decision for r in _results(futures)]

    assert [o.decision for o in outcomes].count("allow") == 3
    capped = [o for o in outcomes if o.decision != "allow"]
    assert capped and all("FREQUENCY_CAP" in {r.code for r in o.reasons} for o in capped)
    assert _count(engine, SendRow) == 3


def test_one_bad_check_fails_alone(writer: DecisionWriter, engine: Engine, gate: threading.Event) -> None:
    good = [writer.submit(_batch(_promotion(f"+1415555{100 + i:04d}"))) for i in range(5)]
    bad = writer.submit(_batch(_promotion(sender="nobody")))
    more = [writer.submit(_batch(_promotion(f"+1415555{200 + i:04d}"))) for i in range(5)]
    gate.set()

    assert len(_results(good + more)) == 10
    with pytest.raises(NotFound):
        bad.result(timeout=60)
    assert _count(engine, DecisionRow) == 10


def test_stop_writes_what_was_submitted(
    writer: DecisionWriter, engine: Engine, gate: threading.Event
) -> None:
    futures = [writer.submit(_batch(_promotion(f"+1415555{100 + i:04d}"))) for i in range(8)]
    gate.set()
    writer.stop()

    assert all(f.done() for f in futures)
    assert _count(engine, DecisionRow) == 8


def test_sqlite_writers_of_all_processes_queue_on_one_lock_file(tmp_path: Path) -> None:
    """A second holder waits until the first releases (flock: what another worker sees)."""
    queue = WriterQueue(f"sqlite:///{tmp_path / 'store.db'}")
    assert queue.path == tmp_path / "store.db.writer-lock"
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(timeout=10)
        with WriterQueue(f"sqlite:///{tmp_path / 'store.db'}").turn():
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with queue.turn():
        inside.set()
        thread.join(timeout=0.3)  # still waiting on the lock
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "second"]


def test_postgresql_needs_no_lock_file_and_never_writes_on_the_loop() -> None:
    postgresql = WriterQueue("postgresql+psycopg://postgres@127.0.0.1/x")
    assert postgresql.path is None
    with postgresql.try_turn() as mine:
        assert not mine
    assert WriterQueue("sqlite://").path is None


@pytest.fixture
def sqlite_file(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def loop_writer(sqlite_file: str) -> Iterator[tuple[DecisionWriter, Engine]]:
    """A SQLite writer that writes on the event loop whenever the lock is free."""
    engine = make_engine(sqlite_file)
    with session_factory(engine)() as session:
        add_senders(session)
    queue = WriterQueue(sqlite_file)
    writer = DecisionWriter(
        session_factory(engine), POLICY.conversation_window, turn=queue.turn, try_turn=queue.try_turn
    )
    yield writer, engine
    writer.stop()
    engine.dispose()


def test_sqlite_checks_of_one_loop_turn_are_one_group_written_on_the_loop(
    loop_writer: tuple[DecisionWriter, Engine],
) -> None:
    writer, engine = loop_writer

    async def main() -> list[tuple[StoredDecision, ...]]:
        return await asyncio.gather(
            *(writer.record(_batch(_promotion(f"+1415555{100 + i:04d}"))) for i in range(12))
        )

    results = asyncio.run(main())
    assert len({r[0].decision_id for r in results}) == 12
    assert (writer.groups, writer.groups_on_loop) == (1, 1)
    assert _count(engine, DecisionRow) == 12


def test_on_the_loop_a_bad_check_fails_alone(loop_writer: tuple[DecisionWriter, Engine]) -> None:
    writer, engine = loop_writer

    async def main() -> list[tuple[StoredDecision, ...] | BaseException]:
        checks = [_promotion("+14155550100"), _promotion(sender="nobody"), _promotion("+14155550101")]
        return await asyncio.gather(*(writer.record(_batch(c)) for c in checks), return_exceptions=True)

    good, bad, also_good = asyncio.run(main())
    assert isinstance(bad, NotFound)
    assert not isinstance(good, BaseException) and not isinstance(also_good, BaseException)
    assert _count(engine, DecisionRow) == 2


def test_a_busy_lock_sends_the_group_to_the_thread_and_the_loop_runs_on(
    loop_writer: tuple[DecisionWriter, Engine], sqlite_file: str
) -> None:
    """Another worker holds the writer lock: the loop must not wait for it."""
    writer, engine = loop_writer
    other_worker = WriterQueue(sqlite_file)  # its own descriptor: excluded like a process

    async def main() -> tuple[tuple[StoredDecision, ...], int]:
        ticks = 0
        with other_worker.turn():
            pending = asyncio.ensure_future(writer.record(_batch(_promotion())))
            for _ in range(20):  # the loop keeps turning while the write waits
                await asyncio.sleep(0.01)
                ticks += 1
            assert not pending.done()  # nothing is answered before its commit
        return await asyncio.wait_for(pending, timeout=30), ticks

    result, ticks = asyncio.run(main())
    assert ticks == 20 and len(result) == 1
    assert (writer.groups, writer.groups_on_loop) == (1, 0)
    assert _count(engine, DecisionRow) == 1


def test_try_turn_never_waits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, second = WriterQueue(url), WriterQueue(url)
    with first.try_turn() as mine:
        assert mine
        with second.try_turn() as theirs:
            assert not theirs
    with second.try_turn() as theirs:
        assert theirs
    with WriterQueue("sqlite://").try_turn() as alone:  # in memory: one process only
        assert alone


def test_checks_arriving_pass_after_pass_join_one_group(loop_writer: tuple[DecisionWriter, Engine]) -> None:
    """A wave of requests reaches the writer over several passes of the loop."""
    writer, engine = loop_writer

    async def main() -> list[tuple[StoredDecision, ...]]:
        pending = []
        for i in range(10):
            pending.append(asyncio.ensure_future(writer.record(_batch(_promotion(f"+1415555{100 + i:04d}")))))
            await asyncio.sleep(0)  # one pass of the loop
        return await asyncio.gather(*pending)

    assert len(asyncio.run(main())) == 10
    assert (writer.groups, writer.groups_on_loop) == (1, 1)
    assert _count(engine, DecisionRow) == 10


def test_a_group_does_not_wait_for_a_stream_that_never_pauses(
    loop_writer: tuple[DecisionWriter, Engine],
) -> None:
    """New checks every pass: a group is still written after MAX_PASSES passes."""
    writer, _ = loop_writer

    async def main() -> tuple[int, int]:
        first = asyncio.ensure_future(writer.record(_batch(_promotion("+14155550100"))))
        passes = 0
        rest = []
        while not first.done() and passes < 100:
            passes += 1
            rest.append(asyncio.ensure_future(writer.record(_batch(_promotion(f"+1415556{passes:04d}")))))
            await asyncio.sleep(0)
        await asyncio.gather(*rest)
        return passes, writer.groups

    passes, groups = asyncio.run(main())
    # The passes to schedule the group and to wake the awaiting task come on top.
    assert passes <= MAX_PASSES + 4
    assert groups >= 2


def test_without_try_turn_the_thread_writes_what_the_loop_gathered(engine: Engine, session: Session) -> None:
    """PostgreSQL's path: one wave of checks, one transaction on the writer thread."""
    add_senders(session)
    writer = DecisionWriter(session_factory(engine), POLICY.conversation_window)

    async def main() -> list[tuple[StoredDecision, ...]]:
        pending = []
        for i in range(10):
            pending.append(asyncio.ensure_future(writer.record(_batch(_promotion(f"+1415555{100 + i:04d}")))))
            await asyncio.sleep(0)
        return await asyncio.gather(*pending)

    try:
        results = asyncio.run(main())
    finally:
        writer.stop()
    assert len({r[0].decision_id for r in results}) == 10
    assert (writer.groups, writer.groups_on_loop) == (1, 0)
    assert _count(engine, DecisionRow) == 10


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/store.db", "sqlite://"])
def test_in_one_process_the_loop_never_shares_the_threads_turn(tmp_path: Path, url: str) -> None:
    """flock alone would let two holders of one descriptor in: the loop and the thread."""
    queue = WriterQueue(url.format(tmp=tmp_path))
    held, release = threading.Event(), threading.Event()

    def writer_thread() -> None:
        with queue.turn():
            held.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=writer_thread)
    thread.start()
    try:
        assert held.wait(timeout=10)
        with queue.try_turn() as mine:
            assert not mine
    finally:
        release.set()
        thread.join(timeout=10)
    with queue.try_turn() as mine:
        assert mine
