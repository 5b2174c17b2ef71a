"""The ``booksync`` command line: a thin layer of Click commands over the service functions.

Exit codes: the table of :mod:`booksync.exits`, printed at the end of every command's ``--help``.
With ``--json`` every path prints exactly one JSON object on standard output (:class:`BooksyncGroup`
adds one for usage errors, interruptions and unexpected errors).
"""
from __future__ import annotations

import csv
import json
import logging
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from booksync import __version__
from booksync.config import database_url_of, initial_database_url
from booksync.domain import Plan, operation_words
from booksync.kinds import IMPORT_KINDS
from booksync.exits import (EXIT_BUSY, EXIT_CHECKS, EXIT_DECLINED, EXIT_REFUSED, EXIT_UNEXPECTED, EXIT_USAGE, MEANING,
                     help_epilog)
from booksync.cli.progress import PhaseProgress
from booksync.cli.common import (EXIT_BAD_ANSWER, EXIT_CONNECTION, EXIT_DISAGREE, books, console, copyable, err, fail_json,
                     home_option, json_option, json_printed, load_home, sessions_for, setup_logging, sync_lock)

_STATUS = {EXIT_USAGE: "usage", EXIT_CHECKS: "stopped", EXIT_DECLINED: "declined", EXIT_REFUSED: "refused",
           EXIT_CONNECTION: "connection", EXIT_DISAGREE: "disagree", EXIT_BUSY: "busy", EXIT_BAD_ANSWER: "bad-answer"}
"""The ``status`` of a JSON object printed for a command that stopped without printing one, by exit code."""


def _wants_json() -> bool:
    return "--json" in sys.argv[1:]


