"""The company file locked by another program (issue 20, item 6).

A whole-file lock on the simulated company (another connection's exclusive SQLite transaction: a database
tool, a copy in progress, "QuickBooks in single-user mode elsewhere") is answered as QuickBooks' request
processor answers it, with HRESULT 0x8004041B "Unable to lock the necessary information...", never an SQLite
error. The sync exits 6, says who might hold the file, to close it and retry, and whether anything was
written; the run is recorded "stopped", not left "applying".
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import select

from booksync.books.desktop.adapter import DesktopBooks
from booksync.config import Home
from booksync.domain import Action
from booksync.errors import ConnectionFailure
from booksync.simulator import FileLocked, open_company
from booksync.store.db import open_store
from booksync.store.models import JournalEntry, SyncRun
from booksync.sync.options import SyncOptions
from booksync.sync.run import synchronize


@contextmanager
def file_locked(path) -> Iterator[sqlite3.Connection]:  # noqa: ANN001
    """Hold an exclusive lock on the company file, as another program would."""
    db = sqlite3.connect(str(path), isolation_level=None, timeout=0)
    db.execute("BEGIN EXCLUSIVE")
    try:
        yield db
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_sync_on_a_locked_company_file_exits_6_says_so_and_records_the_run_stopped(nosync_copy, cli, company_db):
    """Before the fix: "An unexpected error occurred: OperationalError: database is locked", exit 1, and the run
    left "applying"."""
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    with file_locked(nosync_copy.company):
        result = cli("sync", "--yes", "--home", str(nosync_copy.path))
    assert result.code == 6, result
    assert "OperationalError" not in result.output and "unexpected error" not in result.output
    assert "Unable to lock the necessary information to allow this application to access this company data file" \
        in result.stderr
    assert "Another program holds the company file" in result.stderr and "close it" in result.stderr
    assert "Nothing was written to QuickBooks." in result.stderr
    assert db.fingerprint() == before
    with open_store(Home.load(nosync_copy.path).database_url)() as session:
        (run,) = session.scalars(select(SyncRun)).all()
        statuses = set(session.scalars(select(JournalEntry.status).where(JournalEntry.run_id == run.id)))
    assert run.status == "stopped"
    assert "Nothing was written" in json.loads(run.summary)["message"]
    assert statuses == {"pending"}  # QuickBooks processed none of it: nothing to settle next time
    listed = cli("runs", "show", run.id, "--home", str(nosync_copy.path))
    assert "stopped" in listed.stdout and "Unable to lock" in listed.stdout

    again = cli("sync", "--yes", "--home", str(nosync_copy.path))  # the lock released, the sync goes through
    assert again.code == 0, again
    assert db.count_txns("Invoice") > 0


def test_sync_json_on_a_locked_company_file_prints_one_object(nosync_copy, cli):
    with file_locked(nosync_copy.company):
        result = cli("sync", "--yes", "--json", "--home", str(nosync_copy.path))
    assert result.code == 6, result
    data = json.loads(result.stdout)
    assert data["status"] == "connection-failed" and data["exit_code"] == 6
    assert "Unable to lock" in data["message"] and "Nothing was written" in data["message"]
    assert "close it" in data["advice"]


class LocksAfter:
    """A transport that lets ``writes`` write messages through, then another program locks the file."""

    def __init__(self, company, writes: int) -> None:  # noqa: ANN001
        self.company, self.writes, self.locker = company, writes, None

    def process(self, message: bytes) -> bytes:
        if b"AddRq" in message:
            if self.writes == 0 and self.locker is None:
                self.locker = sqlite3.connect(str(self.company.path), isolation_level=None, timeout=0)
                self.locker.execute("BEGIN EXCLUSIVE")
            self.writes -= 1
        return self.company.process(message)

    def release(self) -> None:
        if self.locker is not None:
            self.locker.execute("ROLLBACK")
            self.locker.close()


class Unattended:
    def ask_create_customers(self, members):  # noqa: ANN001
        return True

    def review_corrections(self, plan, files):  # noqa: ANN001
        return True

    def confirm_update(self, plan, folder):  # noqa: ANN001
        return True

    def progress(self, phase, done, total):  # noqa: ANN001
        pass


def test_a_lock_in_the_middle_of_a_run_says_what_was_written(nosync_copy, company_db):
    """Three messages written, then the file is locked: the failure says how many operations were written; the
    run is "stopped"; the message QuickBooks could not lock for goes back to pending, and the next sync finishes
    the work without writing anything twice."""
    home = Home.load(nosync_copy.path)
    sessions = open_store(home.database_url)
    with open_company(home.company_path, app_name="booksync") as company:
        transport = LocksAfter(company, writes=3)
        try:
            synchronize(sessions, DesktopBooks(transport, backup_source=company), home, Unattended(),
                        SyncOptions(message_size=10))
            raise AssertionError("the lock did not stop the run")
        except ConnectionFailure as exc:
            failure = exc
        finally:
            transport.release()
    assert isinstance(failure, FileLocked) and failure.hresult == 0x8004041B
    with sessions() as session:
        run = session.scalars(select(SyncRun)).one()
        entries = session.scalars(select(JournalEntry).where(JournalEntry.run_id == run.id)).all()
    done = [e for e in entries if e.status == "done"]
    assert run.status == "stopped"
    assert 0 < len(done) <= 30 and {e.status for e in entries} == {"done", "pending"}
    assert f"{len(done)} operation(s) were written to QuickBooks before it" in failure.outcome
    db = company_db(nosync_copy.company)
    customers = db.count_lists("Customer")
    with open_company(home.company_path, app_name="booksync") as company:
        result = synchronize(sessions, DesktopBooks(company, backup_source=company), home, Unattended(),
                             SyncOptions())
    assert result.exit_code == 0, result.message
    added_customers = sum(1 for e in done if e.action == Action.ADD.value and e.kind == "customer")
    assert db.count_lists("Customer") == customers + result.planned.get("add customer", 0)
    assert added_customers + result.planned.get("add customer", 0) == len(
        [1 for r in db.rows("SELECT external_guid FROM lists WHERE kind='Customer' AND external_guid IS NOT NULL "
                            "AND external_guid != ''")])
