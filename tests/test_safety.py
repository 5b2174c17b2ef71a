"""Commit safety through the real CLI: authorization, unexpected errors, one sync at a time, and
restoring a backup — each with its message, and nothing written where nothing may be."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import copy_home


def test_an_unauthorized_application_is_stopped_with_how_to_approve_it(nosync_copy, cli, company_db):
    home = str(nosync_copy.path)
    assert cli("simulator", "deauthorize", "--home", home).code == 0
    before = company_db(nosync_copy.company).fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 6, str(result)
    assert "has not accessed this QuickBooks company data file before" in result.stderr
    assert "QuickBooks administrator" in result.stderr and "booksync simulator authorize" in result.stderr
    assert company_db(nosync_copy.company).fingerprint() == before
    assert cli("simulator", "authorize", "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0


def test_an_unexpected_error_names_itself_and_the_log(nosync_copy, cli, company_db):
    home = nosync_copy.path
    runs = home / "runs"
    for child in runs.iterdir():
        child.rmdir() if child.is_dir() else child.unlink()
    runs.rmdir()
    runs.write_text("not a folder")  # booksync cannot create its working files
    before = company_db(nosync_copy.company).fingerprint()
    result = cli("sync", "--yes", "--home", str(home))
    assert result.code == 1, str(result)
    assert "An unexpected error occurred" in result.stderr
    assert "booksync.log" in result.stderr or "FileExistsError" in result.stderr
    assert company_db(nosync_copy.company).fingerprint() == before


def test_a_second_sync_while_one_runs_says_who_holds_it(nosync_copy, cli, company_db):
    home = str(nosync_copy.path)
    env = {k: v for k, v in os.environ.items() if k != "BOOKSYNC_HOME"}
    first = subprocess.Popen([sys.executable, "-m", "booksync.cli.main", "sync", "--yes", "--home", home],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tempfile.gettempdir())
    try:
        holder = Path(home) / "sync.lock.json"
        for _ in range(200):
            if holder.exists():
                break
            time.sleep(0.05)
        assert holder.exists(), "the first sync never took the lock"
        who = json.loads(holder.read_text())
        second = cli("sync", "--yes", "--home", home)
        assert second.code == 8, str(second)
        assert "Another sync is running for this company" in second.stderr
        assert f"process {who['pid']}" in second.stderr and "since" in second.stderr
        assert second.writes == []
    finally:
        assert first.wait(timeout=300) == 0


def test_restoring_a_backup_brings_back_the_company_as_it_was(demo_home, tmp_path, cli, company_db):
    home = copy_home(demo_home, tmp_path / "home")
    db = company_db(home.company)
    before = db.fingerprint()
    invoice = db.value("SELECT ref_number FROM txns t WHERE txn_type='Invoice' AND NOT EXISTS "
                       "(SELECT 1 FROM applications a WHERE a.invoice_id=t.txn_id) ORDER BY txn_number LIMIT 1")
    assert cli("invoices", "void", invoice, "--home", str(home.path)).code == 0
    synced = cli("sync", "--yes", "--corrections-log", str(tmp_path / "log.csv"), "--home", str(home.path))
    assert synced.code == 0 and db.fingerprint() != before
    run_id = next(p.name for p in (home.path / "backups").iterdir() if p.is_dir() and p.name in synced.stdout)
    listed = cli("backups", "list", "--home", str(home.path))
    assert run_id in listed.stdout
    restored = cli("backups", "restore", run_id, "--yes", "--home", str(home.path))
    assert restored.code == 0 and "as they were before run" in restored.stdout
    assert db.fingerprint() == before
    again = cli("sync", "--yes", "--corrections-log", str(tmp_path / "log2.csv"), "--home", str(home.path))
    assert again.code == 0 and "1 operation(s) applied" in again.stdout  # the void is carried again, once
