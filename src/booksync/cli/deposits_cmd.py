"""``booksync deposits suggest``: which payments waiting in Undeposited Funds add up to a bank line (issue 22
item 5). The search is :mod:`booksync.reports.deposit_grouping`, reached through
:mod:`booksync.services.deposits`."""
from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from booksync.domain import Kind
from booksync.exits import EXIT_DISAGREE, EXIT_OK, EXIT_USAGE
from booksync.money import MoneyError, to_money
from booksync.reports.deposit_grouping import MAX_CANDIDATES, MAX_STEPS, Grouping
from booksync.cli.common import books, console, home_option, json_option, load_home, sessions_for, setup_logging
from booksync.cli.output import fail_json


@click.group()
def deposits() -> None:
    """Bank deposits of payments waiting in Undeposited Funds."""


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    try:
        amount = to_money(value.replace(",", ""))
    except MoneyError:
        raise click.BadParameter(f"{value!r} is not an amount with at most two decimals (e.g. 1140.00)") from None
    if amount <= 0:
        raise click.BadParameter(f"{value} is not a deposit: the amount must be more than 0.00")
    return amount


@deposits.command("suggest")
@click.option("--amount", required=True, callback=_amount, help="The bank line's amount, e.g. 1140.00.")
@click.option("--date", "bank_date", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The bank line's date, YYYY-MM-DD.")
@click.option("--max-candidates", default=MAX_CANDIDATES, show_default=True, type=click.IntRange(1, 200),
              help="How many payments (the most recent on or before the date) the search considers.")
@click.option("--max-steps", default=MAX_STEPS, show_default=True, type=click.IntRange(1, 50_000_000),
              help="How many steps the search takes at most (the same payments always give the same answer).")
@home_option
@json_option
def suggest(amount: Decimal, bank_date: dt.datetime, max_candidates: int, max_steps: int, home_dir: Path | None,
            as_json: bool) -> None:
    """Propose the payments waiting in Undeposited Funds that add up to a bank line.

    Reads the payments (and sales receipts) QuickBooks holds in Undeposited
    Funds (one already in a deposit is not among them) and proposes the set whose total
    is the amount to the cent, preferring payments dated just before the bank
    date, then fewer payments. Nothing is written: make the deposit in
    QuickBooks with the payments proposed. Exits 7 when no set adds up to
    the amount (the nearest totals are shown) or the search stopped at its
    bound first. QuickBooks Desktop only for now.
    """
    from booksync.services.deposits import SuggestUnavailable, suggest_deposit

    home = load_home(home_dir)
    setup_logging(home)
    with books(home, as_json) as port, sessions_for(home)() as session:
        try:
            found = suggest_deposit(port, session, amount, bank_date.date(), max_candidates, max_steps)
        except SuggestUnavailable as exc:
            if as_json:
                fail_json("usage", EXIT_USAGE, str(exc))
            raise click.ClickException(str(exc)) from None
    code = EXIT_OK if found.grouping.best is not None else EXIT_DISAGREE
    if as_json:
        console.print_json(json.dumps(_as_dict(found, code)))
    else:
        _show(found)
    sys.exit(code)


def _status(grouping: Grouping) -> str:
    if grouping.best is not None:
        return "found"
    return "none" if grouping.complete else "stopped"


def _next_step(grouping: Grouping) -> str:
    if grouping.best is not None:
        return (f"In QuickBooks, make a deposit of these {len(grouping.best)} payment(s) dated "
                f"{grouping.bank_date.isoformat()} (Banking > Make Deposits); it then equals the bank line. "
                "booksync does not create the deposit yet.")
    if not grouping.complete:
        return ("Search further with a larger --max-steps, or fewer payments with --max-candidates, or choose "
                "the payments in QuickBooks' Make Deposits window.")
    return ("Check the amount and date against the bank statement; a payment may not be recorded in QuickBooks "
            "yet, or the deposit may include cash or a payment already deposited.")


def _as_dict(found: Any, code: int) -> dict[str, Any]:
    grouping = found.grouping

    def money(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {"status": _status(grouping), "exit_code": code, "amount": str(grouping.amount),
            "date": grouping.bank_date.isoformat(),
            "payments": [{"kind": p.label, "member": p.customer, "receipt": found.receipts.get(p.payment_id, ""),
                          "ref_number": p.ref_number, "date": p.date.isoformat(), "amount": str(p.amount),
                          "payment_id": p.payment_id} for p in grouping.best or ()],
            "total": str(grouping.total), "other_sets": grouping.others, "complete": grouping.complete,
            "steps": grouping.steps, "waiting": found.waiting, "candidates": grouping.candidates,
            "older_left_out": grouping.older_left_out, "later_left_out": grouping.later_left_out,
            "nearest_below": money(grouping.nearest_below), "nearest_above": money(grouping.nearest_above),
            "next": _next_step(grouping)}


def _show(found: Any) -> None:
    grouping = found.grouping
    amount, day = grouping.amount, grouping.bank_date.isoformat()
    if grouping.best is not None:
        table = Table(title=f"Payments waiting in Undeposited Funds that add up to {amount} (bank line of {day})",
                      show_edge=False)
        for column in ("Member", "Receipt", "No. in QuickBooks", "Date", "Amount"):
            table.add_column(column, justify="right" if column == "Amount" else "left")
        for p in grouping.best:
            who = escape(p.customer) + ("" if p.kind == Kind.PAYMENT else f" ({escape(p.label)})")
            table.add_row(who, escape(found.receipts.get(p.payment_id, "")), escape(p.ref_number),
                          p.date.isoformat(), str(p.amount))
        table.add_row("Total", "", "", "", str(grouping.total))
        console.print(table)
        if grouping.others:
            count = f"{grouping.others}" if grouping.complete else f"At least {grouping.others}"
            which = "these" if grouping.complete else f"of those found in {grouping.steps} steps, these"
            console.print(f"{count} other set(s) of payments also add up to {amount}; {which} are the ones dated "
                          "closest before the bank date, then the fewest.")
    elif grouping.complete:
        console.print(f"[bold red]No set of the payments waiting in Undeposited Funds adds up to {amount}.[/] "
                      f"Nearest totals: {_nearest(grouping)}.")
    else:
        console.print(f"[bold red]The search stopped after {grouping.steps} steps without finding payments that "
                      f"add up to {amount}.[/] Nearest totals seen: {_nearest(grouping)}.")
    console.print(_searched(grouping, found.waiting))
    console.print(escape(_next_step(grouping)))


def _nearest(grouping: Grouping) -> str:
    below = f"{grouping.nearest_below} below" if grouping.nearest_below is not None else "none below"
    above = f"{grouping.nearest_above} above" if grouping.nearest_above is not None else "none above"
    return f"{below}, {above}"


def _searched(grouping: Grouping, waiting: int) -> str:
    day = grouping.bank_date.isoformat()
    left = [f"{grouping.older_left_out} older" if grouping.older_left_out else "",
            f"{grouping.later_left_out} dated after {day}" if grouping.later_left_out else ""]
    left_words = " and ".join(x for x in left if x)
    return (f"Searched the {grouping.candidates} most recent of the {waiting} payment(s) waiting, dated on or "
            f"before {day}" + (f" ({left_words} not considered)" if left_words else "") + ".")
