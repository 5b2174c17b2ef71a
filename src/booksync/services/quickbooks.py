"""Reading the QuickBooks company for the web pages: the snapshot, or why there is none.

:class:`QuickBooksReader` opens the company through the books registry and keeps what it read a short while
for companies that are slow to ask; :func:`company_key` says which company the link table's rows belong to.
"""
from __future__ import annotations

import logging
import re
import shlex
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.config import ConfigError, Home
from booksync.domain import QBSnapshot
from booksync.store.models import SyncRun

DIRECT_KINDS = ("simulator", "rp2", "online")
"""Company kinds the web interface can open itself; any other is reached through the Web Connector."""


@dataclass
class Books:
    """What the web interface read from QuickBooks for one page: the snapshot, or why there is none."""

    snapshot: QBSnapshot | None
    company_key: str = ""
    error: str = ""
    advice: str = ""

    @property
    def reachable(self) -> bool:
        return self.snapshot is not None


_CONNECT = re.compile(r"^(?:Reconnect|Connect): (booksync company connect online)(?: --home HOME)?(.*)$", re.S)


def advice_for_the_web(advice: str, home: Home) -> str:
    """``advice`` of a books error as the web interface shows it. QuickBooks Online's "(Re)connect: booksync company
    connect online --ENV" (``books.online.auth.reconnect_command``, which the command line completes with its
    ``--home``) cannot be done in the browser: it becomes the full pasteable command for the served home (``--home``
    quoted with shlex) and says where to run it. Any other advice is returned as it is."""
    match = _CONNECT.match(advice or "")
    if not match:
        return advice
    command = f"{match.group(1)} --home {shlex.quote(str(home.path))}{match.group(2)}"
    return (f"The web interface cannot connect booksync to QuickBooks Online: run this command on the machine "
            f"serving booksync, then reload this page: {command}")


class QuickBooksReader:
    """Reads the company's lists for the pages; keeps them a short while for companies that are slow to ask
    (QuickBooks Online, the request processor). The simulated company is read afresh each time."""

    def __init__(self, home: Home, ttl_seconds: float = 60.0) -> None:
        self.home = home
        self.ttl = ttl_seconds
        self._cached: tuple[float, Books] | None = None
        self._lock = threading.Lock()
        self.last_key = ""
        """The company key of the last successful read, for pages that do not read QuickBooks."""

    @property
    def kind(self) -> str:
        return str(self.home.settings["company"].get("kind", "simulator"))

    @property
    def direct(self) -> bool:
        """True when booksync opens the company itself. A home set up for the Web Connector (a Web Connector
        user, and no simulated company file) is not, whatever its company kind says."""
        if self.kind == "simulator" and not self.home.company_path.exists() \
                and self.home.settings.get("webconnector", {}).get("user"):
            return False
        return self.kind in DIRECT_KINDS

    def forget(self) -> None:
        with self._lock:
            self._cached = None

    def read(self, busy: bool = False) -> Books:
        """The snapshot; ``busy`` says a sync of this server holds the company, so do not knock."""
        if not self.direct:
            return Books(None, self.last_key,
                         error="QuickBooks is reached through the Web Connector, which reads it during each update; "
                               "booksync cannot read it from here.",
                         advice="Updates run when the Web Connector polls; confirm their plans in Run history.")
        with self._lock:
            if self._cached and self.kind != "simulator" and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
        if busy:
            return Books(None, self.last_key, error="A synchronization is running and holds the company file.",
                         advice="This page will show QuickBooks again when it has finished.")
        from booksync.books.registry import open_books
        from booksync.errors import BooksError

        try:
            with open_books(self.home) as port:
                snapshot = port.snapshot()
                books = Books(snapshot, port.company_key)
        except ConfigError as exc:
            return Books(None, self.last_key, error=str(exc))
        except BooksError as exc:
            return Books(None, self.last_key, error=getattr(exc, "message", str(exc)),
                         advice=advice_for_the_web(getattr(exc, "advice", ""), self.home))
        except Exception as exc:  # noqa: BLE001 - a page must still show what it can
            logging.getLogger("booksync.web").exception("reading QuickBooks failed")
            return Books(None, self.last_key, error=f"QuickBooks could not be read: {exc}")
        with self._lock:
            self._cached = (time.monotonic(), books)
            self.last_key = books.company_key
        return books

    def unread(self) -> Books:
        """No snapshot, but the company key last seen, for pages that only need the link table."""
        return Books(None, self.last_key)


def company_key(session: Session, books: Books) -> str:
    """The company's key: from QuickBooks when it was read, else the one of the latest run."""
    if books.company_key:
        return books.company_key
    return session.scalar(select(SyncRun.company_key).where(SyncRun.company_key != "")
                          .order_by(SyncRun.started_at.desc()).limit(1)) or ""
