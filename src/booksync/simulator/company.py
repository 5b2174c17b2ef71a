"""Creating, opening and locking a simulated company file.

One process holds the company file open at a time, as QuickBooks Desktop in
single-user mode; another gets :class:`InUse`. An application must be
authorized for the company file before it can connect (DESIGN.md, "The
simulator's rules"; reference/quickbooks-desktop.md §10, HRESULT 0x80040418).
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from pathlib import Path

from filelock import FileLock, Timeout

from booksync.errors import ConnectionFailure
import booksync.simulator.seed as seed
import booksync.simulator.store as store
from booksync.simulator.processor import FileLocked, Processor, is_lock_error

HRESULT_IN_USE = 0x80040422
HRESULT_NOT_AUTHORIZED = 0x80040418
HRESULT_NO_FILE = 0x80040408


class InUse(ConnectionFailure):
    """The company file is held by another process."""


class CompanyFile:
    """An open session on a simulated company file.

    Use as a context manager. :meth:`process` answers one qbXML request
    message set (bytes) with a response message set (bytes), or raises
    :class:`~booksync.errors.ConnectionFailure` where QuickBooks' request
    processor would raise a COM error (e.g. a message it cannot parse).
    """

    def __init__(self, path: Path, db: sqlite3.Connection, lock: FileLock | None) -> None:
        self.path = path
        self.db = db
        self._lock = lock
        self.processor = Processor(db)

    def process(self, message: bytes | str) -> bytes:
        """Raises :class:`FileLocked` (HRESULT 0x8004041B) when another program holds the file locked."""
        try:
            return self.processor.process(message)
        except FileLocked:
            raise FileLocked(str(self.path)) from None

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def set_data_ext(self, owner_id: str, name: str, value: str) -> None:
        """Store a data extension of the company under ``owner_id``, as the Web Connector stores a .qwc's FileID
        under its OwnerID the first time it connects (QBWC guide p.36). A CompanyQuery returns it only to a
        request naming that OwnerID."""
        from booksync.simulator.processor import data_ext_owner

        self.set_meta(f"dataext:{data_ext_owner(owner_id)}:{name}", value)

    def authorize(self, app_name: str) -> None:
        """Grant ``app_name`` access, as the QuickBooks administrator does."""
        self.db.execute("INSERT OR REPLACE INTO authorized_apps VALUES (?, ?)",
                        (app_name, store.now_text()))

    def backup_to(self, target: Path) -> None:
        """Write a consistent copy of the company file with SQLite's backup API."""
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(str(target))
        try:
            self.db.backup(dest)
        finally:
            dest.close()

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> "CompanyFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock_for(path: Path) -> FileLock:
    return FileLock(str(path) + ".lock", timeout=0)


def open_company(path: Path, app_name: str | None = None, lock_timeout: float = 0) -> CompanyFile:
    """Open the company file at ``path`` for one session.

    Raises :class:`ConnectionFailure` when the file does not exist,
    :class:`InUse` when another session holds it, :class:`FileLocked` when another
    program holds the file itself locked (HRESULT 0x8004041B), and ConnectionFailure with
    HRESULT 0x80040418 when ``app_name`` is given and not authorized.
    """
    path = Path(path)
    if not path.exists():
        raise ConnectionFailure(HRESULT_NO_FILE, f"The company file {path} does not exist.",
                                "Create it with 'booksync simulator init' or check the path.")
    lock = FileLock(str(path) + ".lock", timeout=lock_timeout)
    try:
        lock.acquire()
    except Timeout:
        raise InUse(HRESULT_IN_USE,
                    "Error creating temporary QuickBooks working files. The process cannot access "
                    "the file because it is being used by another process.",
                    "Find the other user or process that has the company file open (another "
                    "booksync sync, the Web Connector, or QuickBooks itself), close it, and try again.") from None
    try:
        try:
            db = store.connect(str(path))
        except sqlite3.OperationalError as exc:
            if is_lock_error(exc):
                raise FileLocked(str(path)) from None
            raise
        company = CompanyFile(path, db, lock)
        if app_name is not None:
            row = db.execute("SELECT 1 FROM authorized_apps WHERE app_name=?", (app_name,)).fetchone()
            if row is None:
                raise ConnectionFailure(
                    HRESULT_NOT_AUTHORIZED,
                    f"This application ({app_name}) has not accessed this QuickBooks company data file "
                    "before. Only the QuickBooks administrator can grant an application permission "
                    "to access a QuickBooks company data file for the first time.",
                    "Ask the QuickBooks administrator to approve booksync "
                    "('booksync simulator authorize' plays that part for the simulated company).")
        return company
    except BaseException:
        lock.release()
        raise


def create_company(path: Path, name: str, chart: list[dict] | None = None,
                   authorize: tuple[str, ...] = ("booksync",), overwrite: bool = False,
                   standard_lists: bool = True) -> None:
    """Create a company file at ``path`` named ``name``.

    ``chart`` is a list of account dicts (name, type, number, special, parent)
    as in :data:`booksync.demo.company.STANDARD_CHART`; with ``standard_lists``
    payment methods and a few vendors are added as QuickBooks does for a new
    company (not for a company to be seeded from a real one's lists).
    Raises ``FileExistsError`` unless ``overwrite``.
    """
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(path)
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(path) + suffix)
            if p.exists():
                os.remove(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = store.connect(str(path))
    try:
        company = CompanyFile(path, db, None)
        company.set_meta("company_name", name)
        company.set_meta("file_id", "{" + str(uuid.uuid4()).upper() + "}")
        company.set_meta("created", dt.date.today().isoformat())
        company.set_meta("first_fiscal_month", "January")
        for app in authorize:
            company.authorize(app)
        seed.standard_lists(company.processor, chart if chart is not None else seed.STANDARD_CHART,
                            standard=standard_lists)
    finally:
        db.close()
