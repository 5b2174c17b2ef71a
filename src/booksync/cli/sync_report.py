"""A run at the terminal: its plan, the Corrections Log, its outcome and problems (the sync and the demo)."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from booksync.domain import Plan, operation_words
from booksync.cli.common import console, copyable


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


def show_plan(out: Console, plan: Plan, folder: Path, home: Any = None) -> None:
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
    show_notices(out, plan.notices, home)
    out.print(f"\nWorking files (the plan and every request message): {folder}")


def show_notices(out: Console, notices: list[Any], home: Any = None) -> None:
    """Records linked to QuickBooks that are gone from the billing store: what booksync does, what to do (commands
    pasteable for ``home``: :func:`copyable`)."""
    if not notices:
        return
    out.print(f"\n[yellow]{len(notices)} record(s) linked to QuickBooks are no longer in the billing store[/] "
              "(booksync changes nothing in QuickBooks for them):")
    for n in notices:
        out.print(f"  - {escape(n.record)}: {escape(n.message)}")
        if n.fix:
            out.print(f"      to fix: {escape(copyable(n.fix, home))}")


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
        show_notices(console, result.notices, home)
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
