"""A decision acknowledged to the caller survives the process being killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from serve.store import repository
from tests.store.factories import add_senders

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from serve.store import repository
    from serve.store.database import make_engine, session_factory
    from tests.store.factories import classification, decision, request

    engine = make_engine(sys.argv[1])
    with session_factory(engine)() as session:
        decision_id = repository.record_decision(
            session=session,
            decision=decision("block", codes=("TRANSACTIONAL_NO_CONSENT",)),
            request=request(),
            classification=classification(),
        )
    # The id is what the service would have answered with; then the process dies at
    # once: no close, no checkpoint, no atexit.
    os.write(1, (decision_id + "\\n").encode())
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_decision_survives_sigkill_right_after_commit(
    backend: str, database_url: URL, session: Session
) -> None:
    """A child that records a decision and is SIGKILLed at once leaves it readable."""
    add_senders(session)
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, database_url.render_as_string(hide_password=False)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
        check=False,
    )
    decision_id = child.stdout.strip()

    assert child.returncode == -signal.SIGKILL, child.stderr
    if backend == "sqlite":
        # The commit is still in the WAL (the killed process never checkpointed), so
        # this really exercises recovery from the log.
        wal = Path(str(database_url.database) + "-wal")
        assert wal.exists() and wal.stat().st_size > 0
    stored = repository.get_decision(session=session, decision_id=decision_id)
    assert stored.decision.decision == "block"
    assert stored.decision.reasons[0].code == "TRANSACTIONAL_NO_CONSENT"
