"""``booksync payments methods``: billing payment methods mapped to the company's payment methods (issue 21
item 6). The mapping and its rule are :mod:`booksync.services.payment_methods`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from booksync.exits import EXIT_CHECKS
from booksync.services.mapping import MappingRefused
from booksync.services.payment_methods import MethodMap, creates_missing
from booksync.cli.common import books, console, copyable, err, home_option, json_option, load_home, sessions_for, \
    setup_logging

STATE_WORDS = {"mapped": "mapped", "create": "booksync creates it", "same-name": "same name",
               "missing": "none of that name: booksync creates it", "refused": "refused"}


@click.command("methods")
@home_option
@click.option("--quickbooks", "show_qb", is_flag=True, help="List the company's payment methods to choose from.")
@click.option("--set", "assignments", multiple=True, metavar="BILLING=METHOD",
              help="Write payments of billing payment method BILLING (as the payments carry it, e.g. 'Credit Card') "
                   "with the company's payment method METHOD (e.g. 'Visa'). It must exist and be active. Repeatable.")
@click.option("--create", "creations", multiple=True, metavar="BILLING[=METHOD]",
              help="Have booksync create the QuickBooks payment method METHOD (default: BILLING's name) for BILLING "
                   "when QuickBooks does not have it. Repeatable.")
@click.option("--clear", "clears", multiple=True, metavar="BILLING",
              help="Remove BILLING's mapping: the QuickBooks method of the same name again.")
@json_option
def methods(home_dir: Path | None, show_qb: bool, assignments: tuple[str, ...], creations: tuple[str, ...],
            clears: tuple[str, ...], as_json: bool) -> None:
    """Map the billing system's payment methods to the company's payment methods.

    Without options, lists every payment method the payments carry (and every
    one mapped) with the QuickBooks payment method it is written with. A
    method without a mapping uses the QuickBooks method of the same name, and
    booksync creates it when missing unless the home's [sync]
    create_payment_methods is false. A mapping applies to payments written
    from then on; payments already in QuickBooks keep their method. Exit 3
    when a change is refused (nothing is changed).
    """
    home = load_home(home_dir)
    setup_logging(home)
    with books(home) as port:
        snapshot = port.snapshot(customers=False)
    with sessions_for(home)() as session:
        mapping = MethodMap(session, snapshot, creates_missing(home.settings))
        try:
            for assignment in assignments:
                billing, sep, wanted = assignment.partition("=")
                if not sep:
                    raise click.BadParameter(f"{assignment!r}: write BILLING=METHOD", param_hint="--set")
                mapping.assign(billing, wanted)
            for creation in creations:
                billing, _, wanted = creation.partition("=")
                mapping.create(billing, wanted)
            for billing in clears:
                mapping.clear(billing)
        except MappingRefused as exc:
            session.rollback()
            err.print(f"[bold red]Not changed:[/] {escape(copyable(str(exc), home))}")
            sys.exit(EXIT_CHECKS)
        session.commit()
        rows = mapping.rows()
        if as_json:
            console.print_json(json.dumps(_json(mapping, rows, show_qb)))
            return
        _print(mapping, rows, show_qb, snapshot.company.name)


def _json(mapping: MethodMap, rows: list[Any], show_qb: bool) -> dict[str, Any]:
    return {"payment_methods": [{"name": r.name, "payments": r.payments, "qb_method": r.qb_method or None,
                                 "state": r.state, "refused": r.refused or None} for r in rows],
            "quickbooks_methods": [{"name": m.name, "active": m.is_active} for m in mapping.methods]
            if show_qb else None,
            "changed": mapping.changed}


def _print(mapping: MethodMap, rows: list[Any], show_qb: bool, company: str) -> None:
    for billing, now in mapping.changed:
        console.print(f"Payment method \"{escape(billing)}\" -> {escape(now)}")
    table = Table(title="Billing payment methods and their QuickBooks payment methods", show_edge=False)
    for col in ("Billing method", "Payments", "QuickBooks method", "State"):
        table.add_column(col)
    for r in rows:
        state = STATE_WORDS[r.state] if r.state != "refused" else f"[red]refused: {escape(r.refused)}[/]"
        table.add_row(escape(r.name), str(r.payments), escape(r.qb_method or r.name), state)
    console.print(table)
    if show_qb:
        qtable = Table(title=f"Payment methods in {escape(company)}", show_edge=False)
        for col in ("Name", "Active"):
            qtable.add_column(col)
        for m in mapping.methods:
            qtable.add_row(escape(m.name), "yes" if m.is_active else "no")
        console.print(qtable)
    refused = [r for r in rows if r.state == "refused"]
    for r in refused:
        err.print(escape(f"{r.refused}."))
    if refused:
        err.print(f"{len(refused)} payment method(s) cannot reach a QuickBooks payment method; the sync stops until "
                  "they do. Use --set \"BILLING=METHOD\" or --create \"BILLING\".")
