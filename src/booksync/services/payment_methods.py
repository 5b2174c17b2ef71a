"""Payment methods mapped explicitly (issue 21 item 6): each payment method the billing system's payments carry
("Credit Card", "ACH", "Cash", "Check") → a payment method the QuickBooks company has, or one booksync creates on
request. For ``booksync payments methods`` and the web page Payment Methods.

A billing method without a mapping keeps what booksync did before: the QuickBooks method of the same name
(case ignored), created when QuickBooks does not have it unless the home's ``[sync] create_payment_methods`` is
false. The rule (:func:`booksync.account_rules.method_refusal`) is the one the sync checks before anything is
written. Refusals are :class:`~booksync.services.mapping.MappingRefused`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync import account_rules
from booksync.domain import QBListEntry, QBSnapshot
from booksync.services.mapping import MappingRefused
from booksync.store.models import Payment, PaymentMethodMap


def creates_missing(settings: dict) -> bool:
    """The home's ``[sync] create_payment_methods`` (default true): whether the sync creates a payment method
    QuickBooks lacks for a billing method without a mapping."""
    return bool(settings.get("sync", {}).get("create_payment_methods", True))


@dataclass
class MethodRow:
    """One billing payment method and how it reaches QuickBooks.

    ``state``: "mapped" (to an existing method), "create" (booksync creates ``qb_method``), "same-name" (no mapping;
    QuickBooks has a method of the same name), "missing" (no mapping, none of that name: created unless the home
    says not to) or "refused" (``refused`` says why)."""

    name: str
    payments: int
    qb_method: str
    state: str
    refused: str = ""
    choices: list[QBListEntry] = field(default_factory=list)
    mapped: bool = False
    """A mapping is stored for it (``booksync payments methods --set/--create``)."""


class MethodMap:
    """The billing store's payment methods (those its payments carry, and those mapped) beside QuickBooks'."""

    def __init__(self, session: Session, snapshot: QBSnapshot, create_missing: bool = True) -> None:
        """``create_missing``: the home's ``[sync] create_payment_methods`` (a method without a mapping that
        QuickBooks lacks is created by the sync when True, refused when False)."""
        self.session = session
        self.create_missing = create_missing
        self.methods = sorted(snapshot.payment_methods, key=lambda m: m.name.casefold())
        self.by_name = {m.name.casefold(): m for m in self.methods}
        self.rows_by_name = {r.name.casefold(): r for r in session.scalars(select(PaymentMethodMap))}
        counts: dict[str, int] = {}
        for method in session.scalars(select(Payment.method).where(Payment.method != "")):
            counts[method] = counts.get(method, 0) + 1
        self.used = counts
        self.changed: list[tuple[str, str]] = []
        """(billing method, what it maps to now in words), in the order they changed."""

    def names(self) -> list[str]:
        """Every billing payment method: those payments carry and those mapped, by name."""
        seen = {n.casefold(): n for n in self.used}
        for row in self.rows_by_name.values():
            seen.setdefault(row.name.casefold(), row.name)
        return sorted(seen.values(), key=str.casefold)

    def row(self, name: str) -> MethodRow:
        stored = self.rows_by_name.get(name.casefold())
        active = [m for m in self.methods if m.is_active]
        count = self.used.get(name, 0)
        if stored is None or not stored.qb_method:
            found = self.by_name.get(name.casefold())
            if found is None and not self.create_missing:
                refused = account_rules.method_refusal(name, name, None, False) or ""
                return MethodRow(name, count, "", "refused", refused + " and the home's [sync] create_payment_methods "
                                 "is false", active)
            if found is None:
                return MethodRow(name, count, "", "missing", "", active)
            refused = account_rules.method_refusal(name, name, found, False)
            return MethodRow(name, count, found.name, "refused" if refused else "same-name", refused or "", active)
        found = self.by_name.get(stored.qb_method.casefold())
        refused = account_rules.method_refusal(name, stored.qb_method, found, stored.create_missing)
        state = "refused" if refused else "create" if found is None else "mapped"
        return MethodRow(name, count, found.name if found is not None else stored.qb_method, state, refused or "",
                         active, mapped=True)

    def rows(self) -> list[MethodRow]:
        rows = [self.row(n) for n in self.names()]
        return sorted(rows, key=lambda r: (r.state != "refused", r.name.casefold()))

    def _stored(self, name: str) -> PaymentMethodMap:
        name = name.strip()
        if not name:
            raise MappingRefused("Name the billing payment method, as the payments carry it (e.g. \"Credit Card\").")
        if len(name) > 40:
            raise MappingRefused(f"\"{name}\" is longer than a billing payment method can be (40 characters).")
        stored = self.rows_by_name.get(name.casefold())
        if stored is None and name.casefold() not in {n.casefold() for n in self.used}:
            carried = ", ".join(f"\"{n}\"" for n in sorted(self.used, key=str.casefold)) or "none yet"
            raise MappingRefused(f"No payment in the billing store carries the payment method \"{name}\" (they carry "
                                 f"{carried}); give it as the payments carry it.")
        if stored is None:
            stored = PaymentMethodMap(name=name, qb_method="", create_missing=False)
            self.session.add(stored)
            self.rows_by_name[name.casefold()] = stored
        return stored

    def assign(self, billing: str, wanted: str) -> None:
        """Write payments of ``billing`` with the company's payment method named ``wanted``. Raises
        :class:`MappingRefused` when QuickBooks has no such method or holds it inactive (nothing changed)."""
        found = self.by_name.get(wanted.strip().casefold())
        refused = account_rules.method_refusal(billing.strip(), wanted.strip(), found, False)
        if refused is not None and found is not None:  # inactive: creating it would be refused the same way
            raise MappingRefused(f"{refused}. Make it active in QuickBooks, or choose another (booksync payments "
                                 "methods --quickbooks).",
                                 web=f"{refused}. Make it active in QuickBooks, or choose another in the list.")
        if refused is not None:
            raise MappingRefused(f"{refused}. Choose one QuickBooks has (booksync payments methods --quickbooks), or "
                                 f"have booksync create it: booksync payments methods --create "
                                 f"\"{billing.strip()}={wanted.strip()}\".",
                                 web=f"{refused}. Choose one the company has in the list, or “create” it there.")
        stored = self._stored(billing)
        if (stored.qb_method, stored.create_missing) != (found.name, False):
            stored.qb_method, stored.create_missing = found.name, False
            self.changed.append((stored.name, f"QuickBooks payment method \"{found.name}\""))

    def create(self, billing: str, wanted: str = "") -> None:
        """Have booksync create the QuickBooks payment method ``wanted`` (default: the billing method's name) for
        payments of ``billing`` when QuickBooks does not have it (and use it when it does)."""
        name = (wanted or billing).strip()
        if len(name) > 31:
            raise MappingRefused(f"\"{name}\" is longer than a QuickBooks payment method's name can be (31 "
                                 "characters); name a shorter one: --create \"BILLING=NAME\".")
        found = self.by_name.get(name.casefold())
        refused = account_rules.method_refusal(billing.strip(), name, found, True)
        if refused is not None:
            raise MappingRefused(f"{refused}. Make it active in QuickBooks, or choose another (booksync payments "
                                 "methods --quickbooks).",
                                 web=f"{refused}. Make it active in QuickBooks, or choose another in the list.")
        stored = self._stored(billing)
        now = (found.name if found is not None else name, found is None)
        if (stored.qb_method, stored.create_missing) != now:
            stored.qb_method, stored.create_missing = now
            self.changed.append((stored.name, f"QuickBooks payment method \"{stored.qb_method}\""
                                              + (" (booksync creates it)" if found is None else "")))

    def clear(self, billing: str) -> None:
        """Remove ``billing``'s mapping: the QuickBooks method of the same name again."""
        stored = self.rows_by_name.get(billing.strip().casefold())
        if stored is None:
            raise MappingRefused(f"Payment method \"{billing.strip()}\" has no mapping to clear (see booksync payments "
                                 "methods).")
        self.session.delete(stored)
        del self.rows_by_name[billing.strip().casefold()]
        self.changed.append((stored.name, "the QuickBooks method of the same name"))

    def save(self, wanted: dict[str, str]) -> list[tuple[str, str]]:
        """The web page's form: billing method → "" (clear), "keep" (leave as it is), "create:NAME" or a QuickBooks
        method's name; all or nothing."""
        try:
            for billing, choice in wanted.items():
                if choice == "keep":  # a mapping the list cannot offer (its method was made inactive): as it is
                    continue
                if not choice:
                    if billing.strip().casefold() in self.rows_by_name:
                        self.clear(billing)
                elif choice.startswith("create:"):
                    self.create(billing, choice[len("create:"):])
                else:
                    self.assign(billing, choice)
        except MappingRefused:
            self.session.rollback()
            raise
        self.session.commit()
        return self.changed
