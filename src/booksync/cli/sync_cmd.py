"""``booksync sync``: the run with its questions asked at the terminal, or answered by the unattended flags."""
from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from booksync.domain import Plan
from booksync.exits import EXIT_DECLINED, EXIT_USAGE
from booksync.cli.progress import PhaseProgress
from booksync.cli.sync_report import print_pdf, print_result, show_corrections, show_plan
from booksync.cli.common import (EXIT_BAD_ANSWER, EXIT_CONNECTION, books, console, copyable, err, fail_json,
                                 home_option, json_option, load_home, sessions_for, setup_logging, sync_lock)


class CliInteraction:
    """Answers the sync's questions at the terminal, or from the unattended flags."""

    def __init__(self, assume_yes: bool, create_customers: bool | None, quiet: bool,
                 corrections_log: Path | None = None, home: Any = None) -> None:
        self.home = home
        """The home the run is for: the commands the plan shows name it (:func:`copyable`)."""
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
        show_plan(out, plan, folder, self.home)
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


@click.command()
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
    ui = CliInteraction(yes, create_customers, quiet=as_json, corrections_log=corrections_log, home=home)
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
