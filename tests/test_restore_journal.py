"""Restoring a backup is journaled (store/restore.py): killed between booksync's database and the company
file, the next command finishes it, and a sync refuses to run while it cannot be finished (issue 19 item 6)."""
from __future__ import annotations

import os
import shutil


from conftest import copy_home



def _killed_restore(demo_home, tmp_path, cli, monkeypatch):
    home = copy_home(demo_home, tmp_path / "home")
    run_id = next(p.name for p in (home.path / "backups").iterdir() if p.is_dir())
    monkeypatch.setenv("BOOKSYNC_FAULT", "restore-between:1")
    killed = cli("backups", "restore", run_id, "--yes", "--home", str(home.path))
    monkeypatch.delenv("BOOKSYNC_FAULT")
    assert killed.code == -9, str(killed)  # SIGKILL: the database is restored, the company file is not
    assert (home.path / "restore.json").exists()
    return home, run_id


def _customers(db) -> int:
    return db.value("SELECT COUNT(*) FROM lists WHERE kind='Customer'")


def test_a_restore_killed_halfway_is_finished_by_the_next_command_and_nothing_is_duplicated(
        demo_home, tmp_path, cli, company_db, monkeypatch):
    customers = _customers(company_db(demo_home.company))
    home, run_id = _killed_restore(demo_home, tmp_path, cli, monkeypatch)
    backup = company_db(home.path / "backups" / run_id / "company.qbsim").fingerprint()
    assert company_db(home.company).fingerprint() != backup  # the half that was not restored

    listed = cli("backups", "list", "--home", str(home.path))
    assert listed.code == 0, str(listed)
    assert f"The restore of backup {run_id} was interrupted" in listed.stderr
    assert f"as they were before run {run_id}" in listed.stderr
    assert not (home.path / "restore.json").exists()
    assert company_db(home.company).fingerprint() == backup

    again = cli("sync", "--yes", "--home", str(home.path))
    assert again.code == 0, str(again)
    assert _customers(company_db(home.company)) == customers  # written once, not 301 duplicates
    assert cli("reconcile", "--home", str(home.path)).code == 0


def test_a_sync_refuses_to_run_while_a_restore_cannot_be_finished(demo_home, tmp_path, cli, company_db,
                                                                  monkeypatch):
    home, run_id = _killed_restore(demo_home, tmp_path, cli, monkeypatch)
    (home.path / "backups" / run_id / "company.qbsim").unlink()  # the backup can no longer finish it
    before = company_db(home.company).fingerprint()
    result = cli("sync", "--yes", "--home", str(home.path))
    assert result.code == 3, str(result)
    assert f"The restore of backup {run_id} was interrupted" in result.stderr
    assert "booksync's database restored, the company file not yet" in result.stderr
    assert "Nothing was synchronized" in result.stderr + result.stdout
    assert result.writes == []
    assert company_db(home.company).fingerprint() == before
    assert (home.path / "restore.json").exists()
    shutil.rmtree(home.path / "backups" / run_id)


def test_a_restore_whose_question_gets_no_answer_says_so_and_changes_nothing(demo_home, tmp_path, cli, company_db):
    """Input that ends at "Replace ...?" printed Click's bare "Aborted!" with exit 1 (an unexpected error)."""
    home = copy_home(demo_home, tmp_path / "home")
    run_id = next(p.name for p in (home.path / "backups").iterdir() if p.is_dir())
    before = company_db(home.company).fingerprint()
    result = cli("backups", "restore", run_id, "--home", str(home.path), input="")
    assert result.code == 2, str(result)
    assert "Aborted!" not in result.stderr
    assert "A question got no answer (the input ended or was interrupted); nothing was changed." in result.stderr
    assert "--yes" in result.stderr
    assert company_db(home.company).fingerprint() == before
    assert not (home.path / "restore.json").exists()
