"""Group commit for decisions: one thread writes what many concurrent checks decided.

Every /v1/check must be in the audit trail before its answer goes out, and a commit that
survives a crash costs a disk sync. One sync per request caps the service at the disk's
sync rate, and on SQLite requests also queue on the single write lock. Here requests hand
their classified items to one writer thread, which takes everything waiting, decides and
inserts it in one transaction (same lock, same snapshots-in-order as one batch) and
commits once; each request is answered only after that commit returned. Nothing is
acknowledged earlier, so durability is unchanged; only the syncs are shared.

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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

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

Result = tuple[StoredDecision, ...]


@dataclass
class _Job:
    batch: repository.CheckBatch
    future: Future[Result] = field(default_factory=Future)


class DecisionWriter:
    """``await writer.record(batch)`` returns the stored decisions once committed."""

    def __init__(
        self,
        session_scope: Callable[[], AbstractContextManager[Session]],
        window: timedelta,
        max_group: int = MAX_GROUP,
        observe: Callable[[int, float], None] | None = None,
        turn: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        """``observe(group size, seconds)`` is called after each committed group; ``turn``
        is held around each transaction (see ``database.WriterQueue``)."""
        self._session_scope = session_scope
        self._window = window
        self._max_group = max_group
        self._observe = observe
        self._turn = turn or nullcontext
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.groups = 0  # transactions committed (tests read it)

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
        self.start()
        job = _Job(batch)
        self._queue.put(job)
        return job.future

    async def record(self, batch: repository.CheckBatch) -> Result:
        return await asyncio.wrap_future(self.submit(batch))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self._max_group:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            try:
                self._commit(jobs)
            except BaseException as exc:
                # Never leave a request waiting on a future nobody will resolve.
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                raise
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        if len(jobs) > 1:
            try:
                results = self._write([job.batch for job in jobs])
            except Exception as exc:
                # Nothing was stored; each job is retried alone below, with its own error.
                log.info(
                    "group commit refused; writing its checks one by one",
                    extra={"group": len(jobs), "error": type(exc).__name__},
                )
            else:
                for job, result in zip(jobs, results, strict=True):
                    job.future.set_result(result)
                return
        for job in jobs:
            try:
                job.future.set_result(self._write_alone(job.batch))
            except BaseException as exc:
                job.future.set_exception(exc)

    def _write_alone(self, batch: repository.CheckBatch) -> Result:
        for attempt in range(STALE_ATTEMPTS):
            try:
                return self._write([batch])[0]
            except StaleDecision:
                if attempt == STALE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, batches: Sequence[repository.CheckBatch]) -> tuple[Result, ...]:
        started = time.perf_counter()
        with self._turn(), self._session_scope() as session:
            results = repository.decide_and_record_batches(
                session=session, batches=batches, window=self._window
            )
        self.groups += 1
        if self._observe is not None:
            self._observe(len(batches), time.perf_counter() - started)
        return results
