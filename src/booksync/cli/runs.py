"""``booksync runs``: the history of sync runs and their journals."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from ..store.models import JournalEntry, SyncRun
from .common import console, home_option, json_option, load_home, sessions_for


@click.group()
def runs() -> None:
    """Sync runs: what each did, its working files and its journal."""


@runs.command("list")
@home_option
@json_option
def list_cmd(home_dir: Path | None, as_json: bool) -> None:
    """List the sync runs, newest first."""
    home = load_home(home_dir)
    with sessions_for(home)() as session:
        rows = list(session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc())))
    if as_json:
        console.print_json(json.dumps([{"id": r.id, "status": r.status, "started_at": r.started_at.isoformat(),
                                        "folder": r.folder} for r in rows]))
        return
    table = Table(title="Sync runs", show_edge=False)
    for col in ("Run", "Started (UTC)", "Status", "Working files"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.started_at.strftime("%Y-%m-%d %H:%M"), r.status, escape(r.folder))
    console.print(table)


@runs.command()
@click.argument("run_id")
@home_option
@json_option
def show(run_id: str, home_dir: Path | None, as_json: bool) -> None:
    """Show one run: its summary and the journal of its operations."""
    home = load_home(home_dir)
    with sessions_for(home)() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise click.BadParameter(f"no run {run_id!r}; see 'booksync runs list'", param_hint="RUN_ID")
        entries = list(session.scalars(select(JournalEntry).where(JournalEntry.run_id == run_id)
                                       .order_by(JournalEntry.seq)))
    journal = [{"seq": e.seq, "action": e.action, "kind": e.kind, "number": e.number, "status": e.status,
                "remote_id": e.remote_id, "error": e.error} for e in entries]
    if as_json:
        console.print_json(json.dumps({"id": run.id, "status": run.status, "folder": run.folder,
                                       "summary": json.loads(run.summary or "{}"), "journal": journal}))
        return
    console.print(f"Run {run.id}: {run.status}; working files in {escape(run.folder)}")
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    console.print("Journal: " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "empty"))
    for e in entries:
        if e.status in ("failed", "sent"):
            console.print(f"  {e.seq}: {e.action} {e.kind} {escape(e.number)}: {e.status} {escape(e.error)}")
