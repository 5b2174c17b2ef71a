"""A sync that dies anywhere, or loses QuickBooks' answer, is finished by the next sync with nothing
duplicated and nothing lost: the company ends equal, field by field (times and IDs aside), to the one
an uninterrupted sync produces.

The process is killed with SIGKILL at fault points of the engine (BOOKSYNC_FAULT=POINT:N, see
booksync.faults.fault_point in sync/apply.py): before the journal records a message as sent, between that and
sending it, between sending and recording the answer, after recording, and during the backup.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from booksync.books.desktop.adapter import DesktopBooks
from booksync.config import Home
from booksync.errors import ConnectionFailure
from booksync.simulator import open_company
from booksync.store.db import open_store
from booksync.sync.options import SyncOptions
from booksync.sync.run import synchronize
from conftest import copy_home

# 53 points of the demo sync (it sends 49 messages); on PostgreSQL (the second CI run) a sample of them.
POINTS = ([f"after-send:{n}" for n in range(1, 46)] + ["before-send:3", "before-send:17", "before-send:40",
          "before-sent:8", "before-sent:33", "after-record:5", "after-record:48", "backup:1"])
if os.environ.get("BOOKSYNC_TEST_POSTGRES"):
    POINTS = ["after-send:1", "after-send:20", "before-send:17", "after-record:48", "backup:1"]


def company_dump(path: Path) -> list[tuple]:
    """Everything the simulated company holds, by natural keys (names, numbers), without IDs or times."""
    db = sqlite3.connect(str(path))
    try:
        names = dict(db.execute("SELECT list_id, full_name FROM lists"))
        refs = {r[0]: (r[1], r[2], r[3]) for r in db.execute("SELECT txn_id, txn_type, ref_number, txn_date FROM txns")}
        out: list[tuple] = []
        for row in db.execute("SELECT kind, full_name, is_active, account_type, special, number, descr, account_id, "
                              "company_name, first_name, last_name, addr1, addr2, city, state, postal_code, phone, "
                              "email, account_number, notes, external_guid, method_type FROM lists"):
            row = list(row)
            row[7] = names.get(row[7], row[7])
            out.append(("list", *row))
        for row in db.execute("SELECT txn_type, ref_number, customer_id, txn_date, due_date, memo, total, account_id, "
                              "method_id, external_guid, is_voided FROM txns"):
            row = list(row)
            for i in (2, 7, 8):
                row[i] = names.get(row[i], row[i])
            out.append(("txn", *row))
        for row in db.execute("SELECT txn_id, seq, item_id, descr, quantity, rate, amount, account_id, payment_id "
                              "FROM lines"):
            row = list(row)
            row[0] = refs.get(row[0])
            row[2], row[7] = names.get(row[2], row[2]), names.get(row[7], row[7])
            row[8] = refs.get(row[8]) if row[8] else None
            out.append(("line", *row))
        for row in db.execute("SELECT payment_id, invoice_id, credit_memo_id, amount, seq FROM applications"):
            out.append(("application", refs.get(row[0]), refs.get(row[1]),
                        refs.get(row[2]) if row[2] else None, row[3], row[4]))
        return sorted(out, key=repr)
    finally:
        db.close()


@pytest.fixture(scope="session")
def reference(nosync_home, tmp_path_factory, cli) -> list[tuple]:
    """The company after one uninterrupted sync of the demo."""
    home = copy_home(nosync_home, tmp_path_factory.mktemp("reference") / "home")
    result = cli("sync", "--yes", "--home", str(home.path))
    assert result.code == 0, str(result)
    return company_dump(home.company)


def killed_sync(home: Path, point: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BOOKSYNC_HOME"}
    env["BOOKSYNC_FAULT"] = point
    return subprocess.run([sys.executable, "-m", "booksync.cli.main", "sync", "--yes", "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tempfile.gettempdir())


@pytest.mark.parametrize("point", POINTS)
def test_a_sync_killed_at_any_point_is_finished_by_the_next(point, nosync_home, tmp_path, cli, reference):
    home = copy_home(nosync_home, tmp_path / "home")
    killed = killed_sync(home.path, point)
    assert killed.returncode == -9, f"the fault point {point} was not reached:\n{killed.stdout}\n{killed.stderr}"
    resumed = cli("sync", "--yes", "--home", str(home.path))
    assert resumed.code == 0, str(resumed)
    assert company_dump(home.company) == reference
    if point.startswith("after-send"):
        assert "settled by asking QuickBooks first" in resumed.stdout
    again = cli("sync", "--yes", "--home", str(home.path))
    assert "Nothing to synchronize" in again.stdout
    reconcile = cli("reconcile", "--home", str(home.path))
    assert reconcile.code == 0 and "zero differences" in reconcile.stdout, str(reconcile)


class LosesAnAnswer:
    """A transport to the company that processes the N-th message but loses QuickBooks' answer."""

    def __init__(self, company: Any, lose: int) -> None:
        self.company, self.lose, self.calls = company, lose, 0

    def process(self, message: bytes) -> bytes:
        self.calls += 1
        answer = self.company.process(message)
        if self.calls == self.lose:
            raise ConnectionFailure(0x80040401, "Could not access QuickBooks.", "the answer was lost")
        return answer


class Unattended:
    def ask_create_customers(self, members):  # noqa: ANN001
        return True

    def review_corrections(self, plan, files):  # noqa: ANN001
        return True

    def confirm_update(self, plan, folder):  # noqa: ANN001
        return True

    def progress(self, phase, done, total):  # noqa: ANN001
        pass


def test_an_answer_lost_after_quickbooks_processed_it_does_not_duplicate(nosync_home, tmp_path, cli, reference):
    home_copy = copy_home(nosync_home, tmp_path / "home")
    home = Home.load(home_copy.path)
    sessions = open_store(home.database_url)
    with open_company(home.company_path, app_name="booksync") as company:
        # Message 1 is the reading of QuickBooks; the 20th carries invoices QuickBooks adds, then the answer is lost.
        port = DesktopBooks(LosesAnAnswer(company, lose=20), backup_source=company)
        with pytest.raises(ConnectionFailure):
            synchronize(sessions, port, home, Unattended(), SyncOptions())
    resumed = cli("sync", "--yes", "--home", str(home_copy.path))
    assert resumed.code == 0, str(resumed)
    assert "had taken effect" in resumed.stdout
    assert company_dump(home_copy.company) == reference
