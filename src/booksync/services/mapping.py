"""Mapping: G/L accounts to QuickBooks accounts (the cross reference) and members to QuickBooks customers
(Bill Info), for the command line and the web pages alike.

Nothing here renders HTML, prints, or knows about HTTP; refusals are :class:`MappingRefused` with a message
that says why and what to do.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from booksync import account_rules
from booksync.books.port import BooksPort
from booksync.domain import Action, CustomerData, Kind, Operation, QBAccount, QBCustomer, QBSnapshot
from booksync.kinds import BILLED_TRANSACTIONS, spec
from booksync.store.models import BILLING_MODELS, GLAccount, Invoice, Link, Member, Payment, _now


class MappingRefused(Exception):
    """A cross reference or Bill Info change was refused; the message says why and what to do on the command line,
    ``web`` (when given) in the web interface's words."""

    def __init__(self, message: str, web: str | None = None) -> None:
        super().__init__(message)
        self.web = web or message


@dataclass
class XrefRow:
    gl: GLAccount
    mapped: bool
    state: str
    """"mapped", "none" (no cross reference), "missing" (names an account QuickBooks does not have) or
    "wrong-type" (names an account of a type the G/L account must not post to: :mod:`booksync.account_rules`)."""
    selected: str
    """The QuickBooks account preselected in the dropdown: the current one, else the suggestion."""
    suggested: bool
    choices: list[QBAccount] = field(default_factory=list)
    """The active QuickBooks accounts of a type this G/L account may post to (the only ones offered)."""
    refused: str = ""
    """Why the current cross reference is refused (state "wrong-type")."""


def xref_rows(session: Session, snapshot: QBSnapshot) -> list[XrefRow]:
    """Every G/L account with its cross reference and the accounts it may choose, unmapped ones first,
    suggestions preselected."""
    accounts = sorted(snapshot.accounts, key=lambda a: a.full_name.casefold())
    by_name = {a.full_name.casefold(): a for a in accounts}
    rows = []
    for gl in session.scalars(select(GLAccount).order_by(GLAccount.number)):
        choices = account_rules.compatible_accounts(gl.type, accounts)
        current = by_name.get((gl.qb_account or "").casefold())
        refused = account_rules.incompatibility(gl, current) if current is not None else None
        if current is not None and current.is_active and refused is None:
            rows.append(XrefRow(gl, True, "mapped", current.full_name, False, choices))
            continue
        hint = account_rules.suggest(gl, accounts)
        state = "wrong-type" if refused else "missing" if gl.qb_account else "none"
        rows.append(XrefRow(gl, False, state, hint.full_name if hint is not None else "", hint is not None,
                            choices, refused or ""))
    rows.sort(key=lambda r: (r.mapped, r.gl.number))
    return rows


def account_choices(snapshot: QBSnapshot) -> list[QBAccount]:
    return sorted((a for a in snapshot.accounts if a.is_active), key=lambda a: a.full_name.casefold())


def save_xref(session: Session, snapshot: QBSnapshot, wanted: dict[str, str]) -> list[tuple[str, str, str]]:
    """Set the cross reference of each G/L account number in ``wanted`` to the QuickBooks account named
    (full name; "" clears it). Returns (number, before, after) for each account that changed. All or nothing.

    Raises :class:`MappingRefused` for an unknown G/L account, an account QuickBooks does not have (or holds
    inactive), and an account of a type the G/L account must not post to (the page offers only the others;
    a forged form is refused by the same rule: :func:`booksync.account_rules.incompatibility`)."""
    by_name = {a.full_name.casefold(): a for a in snapshot.accounts if a.is_active}
    gls = {g.number: g for g in session.scalars(select(GLAccount))}
    changes = []
    for number, name in wanted.items():
        gl = gls.get(number)
        if gl is None:
            raise MappingRefused(f"There is no G/L account numbered {number}.")
        name = name.strip()
        if name and name.casefold() not in by_name:
            session.rollback()
            raise MappingRefused(f"QuickBooks has no active account named \"{name}\" (for G/L account {number}). "
                                 "Reload the page to see the current chart of accounts.")
        if name:
            refused = account_rules.incompatibility(gl, by_name[name.casefold()])
            if refused is not None:
                session.rollback()
                raise MappingRefused(f"Nothing was saved: {refused}. Choose "
                                     f"{account_rules.allowed_types(gl.type)}.")
        full = by_name[name.casefold()].full_name if name else ""
        if full != (gl.qb_account or ""):
            changes.append((number, gl.qb_account or "", full))
            gl.qb_account = full
    session.commit()
    return changes


