"""The benchmark's wrk load generator: counts what the server answered, errors included."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from training.bench_http import drive_wrk, wrk_available


@pytest.fixture(autouse=True)
def _wrk() -> None:
    if not wrk_available():
        if os.environ.get("CI"):  # .ci/run installs it: a missing wrk there is a failure
            pytest.fail("wrk is not installed (apt-get install wrk)")
        pytest.skip("wrk is not installed (apt-get install wrk)")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.bodies: list[dict[str, object]] = []
        self.authorizations: set[str] = set()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    server: _Server

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.bodies.append(body)
            self.server.authorizations.add(self.headers.get("Authorization", ""))
        answer = b'{"ok": true}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(status: int) -> Iterator[_Server]:
    server = _Server(status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ok_server() -> Iterator[_Server]:
    yield from _serve(200)


@pytest.fixture
def failing_server() -> Iterator[_Server]:
    yield from _serve(503)


def test_wrk_posts_every_payload_with_the_headers(ok_server: _Server) -> None:
    payloads = [{"text": f"message {i}", "to": "+14155550100"} for i in range(5)]
    url = f"http://127.0.0.1:{ok_server.server_address[1]}/v1/check"
    result = drive_wrk(url, payloads, 2, 1, {"Authorization": "Bearer k"})
    assert result.errors == 0
    # wrk's count is of completed responses; the server may have read one more per connection.
    assert 0 < result.requests <= len(ok_server.bodies) <= result.requests + 2
    assert {json.dumps(b, sort_keys=True) for b in ok_server.bodies} == {
        json.dumps(p, sort_keys=True) for p in payloads
    }
    assert ok_server.authorizations == {"Bearer k"}
    assert 0.5 < result.seconds < 5
    assert 0 < result.percentile(50) <= result.percentile(99)


def test_wrk_counts_non_2xx_answers_as_errors(failing_server: _Server) -> None:
    url = f"http://127.0.0.1:{failing_server.server_address[1]}/v1/check"
    result = drive_wrk(url, [{"text": "x"}], 1, 1, {})
    assert result.requests > 0
    assert result.errors == result.requests