class BooksyncGroup(click.Group):
    """Turns unexpected exceptions into one clear message and exit code 1; usage and set-up errors exit 2;
    with ``--json`` each of them also prints its JSON object (unless the command printed one already)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if exc.exit_code == 1:  # Click's default: here every ClickException is a usage or set-up problem
                exc.exit_code = EXIT_USAGE
            if _wants_json() and not json_printed():
                fail_json("usage", exc.exit_code, exc.format_message())
            raise
        except click.exceptions.Abort:
            if _wants_json() and not json_printed():
                fail_json("interrupted", EXIT_UNEXPECTED, "Interrupted before the command finished.")
            raise
        except click.exceptions.Exit:
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else EXIT_UNEXPECTED
            if code and _wants_json() and not json_printed() and not console.export_text(clear=False).strip():
                # A refusal printed for people only: the same words as one JSON object (exits.py).
                said = [line.strip() for line in err.export_text().splitlines() if line.strip()]
                fail_json(_STATUS.get(code, "failed"), code, said[0] if said else MEANING.get(code, "failed"),
                          " ".join(said[1:]))
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log_path = _write_crash(exc)
            message = f"An unexpected error occurred: {type(exc).__name__}: {exc}"
            err.print(f"[bold red]An unexpected error occurred:[/] {escape(type(exc).__name__)}: {escape(str(exc))}")
            if log_path:
                err.print(f"The details are in {log_path}")
            if _wants_json() and not json_printed():
                fail_json("error", EXIT_UNEXPECTED, message, f"The details are in {log_path}" if log_path else "")
            sys.exit(EXIT_UNEXPECTED)


def _write_crash(exc: Exception) -> str:
    for handler in logging.getLogger("booksync").handlers:
        if isinstance(handler, logging.FileHandler):
            logging.getLogger("booksync").error("unexpected error", exc_info=exc)
            return handler.baseFilename
    return ""


@click.group(cls=BooksyncGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="booksync")
def cli() -> None:
    """Keep QuickBooks in step with your membership billing.

    booksync synchronizes members, invoices, credit memos and payments from the
    billing store into a QuickBooks company. It checks the account cross
    references, plans every change, writes nothing until you confirm, backs up
    first and never creates duplicates.

    Start with 'booksync demo --home DIR' to try it on a demo chamber of commerce.
    """


# ---------------------------------------------------------------------- init and import


@cli.command()
@home_option
def init(home_dir: Path | None) -> None:
    """Create a booksync home folder with a default configuration and an empty billing store."""
    home = load_home(home_dir, create=True)
    sessions_for(home)
    console.print(f"booksync home ready in {home.path}")
    console.print(escape(copyable("Next: import your billing data (booksync import KIND FILE.csv), then create or "
                                  "connect a company: booksync simulator init", home)))


@cli.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--date-format", type=click.Choice(["iso", "us"]), default=None,
              help="Dates as YYYY-MM-DD (iso) or MM/DD/YYYY (us; ISO dates are read too). "
                   "Default: the home's import.date_format, else iso.")
@click.option("--amounts", type=click.Choice(["strict", "lenient"]), default=None,
              help="strict: plain numbers only (1250.00); lenient: also $1,250.00 and (25.00). "
                   "Default: the home's import.amounts, else strict.")
@click.option("--encoding", default=None, metavar="NAME",
              help="The CSV file's text encoding (e.g. utf-8, windows-1252, utf-16). Default: detected.")
@click.option("--sheet", default=None, metavar="NAME", help="The sheet of an .xlsx workbook to read. Default: the first.")
@home_option
@json_option
def import_cmd(kind: str, file: Path, date_format: str | None, amounts: str | None, encoding: str | None,
               sheet: str | None, home_dir: Path | None, as_json: bool) -> None:
    """Import a CSV file or an Excel workbook (.xlsx) of KIND into the billing store.

    Records with a number already in the store are updated. A file with any bad
    row is not imported at all; every problem is listed with its row, column,
    value and reason. Column layouts and settings: docs/import.md.
    """
    from booksync.sources.csvfile.importer import import_file
    from booksync.sources.report import MAX_PROBLEMS, ImportFailed
    from booksync.sources.values import ImportOptions

    home = load_home(home_dir)
    setup_logging(home)
    try:
        options = ImportOptions.from_settings(home.settings.get("import", {}), date_format=date_format,
                                              amounts=amounts, encoding=encoding, sheet=sheet)
    except ValueError as exc:
        raise click.ClickException(f"booksync.toml [import]: {exc}") from None
    sessions = sessions_for(home)
    with sessions() as session:
        try:
            result = import_file(session, kind, file, options)
        except ImportFailed as exc:
            if as_json:
                console.print_json(json.dumps({"imported": False, "total": exc.total,
                                               "problems": [p.__dict__ for p in exc.problems]}))
            else:
                err.print(f"[bold red]{escape(file.name)} was not imported[/] ({exc.total} problem(s); "
                          "nothing from this file was written):")
                for p in exc.problems:
                    err.print(f"  {escape(str(p))}")
                if exc.more:
                    err.print(f"  ... and {exc.more} more problem(s)")
            sys.exit(EXIT_CHECKS)
    if as_json:
        console.print_json(json.dumps({"imported": True, **{k: v for k, v in result.__dict__.items()
                                                            if k != "warnings"},
                                       "warnings": [w.__dict__ for w in result.warnings]}))
        return
    console.print(f"Imported {file.name}: {result.added} added, {result.updated} updated, "
                  f"{result.unchanged} unchanged.")
    if result.read_as and result.read_as != "CSV, UTF-8":
        console.print(f"Read as {escape(result.read_as)}.")
    if result.warnings:
        err.print(f"[yellow]{len(result.warnings)} warning(s)[/] (imported anyway):")
        for w in result.warnings[:MAX_PROBLEMS]:
            err.print(f"  {escape(str(w))}")
        if len(result.warnings) > MAX_PROBLEMS:
            err.print(f"  ... and {len(result.warnings) - MAX_PROBLEMS} more warning(s)")


# ---------------------------------------------------------------------- sync


class CliInteraction:
    """Answers the sync's questions at the terminal, or from the unattended flags."""

    def __init__(self, assume_yes: bool, create_customers: bool | None, quiet: bool,
                 corrections_log: Path | None = None) -> None:
        self.assume_yes = assume_yes
        self.create_customers = create_customers
        self.quiet = quiet
        self.corrections_log = corrections_log
        self._progress = PhaseProgress(err)
        self.unanswered = ""
        """The question nobody could answer (standard input closed, or interrupted); "" = none."""
        self.needs_corrections_log = False
        """--yes reached the Corrections Log gate without --corrections-log: the run could not go on."""

    def _ask(self, ask: Any, question: str, *args: Any, **kwargs: Any) -> Any:
        """Ask with Click; no answer at all (end of input, Ctrl-C) is remembered before Click's Abort goes on
        (the engine records the run cancelled; the sync command then says what happened)."""
        self._progress.close()
        try:
            return ask(question, *args, **kwargs)
        except click.exceptions.Abort:
            self.unanswered = question
            raise

    def review_corrections(self, plan: Plan, log_files: dict[str, Path]) -> bool:
        self._progress.close()
        out = err if self.quiet else console
        out.print(f"\n[bold]{len(plan.corrections)} correction(s) change transactions already in QuickBooks[/] "
                  f"({sum(c.past_period for c in plan.corrections)} in a past period, "
                  f"{sum(c.closed for c in plan.corrections)} on or before the closing date).")
        out.print(f"The Corrections Log: {log_files['pdf']}  (also .html and .csv)")
        if self.corrections_log is not None:
            target = self.corrections_log
            target.parent.mkdir(parents=True, exist_ok=True)
            fmt = target.suffix.lower().lstrip(".")
            shutil.copyfile(log_files.get(fmt, log_files["pdf"]), target)
            out.print(f"Corrections Log written to {target} (--corrections-log)")
            return True
        if self.assume_yes:
            self.needs_corrections_log = True
            return False
        while True:
            choice = self._ask(click.prompt, "Corrections Log: [p]review, p[r]int, or [c]ancel",
                               type=click.Choice(["p", "r", "c"], case_sensitive=False), default="p",
                               show_choices=False, err=self.quiet).lower()
            if choice == "c":
                return False
            if choice == "p":
                show_corrections(out, plan)
                return True
            if print_pdf(log_files["pdf"], out):
                return True


    def confirm_update(self, plan: Plan, folder: Path) -> bool:
        self._progress.close()
        out = err if self.quiet else console
        show_plan(out, plan, folder)
        if self.assume_yes:
            return True
        return self._ask(click.confirm, "Do you want to update QuickBooks with the synchronization changes now?",
                         default=False, err=self.quiet)

    def progress(self, phase: str, done: int, total: int) -> None:
        self._progress.update(phase, done, total)

    def close_progress(self) -> None:
        self._progress.close()


    def ask_create_customers(self, members: list[str]) -> bool:
        self._progress.close()
        out = err if self.quiet else console
        out.print(f"\n{len(members)} member(s) being billed have no QuickBooks customer:")
        for label in members[:15]:
            out.print(f"  {escape(label)}")
        if len(members) > 15:
            out.print(f"  ... and {len(members) - 15} more")
        if self.create_customers is not None:
            out.print("Create QuickBooks customers for them: " + ("yes" if self.create_customers else "no")
                      + " (from the command line)")
            return self.create_customers
        if self.assume_yes:
            out.print("Create QuickBooks customers for them: yes (--yes)")
            return True
        return self._ask(click.confirm, "Create QuickBooks customers for them now? (recommended)", default=True,
                         err=self.quiet)