# ---------------------------------------------------------------------- members


@dataclass
class MemberRow:
    member: Member
    customer: str
    """The QuickBooks customer the member maps to (linked or named by Bill Info), or ""."""
    state: str
    """"linked" (synchronized), "bill-info" (named, linked at the next sync) or "create" (none yet)."""


def customer_links(session: Session, key: str, member_ids: list[int] | None = None) -> dict[int, Link]:
    stmt = select(Link).where(Link.company_key == key, Link.kind == Kind.CUSTOMER.value)
    if member_ids is not None:
        stmt = stmt.where(Link.local_id.in_(member_ids))
    return {link.local_id: link for link in session.scalars(stmt)}


def search_members(session: Session, key: str, query: str, page: int, per_page: int,
                   without_customer: bool = False) -> tuple[list[MemberRow], int]:
    """Members whose number, name, company, contact, email or Bill Info contains ``query`` (with
    ``without_customer``, only those with neither a linked customer nor Bill Info); one page of them and how
    many there are."""
    stmt = select(Member)
    if without_customer:
        linked = select(Link.local_id).where(Link.company_key == key, Link.kind == Kind.CUSTOMER.value)
        stmt = stmt.where(Member.id.not_in(linked), Member.qb_customer == "")
    query = query.strip()
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Member.number.ilike(like), Member.name.ilike(like), Member.company.ilike(like),
                              Member.email.ilike(like), Member.qb_customer.ilike(like),
                              Member.contact_last.ilike(like), Member.contact_first.ilike(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    members = list(session.scalars(stmt.order_by(Member.number).offset((page - 1) * per_page).limit(per_page)))
    links = customer_links(session, key, [m.id for m in members])
    rows = []
    for m in members:
        link = links.get(m.id)
        if link is not None:
            rows.append(MemberRow(m, link.qb_name or m.qb_customer, "linked"))
        elif m.qb_customer:
            rows.append(MemberRow(m, m.qb_customer, "bill-info"))
        else:
            rows.append(MemberRow(m, "", "create"))
    return rows, total


@dataclass
class TxnState:
    """One transaction of a member with its synchronization state."""

    kind: str
    number: str
    date: dt.date
    amount: Any
    status: str
    state: str
    """"synchronized", "waiting" (not in QuickBooks yet), "changed" (changed since synchronized),
    or "not-sent" (voided or deleted before it was ever synchronized)."""
    label: str
    run_id: str = ""
    synced_at: dt.datetime | None = None


def sync_state(record: Any, link: Link | None) -> tuple[str, str]:
    """The synchronization state of a billing record given its link (see :class:`TxnState`) and a detail for
    people. The engine's rule: a link whose recorded ``updated_at`` differs from the record's is a correction
    waiting to be sent."""
    if link is None:
        if record.status == "open":
            return "waiting", "not in QuickBooks yet"
        return "not-sent", f"{'voided' if record.status == 'void' else 'deleted'} before it reached QuickBooks"
    if link.fingerprint in ("void", "deleted"):
        return "synchronized", f"{'voided' if link.fingerprint == 'void' else 'deleted'} in QuickBooks"
    if link.source_updated_at is not None and link.source_updated_at != record.updated_at:
        what = {"void": "voided", "deleted": "deleted"}.get(record.status, "changed")
        return "changed", f"{what} here; the next synchronization corrects QuickBooks"
    return "synchronized", "in QuickBooks"


def member_transactions(session: Session, key: str, member: Member) -> list[TxnState]:
    """The member's billed transactions of every kind (:data:`booksync.kinds.BILLED_TRANSACTIONS`), newest first,
    each with its synchronization state in company ``key``."""
    out: list[TxnState] = []
    for kind in BILLED_TRANSACTIONS:
        model = BILLING_MODELS[kind]
        stmt = select(model).where(model.member_id == member.id)
        if hasattr(model, "lines"):  # a document's total is the sum of its lines
            stmt = stmt.options(selectinload(model.lines))
        records = list(session.scalars(stmt))
        links = {link.local_id: link for link in session.scalars(
            select(Link).where(Link.company_key == key, Link.kind == kind.value,
                               Link.local_id.in_([r.id for r in records])))} if records else {}
        for r in records:
            link = links.get(r.id)
            state, text = sync_state(r, link)
            amount = r.total if hasattr(model, "lines") else r.amount
            out.append(TxnState(spec(kind).label.capitalize(), r.number, r.date, amount, r.status, state, text,
                                link.run_id if link is not None else "", link.synced_at if link is not None else None))
    out.sort(key=lambda t: (t.date, t.number), reverse=True)
    return out


def find_customers(snapshot: QBSnapshot, query: str, limit: int = 25) -> list[QBCustomer]:
    """Active QuickBooks customers whose name contains every word of ``query``."""
    words = query.casefold().split()
    found = [c for c in snapshot.customers
             if c.is_active and all(w in c.full_name.casefold() for w in words)]
    return sorted(found, key=lambda c: c.full_name.casefold())[:limit]


def link_member(session: Session, snapshot: QBSnapshot, key: str, member: Member, customer_name: str) -> str:
    """Link ``member`` to the existing QuickBooks customer named ``customer_name`` (its Bill Info), as
    'booksync members map' does. Returns what was done; raises :class:`MappingRefused`."""
    by_name = {c.full_name.casefold(): c for c in snapshot.customers}
    target = by_name.get(customer_name.strip().casefold())
    if target is None:
        raise MappingRefused(f"QuickBooks has no customer named \"{customer_name.strip()}\". Search for it and "
                             "choose one from the list.")
    links = customer_links(session, key)
    holder = next((lk for lk in links.values() if lk.remote_id == target.list_id), None)
    if holder is not None and holder.local_id != member.id:
        other = session.get(Member, holder.local_id)
        who = f"member {other.number} {other.name}" if other is not None else "another member"
        raise MappingRefused(f"QuickBooks customer \"{target.full_name}\" is already linked to {who}; each member "
                             "needs its own customer.")
    stamp = _now()
    member.qb_customer, member.updated_at = target.full_name, stamp
    link = links.get(member.id)
    if link is None:
        link = Link(company_key=key, kind=Kind.CUSTOMER.value, local_id=member.id, local_key=member.number)
        session.add(link)
    # As with 'booksync members map': a customer linked by hand keeps its QuickBooks details until the member
    # changes, so the member is not seen as changed.
    link.remote_id, link.qb_name, link.source_updated_at = target.list_id, target.full_name, stamp
    link.written, link.fingerprint = "", ""
    session.commit()
    return f"Member {member.number} {member.name} is linked to QuickBooks customer \"{target.full_name}\"."


def clear_member(session: Session, key: str, member: Member) -> str:
    """Clear the member's Bill Info, so the next sync creates its customer. Refused when transactions of the
    member are already in QuickBooks under its customer (they would stay with the old customer)."""
    link = customer_links(session, key, [member.id]).get(member.id)
    synced = 0
    for kind in BILLED_TRANSACTIONS:
        model = BILLING_MODELS[kind]
        synced += session.scalar(
            select(func.count()).select_from(Link).join(model, model.id == Link.local_id)
            .where(Link.company_key == key, Link.kind == kind.value, model.member_id == member.id)) or 0
    if synced:
        name = link.qb_name if link is not None else member.qb_customer
        raise MappingRefused(f"{synced} transaction(s) of member {member.number} are in QuickBooks under customer "
                             f"\"{name}\"; a new customer would split the member's balance. Link the member to "
                             "another existing customer instead, or merge the customers in QuickBooks.")
    if link is None and not member.qb_customer:
        return f"Member {member.number} {member.name} has no QuickBooks customer yet; the next synchronization " \
               "offers to create it."
    if link is not None:
        session.delete(link)
    member.qb_customer, member.updated_at = "", _now()
    session.commit()
    return (f"Member {member.number} {member.name} is marked for creation: the next synchronization offers to create "
            "its QuickBooks customer.")


# ---------------------------------------------------------------------- the command line's cross reference


class CrossReference:
    """The billing store's G/L accounts beside QuickBooks' chart of accounts, as ``booksync accounts xref`` shows
    and changes them (every account QuickBooks has, active or not; :mod:`booksync.account_rules` decides which
    types a G/L account may post to)."""

    def __init__(self, session: Session, snapshot: QBSnapshot) -> None:
        self.accounts = sorted(snapshot.accounts, key=lambda a: a.full_name.casefold())
        """QuickBooks' accounts by full name (case ignored)."""
        self.by_name = {a.full_name.casefold(): a for a in self.accounts}
        self.gls = {g.number: g for g in session.scalars(select(GLAccount).order_by(GLAccount.number))}
        self.changed: list[tuple[str, str]] = []
        """(G/L number, QuickBooks account now; "" when cleared), in the order they changed."""

    def current(self, gl: GLAccount) -> QBAccount | None:
        """The QuickBooks account ``gl`` names, when QuickBooks has it."""
        return self.by_name.get((gl.qb_account or "").casefold())

    def fits(self, gl: GLAccount) -> bool:
        """True when ``gl`` names a QuickBooks account of a type it may post to."""
        account = self.current(gl)
        return account is not None and account_rules.incompatibility(gl, account) is None

    def assign(self, number: str, account: QBAccount) -> str | None:
        """Cross reference G/L account ``number`` (one of :attr:`gls`) to ``account``; returns why not (a type it
        must not post to, nothing changed) or None when done."""
        refused = account_rules.incompatibility(self.gls[number], account)
        if refused is None:
            self.gls[number].qb_account = account.full_name
            self.changed.append((number, account.full_name))
        return refused

    def clear(self, number: str) -> None:
        """Remove G/L account ``number``'s cross reference."""
        self.gls[number].qb_account = ""
        self.changed.append((number, ""))

    def suggestions(self) -> dict[str, QBAccount | None]:
        """For each G/L account that does not fit, the suggested QuickBooks account (None: no suggestion)."""
        return {n: account_rules.suggest(g, self.accounts) for n, g in self.gls.items() if not self.fits(g)}

    def apply_suggestions(self, suggestions: dict[str, QBAccount | None]) -> None:
        for number, account in suggestions.items():
            if account is not None:
                self.gls[number].qb_account = account.full_name
                self.changed.append((number, account.full_name))

    def rows(self) -> list[GLAccount]:
        """Every G/L account, those that do not fit first, then by number."""
        return sorted(self.gls.values(), key=lambda g: (self.fits(g), g.number))


# ---------------------------------------------------------------------- the command line's members


def members_without_customer(session: Session, key: str, snapshot: QBSnapshot) -> list[dict[str, Any]]:
    """Members being billed (an invoice or payment) with no customer linked in company ``key``, by number:
    ``{"number", "name", "bill_info", "suggestion"}``; the suggestion is the QuickBooks customer whose full name
    is the member's name (case ignored), else None."""
    customers = {c.full_name.casefold(): c for c in snapshot.customers}
    linked = customer_links(session, key)
    billed = set(session.scalars(select(Invoice.member_id))) | set(session.scalars(select(Payment.member_id)))
    unmapped = [m for m in session.scalars(select(Member).order_by(Member.number))
                if m.id in billed and m.id not in linked]
    return [{"number": m.number, "name": m.name, "bill_info": m.qb_customer,
             "suggestion": customers[m.name.casefold()].full_name if m.name.casefold() in customers else None}
            for m in unmapped]


class RefusedInQuickBooks(MappingRefused):
    """QuickBooks refused the change the command asked of it; nothing was changed."""


def make_customer_inactive(port: BooksPort, snapshot: QBSnapshot, link: Link, number: str) -> str:
    """Make the QuickBooks customer of ``link`` (member ``number``'s) inactive, for ``booksync members delete
    --make-inactive-in-quickbooks``; returns what happened, in a sentence that starts with a space.

    Raises :class:`MappingRefused` when the customer has a balance (QuickBooks makes a customer inactive only at
    zero), :class:`RefusedInQuickBooks` when QuickBooks refuses."""
    customer = next((c for c in snapshot.customers if c.list_id == link.remote_id), None)
    if customer is None:
        return f" QuickBooks has no customer \"{link.qb_name}\" any more; nothing to make inactive."
    if customer.balance:
        raise MappingRefused(f"QuickBooks customer \"{customer.full_name}\" has a balance of {customer.balance}; a "
                             "customer is made inactive only at zero. Settle the balance in QuickBooks first, or "
                             "delete without --make-inactive-in-quickbooks. Nothing was changed.")
    if not customer.is_active:
        return f" QuickBooks customer \"{customer.full_name}\" was already inactive."
    op = Operation(seq=1, action=Action.MOD, kind=Kind.CUSTOMER, local_id=0, number=number,
                   description=f"Make customer \"{customer.full_name}\" inactive",
                   payload=CustomerData(name=customer.name, is_active=False),
                   remote_id=customer.list_id, edit_sequence=customer.edit_sequence)
    (outcome,) = port.send([op], lambda ref: None)
    if outcome.status != "done":
        raise RefusedInQuickBooks(f"QuickBooks refused to make customer \"{customer.full_name}\" inactive: "
                                  f"{outcome.error}. Nothing was changed.")
    return f" QuickBooks customer \"{customer.full_name}\" is now inactive."
