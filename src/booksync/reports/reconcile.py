"""Reconciliation: do the books agree after a sync? (DESIGN.md, Invariants)

Two comparisons:

* each member's open balance in the billing store (invoices − credit memos −
  payments, voided and deleted records excluded) against the linked QuickBooks
  customer's Balance;
* per QuickBooks account, the totals of the synchronized records as the billing
  store has them (income lines by G/L account, payments and sales receipts by deposit
  account) against the same transactions as QuickBooks holds them (a sales receipt is
  paid at once: it never touches a member's balance);
* deposits (issue 17): every payment booksync wrote that QuickBooks shows in a deposit is
  still open in the billing store with the deposit line's amount; no deposit holds a line of
  booksync's placeholder memo (a payment taken out and not put back); and the Undeposited
  Funds balance of booksync's payments (those in no deposit, less placeholder lines, which take
  their amount out of Undeposited Funds) matches the billing store's payments to Undeposited
  Funds that QuickBooks shows in no deposit.
"""
from __future__ import annotations

from typing import Callable

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from booksync.books.port import BooksPort
from booksync.domain import Kind, placeholder_payment
from booksync.kinds import spec
from booksync.store.links import GoneRecord, anchor_links
from booksync.store.models import CreditMemo, GLAccount, Invoice, Link, Member, Payment, SalesReceipt

ZERO = Decimal("0.00")


@dataclass
class Difference:
    what: str
    billing: Decimal
    quickbooks: Decimal
    fix: str = ""
    """What to do, a command line ("" when the difference is the user's to look into)."""

    @property
    def difference(self) -> Decimal:
        return self.billing - self.quickbooks

    def as_dict(self) -> dict[str, str]:
        out = {"what": self.what, "billing": str(self.billing), "quickbooks": str(self.quickbooks),
               "difference": str(self.difference)}
        return {**out, "fix": self.fix} if self.fix else out


@dataclass
class Reconciliation:
    members_compared: int = 0
    accounts_compared: int = 0
    member_differences: list[Difference] = field(default_factory=list)
    account_differences: list[Difference] = field(default_factory=list)
    deposit_differences: list[Difference] = field(default_factory=list)
    not_synchronized: int = 0
    gone: list[GoneRecord] = field(default_factory=list)
    """Records booksync wrote to QuickBooks that are no longer in the billing store (a difference)."""
    deposits_compared: int = 0

    @property
    def agrees(self) -> bool:
        return (not self.member_differences and not self.account_differences and not self.gone
                and not self.deposit_differences)

    def as_dict(self) -> dict:
        return {"agrees": self.agrees, "members_compared": self.members_compared,
                "accounts_compared": self.accounts_compared, "not_synchronized": self.not_synchronized,
                "member_differences": [d.as_dict() for d in self.member_differences],
                "account_differences": [d.as_dict() for d in self.account_differences],
                "gone": [dict(g.__dict__, what=g.label, message=g.advice()[0], fix=g.advice()[1]) for g in self.gone],
                "deposits_compared": self.deposits_compared,
                "deposit_differences": [d.as_dict() for d in self.deposit_differences]}