def show_corrections(out: Console, plan: Plan) -> None:
    """The Corrections Log at the terminal: one correction per block, lines wrapped to the terminal's width
    (a table cut every cell to "2025-0..." in 80 columns); through the pager (less) when on a terminal."""
    if out.is_terminal and sys.stdin.isatty():
        with out.pager():
            _correction_blocks(out, plan)
    else:
        _correction_blocks(out, plan)


def _indent(text: str, width: int) -> Padding:
    return Padding(text, (0, 0, 0, width), expand=False)


def _correction_blocks(out: Console, plan: Plan) -> None:
    from booksync.reports.corrections_log import totals

    def say(*what: Any) -> None:
        out.print(*what, soft_wrap=False)  # wrapped to the terminal's width, never cut

    say(f"[bold]QuickBooks Corrections Log[/]: {len(plan.corrections)} correction(s)")
    for n, c in enumerate(plan.corrections, 1):
        head = f"{n}. {c.kind} {c.number}, member {c.member}" + (f", dated {c.date}" if c.date else "")
        say(f"\n[bold]{escape(head)}[/]")
        flags = [w for w, on in (("IN A PAST PERIOD", c.past_period), ("ON OR BEFORE THE CLOSING DATE", c.closed)) if on]
        say(_indent(f"In QuickBooks: {escape(c.action)}", 3))
        if flags:
            say(_indent(f"[bold red]{' and '.join(flags)}[/]", 3))
        if c.amount_before is not None:
            say(_indent(f"Amount: {c.amount_before} -> {c.amount_after}", 3))
        if c.accounts:
            say(_indent(f"G/L accounts: {escape(', '.join(c.accounts))}", 3))
        say(_indent("What changed:", 3))
        for change in c.changes:
            say(_indent(f"- {escape(change)}", 5))
        if c.note:
            say(_indent(f"Note: {escape(c.note)}", 3))
    sums = totals(plan.corrections)
    if sums:
        say("")
        for label, before, after in sums:
            say(f"{escape(label)}: {before} -> {after}")


