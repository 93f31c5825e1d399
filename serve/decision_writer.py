"""Group commit for decisions: many concurrent checks, one transaction, one disk sync.

Every /v1/check must be in the audit trail before its answer goes out, and a commit that
survives a crash costs a disk sync. One sync per request caps the service at the disk's
sync rate, and on SQLite requests also queue on the single write lock. Here requests hand
their classified items to the writer, which decides and inserts a whole group in one
transaction (same lock, same snapshots-in-order as one batch) and commits once; each
request is answered only after that commit returned. Nothing is acknowledged earlier, so
durability is unchanged; only the syncs are shared.

The event loop gathers the group: the checks that reach the writer while the loop keeps
receiving new ones (see IDLE_PASSES). On SQLite the loop then writes the group itself if
the writer lock is free (``try_turn``). A writer thread hands the GIL back and forth with
the loop at every SQLite call (about 45 switches per group), which stretched a group of
8 checks from 4 ms of CPU to 10 ms of wall time while its requests waited; SQLite has no
network round trip to wait on, so the loop loses only the group's own CPU time. When
another worker holds the lock, the group goes to the writer thread, which waits for it;
the loop never does. PostgreSQL always uses the thread: its round trips would stall
the loop.

If a group fails as a whole (one request names an unknown sender, an allow went stale),
each request in it is written again on its own, so one bad request never fails the
others and each gets its own error.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Protocol, cast

from sqlalchemy.orm import Session

from serve.store import repository
from serve.store.errors import StaleDecision
from serve.store.views import StoredDecision

log = logging.getLogger("sendgate.decisions")

# Upper bound on requests per transaction: bounds the time the write lock is held and
# the work lost to a retry when one request in the group is refused.
MAX_GROUP: Final = 128
# An allow can go stale between snapshot and write (an opt-out arrived); decide again.
STALE_ATTEMPTS: Final = 3
# On the event loop a group is written once IDLE_PASSES passes of the loop in a row
# brought it no new check, or when it is full, or after MAX_PASSES passes. A check
# reaches the writer a pass or two after its bytes arrived, so writing at the first pass
# caught only the front of each wave of requests: at 16 concurrent checks, groups of 5
# instead of 16 (and 975 instead of 1,200 checks/s, p99 23 instead of 20 ms).
IDLE_PASSES: Final = 2
MAX_PASSES: Final = 16

Result = tuple[StoredDecision, ...]
Turn = Callable[[], AbstractContextManager[None]]


class _Outcome(Protocol):
    """What a job reports to: a ``concurrent.futures.Future`` or an ``asyncio.Future``."""

    def done(self) -> bool: ...
    def set_result(self, result: Result, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...


@dataclass
class _Job:
    batch: repository.CheckBatch
    future: _Outcome


class DecisionWriter:
    """``await writer.record(batch)`` returns the stored decisions once committed."""

    def __init__(
        self,
        session_scope: Callable[[], AbstractContextManager[Session]],
        window: timedelta,
        max_group: int = MAX_GROUP,
        observe: Callable[[int, float], None] | None = None,
        turn: Turn | None = None,
        try_turn: Callable[[], AbstractContextManager[bool]] | None = None,
    ) -> None:
        """``observe(group size, seconds)`` is called after each committed group; ``turn``
        is held around each transaction (see ``database.WriterQueue``). With ``try_turn``
        (SQLite only) ``record`` writes on the event loop whenever the turn is free."""
        self._session_scope = session_scope
        self._window = window
        self._max_group = max_group
        self._observe = observe
        self._turn = turn or nullcontext
        self._try_turn = try_turn
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._waiting: list[_Job] = []  # jobs for the event loop's next group
        self.groups = 0  # transactions committed (tests read it)
        self.groups_on_loop = 0  # groups the event loop wrote itself (tests read it)

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sendgate-decision-writer", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Finish what was submitted, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def submit(self, batch: repository.CheckBatch) -> Future[Result]:
        """From any thread: the writer thread writes it; the future resolves on commit."""
        return self._submit_group([batch])[0]

    def _submit_group(self, batches: Sequence[repository.CheckBatch]) -> list[Future[Result]]:
        """Hand batches to the thread, to be written in one transaction if they fit."""
        self.start()
        futures: list[Future[Result]] = [Future() for _ in batches]
        self._queue.put([_Job(batch, future) for batch, future in zip(batches, futures, strict=True)])
        return futures

    async def record(self, batch: repository.CheckBatch) -> Result:
        loop = asyncio.get_running_loop()
        job = _Job(batch, loop.create_future())
        if not self._waiting:
            loop.call_soon(self._gather, loop, 0, 0, 0)
        self._waiting.append(job)
        return await cast("asyncio.Future[Result]", job.future)

    def _gather(self, loop: asyncio.AbstractEventLoop, seen: int, idle: int, passes: int) -> None:
        """One pass of the event loop: write the waiting group, or look again next pass."""
        size = len(self._waiting)
        idle = idle + 1 if size == seen else 0
        if idle >= IDLE_PASSES or passes >= MAX_PASSES or size >= self._max_group:
            self._write_waiting(loop)
        else:
            loop.call_soon(self._gather, loop, size, idle, passes + 1)

    def _write_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write the waiting group on the event loop now, or pass it to the thread."""
        jobs, self._waiting = self._waiting[: self._max_group], self._waiting[self._max_group :]
        if self._waiting:
            loop.call_soon(self._gather, loop, 0, 0, 0)
        if self._try_turn is not None:
            with self._try_turn() as mine:
                if mine:
                    self._commit(jobs, turn=nullcontext)
                    self.groups_on_loop += 1
                    return
        # PostgreSQL, or another worker is writing: the thread writes (and waits for the
        # lock); the loop goes on.
        futures = self._submit_group([job.batch for job in jobs])
        for future, job in zip(futures, jobs, strict=True):
            _forward(future, job.future, loop)

    def _run(self) -> None:
        carried: list[_Job] | None = None  # taken from the queue, too many for the group
        while True:
            first = carried if carried is not None else self._queue.get()
            carried = None
            if first is None:
                return
            jobs = list(first)
            stop = False
            while len(jobs) < self._max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                if len(jobs) + len(more) > self._max_group:
                    carried = more
                    break
                jobs.extend(more)
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[_Job], turn: Turn | None = None) -> None:
        try:
            self._commit_group(jobs, turn or self._turn)
        except BaseException as exc:
            # Never leave a request waiting on a future nobody will resolve.
            for job in jobs:
                _settle(job.future, exc)
            raise

    def _commit_group(self, jobs: list[_Job], turn: Turn) -> None:
        if len(jobs) > 1:
            try:
                results = self._write([job.batch for job in jobs], turn)
            except Exception as exc:
                # Nothing was stored; each job is retried alone below, with its own error.
                log.info(
                    "group commit refused; writing its checks one by one",
                    extra={"group": len(jobs), "error": type(exc).__name__},
                )
            else:
                for job, result in zip(jobs, results, strict=True):
                    _settle(job.future, result)
                return
        for job in jobs:
            try:
                result = self._write_alone(job.batch, turn)
            except BaseException as exc:
                _settle(job.future, exc)
            else:
                _settle(job.future, result)

    def _write_alone(self, batch: repository.CheckBatch, turn: Turn) -> Result:
        for attempt in range(STALE_ATTEMPTS):
            try:
                return self._write([batch], turn)[0]
            except StaleDecision:
                if attempt == STALE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, batches: Sequence[repository.CheckBatch], turn: Turn) -> tuple[Result, ...]:
        started = time.perf_counter()
        with turn(), self._session_scope() as session:
            results = repository.decide_and_record_batches(
                session=session, batches=batches, window=self._window
            )
        self.groups += 1
        if self._observe is not None:
            self._observe(len(batches), time.perf_counter() - started)
        return results


def _settle(future: _Outcome, outcome: Result | BaseException) -> None:
    # A request cancelled meanwhile (its client went away) no longer awaits the answer;
    # its decision is stored all the same.
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _forward(source: Future[Result], target: _Outcome, loop: asyncio.AbstractEventLoop) -> None:
    """Settle an event-loop future with what the writer thread's future gets."""

    def copy(done: Future[Result]) -> None:
        exception = done.exception()
        loop.call_soon_threadsafe(_settle, target, done.result() if exception is None else exception)

    source.add_done_callback(copy)
