""""One at a time" across every process and machine that shares a PostgreSQL billing store.

A home's file lock (``sync.lock``) holds only for the processes that see that folder; two homes on two
machines pointing at one PostgreSQL database would each take their own and synchronize the same records at
once. With PostgreSQL the lock is a session-level advisory lock (``pg_try_advisory_lock``, PostgreSQL
manual §9.27.10 "Advisory Lock Functions"; advisory locks belong to the database they are taken in, so the
key needs only to name the purpose), held on a connection of its own for as long as the run lasts and
released by PostgreSQL itself when that connection ends (a killed process cannot leave it behind). The
holder is told from ``pg_stat_activity``: the lock's connection names itself in ``application_name``.
"""
from __future__ import annotations

import getpass
import hashlib
import os
import socket
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

SYNC_KEY = int.from_bytes(hashlib.sha256(b"booksync: one sync at a time").digest()[:8], "big") >> 1
"""The advisory lock key of the sync lock: a positive bigint (pg_locks shows it as classid, objid)."""
_PREFIX = "booksync "


class LockHeld(Exception):
    """Another session holds the lock; ``holder`` says who: "USER on HOST (process PID), since TIME"."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def _label() -> str:
    # application_name keeps 63 bytes (NAMEDATALEN - 1); the start time comes from backend_start.
    return f"{_PREFIX}{os.getpid()} {getpass.getuser()}@{socket.gethostname()}"[:63]


def _holder(conn, key: int) -> str:  # noqa: ANN001 - a SQLAlchemy Connection
    row = conn.execute(text(
        "SELECT a.application_name, a.backend_start, a.client_addr FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 "
        # pg_locks lists every database's locks; the same key elsewhere is another company's sync.
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).first()
    if row is None:
        return "another process"
    name, started, address = row
    since = started.astimezone().replace(tzinfo=None).isoformat(timespec="seconds") if started else "?"
    if name and name.startswith(_PREFIX) and " " in name[len(_PREFIX):]:
        pid, _, who = name[len(_PREFIX):].partition(" ")
        user, _, host = who.partition("@")
        return f"{user} on {host} (process {pid}), since {since}"
    return f"a connection from {address or 'this server'} ({name or 'no name'}), since {since}"


@contextmanager
def advisory_lock(url: str, key: int = SYNC_KEY) -> Iterator[None]:
    """Hold the advisory lock ``key`` of the PostgreSQL database at ``url`` (a SQLAlchemy URL) until the
    block ends, on a connection of its own. Raises :class:`LockHeld` at once when another session holds
    it, and SQLAlchemy's ``OperationalError`` when the server cannot be reached."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                           connect_args={"application_name": _label()})
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                raise LockHeld(_holder(conn, key))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()