def print_pdf(pdf: Path, out: Console) -> bool:
    """Send the PDF to the system's printer (lp or lpr); say so when there is none."""
    for command in ("lp", "lpr"):
        if shutil.which(command):
            done = subprocess.run([command, str(pdf)], capture_output=True, text=True)
            if done.returncode == 0:
                out.print(f"Sent to the printer: {pdf}")
                return True
            out.print(f"[red]Printing failed:[/] {escape(done.stderr.strip())}")
            return False
    out.print(f"No printer is set up on this computer. Open and print {pdf}, or choose preview.")
    return False

def show_plan(out: Console, plan: Plan, folder: Path) -> None:
    table = Table(title="Synchronization plan", show_edge=False)
    table.add_column("Change")
    table.add_column("Count", justify="right")
    for key, n in plan.counts().items():
        table.add_row(operation_words(key), str(n))
    out.print(table)
    if plan.adjustments:
        out.print(f"\n{len(plan.adjustments)} value(s) changed to fit QuickBooks:")
        for a in plan.adjustments[:12]:
            out.print(f"  {escape(a.record)}, {a.field}: \"{escape(a.original)}\" -> \"{escape(a.adjusted)}\" "
                      f"({escape(a.reason)})")
        if len(plan.adjustments) > 12:
            out.print(f"  ... the rest are in {folder / 'plan.txt'}")
    show_notices(out, plan.notices)
    out.print(f"\nWorking files (the plan and every request message): {folder}")


def show_notices(out: Console, notices: list[Any]) -> None:
    """Records linked to QuickBooks that are gone from the billing store: what booksync does, what to do."""
    if not notices:
        return
    out.print(f"\n[yellow]{len(notices)} record(s) linked to QuickBooks are no longer in the billing store[/] "
              "(booksync changes nothing in QuickBooks for them):")
    for n in notices:
        out.print(f"  - {escape(n.record)}: {escape(n.message)}")
        if n.fix:
            out.print(f"      to fix: {escape(n.fix)}")


