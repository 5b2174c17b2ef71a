"""Classes per G/L account (issue 21 item 4), for ``booksync accounts classes``: a G/L account's ``qb_class`` names
the QuickBooks class its billing lines are tracked under ("" = the home's ``[sync] default_class``). A class is
refused unless the company tracks classes and has it active (the rule the sync checks before writing:
:func:`booksync.sync.checks.check_classes`). Refusals are :class:`~booksync.services.mapping.MappingRefused`."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.domain import QBSnapshot
from booksync.services.mapping import MappingRefused
from booksync.store.models import GLAccount


class ClassMap:
    """The G/L accounts beside the company's classes."""

    def __init__(self, session: Session, snapshot: QBSnapshot, default_class: str = "") -> None:
        self.snapshot = snapshot
        self.classes = sorted(snapshot.classes, key=lambda c: c.name.casefold())
        self.by_name = {c.name.casefold(): c for c in self.classes}
        self.default_class = default_class
        self.gls = {g.number: g for g in session.scalars(select(GLAccount).order_by(GLAccount.number))}
        self.changed: list[tuple[str, str]] = []

    def refusal(self, name: str) -> str | None:
        """Why lines must not be tracked under class ``name``; None when they may."""
        company = self.snapshot.company
        if not company.uses_classes:
            return (f"QuickBooks company \"{company.name}\" does not use class tracking; turn it on in QuickBooks "
                    "(Preferences > Accounting > Use class tracking) first")
        found = self.by_name.get(name.casefold())
        if found is None:
            return f"QuickBooks has no class named \"{name}\"; add it in QuickBooks (Lists > Class List) first"
        if not found.is_active:
            return f"QuickBooks class \"{found.name}\" is inactive; QuickBooks refuses inactive classes on lines"
        return None

    def assign(self, number: str, name: str) -> None:
        gl = self.gls.get(number.strip())
        if gl is None:
            raise MappingRefused(f"There is no G/L account numbered {number.strip()}.")
        refused = self.refusal(name.strip())
        if refused is not None:
            raise MappingRefused(f"G/L account {gl.number} {gl.name}: {refused}.")
        gl.qb_class = self.by_name[name.strip().casefold()].name
        self.changed.append((gl.number, gl.qb_class))

    def clear(self, number: str) -> None:
        gl = self.gls.get(number.strip())
        if gl is None:
            raise MappingRefused(f"There is no G/L account numbered {number.strip()}.")
        gl.qb_class = ""
        self.changed.append((gl.number, ""))

    def rows(self) -> list[dict[str, object]]:
        """Each G/L account with its class (its own, else the default) and why it is refused, if it is."""
        out = []
        for gl in self.gls.values():
            name = gl.qb_class or self.default_class
            out.append({"number": gl.number, "name": gl.name, "qb_class": gl.qb_class or None,
                        "class": name or None, "from_default": bool(name and not gl.qb_class),
                        "refused": self.refusal(name) if name else None})
        return out
