"""Restoring a backup as one step: booksync's database and the company file, or neither half alone.

The two copies cannot be replaced in one transaction, so the restore is journaled: ``restore.json`` in
the home names the backup and what it restores; it is written (and flushed to disk) before anything is
replaced and removed after the last copy. A restore killed in between leaves the journal; the next
command finishes it from the backup (each step only copies from the backup, so doing it again is
harmless), and a sync refuses to run while the journal is there (a database from before a run beside a
company file from after it makes the sync add again what the run added: duplicate customers).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine

from booksync.faults import fault_point
from booksync.store.backup import copy_sqlite, restore_database

JOURNAL_NAME = "restore.json"
DATABASE = "booksync's database"
COMPANY = "the company file"


@dataclass
class PendingRestore:
    """A restore that began and has not finished: the backup's run id, its folder, the parts it restores
    (:data:`DATABASE`, :data:`COMPANY`) and those already done."""

    run_id: str
    folder: Path
    parts: list[str]
    done: list[str]

    def describe(self) -> str:
        """One sentence for the user: which backup, what is done, what is not."""
        left = [p for p in self.parts if p not in self.done]
        done = f"{' and '.join(self.done)} restored, " if self.done else ""
        return (f"The restore of backup {self.run_id} was interrupted ({done}{' and '.join(left)} not yet): "
                "booksync's database and the company file do not match.")


def journal_path(home_path: Path) -> Path:
    return home_path / JOURNAL_NAME


def pending_restore(home_path: Path) -> PendingRestore | None:
    """The restore left unfinished in the home at ``home_path``, or None. A journal that cannot be read
    still counts as unfinished (run id "?"), so that a sync never runs past it."""
    path = journal_path(home_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PendingRestore(data["run"], Path(data["folder"]), list(data["parts"]), list(data.get("done", [])))
    except (OSError, ValueError, KeyError, TypeError):
        return PendingRestore("?", home_path / "backups", [DATABASE, COMPANY], [])


def _write(path: Path, pending: PendingRestore) -> None:
    """Write the journal atomically and durably (a temporary file, fsync, rename)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"run": pending.run_id, "folder": str(pending.folder), "parts": pending.parts,
                   "done": pending.done, "started": dt.datetime.now().isoformat(timespec="seconds")}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_restore(home_path: Path, pending: PendingRestore, database_url: str, engine: Callable[[], Engine],
                company_path: Path, company_copy: Path) -> None:
    """Restore ``pending.parts`` from ``pending.folder`` with the journal around it. The caller holds the
    home's sync lock and the company file (nobody else has it open). ``engine`` opens the billing store.
    Raises whatever a copy raises; the journal then stays for the next attempt."""
    path = journal_path(home_path)
    _write(path, pending)
    if DATABASE in pending.parts:
        restore_database(database_url, engine(), pending.folder)
        pending.done.append(DATABASE)
        _write(path, pending)
        fault_point("restore-between")
    if COMPANY in pending.parts:
        copy_sqlite(company_copy, company_path)
        pending.done.append(COMPANY)
    path.unlink()
