"""Mapping commands: G/L account cross references and members' Bill Info."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from booksync.account_rules import allowed_types, incompatibility, item_type
from booksync.services.mapping import (CrossReference, MappingRefused, RefusedInQuickBooks, find_customers, link_member,
                                       make_customer_inactive, members_without_customer)
from booksync.services.classes import ClassMap
from booksync.services.items import OWN_ITEM, ItemReference
from booksync.store.keys import adopt_company_key
from booksync.store.models import Member
from booksync.exits import EXIT_CHECKS, EXIT_REFUSED
from booksync.cli.common import (books, console, copyable, err, home_option, json_option, load_home, sessions_for,
                                 setup_logging)


@click.group()
def accounts() -> None:
    """G/L accounts and their QuickBooks cross references."""


@accounts.command()
@home_option
@click.option("--quickbooks", "show_qb", is_flag=True, help="List the QuickBooks accounts to choose from.")
@click.option("--set", "assignments", multiple=True, metavar="NUMBER=ACCOUNT",
              help="Cross-reference G/L account NUMBER to the QuickBooks account named ACCOUNT (full name, "
                   "e.g. 'Membership Dues:Corporate'). Repeatable.")
@click.option("--clear", "clears", multiple=True, metavar="NUMBER", help="Remove a G/L account's cross reference.")
@click.option("--suggest", "show_suggestions", is_flag=True, help="Show suggested matches by number and name.")
@click.option("--apply-suggestions", is_flag=True, help="Set the suggested match for every unmapped G/L account.")
@json_option
def xref(home_dir: Path | None, show_qb: bool, assignments: tuple[str, ...], clears: tuple[str, ...],
         show_suggestions: bool, apply_suggestions: bool, as_json: bool) -> None:
    """Cross reference G/L accounts with QuickBooks accounts.

    Without options, lists every G/L account with its QuickBooks account
    (unmapped ones first). Reads the chart of accounts from QuickBooks, so the
    company must be reachable.
    """
    home = load_home(home_dir)
    setup_logging(home)
    sessions = sessions_for(home)
    with books(home) as port:
        snapshot = port.snapshot()
    with sessions() as session:
        xr = CrossReference(session, snapshot)
        _change_xref(xr, assignments, clears, home)
        suggestions = xr.suggestions()
        if apply_suggestions:
            xr.apply_suggestions(suggestions)
        session.commit()
        if as_json:
            console.print_json(json.dumps(_xref_json(xr, suggestions, show_qb)))
            return
        _print_xref(xr, suggestions, show_qb, show_suggestions, snapshot.company.name)


def _change_xref(xr: CrossReference, assignments: tuple[str, ...], clears: tuple[str, ...], home: Any) -> None:
    """--set and --clear; a usage error for an unknown G/L or QuickBooks account, exit 3 for a type the G/L
    account must not post to."""
    for item in assignments:
        number, sep, name = item.partition("=")
        number, name = number.strip(), name.strip()
        if not sep or number not in xr.gls:
            raise click.BadParameter(f"{item!r}: no G/L account numbered {number!r}", param_hint="--set")
        account = xr.by_name.get(name.casefold())
        if account is None:
            raise click.BadParameter(f"QuickBooks has no account named {name!r}; see --quickbooks",
                                     param_hint="--set")
        refused = xr.assign(number, account)
        if refused is not None:
            choose = allowed_types(xr.gls[number].type)
            err.print(f"[bold red]Not changed:[/] {escape(refused)}. Choose {escape(choose)}: "
                      + escape(copyable("booksync accounts xref --suggest --quickbooks", home)))
            sys.exit(EXIT_CHECKS)
    for number in clears:
        if number not in xr.gls:
            raise click.BadParameter(f"no G/L account numbered {number!r}", param_hint="--clear")
        xr.clear(number)


def _xref_json(xr: CrossReference, suggestions: dict[str, Any], show_qb: bool) -> dict[str, Any]:
    by_name = xr.by_name
    return {
        "gl_accounts": [{"number": g.number, "name": g.name, "type": g.type, "qb_account": g.qb_account,
                         "mapped": xr.fits(g),
                         "refused": incompatibility(g, by_name[g.qb_account.casefold()])
                         if g.qb_account and g.qb_account.casefold() in by_name else None,
                         "suggestion": getattr(suggestions.get(g.number), "full_name", None)} for g in xr.rows()],
        "quickbooks_accounts": [{"full_name": a.full_name, "type": a.account_type, "number": a.number}
                                for a in xr.accounts] if show_qb else None,
        "changed": xr.changed}


def _print_xref(xr: CrossReference, suggestions: dict[str, Any], show_qb: bool, show_suggestions: bool,
                company: str) -> None:
    for number, name in xr.changed:
        console.print(f"G/L account {number} -> {escape(name) or '(no cross reference)'}")
    table = Table(title="G/L accounts and their QuickBooks accounts", show_edge=False)
    for col in ("G/L", "Name", "Type", "QuickBooks account", "Suggestion"):
        table.add_column(col)
    rows = xr.rows()
    for g in rows:
        mapped = xr.fits(g)
        current = xr.current(g)
        if mapped:
            state = escape(g.qb_account)
        elif current is not None:
            state = f"[red]wrong type: {escape(g.qb_account)} ({current.account_type})[/]"
        else:
            state = f"[red]missing: {escape(g.qb_account)}[/]" if g.qb_account else "[red](none)[/]"
        hint = suggestions.get(g.number)
        table.add_row(g.number, escape(g.name), g.type, state,
                      escape(hint.full_name) if hint is not None and (show_suggestions or not mapped) else "")
    console.print(table)
    if show_qb:
        qtable = Table(title=f"QuickBooks accounts in {escape(company)}", show_edge=False)
        for col in ("Number", "Full name", "Type", "Active"):
            qtable.add_column(col)
        for a in xr.accounts:
            qtable.add_row(a.number, escape(a.full_name), a.account_type, "yes" if a.is_active else "no")
        console.print(qtable)
    unmapped = [g for g in rows if not xr.fits(g)]
    for g in unmapped:
        current = xr.current(g)
        if current is not None:
            err.print(escape(f"{incompatibility(g, current)}."))
    if unmapped:
        err.print(f"{len(unmapped)} G/L account(s) have no matching QuickBooks account. Set one with "
                  "--set NUMBER=\"QuickBooks account\", or --apply-suggestions.")


@accounts.command()
@home_option
@click.option("--quickbooks", "show_qb", is_flag=True, help="List the QuickBooks items to choose from.")
@click.option("--set", "assignments", multiple=True, metavar="NUMBER=ITEM",
              help="Bill G/L account NUMBER's lines with the existing QuickBooks item named ITEM (full name). The "
                   "item must be active, a service, non-inventory or other charge item, and post to the account "
                   "the G/L account is cross-referenced to. Repeatable.")
@click.option("--clear", "clears", multiple=True, metavar="NUMBER",
              help="Remove a G/L account's item: booksync creates and uses its own service item again.")
@click.option("--suggest", "show_suggestions", is_flag=True, help="Show suggested items by number and name.")
@click.option("--apply-suggestions", is_flag=True, help="Set the suggested item for every G/L account without one.")
@json_option
def items(home_dir: Path | None, show_qb: bool, assignments: tuple[str, ...], clears: tuple[str, ...],
          show_suggestions: bool, apply_suggestions: bool, as_json: bool) -> None:
    """Use items the QuickBooks company already has for G/L accounts' lines.

    Without options, lists every G/L account with its item. A G/L account
    without one gets booksync's own service item ("NUMBER NAME"), as before.
    Reads the items from QuickBooks, so the company must be reachable.
    Exit 3 when an item is refused (nothing is changed).
    """
    home = load_home(home_dir)
    setup_logging(home)
    with books(home) as port:
        snapshot = port.snapshot()
    with sessions_for(home)() as session:
        ref = ItemReference(session, snapshot)
        try:
            for assignment in assignments:
                number, sep, name = assignment.partition("=")
                if not sep:
                    raise click.BadParameter(f"{assignment!r}: write NUMBER=ITEM", param_hint="--set")
                ref.assign(number, name)
            for number in clears:
                ref.clear(number)
            if apply_suggestions:
                ref.apply_suggestions()
        except MappingRefused as exc:
            session.rollback()
            err.print(f"[bold red]Not changed:[/] {escape(str(exc))} "
                      + escape("See the items to choose from: "
                               + copyable("booksync accounts items --suggest --quickbooks", home)))
            sys.exit(EXIT_CHECKS)
        session.commit()
        rows = ref.rows()
        if as_json:
            console.print_json(json.dumps(_items_json(ref, rows, show_qb)))
            return
        _print_items(ref, rows, show_qb, show_suggestions, snapshot.company.name)


def _items_json(ref: ItemReference, rows: list[Any], show_qb: bool) -> dict[str, Any]:
    return {"gl_accounts": [{"number": r.gl.number, "name": r.gl.name, "qb_account": r.gl.qb_account,
                             "qb_item": r.item or None, "state": r.state, "refused": r.refused or None,
                             "suggestion": r.suggestion or None} for r in rows],
            "quickbooks_items": [{"full_name": i.name, "type": item_type(i.kind), "active": i.is_active}
                                 for i in ref.items] if show_qb else None,
            "changed": ref.changed}


def _print_items(ref: ItemReference, rows: list[Any], show_qb: bool, show_suggestions: bool, company: str) -> None:
    for number, name in ref.changed:
        console.print(f"G/L account {number} -> item {escape(name) or OWN_ITEM}")
    table = Table(title="G/L accounts and their QuickBooks items", show_edge=False)
    for col in ("G/L", "Name", "QuickBooks account", "Item", "Suggestion"):
        table.add_column(col)
    for r in rows:
        shown = {"own": OWN_ITEM, "mapped": escape(r.item), "missing": f"[red]missing: {escape(r.item)}[/]",
                 "refused": f"[red]refused: {escape(r.item)}[/]"}[r.state]
        hint = escape(r.suggestion) if r.suggestion and (show_suggestions or r.state != "own") else ""
        table.add_row(r.gl.number, escape(r.gl.name), escape(r.gl.qb_account), shown, hint)
    console.print(table)
    if show_qb:
        qtable = Table(title=f"QuickBooks items in {escape(company)}", show_edge=False)
        for col in ("Full name", "Type", "Active"):
            qtable.add_column(col)
        for i in ref.items:
            qtable.add_row(escape(i.name), item_type(i.kind), "yes" if i.is_active else "no")
        console.print(qtable)
    bad = [r for r in rows if r.state in ("missing", "refused")]
    for r in bad:
        err.print(escape(f"G/L account {r.gl.number} {r.gl.name}: {r.refused}."))
    if bad:
        err.print(f"{len(bad)} G/L account(s) name an item their lines cannot use; the sync stops until it is "
                  "changed. Set another with --set NUMBER=\"Item\", or --clear NUMBER to use booksync's own.")


@accounts.command()
@home_option
@click.option("--quickbooks", "show_qb", is_flag=True, help="List the company's classes.")
@click.option("--set", "assignments", multiple=True, metavar="NUMBER=CLASS",
              help="Track G/L account NUMBER's lines under QuickBooks class CLASS (full name). The company must use "
                   "class tracking and have the class active. Repeatable.")
@click.option("--clear", "clears", multiple=True, metavar="NUMBER",
              help="Remove a G/L account's class: its lines get the home's [sync] default_class, if any.")
@json_option
def classes(home_dir: Path | None, show_qb: bool, assignments: tuple[str, ...], clears: tuple[str, ...],
            as_json: bool) -> None:
    """Track G/L accounts' lines under QuickBooks classes (a class per G/L account).

    Lines of a G/L account without a class get the home's default class
    ([sync] default_class in booksync.toml), or none. Exit 3 when a class is
    refused (nothing is changed).
    """
    home = load_home(home_dir)
    setup_logging(home)
    with books(home) as port:
        snapshot = port.snapshot(customers=False)
    with sessions_for(home)() as session:
        cm = ClassMap(session, snapshot, str(home.settings["sync"].get("default_class") or ""))
        try:
            for assignment in assignments:
                number, sep, name = assignment.partition("=")
                if not sep:
                    raise click.BadParameter(f"{assignment!r}: write NUMBER=CLASS", param_hint="--set")
                cm.assign(number, name)
            for number in clears:
                cm.clear(number)
        except MappingRefused as exc:
            session.rollback()
            err.print(f"[bold red]Not changed:[/] {escape(str(exc))}")
            sys.exit(EXIT_CHECKS)
        session.commit()
        rows = cm.rows()
        if as_json:
            console.print_json(json.dumps({"gl_accounts": rows, "changed": cm.changed, "uses_classes":
                                           snapshot.company.uses_classes, "quickbooks_classes":
                                           [{"full_name": c.name, "active": c.is_active} for c in cm.classes]
                                           if show_qb else None}))
            return
        for number, name in cm.changed:
            console.print(f"G/L account {number} -> class {escape(name) or '(none)'}")
        table = Table(title="G/L accounts and their QuickBooks classes", show_edge=False)
        for col in ("G/L", "Name", "Class"):
            table.add_column(col)
        for r in rows:
            shown = escape(str(r["class"] or "(none)")) + (" (default)" if r["from_default"] else "")
            table.add_row(str(r["number"]), escape(str(r["name"])),
                          f"[red]{shown}: {escape(str(r['refused']))}[/]" if r["refused"] else shown)
        console.print(table)


@click.group()
def members() -> None:
    """Members and their Bill Info (the QuickBooks customer each member maps to)."""


@members.command("map")
@click.argument("member", required=False)
@click.argument("customer", required=False)
@home_option
@click.option("--suggest", "show_suggestions", is_flag=True,
              help="Suggest existing QuickBooks customers whose name matches the member's exactly.")
@json_option
def map_cmd(member: str | None, customer: str | None, home_dir: Path | None, show_suggestions: bool,
            as_json: bool) -> None:
    """Link MEMBER (its number) to the existing QuickBooks CUSTOMER (its full name).

    Without arguments, lists the members being billed that have no QuickBooks
    customer yet.
    """
    home = load_home(home_dir)
    setup_logging(home)
    sessions = sessions_for(home)
    with books(home) as port:
        snapshot = port.snapshot()
        key = port.company_key
    with sessions() as session:
        if adopt_company_key(session, key, getattr(port, "legacy_key", "")):
            session.commit()
        if member:
            _link(session, snapshot, key, member, customer, home)
            return
        rows = members_without_customer(session, key, snapshot)
        if as_json:
            console.print_json(json.dumps({"members_without_customer": rows}))
            return
        if not rows:
            console.print("Every member being billed has a QuickBooks customer.")
            return
        table = Table(title=f"{len(rows)} member(s) being billed without a QuickBooks customer", show_edge=False)
        for col in ("Member", "Name", "Bill Info", "Suggested customer"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["number"], escape(r["name"]), escape(r["bill_info"] or ""),
                          escape(r["suggestion"] or "") if show_suggestions or r["suggestion"] else "")
        console.print(table)
        console.print(escape(copyable("Link one: booksync members map MEMBER \"Customer name\"\n"
                                      "Or let the sync create their customers: booksync sync --create-customers",
                                      home)))


def _link(session: Any, snapshot: Any, key: str, member: str, customer: str | None, home: Any) -> None:
    """Link ``member`` to the QuickBooks customer named ``customer``; exit 3 (naming near names) when QuickBooks
    has no customer of that name or the link is refused."""
    if not customer:
        raise click.UsageError("give the QuickBooks customer's name after the member number")
    record = session.scalar(select(Member).where(Member.number == member))
    if record is None:
        raise click.BadParameter(f"no member numbered {member!r}", param_hint="MEMBER")
    if customer.strip().casefold() not in {c.full_name.casefold() for c in snapshot.customers}:
        near = find_customers(snapshot, customer, limit=10)  # the web offers a search box; here, the candidates
        err.print(escape(f"QuickBooks has no customer named \"{customer.strip()}\"; nothing was linked."))
        if near:
            err.print("Customers whose name contains those words:")
            for c in near:
                err.print(f"  {escape(c.full_name)}")
        err.print(escape(copyable(f"Give the full name exactly as QuickBooks has it: booksync members map "
                                  f"{member} \"Customer name\"", home)))
        sys.exit(EXIT_CHECKS)
    try:
        console.print(escape(link_member(session, snapshot, key, record, customer)))
    except MappingRefused as exc:
        err.print(escape(str(exc)))
        sys.exit(EXIT_CHECKS)


@members.command("delete")
@click.argument("number")
@click.option("--make-inactive-in-quickbooks", "make_inactive", is_flag=True,
              help="Also make the member's QuickBooks customer inactive (only when its balance is zero).")
@home_option
def delete_cmd(number: str, make_inactive: bool, home_dir: Path | None) -> None:
    """Delete member NUMBER from the billing store and forget its QuickBooks customer.

    Refused while the member has invoices, credit memos or payments in QuickBooks (void or delete them
    first) or still to synchronize. Also clears a link whose member was deleted outside booksync, which
    'booksync sync' and 'booksync reconcile' report. The customer stays in QuickBooks, active unless
    --make-inactive-in-quickbooks.
    """
    from booksync.store.links import delete_member, member_deletion

    home = load_home(home_dir)
    setup_logging(home)
    sessions = sessions_for(home)
    with books(home) as port, sessions() as session:
        snapshot = port.snapshot(balances=make_inactive, customers=make_inactive)  # also learns the company's key
        key = port.company_key
        found = member_deletion(session, key, number)
        session.commit()
        _refuse_deletion(found, number)
        note = ""
        if make_inactive and found.link is not None:
            try:
                note = make_customer_inactive(port, snapshot, found.link, number)
            except MappingRefused as exc:
                err.print(f"[bold red]Not deleted:[/] {escape(str(exc))}")
                sys.exit(EXIT_REFUSED if isinstance(exc, RefusedInQuickBooks) else EXIT_CHECKS)
        elif found.link is not None:
            note = f" QuickBooks customer \"{found.link.qb_name}\" stays in QuickBooks as it is."
        delete_member(session, found)
    console.print(escape(f"Deleted {found.name}" + (f" and {len(found.removable)} record(s) QuickBooks does not "
                                                     "hold" if found.removable else "") + "." + note))


def _refuse_deletion(found: Any, number: str) -> None:
    """Exit 3 when there is no such member (nor a link to one), or it has transactions booksync must still keep
    in step with QuickBooks."""
    if found.member is None and found.link is None:
        err.print(f"[bold red]Not deleted:[/] there is no member numbered {escape(number)} in the billing store, "
                  "and no QuickBooks customer linked to one.")
        sys.exit(EXIT_CHECKS)
    if found.blockers:
        err.print(f"[bold red]Not deleted:[/] {escape(found.name)} has {len(found.blockers)} transaction(s) "
                  "booksync must still keep in step with QuickBooks:")
        for b in found.blockers:
            err.print(f"  {escape(b)}")
        err.print("Void or delete them first (booksync invoices void|delete NUMBER, booksync credit-memos "
                  "void|delete NUMBER, booksync payments delete RECEIPT; import one gone from the billing store "
                  "again to do so), synchronize, then delete the member. Nothing was changed.")
        sys.exit(EXIT_CHECKS)
