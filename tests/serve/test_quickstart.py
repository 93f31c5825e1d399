"""The quick start: `sendgate serve` on a fresh state trains a default model and serves it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_bootstraps_a_model_and_answers(tmp_path: Path) -> None:
    """With no champion, the service trains one from the seed set, then classifies over HTTP."""
    port = _free_port()
    env = {
        **os.environ,
        "SENDGATE_STATE_DIR": str(tmp_path / "state"),
        "SENDGATE_CORPORA_DIR": str(tmp_path / "no-corpora"),
        "SENDGATE_PORT": str(port),
        "SENDGATE_API_KEYS": "sender:quickstart-key",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sendgate"), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert ready is not None and ready.status_code == 200, process.stdout and process.stdout.read()
        assert ready.json()["model_version"] == "sendgate-clf/1"
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/classify",
            headers={"Authorization": "Bearer quickstart-key"},
            json={"texts": ["Your Quillpay code is 730142"]},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["results"][0]["message_type"] == "transactional"
    finally:
        process.terminate()
        process.wait(timeout=30)