def reconcile(session: Session, port: BooksPort,
              progress: Callable[[str, int, int], None] = lambda phase, done, total: None) -> Reconciliation:
    """Compare the billing store with QuickBooks; see the module docstring.

    ``progress(phase, done, total)`` is told each phase (reading QuickBooks' lists, the billing store, and
    QuickBooks' transactions of each kind), as the sync engine tells its interaction."""
    progress("Reading QuickBooks: accounts, items and customers with their balances", 0, 1)
    snapshot = port.snapshot()
    progress("Reading the billing store", 0, 1)
    key = port.company_key
    result = Reconciliation()
    # Links follow the records' own identity first (store/links.py); those whose record is gone are listed.
    result.gone = [g for g in anchor_links(session, key) if not g.state]
    session.commit()
    links = {(lk.kind, lk.local_id): lk.remote_id
             for lk in session.scalars(select(Link).where(Link.company_key == key))}
    balances: dict[int, Decimal] = defaultdict(lambda: ZERO)
    invoices = list(session.scalars(select(Invoice).where(Invoice.status == "open")
                                    .options(selectinload(Invoice.lines))))
    memos = list(session.scalars(select(CreditMemo).where(CreditMemo.status == "open")
                                 .options(selectinload(CreditMemo.lines))))
    payments = list(session.scalars(select(Payment).where(Payment.status == "open")))
    receipts = list(session.scalars(select(SalesReceipt).where(SalesReceipt.status == "open")
                                    .options(selectinload(SalesReceipt.lines))))
    for inv in invoices:
        balances[inv.member_id] += inv.total
    for cm in memos:
        balances[cm.member_id] -= cm.total
    for p in payments:
        balances[p.member_id] -= p.amount
    customers = {c.list_id: c for c in snapshot.customers}
    members = {m.id: m for m in session.scalars(select(Member))}
    for member_id, member in sorted(members.items(), key=lambda kv: kv[1].number):
        list_id = links.get((Kind.CUSTOMER.value, member_id))
        if list_id is None:
            continue
        result.members_compared += 1
        qb = customers[list_id].balance if list_id in customers else ZERO
        if qb != balances[member_id]:
            result.member_differences.append(Difference(f"member {member.number} {member.name}",
                                                        balances[member_id], qb))
    result.not_synchronized = sum(1 for kind, recs in ((Kind.INVOICE, invoices), (Kind.CREDIT_MEMO, memos),
                                                       (Kind.SALES_RECEIPT, receipts), (Kind.PAYMENT, payments))
                                  for r in recs if (kind.value, r.id) not in links)
    _accounts(session, port, snapshot, links, (invoices, memos, receipts), payments, result, progress)
    progress("Reading QuickBooks: deposits", 0, 1)
    _deposits(session, port, snapshot, links, result)
    return result


def _deposits(session: Session, port: BooksPort, snapshot, links, result: Reconciliation) -> None:  # noqa: ANN001
    """The deposit checks of the module docstring. Reads the deposits dated on or after booksync's earliest
    payment (none can hold a payment booksync wrote before that)."""
    by_remote = {remote: local for (kind, local), remote in links.items() if kind == Kind.PAYMENT.value and remote}
    if not by_remote:
        return
    billing = {p.id: p for p in session.scalars(select(Payment).where(Payment.id.in_(list(by_remote.values()))))}
    if not billing:
        return
    since = min(p.date for p in billing.values()).isoformat()
    deposits = {d.txn_id: d for d in port.deposits_holding(sorted(by_remote), since).values()}
    result.deposits_compared = len(deposits)
    in_deposit: set[str] = set()
    placeholders = ZERO
    for deposit in sorted(deposits.values(), key=lambda d: (d.date, d.txn_id)):
        where = f"deposit of {deposit.date} to {deposit.account_name}"
        for line in deposit.lines:
            held = placeholder_payment(line.memo)
            if held:
                payment = billing.get(by_remote.get(held, -1))
                who = f"payment {payment.number}" if payment is not None else f"payment {held} (QuickBooks)"
                result.deposit_differences.append(Difference(
                    f"{where}: booksync's placeholder for {who} is still there (the payment was taken out and not "
                    "put back)", ZERO, line.amount, fix="to put it back: booksync sync"))
                placeholders += line.amount
                continue
            if line.payment_id not in by_remote:
                continue  # a payment booksync did not write
            in_deposit.add(line.payment_id)
            payment = billing.get(by_remote[line.payment_id])
            amount = payment.amount if payment is not None and payment.status == "open" else ZERO
            if amount != line.amount:
                number = payment.number if payment is not None else line.payment_id
                result.deposit_differences.append(Difference(
                    f"{where}: payment {number} (" + ("open" if amount else "deleted in the billing store")
                    + ")", amount, line.amount))
    uf = next((a for a in snapshot.accounts if a.special == "UndepositedFunds"), None)
    if uf is None:
        return
    gl_to_uf = {g.id for g in session.scalars(select(GLAccount))
                if (g.qb_account or "").casefold() == uf.full_name.casefold()}
    open_in_uf = [p for p in billing.values() if p.status == "open" and p.deposit_account_id in gl_to_uf
                  and links[(Kind.PAYMENT.value, p.id)] not in in_deposit]
    billing_uf = sum((p.amount for p in open_in_uf), ZERO)
    remote = port.transactions(Kind.PAYMENT.value, [rid for rid in by_remote if rid not in in_deposit])
    books_uf = sum((t.total for t in remote.values() if t.deposit_account_id == uf.list_id), ZERO) - placeholders
    if billing_uf != books_uf:
        result.deposit_differences.append(Difference(
            "Undeposited Funds: booksync's payments in no deposit", billing_uf, books_uf))


