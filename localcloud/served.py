"""What the local fakes served over real HTTP share: a loopback server and its lifecycle.

Each fake owns a pytest-httpserver on 127.0.0.1 at a free port, adds its routes when it
starts, and is reached at `address`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from pytest_httpserver import HTTPServer


def loopback_server() -> HTTPServer:
    """A server on 127.0.0.1 at a port the system picks (tests run in parallel)."""
    return HTTPServer(host="127.0.0.1", port=0)


class Served(ABC):
    """A fake that answers over HTTP on its own `server`."""

    server: HTTPServer

    @abstractmethod
    def _add_routes(self) -> None:
        """Register the fake's request handlers on `server`."""

    def start(self) -> Self:
        self._add_routes()
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()

    @property
    def address(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.server.port}"
