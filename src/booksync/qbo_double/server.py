"""Run the QuickBooks Online test double with uvicorn on 127.0.0.1, in a thread of this process.

Tests use :class:`DoubleServer` as a context manager::

    with DoubleServer() as server:
        server.url            # "http://127.0.0.1:PORT"
        server.double         # the QboDouble: companies, OAuth, limits, fault injection

The port is chosen by the operating system (a socket bound to port 0 and handed to uvicorn), so
parallel test workers never collide. Nothing listens on other interfaces.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from booksync.qbo_double.double import QboDouble


class DoubleServer:
    """A :class:`QboDouble` served over HTTP on 127.0.0.1 from a background thread."""

    def __init__(self, double: QboDouble | None = None, port: int = 0, log_level: str = "critical") -> None:
        self.double = double or QboDouble()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # The lost-response injection raises inside the server on purpose; uvicorn would log each as an error.
        config = uvicorn.Config(self.double.app(), log_level=log_level, access_log=False, lifespan="off",
                                timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> "DoubleServer":
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"qbo-double-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the QuickBooks Online test double did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> "DoubleServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def settings(self) -> dict[str, Any]:
        """The ``[online]`` settings that point booksync at this double (both environments)."""
        return {"sandbox_api_base": self.url, "production_api_base": self.url,
                "sandbox_discovery_url": f"{self.url}/.well-known/openid_sandbox_configuration",
                "production_discovery_url": f"{self.url}/.well-known/openid_configuration"}


def quiet_uvicorn() -> None:
    """Silence uvicorn's error log (the injected lost responses)."""
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
