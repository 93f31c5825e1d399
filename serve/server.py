"""Running the app under uvicorn, with one worker process or several.

With several workers uvicorn binds the listening socket itself as
``socket.socket(family)``, whose protocol number is 0. asyncio only sets TCP_NODELAY on
accepted sockets whose protocol is IPPROTO_TCP, so every worker then answers with Nagle's
algorithm on: the response body waits for the client's delayed ACK and each request
takes about 40 ms more (measured: 48 ms at concurrency 1 instead of a few ms; `mlflow
models serve -w 2` shows the same). We bind the socket ourselves, as TCP, with
TCP_NODELAY set on it (accepted sockets inherit it on Linux), and hand it to uvicorn's
own process supervisor.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from model.settings import Settings

APP = "serve.app:create_app"


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run(settings: Settings, workers: int = 1, *, worker_healthcheck_timeout: int = 30) -> None:
    config = uvicorn.Config(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        # uvicorn's default (5 s) killed workers still importing on a loaded 2-core
        # machine: the supervisor's ping is answered only once a worker is running.
        timeout_worker_healthcheck=worker_healthcheck_timeout,
        log_level="info",
        access_log=False,  # the app writes its own JSON access line with the request id
        server_header=False,  # no "server: uvicorn" on every answer: nobody's business
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[listening_socket(settings.host, settings.port)]).run()
