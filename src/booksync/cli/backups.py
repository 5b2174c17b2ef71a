"""``booksync backups``: the copies taken before each run's first write, and restoring them."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from booksync.exits import EXIT_CONNECTION, EXIT_DECLINED
from booksync.cli.common import console, err, home_option, json_option, load_home, sessions_for, sync_lock


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@click.group()
def backups() -> None:
    """Backups of the company file, booksync's database and the logs, taken before each run writes."""


@backups.command("list")
@home_option
@json_option
def list_cmd(home_dir: Path | None, as_json: bool) -> None:
    """List the backups, newest first (the folder name is the run id)."""
    home = load_home(home_dir)
    rows = []
    for folder in sorted((p for p in home.backups_dir.iterdir() if p.is_dir()), reverse=True):
        rows.append({"run": folder.name, "taken": dt.datetime.fromtimestamp(folder.stat().st_mtime)
                     .isoformat(timespec="seconds"),
                     "files": sorted(p.name for p in folder.iterdir()), "bytes": _size(folder)})
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("No backups yet: one is taken before each sync writes to QuickBooks.")
        return
    table = Table(title=f"Backups in {escape(str(home.backups_dir))}", show_edge=False)
    for col in ("Run", "Taken", "Contents", "Size"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["run"], r["taken"], ", ".join(r["files"]), f"{r['bytes'] / 1024 / 1024:.1f} MB")
    console.print(table)
    console.print(f"Keeping the last {home.settings['sync'].get('keep_backups', 10)} (setting sync.keep_backups).")


@backups.command()
@click.argument("run_id")
@home_option
@click.option("--company-only", is_flag=True,
              help="Restore only the company file (booksync's database then no longer matches it: the next sync "
                   "reports the records it wrote as deleted in QuickBooks).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def restore(run_id: str, home_dir: Path | None, company_only: bool, yes: bool) -> None:
    """Bring back the company file and booksync's database as they were before run RUN_ID."""
    home = load_home(home_dir)
    folder = home.backups_dir / run_id
    if not folder.is_dir():
        raise click.BadParameter(f"no backup {run_id!r}; see 'booksync backups list'", param_hint="RUN_ID")
    company_copy = folder / home.company_path.name
    what = ["the company file"] if company_copy.exists() else []
    if not company_only and ((folder / "billing.db").exists() or (folder / "billing").is_dir()):
        what.append("booksync's database")
    if not what:
        raise click.ClickException(f"the backup {run_id} holds nothing this home can restore")
    if not yes and not click.confirm(f"Replace {' and '.join(what)} with the copies taken before run {run_id}?",
                                     default=False):
        err.print("Nothing was restored.")
        sys.exit(EXIT_DECLINED)
    from booksync.store.restore import COMPANY, DATABASE, PendingRestore

    parts = [{"booksync's database": DATABASE, "the company file": COMPANY}[w] for w in what]
    parts.sort(key=[DATABASE, COMPANY].index)  # the database first, as the journal expects
    with sync_lock(home):
        if not _restore_parts(home, PendingRestore(run_id, folder, parts, [])):
            sys.exit(EXIT_CONNECTION)
        if (folder / "logs").is_dir():
            shutil.copytree(folder / "logs", home.logs_dir / f"restored-{run_id}", dirs_exist_ok=True)
    console.print(f"Restored {' and '.join(what)} as they were before run {run_id}.")


def _restore_parts(home: Any, pending: Any) -> bool:
    """Restore ``pending`` with its journal (store/restore.py), holding the company file first so that
    nothing is restored while it is in use. False (with the message printed) when it is in use."""
    from booksync.errors import ConnectionFailure
    from booksync.simulator import open_company
    from booksync.store.restore import COMPANY, run_restore

    company_copy = pending.folder / home.company_path.name
    try:
        company = open_company(home.company_path) if COMPANY in pending.parts else None
    except ConnectionFailure as exc:
        err.print(f"[bold red]Cannot restore the company file:[/] {escape(exc.message)} "
                  + ("Nothing was restored." if not pending.done else ""))
        return False
    try:
        if company is not None:
            company.db.close()
        run_restore(home.path, pending, home.database_url, lambda: sessions_for(home).kw["bind"],
                    home.company_path, company_copy)
    finally:
        if company is not None:
            company.close()
    return True


def finish_interrupted_restore(home: Any) -> None:
    """Finish a restore that was interrupted (``restore.json`` in the home) from its backup, before the
    command goes on. When it cannot be finished now (the backup is gone, the company file is in use) it
    says so and leaves the journal: a sync then refuses to run (exit 3)."""
    from booksync.store.restore import COMPANY, DATABASE, pending_restore

    pending = pending_restore(home.path)
    if pending is None:
        return
    missing = [p for p in pending.parts if p == DATABASE and not ((pending.folder / "billing.db").exists()
                                                                  or (pending.folder / "billing").is_dir())
               or p == COMPANY and not (pending.folder / home.company_path.name).exists()]
    if pending.run_id == "?" or missing:
        err.print(f"[bold red]{escape(pending.describe())}[/] The backup cannot finish it "
                  f"({escape(str(pending.folder))} is incomplete): restore another backup with "
                  "'booksync backups restore RUN'.")
        return
    err.print(f"{escape(pending.describe())} Finishing it from {escape(str(pending.folder))}...")
    with sync_lock(home):
        if pending_restore(home.path) is None:  # finished meanwhile by another command
            return
        pending.done = []  # each step copies from the backup again: harmless when it was done
        if _restore_parts(home, pending):
            err.print(f"Restored {' and '.join(pending.parts)} as they were before run {pending.run_id}.")
