"""``booksync invoices|credit-memos|sales-receipts|payments``: change billing records as a membership system's user does.

The change is recorded in the billing store; the next ``booksync sync`` carries it
to QuickBooks as a correction, listed in the Corrections Log."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from booksync.domain import Kind
from booksync.kinds import VOIDABLE
from booksync.sources.edits import edit_payment
from booksync.store.changes import ChangeRefused, set_status
from booksync.exits import EXIT_CHECKS
from booksync.cli.common import console, err, home_option, load_home, sessions_for
from booksync.cli.methods_cmd import methods


def _run(home_dir: Path | None, action) -> None:  # noqa: ANN001
    home = load_home(home_dir)
    with sessions_for(home)() as session:
        try:
            console.print(action(session))
        except ChangeRefused as exc:
            err.print(f"[bold red]Not changed:[/] {escape(str(exc))}")
            sys.exit(EXIT_CHECKS)


def _status_commands(group: click.Group, kind: str, verbs: tuple[str, ...]) -> None:
    label = kind.replace("-", " ")
    for verb in verbs:
        status = "void" if verb == "void" else "deleted"

        @group.command(verb, help=f"{verb.capitalize()} the {label} NUMBER in the billing store; the next sync "
                                  f"{'voids' if verb == 'void' else 'deletes'} it in QuickBooks.")
        @click.argument("number")
        @home_option
        def command(number: str, home_dir: Path | None, _status: str = status) -> None:
            _run(home_dir, lambda s: set_status(s, kind, number, _status))


@click.group()
def invoices() -> None:
    """Invoices in the billing store."""


@click.group("credit-memos")
def credit_memos() -> None:
    """Credit memos in the billing store."""


@click.group("sales-receipts")
def sales_receipts() -> None:
    """Sales receipts in the billing store (sales paid on the spot)."""


@click.group()
def payments() -> None:
    """Payments in the billing store (by receipt number)."""


for _group, _kind in ((invoices, Kind.INVOICE), (credit_memos, Kind.CREDIT_MEMO), (sales_receipts, Kind.SALES_RECEIPT),
                     (payments, Kind.PAYMENT)):
    # The verbs of each kind from the table of kinds: void only where QuickBooks voids it (kinds.VOIDABLE).
    _status_commands(_group, _kind.value.replace("_", "-"), ("void", "delete") if _kind in VOIDABLE else ("delete",))
payments.add_command(methods)


@payments.command()
@click.argument("number")
@home_option
@click.option("--member", help="Move the payment to this member (number).")
@click.option("--date", help="New date, YYYY-MM-DD.")
@click.option("--amount", help="New amount.")
@click.option("--apply", "applications", multiple=True, metavar="INVOICE=AMOUNT",
              help="Apply AMOUNT to INVOICE; replaces all the payment's applications. Repeatable. "
                   "'--apply none' removes them all.")
@click.option("--deposit-account", help="New deposit G/L account (number).")
@click.option("--memo", help="New memo.")
def edit(number: str, home_dir: Path | None, member: str | None, date: str | None, amount: str | None,
         applications: tuple[str, ...], deposit_account: str | None, memo: str | None) -> None:
    """Edit the payment with receipt NUMBER; the next sync corrects it in QuickBooks."""
    _run(home_dir, lambda s: edit_payment(s, number, member=member, date=date, amount=amount,
                                          applications=list(applications) if applications else None,
                                          deposit_account=deposit_account, memo=memo))
