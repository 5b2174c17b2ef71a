"""One sync at a time per billing store: :func:`sync_lock`, and :class:`SyncBusy` naming who holds it. Callers
(the command line, the web's sync job, the Web Connector) hold it around :func:`booksync.sync.run.synchronize`."""
from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from booksync.store.locks import LockHeld, advisory_lock


class SyncBusy(Exception):
    """Another sync holds this home; the message says who and since when."""


_BUSY = ("Another sync is running for this company: {who}. Nothing was written; wait for it to finish, then "
         "synchronize again.")


@contextmanager
def sync_lock(home: Any) -> Iterator[None]:
    """One sync at a time per billing store (and so per company). With PostgreSQL, an advisory lock in its
    database (store/locks.py), which holds for every process and machine sharing it; with SQLite, a file
    lock in the home with who holds it beside it. Raises :class:`SyncBusy` saying who holds it."""
    url = getattr(home, "database_url", "")
    info = home.path / "sync.lock.json"  # who holds it, for this home's readers (the web's status, the tests)
    if url and not url.startswith("sqlite"):
        try:
            with advisory_lock(url), _holder_file(info):
                yield
        except LockHeld as exc:
            raise SyncBusy(_BUSY.format(who=exc.holder)) from None
        return
    lock = FileLock(str(home.path / "sync.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = json.loads(info.read_text())
            who = f"{holder['user']} on {holder['host']} (process {holder['pid']}), since {holder['since']}"
        except (OSError, ValueError, KeyError):
            who = "another process"
        raise SyncBusy(_BUSY.format(who=who)) from None
    try:
        with _holder_file(info):
            yield
    finally:
        lock.release()


@contextmanager
def _holder_file(info: Path) -> Iterator[None]:
    try:
        info.write_text(json.dumps({"pid": os.getpid(), "user": getpass.getuser(), "host": socket.gethostname(),
                                    "since": dt.datetime.now().isoformat(timespec="seconds")}))
        yield
    finally:
        info.unlink(missing_ok=True)