def print_result(result: Any, as_json: bool, home: Any = None) -> None:
    """The run's outcome for a person (or ``result.as_dict()`` with ``as_json``); every command in it is one the
    user can paste (:func:`copyable`: the program as invoked, ``--home`` of ``home``)."""
    if as_json:
        console.print_json(json.dumps(result.as_dict()))
        return
    if result.settled:
        console.print(f"An earlier run was interrupted; {len(result.settled)} operation(s) whose outcome was unknown "
                      "were settled by asking QuickBooks first:")
        for line in result.settled[:10]:
            console.print(f"  {escape(line)}")
    style = "green" if result.exit_code == 0 else "bold red" if result.exit_code in (3, 5) else "yellow"
    full_list = write_problems(result, home) if len(result.problems) > SHOWN_PROBLEMS else None
    if full_list is not None and all(p.code == "no-customer" for p in result.problems):
        console.print(f"\n{len(result.problems)} member(s) being billed have no QuickBooks customer. "
                      f"The full list: {escape(str(full_list))}")
        console.print(escape(copyable("To create their customers: booksync sync --create-customers\n"
                                      "To link a member to an existing customer: booksync members map NUMBER "
                                      "\"Customer name\"  (on the web: the Members page)", home)))
    else:
        if result.problems:
            console.print()
        for p in result.problems[:SHOWN_PROBLEMS if full_list else None]:
            console.print(f"  - {escape(p.record)}: {escape(p.message)}")
            if p.fix:
                console.print(f"      to fix: {escape(copyable(p.fix, home))}")
        if full_list is not None:
            console.print(f"  ... and {len(result.problems) - SHOWN_PROBLEMS} more; the full list: "
                          f"{escape(str(full_list))}")
    if result.problems and result.problems[0].code == "unmapped-account":
        console.print(escape(copyable(
            "\nTo see the QuickBooks accounts to choose from: booksync accounts xref --quickbooks\n"
            "To map one: booksync accounts xref --set NUMBER=\"QuickBooks account\"\n"
            "Or accept the suggestions: booksync accounts xref --apply-suggestions", home)))
    if result.notices and result.status != "completed":
        show_notices(console, result.notices)
    if result.applied:
        table = Table(title="Applied", show_edge=False)
        table.add_column("Change")
        table.add_column("Count", justify="right")
        for key, n in result.applied.items():
            table.add_row(operation_words(key), str(n))
        console.print(table)
    if result.backup:
        console.print(f"Backup taken before the update: {result.backup}")
    if getattr(result, "backup_note", ""):
        console.print(f"The company file is not in it: {escape(result.backup_note)}")
    if result.folder:
        console.print(f"Working files: {result.folder}")
    console.print(f"\n[{style}]{escape(result.message)}[/]")  # the outcome last, where the eye lands


SHOWN_PROBLEMS = 10
"""Problems listed on the terminal; more go to a file in the home (:func:`write_problems`)."""


def write_problems(result: Any, home: Any) -> Path | None:
    """Every problem of ``result`` as CSV (record, problem, to fix: a command to paste) in the home's logs folder,
    ``logs/problems-RUN_ID.csv``; None without a home."""
    if home is None:
        return None
    path = home.logs_dir / f"problems-{result.run_id or 'run'}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["record", "problem", "to fix"])
        for p in result.problems:
            writer.writerow([p.record, p.message, copyable(p.fix, home) if p.fix else ""])
    return path


@cli.command()
@home_option
@click.option("--yes", "-y", is_flag=True, help="Answer yes to every question (unattended runs).")
@click.option("--create-customers/--no-create-customers", default=None,
              help="Create QuickBooks customers for members that have none, without asking (default: ask).")
