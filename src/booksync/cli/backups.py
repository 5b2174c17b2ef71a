"""``booksync backups``: the copies taken before each run's first write, and restoring them."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from booksync.exits import EXIT_CONNECTION, EXIT_DECLINED
from booksync.cli.common import console, err, home_option, json_option, load_home, restore_parts, sync_lock


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
        rows.append({"run_id": folder.name, "taken": dt.datetime.fromtimestamp(folder.stat().st_mtime)
                     .isoformat(timespec="seconds"),
                     "files": sorted(p.name for p in folder.iterdir()), "bytes": _size(folder)})
    if as_json:
        console.print_json(json.dumps({"backups": rows}))
        return
    if not rows:
        console.print("No backups yet: one is taken before each sync writes to QuickBooks.")
        return
    table = Table(title=f"Backups in {escape(str(home.backups_dir))}", show_edge=False)
    for col in ("Run", "Taken", "Contents", "Size"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["run_id"], r["taken"], ", ".join(r["files"]), f"{r['bytes'] / 1024 / 1024:.1f} MB")
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
        if not restore_parts(home, PendingRestore(run_id, folder, parts, [])):
            sys.exit(EXIT_CONNECTION)
        if (folder / "logs").is_dir():
            shutil.copytree(folder / "logs", home.logs_dir / f"restored-{run_id}", dirs_exist_ok=True)
    console.print(f"Restored {' and '.join(what)} as they were before run {run_id}.")
