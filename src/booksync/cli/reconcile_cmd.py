"""``booksync reconcile``: member balances and account totals compared with QuickBooks."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from booksync.cli.progress import PhaseProgress
from booksync.cli.common import (EXIT_DISAGREE, books, console, copyable, err, home_option, json_option, load_home,
                                 sessions_for, setup_logging)


@click.command()
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
                for fix in dict.fromkeys(d.fix for d in diffs if d.fix):  # below the table: pasteable, unwrapped
                    console.print(escape(copyable(fix[0].upper() + fix[1:], home)))
        if result.gone:
            console.print(f"[bold red]{len(result.gone)} record(s) in QuickBooks were written by booksync for billing "
                          "records that are no longer in the billing store:[/]")
            for g in result.gone:
                message, fix = g.advice()
                console.print(f"  - {escape(g.label)}: {escape(message)}")
                console.print(f"      to fix: {escape(copyable(fix, home))}")
        if result.not_synchronized:
            console.print(escape(copyable(f"{result.not_synchronized} billing record(s) are not synchronized yet "
                                          "(to synchronize them: booksync sync).", home)))
        console.print(f"[green]{_agreement(result)}[/]" if result.agrees
                      else f"[bold red]The books disagree: {len(result.member_differences)} member, "
                           f"{len(result.account_differences)} account and {len(result.deposit_differences)} "
                           "deposit difference(s)"
                           + (f", {len(result.gone)} record(s) gone from the billing store" if result.gone else "")
                           + ".[/]")
    sys.exit(0 if result.agrees else EXIT_DISAGREE)


def _agreement(result: Any) -> str:
    """The closing sentence of books that agree, honest about what was not compared yet."""
    compared = result.members_compared + result.accounts_compared + result.deposits_compared
    if result.not_synchronized and not compared:
        return "Nothing has been synchronized yet, so there is nothing to compare."
    if result.not_synchronized:
        return "What has been synchronized agrees: zero differences."
    return "The books agree: zero differences."
