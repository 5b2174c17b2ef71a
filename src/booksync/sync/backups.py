"""The back-up step: before the first write, the company file (when the port can copy it), booksync's database and
the logs go to ``backups/RUN_ID``; older backups beyond ``keep`` are removed."""
from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from booksync.books.port import BooksPort
from booksync.faults import fault_point
from booksync.store.backup import backup_database
from booksync.sync.options import Interaction

NO_COMPANY_COPY = ("booksync cannot copy the company file from here (Web Connector, QuickBooks Online): it kept the "
                   "pre-images of the records it changes instead ('booksync runs undo RUN' takes the run back out)")


def back_up(home: Any, port: BooksPort, sessions: sessionmaker[Session], run_id: str, keep: int,
            ui: Interaction) -> tuple[str, str]:
    """Copy the company file, booksync's database and the logs into backups/RUN_ID. Returns (the backup's folder,
    why it holds no copy of the company file: "" when it does)."""
    target = home.backups_dir / run_id
    target.mkdir(parents=True, exist_ok=True)
    ui.progress("Backing up", 0, 1)
    fault_point("backup")
    note = ""
    if port.backup(str(target)) is None:
        note = getattr(port, "backup_note", "") or NO_COMPANY_COPY
    backup_database(home.database_url, sessions.kw["bind"], target)
    if home.logs_dir.exists():
        shutil.copytree(home.logs_dir, target / "logs", dirs_exist_ok=True)
    _prune(home, keep)
    ui.progress("Backing up", 1, 1)
    return str(target), note


def _prune(home: Any, keep_backups: int) -> None:
    keep = max(1, int(keep_backups))
    folders = sorted(p for p in home.backups_dir.iterdir() if p.is_dir())
    for old in folders[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