def _accounts(session, port, snapshot, links, sales, payments, result: Reconciliation,
              progress: Callable[[str, int, int], None]) -> None:
    """Per QuickBooks account: income lines of invoices (+), credit memos (-) and sales receipts (+); what
    payments and sales receipts deposit (+), as the billing store and as QuickBooks hold them."""
    invoices, memos, receipts = sales
    gl = {g.id: g for g in session.scalars(select(GLAccount))}
    qb_by_name = snapshot.account_by_name()
    qb_names = {a.list_id: a.full_name for a in snapshot.accounts}
    item_account = {i.list_id: i.account_list_id for i in snapshot.items}
    billing: dict[str, Decimal] = defaultdict(lambda: ZERO)
    books: dict[str, Decimal] = defaultdict(lambda: ZERO)

    def qb_account_of(gl_id: int) -> str:
        account = qb_by_name.get((gl[gl_id].qb_account or "").casefold())
        return account.full_name if account else f"(unmapped G/L {gl[gl_id].number})"

    for kind, records, sign in ((Kind.INVOICE, invoices, 1), (Kind.CREDIT_MEMO, memos, -1),
                                (Kind.SALES_RECEIPT, receipts, 1)):
        synced = [r for r in records if (kind.value, r.id) in links]
        progress(f"Reading QuickBooks' {spec(kind).plural} ({len(synced)})", 0, 1)
        for r in synced:
            for line in r.lines:
                billing[qb_account_of(line.gl_account_id)] += sign * line.amount
        remote = port.transactions(kind.value, [links[(kind.value, r.id)] for r in synced])
        for txn in remote.values():
            for item_id, amount in txn.lines:
                books[qb_names.get(item_account.get(item_id, ""), "(unknown item)")] += sign * amount
        if kind is Kind.SALES_RECEIPT:  # the money received, where it was deposited
            for r in synced:
                billing[qb_account_of(r.deposit_account_id)] += r.total
            for txn in remote.values():
                books[qb_names.get(txn.deposit_account_id, "(unknown account)")] += txn.total
    # Adjustments stand in QuickBooks for corrections of closed-period transactions.
    for kind, sign in ((Kind.INVOICE, 1), (Kind.CREDIT_MEMO, -1)):
        ids = [remote for (k, _), remote in links.items() if k == f"adjustment_{kind.value}"]
        for txn in port.transactions(kind.value, ids).values() if ids else ():
            for item_id, amount in txn.lines:
                books[qb_names.get(item_account.get(item_id, ""), "(unknown item)")] += sign * amount
    synced_payments = [p for p in payments if (Kind.PAYMENT.value, p.id) in links]
    progress(f"Reading QuickBooks' payments ({len(synced_payments)})", 0, 1)
    for p in synced_payments:
        billing[qb_account_of(p.deposit_account_id)] += p.amount
    remote = port.transactions(Kind.PAYMENT.value, [links[(Kind.PAYMENT.value, p.id)] for p in synced_payments])
    for txn in remote.values():
        books[qb_names.get(txn.deposit_account_id, "(unknown account)")] += txn.total
    for name in sorted(set(billing) | set(books)):
        result.accounts_compared += 1
        if billing[name] != books[name]:
            result.account_differences.append(Difference(f"QuickBooks account {name}", billing[name], books[name]))
