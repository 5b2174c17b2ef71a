"""Mapping G/L accounts to items the QuickBooks company already has (issue 21 item 5), for ``booksync accounts
items`` and the web page Items beside Cross Reference Accounts.

A G/L account's ``qb_item`` names an existing item its billing lines use; "" keeps booksync's own service item
("NUMBER NAME", created by the sync). The item must be one the lines may use: active, of a type that carries a
billing line, posting to the account the G/L account cross-references (:func:`booksync.account_rules.item_refusal`,
the same rule the sync checks before anything is written). Refusals are
:class:`~booksync.services.mapping.MappingRefused`; nothing here prints or renders.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync import account_rules
from booksync.domain import QBAccount, QBListEntry, QBSnapshot
from booksync.services.mapping import MappingRefused
from booksync.store.models import GLAccount

OWN_ITEM = "(booksync's own item)"
"""How a G/L account without an item mapping is shown: the sync creates its service item, as before."""


@dataclass
class ItemRow:
    """One G/L account's item mapping, as the web page and ``--json`` show it.

    ``state``: "own" (no mapping: booksync's own item), "mapped", "missing" (names an item QuickBooks does not
    have) or "refused" (names an item its lines must not use; ``refused`` says why)."""

    gl: GLAccount
    state: str
    item: str
    refused: str = ""
    suggestion: str = ""
    choices: list[QBListEntry] = field(default_factory=list)
    """The items this G/L account's lines may use (the only ones the web page offers)."""


class ItemReference:
    """The billing store's G/L accounts beside QuickBooks' items (every item, active or not, of every type)."""

    def __init__(self, session: Session, snapshot: QBSnapshot) -> None:
        self.session = session
        self.items = sorted(snapshot.items, key=lambda i: i.name.casefold())
        self.by_name = {i.name.casefold(): i for i in self.items}
        self.accounts = snapshot.account_by_name()
        self.gls = {g.number: g for g in session.scalars(select(GLAccount).order_by(GLAccount.number))}
        self.changed: list[tuple[str, str]] = []
        """(G/L number, item now; "" when cleared), in the order they changed."""

    def account(self, gl: GLAccount) -> QBAccount | None:
        """The QuickBooks account ``gl`` cross-references, when QuickBooks has it."""
        return self.accounts.get((gl.qb_account or "").casefold())

    def row(self, gl: GLAccount) -> ItemRow:
        account = self.account(gl)
        choices = account_rules.compatible_items(gl, self.items, account)
        hint = account_rules.suggest_item(gl, self.items, account)
        suggestion = hint.name if hint is not None else ""
        if not gl.qb_item:
            return ItemRow(gl, "own", "", "", suggestion, choices)
        item = self.by_name.get(gl.qb_item.casefold())
        if item is None:
            return ItemRow(gl, "missing", gl.qb_item, f"QuickBooks has no item named \"{gl.qb_item}\"", suggestion,
                           choices)
        refused = account_rules.item_refusal(gl, item, account)
        if refused is not None:
            return ItemRow(gl, "refused", item.name, refused, suggestion, choices)
        return ItemRow(gl, "mapped", item.name, "", "", choices)

    def rows(self) -> list[ItemRow]:
        """Every G/L account's row, refused and missing ones first, then by number."""
        rows = [self.row(g) for g in self.gls.values()]
        return sorted(rows, key=lambda r: (r.state not in ("refused", "missing"), r.gl.number))

    def assign(self, number: str, name: str) -> None:
        """Map G/L account ``number``'s lines to the existing item named ``name`` (full name, case ignored).

        Raises :class:`MappingRefused` for an unknown G/L account or item, or an item the lines must not use;
        nothing is changed then."""
        gl = self.gls.get(number.strip())
        if gl is None:
            raise MappingRefused(f"There is no G/L account numbered {number.strip()}.")
        item = self.by_name.get(name.strip().casefold())
        if item is None:
            raise MappingRefused(f"QuickBooks has no item named \"{name.strip()}\" (for G/L account {gl.number}). "
                                 "List the items with: booksync accounts items --quickbooks")
        refused = account_rules.item_refusal(gl, item, self.account(gl))
        if refused is not None:
            raise MappingRefused(f"G/L account {gl.number} {gl.name}: {refused}.")
        if item.name != gl.qb_item:
            gl.qb_item = item.name
            self.changed.append((gl.number, item.name))

    def clear(self, number: str) -> None:
        """Remove G/L account ``number``'s item mapping: the sync uses booksync's own item again."""
        gl = self.gls.get(number.strip())
        if gl is None:
            raise MappingRefused(f"There is no G/L account numbered {number.strip()}.")
        if gl.qb_item:
            gl.qb_item = ""
            self.changed.append((gl.number, ""))

    def apply_suggestions(self) -> None:
        """Map every G/L account without an item mapping to its suggested item, when there is one."""
        for row in self.rows():
            if row.state == "own" and row.suggestion:
                self.assign(row.gl.number, row.suggestion)

    def save(self, wanted: dict[str, str]) -> list[tuple[str, str]]:
        """Set each G/L account number of ``wanted`` to the item named ("" clears it), all or nothing (the web
        page's form: a forged choice is refused by the same rule). Returns what changed."""
        try:
            for number, name in wanted.items():
                if name.strip():
                    self.assign(number, name)
                else:
                    self.clear(number)
        except MappingRefused:
            self.session.rollback()
            raise
        self.session.commit()
        return self.changed