@click.option("--dry-run", is_flag=True, help="Stage the plan and working files; send nothing to QuickBooks.")
@click.option("--corrections-log", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the Corrections Log to PATH (.pdf, .html or .csv) and continue: for unattended runs.")
@click.option("--on-conflict", type=click.Choice(["stop", "overwrite", "skip"]), default=None,
              help="A transaction edited in QuickBooks since booksync wrote it: stop (default), overwrite it "
                   "with the billing store's version, or skip it.")
@click.option("--closed-period-policy", type=click.Choice(["stop", "adjust"]), default=None,
              help="A correction dated on or before the closing date: stop (default), or adjust: leave it and "
                   "post the difference today as an invoice or credit memo.")
@click.option("--allow-deposit-changes", is_flag=True,
              help="Correct payments already deposited in QuickBooks even when the deposit's total changes "
                   "(the Corrections Log flags each deposit to re-reconcile). Default: stop and explain.")
@click.option("--full-scan", is_flag=True,
              help="Examine every billing record, not only those changed since the last sync: after billing data "
                   "was restored or copied in with its old timestamps, or when reconcile shows a difference.")
@json_option
def sync(home_dir: Path | None, yes: bool, create_customers: bool | None, dry_run: bool,
         corrections_log: Path | None, on_conflict: str | None, closed_period_policy: str | None,
         allow_deposit_changes: bool, full_scan: bool, as_json: bool) -> None:
    """Synchronize transactions with QuickBooks.

    Reads QuickBooks, checks the account cross references, members' customers and
    deposit accounts, plans every change and stages the working files (plan and
    every qbXML request). Asks before it writes anything; backs up the company
    file, the billing database and the logs before the first write.

    With --json the questions go to standard error and the result is one JSON
    object on standard output; add --yes when nobody is there to answer.
    """
    from booksync.services.syncing import sync_options

    home = load_home(home_dir)
    setup_logging(home)
    sessions = sessions_for(home)
    try:
        options = sync_options(home.settings, dry_run=dry_run, full_scan=full_scan, on_conflict=on_conflict,
                               closed_period=closed_period_policy, allow_deposit_changes=allow_deposit_changes)
    except ValueError as exc:
        message = f"BOOKSYNC_TODAY or the [corrections] settings are not valid: {exc}"
        if as_json:
            fail_json("usage", EXIT_USAGE, message, "BOOKSYNC_TODAY takes a date as YYYY-MM-DD")
        raise click.ClickException(message) from None
    ui = CliInteraction(yes, create_customers, quiet=as_json, corrections_log=corrections_log)
    with sync_lock(home, as_json), books(home, as_json) as port:
        try:
            result = run_sync(sessions, port, home, ui, options, as_json)
        except click.exceptions.Abort:
            if not ui.unanswered:
                raise
            no_answer(ui.unanswered, as_json)
        finally:
            ui.close_progress()
    unattended_without_corrections_log(result, ui)
    logging.getLogger("booksync.sync").info("run %s: %s", result.run_id, result.message)
    print_result(result, as_json, home)
    sys.exit(result.exit_code)


def no_answer(question: str, as_json: bool) -> None:
    """A question got no answer (the input ended, or Ctrl-C): nothing was written (the engine recorded the run
    cancelled). Say so, with the usage exit code and, with ``as_json``, one JSON object."""
    message = f"No answer to \"{question}\"; nothing was written to QuickBooks."
    advice = "To run unattended add --yes (and --corrections-log PATH when there are corrections)."
    err.print(f"\n[bold red]{escape(message)}[/] {escape(advice)}")
    if as_json:
        fail_json("no-answer", EXIT_USAGE, message, advice)
    sys.exit(EXIT_USAGE)


def unattended_without_corrections_log(result: Any, ui: CliInteraction) -> None:
    """Nobody declined a run that stopped at the Corrections Log gate of an unattended run without
    --corrections-log: say so, with the usage exit code (the run is recorded cancelled; nothing was written)."""
    if result.exit_code == EXIT_DECLINED and ui.needs_corrections_log:
        result.status, result.exit_code = "needs-corrections-log", EXIT_USAGE
        result.message = ("This run corrects transactions already in QuickBooks, and an unattended run (--yes) must "
                          "write the Corrections Log first: add --corrections-log PATH (.pdf, .html or .csv). "
                          "Nothing was written to QuickBooks.")


def run_sync(sessions: Any, port: Any, home: Any, ui: CliInteraction, options: Any, as_json: bool = False) -> Any:
    """Run the engine; a QuickBooks answer that cannot be trusted ends the run with exit 9, a lost
    connection with exit 6 (with ``as_json``, as a JSON object on standard output too)."""
    from booksync.books.online.errors import ReconnectNeeded
    from booksync.errors import ConnectionFailure
    from booksync.qbxml.parse import MalformedResponse
    from booksync.services.syncing import run_sync as start

    try:
        return start(sessions, port, home, ui, options)
    except MalformedResponse as exc:
        ui.close_progress()
        logging.getLogger("booksync.sync").exception("malformed answer from QuickBooks")
        advice = copyable("Operations recorded before it stand; any whose answer was lost will be settled by asking "
                          "QuickBooks at the start of the next sync. Run it again: booksync sync", home)
        err.print(f"[bold red]QuickBooks' answer could not be read:[/] {escape(str(exc))}")
        err.print(advice)
        if as_json:
            fail_json("bad-answer", EXIT_BAD_ANSWER, f"QuickBooks' answer could not be read: {exc}", advice)
        sys.exit(EXIT_BAD_ANSWER)
    except ConnectionFailure as exc:
        ui.close_progress()
        err.print(f"[bold red]The connection to QuickBooks failed during the run:[/] {escape(exc.message)}")
        if exc.outcome:  # whether anything was written (the engine recorded the run as stopped)
            err.print(escape(exc.outcome))
        advice = copyable(exc.advice or "", home)
        if advice:
            err.print(escape(advice))
        if not isinstance(exc, ReconnectNeeded):  # there the advice is to reconnect, not to wait
            again = copyable("Once QuickBooks is reachable, run it again (nothing will be written twice): "
                             "booksync sync", home)
            err.print(again)
            advice = f"{advice} {again}".strip()
        if as_json:
            message = f"The connection to QuickBooks failed during the run: {exc.message}"
            fail_json("connection-failed", EXIT_CONNECTION, f"{message} {exc.outcome}".strip(), advice)
        sys.exit(EXIT_CONNECTION)


@cli.command()
@home_option
@json_option
def reconcile(home_dir: Path | None, as_json: bool) -> None:
    """Compare member balances and account totals with QuickBooks.

    Each member's open balance is compared with its QuickBooks customer's
    balance, and the totals of synchronized records per QuickBooks account
    with the same transactions in QuickBooks. Exits 7 when the books disagree.
    """
    from booksync.reports.reconcile import reconcile as run_reconcile

    home = load_home(home_dir)
    setup_logging(home)
    sessions = sessions_for(home)
    progress = PhaseProgress(err)
    with books(home, as_json) as port, sessions() as session:
        try:
            result = run_reconcile(session, port, progress.update)
        finally:
            progress.close()
    if as_json:
        console.print_json(json.dumps(result.as_dict()))
    else:
        console.print(f"Compared {result.members_compared} member balance(s), {result.accounts_compared} "
                      f"account total(s) and {result.deposits_compared} deposit(s).")
        for label, diffs in (("Member balances", result.member_differences),
                             ("Account totals", result.account_differences),
                             ("Deposits", result.deposit_differences)):
            if diffs:
                table = Table(title=f"{label} that differ", show_edge=False)
                for col in ("", "Billing", "QuickBooks", "Difference"):
                    table.add_column(col, justify="right" if col else "left")
                for d in diffs:
                    table.add_row(escape(d.what), str(d.billing), str(d.quickbooks), str(d.difference))
                console.print(table)
        if result.gone:
            console.print(f"[bold red]{len(result.gone)} record(s) in QuickBooks were written by booksync for billing "
                          "records that are no longer in the billing store:[/]")
            for g in result.gone:
                message, fix = g.advice()
                console.print(f"  - {escape(g.label)}: {escape(message)}")
                console.print(f"      to fix: {escape(fix)}")
        if result.not_synchronized:
            console.print(escape(copyable(f"{result.not_synchronized} billing record(s) are not synchronized yet "
                                          "(to synchronize them: booksync sync).", home)))
        console.print("[green]The books agree: zero differences.[/]" if result.agrees
                      else f"[bold red]The books disagree: {len(result.member_differences)} member, "
                           f"{len(result.account_differences)} account and {len(result.deposit_differences)} "
                           "deposit difference(s)"
                           + (f", {len(result.gone)} record(s) gone from the billing store" if result.gone else "")
                           + ".[/]")
    sys.exit(0 if result.agrees else EXIT_DISAGREE)


# ---------------------------------------------------------------------- the other command groups


from booksync.cli import (backups, mapping, online_cmd, runs, simulator_cmd, txn_cmd, web_cmd,  # noqa: E402
               webconnector_cmd)

for command in (mapping.accounts, mapping.members, simulator_cmd.simulator, runs.runs, backups.backups,
                txn_cmd.invoices, txn_cmd.credit_memos, txn_cmd.payments, online_cmd.company,
                webconnector_cmd.serve, webconnector_cmd.qwc, webconnector_cmd.webconnector, web_cmd.users):
    cli.add_command(command)


def _add_exit_codes(command: click.Command) -> None:
    """Every command's --help ends with the exit code table (booksync.exits)."""
    command.epilog = "\n\n".join(filter(None, [command.epilog, help_epilog()]))
    for sub in getattr(command, "commands", {}).values():
        _add_exit_codes(sub)


# ---------------------------------------------------------------------- demo


@cli.command()
@home_option
@click.option("--no-sync", is_flag=True, help="Only create the demo billing store and company; do not synchronize.")
@click.option("--reset-database", is_flag=True,
              help="Empty the billing store's database even when no demo home in this folder points at it "
                   "(a PostgreSQL database left by a home whose folder was deleted).")
@json_option
def demo(home_dir: Path | None, no_sync: bool, reset_database: bool, as_json: bool) -> None:
    """Create the demo chamber of commerce and a simulated QuickBooks company, then synchronize.

    Imports about 400 members and two years of dues, events, sponsorships,
    advertising, credit memos and payments; creates a simulated QuickBooks
    Desktop company with a standard chart of accounts; cross references are
    already set. Runs the sync unattended unless --no-sync. Running it again
    in the same home starts the demo afresh: the home's billing store
    (its SQLite file, or its PostgreSQL database) is emptied first.
    A new home whose database already holds tables is refused unless
    --reset-database.
    """
    from sqlalchemy import make_url

    from booksync.simulator import create_company
    from booksync.store import db
    from booksync.sources.csvfile.importer import import_file
    from booksync.services.syncing import sync_options

    home_dir = home_dir or Path("booksync-demo")
    target = home_dir.expanduser().resolve()
    config = target / "booksync.toml"
    demo_url = None
    if config.exists():
        existing = load_home(target)
        if not existing.settings.get("demo", {}).get("is_demo"):
            raise click.ClickException(f"{target} holds a booksync home that is not a demo; choose another --home.")
        demo_url = existing.database_url
    new_url = database_url_of(target, initial_database_url(target))
    # A database no demo here owns that is not empty: never import the demo over someone's billing.
    tables = db.store_tables(new_url) if new_url != demo_url else []
    if tables and not reset_database:
        shown = make_url(new_url).render_as_string(hide_password=True)
        raise click.ClickException(
            f"the billing store's database {shown} already holds {len(tables)} tables, and no demo home "
            f"in {target} points at it (a home whose folder was deleted, or another home, may own it). "
            f"Nothing was changed. To empty it and start the demo there: "
            + copyable(f"booksync demo --home {shlex.quote(str(target))} --reset-database", None))
    if demo_url is not None:
        db.reset_database(demo_url)  # the demo's own store, whatever database it is in
        for name in ("company.qbsim", "company.qbsim-wal", "company.qbsim-shm", "runs", "backups", "logs"):
            path = target / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        config.unlink()
    if tables:
        db.reset_database(new_url)
    home = load_home(target, create=True)
    home.settings["demo"] = {"is_demo": True}
    home.save()
    setup_logging(home)
    out = err if as_json else console
    sessions = sessions_for(home)
    data = resources.files("booksync.demo") / "data"
    with sessions() as session:
        for kind, name in (("gl-accounts", "gl_accounts.csv"), ("members", "members.csv"),
                           ("invoices", "invoices.csv"), ("credit-memos", "credit_memos.csv"),
                           ("payments", "payments.csv")):
            with resources.as_file(data / name) as path:
                result = import_file(session, kind, path)
            out.print(f"Imported {result.added:5d} {kind.replace('-', ' ')}")
    create_company(home.company_path, "Riverside Regional Chamber of Commerce", overwrite=True)
    out.print(f"Created the simulated QuickBooks company {home.company_path}")
    if no_sync:
        out.print(escape(copyable("\nNext: booksync sync   (it will ask before creating customers and before "
                                  "updating QuickBooks)", home)))
        return
    ui = CliInteraction(assume_yes=True, create_customers=True, quiet=as_json)
    with sync_lock(home, as_json), books(home, as_json) as port:
        try:
            result = run_sync(sessions, port, home, ui, sync_options(home.settings), as_json)
        finally:
            ui.close_progress()
    print_result(result, as_json, home)
    if not as_json and result.exit_code == 0:
        console.print("\nWhat to try next:")
        for command, what in (("reconcile", "the books agree, member by member"),
                              ("sync", "a second run has nothing to send"),
                              ("accounts xref", "the G/L account cross references"),
                              ("simulator request FILE.xml", "ask the company in qbXML")):
            console.print(f"  {escape(copyable(f'booksync {command}', home))}")
            console.print(f"      {what}")
    sys.exit(result.exit_code)


_add_exit_codes(cli)


def main() -> None:
    cli(prog_name="booksync")


if __name__ == "__main__":
    main()
