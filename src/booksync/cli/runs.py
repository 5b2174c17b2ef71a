"""``booksync runs``: the history of sync runs and their journals."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from ..domain import operation_words
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
    summary = json.loads(run.summary or "{}")
    where = f"; working files in {escape(run.folder)}" if run.folder else ""
    console.print(f"Run {run.id}: {run.status}{where}")
    if summary.get("message"):
        console.print(escape(summary["message"]))
    for problem in summary.get("problems") or []:
        console.print(f"  - {escape(problem.get('record', ''))}: {escape(problem.get('message', ''))}")
        if problem.get("fix"):
            console.print(f"      to fix: {escape(problem['fix'])}")
    for title in ("planned", "applied"):
        if summary.get(title):
            console.print(f"{title.capitalize()}: " + ", ".join(f"{n} {operation_words(k)}"
                                                              for k, n in summary[title].items()))
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    console.print("Journal: " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "empty"))
    for e in entries:
        if e.status in ("failed", "sent"):
            console.print(f"  {e.seq}: {operation_words(e.action, e.kind)} {escape(e.number)}: {e.status} "
                          f"{escape(e.error)}")


@runs.command()
@click.argument("run_id", required=False)
@click.option("--latest", is_flag=True, help="Confirm the latest run awaiting confirmation.")
@home_option
@json_option
def confirm(run_id: str | None, latest: bool, home_dir: Path | None, as_json: bool) -> None:
    """Confirm a plan a Web Connector update staged; the next update applies it.

    Review the run first ('booksync runs show RUN_ID', its folder: plan.txt, the qbXML
    requests and, when there are corrections, the Corrections Log). The next update plans
    again and applies only if the plan is the same; if anything changed, it stages the new
    plan and asks again. Exits 2 when there is nothing to confirm.
    """
    import getpass

    from ..webconnector.confirm import ConfirmError, confirm_run

    if bool(run_id) == latest:
        raise click.UsageError("Give a RUN_ID or --latest (one of them).")
    home = load_home(home_dir)
    try:
        done = confirm_run(sessions_for(home), run_id, getpass.getuser())
    except ConfirmError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        console.print_json(json.dumps({"run_id": done.run_id, "digest": done.digest, "counts": done.counts,
                                       "corrections": done.corrections, "folder": str(done.folder)}))
        return
    total = sum(done.counts.values())
    console.print(f"Run {done.run_id} is confirmed: {total} change(s) "
                  f"({', '.join(f'{n} {operation_words(k)}' for k, n in done.counts.items())}).")
    if done.corrections:
        console.print(f"It corrects {done.corrections} record(s) already in QuickBooks; the Corrections Log is in "
                      f"{escape(str(done.folder))}.")
    console.print("The next Web Connector update applies it, if nothing changed in between (otherwise it stages the "
                  "new plan and asks again).")
