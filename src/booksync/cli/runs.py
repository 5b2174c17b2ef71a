"""``booksync runs``: the history of sync runs and their journals."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from booksync.domain import ACTION_WORDS, operation_words, record_words
from booksync.exits import EXIT_CHECKS, EXIT_OK, EXIT_REFUSED
from booksync.services import runs as run_history
from booksync.cli.common import (books, console, copyable, err, fail_json, home_option, json_option, load_home,
                                 sessions_for, setup_logging, sync_lock)


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
        rows = run_history.all_runs(session)
    if as_json:
        console.print_json(json.dumps({"runs": [{"run_id": r.id, "status": r.status,
                                                  "started_at": r.started_at.isoformat(),
                                                  "folder": run_history.kept_folder(home, r)} for r in rows]}))
        return
    table = Table(title="Sync runs", show_edge=False)
    for col in ("Run", "Started (UTC)", "Status", "Working files"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.started_at.strftime("%Y-%m-%d %H:%M"), r.status, escape(run_history.kept_folder(home, r)))
    console.print(table)


@runs.command()
@click.argument("run_id")
@home_option
@json_option
def show(run_id: str, home_dir: Path | None, as_json: bool) -> None:
    """Show one run: its summary and the journal of its operations."""
    home = load_home(home_dir)
    with sessions_for(home)() as session:
        run, entries = run_history.run_journal(session, run_id)
        if run is None:
            raise click.BadParameter(f"no run {run_id!r}; see 'booksync runs list'", param_hint="RUN_ID")
    journal = [{"seq": e.seq, "action": e.action, "kind": e.kind, "number": e.number, "status": e.status,
                "remote_id": e.remote_id, "error": e.error} for e in entries]
    undo_words, undo_record = run_history.undo_state(home, run.id)
    if as_json:
        console.print_json(json.dumps({"run_id": run.id, "status": run.status,
                                       "folder": run_history.kept_folder(home, run),
                                       "summary": json.loads(run.summary or "{}"), "journal": journal,
                                       "undo": undo_record}))
        return
    summary = json.loads(run.summary or "{}")
    where = f"; working files in {escape(run_history.kept_folder(home, run))}" if run.folder else ""
    console.print(f"Run {run.id}: {run.status}{where}")
    if undo_words:
        console.print(escape(undo_words))
    if summary.get("message"):
        console.print(escape(summary["message"]))
    for problem in summary.get("problems") or []:
        console.print(f"  - {escape(problem.get('record', ''))}: {escape(problem.get('message', ''))}")
        if problem.get("fix"):
            console.print(f"      to fix: {escape(copyable(problem['fix'], home))}")
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
            words = f"{ACTION_WORDS.get(e.action, e.action)} {record_words(e.kind, e.number)}"
            console.print(f"  {e.seq}: {escape(words)}: {e.status} "
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

    from booksync.services.confirmation import ConfirmError, confirm_run

    if bool(run_id) == latest:
        raise click.UsageError("Give a RUN_ID or --latest (one of them).")
    home = load_home(home_dir)
    try:
        done = confirm_run(sessions_for(home), run_id, getpass.getuser(), home.runs_dir)
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


@runs.command()
@click.argument("run_id")
@click.option("--yes", "-y", is_flag=True, help="Undo without asking (after showing what will be done).")
@click.option("--dry-run", is_flag=True, help="Show what the undo would do and write its log; change nothing.")
@home_option
@json_option
def undo(run_id: str, yes: bool, dry_run: bool, home_dir: Path | None, as_json: bool) -> None:
    """Take run RUN_ID's changes back out of QuickBooks.

    Deletes what the run added (payments before the invoices they pay, customers last; QuickBooks Online cannot
    delete list entries: customers are made inactive, items and payment methods left active and listed) and sets
    what it changed back to what QuickBooks held before (the run's pre-images). A voided transaction cannot be
    un-voided in QuickBooks, nor a deleted one brought back: they are listed. A record changed in QuickBooks
    since the run (or by a later run) is left alone and named. Shows the plan and writes its Corrections Log
    (CSV in the run's folder) first, then asks. The billing store keeps its records: the next sync writes them
    again unless they are corrected first.

    Before the first write it backs up like a sync (the company file where booksync can copy it, its database
    and logs, in the backups folder; 'booksync backups restore' brings them back) and prints where. On
    QuickBooks Online, which booksync cannot copy, no backup is taken: the pre-images are the backup.

    Through the Web Connector the plan comes from the run's journal and pre-images; once confirmed the undo
    is staged ("undo waiting" in 'booksync runs show') and the next Web Connector update sends it.

    Exit codes: 0 undone, staged (Web Connector) or --dry-run, 2 --json without --yes, 3 nothing can be
    undone (or it is staged already), 4 you declined, 5 QuickBooks refused
    (or will refuse, as the plan foresees) part or all of it (all: nothing was undone, the run keeps its
    status), 6 QuickBooks could not be reached.
    """
    home = load_home(home_dir)
    setup_logging(home)
    sessions = sessions_for(home)
    out = err if as_json else console
    unavailable = run_history.undo_unavailable(home, run_id)
    if unavailable:
        if as_json:
            fail_json("refused", EXIT_CHECKS, unavailable)
        err.print(escape(unavailable))
        raise SystemExit(EXIT_CHECKS)
    if home.settings["company"].get("kind") == "webconnector":
        _stage_for_the_web_connector(home, run_id, yes, dry_run, as_json, out)
    with sync_lock(home, as_json), books(home, as_json) as port, sessions() as session:
        try:
            plan, log = run_history.plan_run_undo(session, port, home, run_id)
        except run_history.UndoRefused as exc:
            if as_json:
                fail_json("refused", 3, str(exc))
            err.print(f"[bold red]{escape(str(exc))}[/]")
            raise SystemExit(3) from None
        _show_undo(out, plan, log)
        _stop_before_sending(plan, log, port, run_id, yes, dry_run, as_json, out)
        backup = run_history.back_up_before_undo(home, port, sessions, run_id)
        out.print(f"Backup taken before the undo: {escape(backup[0])}")
        if backup[1]:
            out.print(f"The company file is not in it: {escape(backup[1])}")
        done, failed, log = run_history.undo_run(session, port, home, plan)
    _report_undo(run_id, plan, done, failed, log, as_json, backup)


def _stop_before_sending(plan: Any, log: Path, port: Any, run_id: str, yes: bool, dry_run: bool, as_json: bool,
                         out: Any) -> None:
    """Exit before anything is sent: a dry run or nothing to send (0), a company booksync cannot undo in (3), no
    --yes with --json (2), the user declined (4). Returns when the undo may go ahead."""
    if not dry_run and not plan.steps and plan.refused:
        message = (f"Nothing was undone: QuickBooks would refuse all {len(plan.refused)} record(s) of run {run_id} it "
                   "could undo (the reasons are above); QuickBooks and the run are as they were.")
        if as_json:
            console.print_json(json.dumps({"status": "nothing undone", "exit_code": EXIT_REFUSED, "message": message,
                                           "log": str(log), **plan.as_dict()}))
        else:
            out.print(message)
        raise SystemExit(EXIT_REFUSED)
    if dry_run or not plan.steps:
        if as_json:
            console.print_json(json.dumps({"status": "dry-run" if dry_run else "nothing", "exit_code": 0,
                                           "log": str(log), **plan.as_dict()}))
        raise SystemExit(0)
    if not run_history.can_send_undo(port):  # a port without restore: undo_unavailable stopped it already
        raise SystemExit(EXIT_CHECKS)
    if not yes:
        if as_json:  # nobody can answer the question (exits.py: a usage matter)
            fail_json("usage", 2, "An undo with --json needs --yes; nothing was changed.")
            raise SystemExit(2)
        if not click.confirm(f"Undo run {run_id} in QuickBooks now?", default=False):
            out.print("Nothing was changed.")
            raise SystemExit(4)


def _report_undo(run_id: str, plan: Any, done: int, failed: list[Any], log: Path, as_json: bool,
                 backup: tuple[str, str]) -> None:
    """What the undo did, then exit 0, or 5 when QuickBooks refused part or all of it. The Corrections Log (``log``,
    now with each outcome) was named with the plan (:func:`_show_undo`), once."""
    if not failed:
        status, message = "undone", f"Run {run_id} was undone: {done} record(s) deleted or set back."
    elif done:
        status, message = "partly undone", (f"Run {run_id} was partly undone: {done} record(s) deleted or set back, "
                                            f"{len(failed)} refused by QuickBooks.")
    else:
        status, message = "nothing undone", (
            f"Nothing was undone: QuickBooks refused all {len(failed)} record(s) of run {run_id} (the reasons are "
            "below); QuickBooks and the run are as they were.")
    code = EXIT_OK if not failed else EXIT_REFUSED
    if as_json:
        console.print_json(json.dumps({"status": status, "exit_code": code, "message": message, "log": str(log),
                                       "backup": backup[0], "backup_note": backup[1], **plan.as_dict()}))
    else:
        console.print(message)
        for step in failed:
            console.print(f"  - {escape(step.label)}: {escape(step.outcome)}")
        if done:
            console.print("The billing store still holds the run's records: the next sync writes them again unless "
                          "you correct them first.")
    raise SystemExit(code)


def _show_undo(out: Any, plan: Any, log: Path) -> None:
    counts = plan.counts()
    out.print(f"Undo of run {plan.run_id}: " + (", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing to send")
              + ".")
    if plan.inactive_note():
        out.print(escape(plan.inactive_note()))
    if plan.refused:
        out.print(f"{len(plan.refused)} record(s) will be refused by QuickBooks (not sent):")
        for step in plan.refused:
            out.print(f"  - {escape(step.label)}: will be refused: {escape(step.reason)}")
    if plan.left_alone:
        out.print(f"{len(plan.left_alone)} record(s) left alone:")
        for step in plan.left_alone:
            out.print(f"  - {escape(step.label)}: {escape(step.reason)}")
    if plan.cannot:
        out.print(f"{len(plan.cannot)} record(s) cannot be undone:")
        for step in plan.cannot:
            out.print(f"  - {escape(step.label)}: {escape(step.reason)}")
    out.print(f"Corrections Log of the undo: {escape(str(log))}")


def _stage_for_the_web_connector(home: Any, run_id: str, yes: bool, dry_run: bool, as_json: bool, out: Any) -> None:
    """``runs undo`` through the Web Connector: the plan from the journal and pre-images, its Corrections Log, then
    (after --yes or the question) the undo staged for the next update, which reads QuickBooks and sends it."""
    import getpass

    with sessions_for(home)() as session:
        try:
            plan, log = run_history.plan_run_undo(session, None, home, run_id)
        except run_history.UndoRefused as exc:
            if as_json:
                fail_json("refused", EXIT_CHECKS, str(exc))
            err.print(f"[bold red]{escape(str(exc))}[/]")
            raise SystemExit(EXIT_CHECKS) from None
        _show_undo(out, plan, log)
        out.print(escape(run_history.WEB_CONNECTOR_NOTE))
        if dry_run or not plan.steps:
            if as_json:
                console.print_json(json.dumps({"status": "dry-run" if dry_run else "nothing", "exit_code": 0,
                                               "log": str(log), **plan.as_dict()}))
            raise SystemExit(0)
        if not yes:
            if as_json:
                fail_json("usage", 2, "An undo with --json needs --yes; nothing was changed.")
                raise SystemExit(2)
            if not click.confirm(f"Stage the undo of run {run_id} for the next Web Connector update?", default=False):
                out.print("Nothing was changed.")
                raise SystemExit(4)
        try:
            staged = run_history.stage_undo(session, home, run_id, getpass.getuser())
        except run_history.UndoRefused as exc:
            if as_json:
                fail_json("refused", EXIT_CHECKS, str(exc))
            err.print(f"[bold red]{escape(str(exc))}[/]")
            raise SystemExit(EXIT_CHECKS) from None
    message = copyable(f"The undo of run {run_id} is staged: the next Web Connector update sends it (nothing was "
                       f"written yet). 'booksync runs show {run_id}' shows it waiting, then done.", home)
    if as_json:
        console.print_json(json.dumps({"status": "staged", "exit_code": 0, "message": message, "log": str(log),
                                       "staged": str(staged), **plan.as_dict()}))
    else:
        console.print(escape(message))
    raise SystemExit(0)
