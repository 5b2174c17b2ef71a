"""What QuickBooks will refuse in an undo, foreseen from what the undo read (issue 20, item 12).

QuickBooks refuses (sources: /work/shared/reference/quickbooks-desktop.md §7 rules 5-6, the simulator's
``txn_del``/``payment_mod``):

* to change or delete a payment that is in a deposit (3170/3160) until it is taken out of the deposit;
* to delete an invoice that has payments or credits applied (3160) while those stay;
* to delete an item that kept invoices or credit memos use (3160: "cannot be deleted because it is used in N
  transaction(s)", the simulator's ``list_del``; booksync's items are its G/L accounts, ``local_id`` = the account);
* to delete a customer that transactions still use (3170); QuickBooks Online, which makes customers inactive
  instead, refuses that while the customer has an open balance (:data:`IN_USE_INACTIVE`).

:func:`foresee_refusals` moves such steps out of the plan's ``steps`` into its ``refused`` list, with the reason
and what to do, so the dry run shows them and the undo does not send them. A payment in a deposit is refused up
front rather than taken out and put back (as :mod:`booksync.sync.correct_deposits` does for a correction): that
would change a deposit the user may have reconciled, which an undo must not do unasked.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.books.port import BooksPort
from booksync.domain import Kind, record_words
from booksync.store.models import (Application, CreditMemo, CreditMemoLine, Invoice, InvoiceLine, Link, Payment,
                                   SyncRun)

IN_USE = ("of this customer stays in QuickBooks, and QuickBooks refuses to delete a customer that is used; leave "
          "the customer, or delete its transactions in QuickBooks and run the undo again")
IN_USE_INACTIVE = (
    "of this customer stays in QuickBooks Online, so the undo leaves the customer active: QuickBooks Online refuses to "
    "make a customer with an open balance inactive, and a transaction whose customer is inactive can no longer be "
    "changed (610); leave the customer, or delete its transactions in QuickBooks Online and run the undo again")
"""Why a customer the run added is kept while the undo keeps one of its transactions: Desktop refuses to delete it
(3170); QuickBooks Online (reference/quickbooks-online.md §3.1; ruckus/quickbooks-ruby#390) refuses to make it
inactive with a balance, and refuses changes to transactions naming an inactive customer."""
EARLIEST = "1970-01-01"
"""Deposits are read from this date: a payment's deposit may be dated before the date the run gave it."""


def foresee_refusals(session: Session, port: BooksPort, run: SyncRun, plan: Any) -> None:
    """Mark the plan's steps QuickBooks will refuse (``action`` "refused", ``reason`` why and what to do), in the
    order a refusal leads to the next: a kept payment keeps its invoice, a kept transaction its customer."""
    _deposited_payments(port, plan)
    links = _RunLinks(session, run.company_key)
    _invoices_paid_by_kept_payments(links, plan)
    _customers_in_use(links, plan)
    _items_in_use(links, plan)
    plan.refused = [s for s in plan.steps if s.action == "refused"]
    plan.steps = [s for s in plan.steps if s.action != "refused"]


DESKTOP_DEPOSITS = "in QuickBooks (Banking > Make Deposits)"
"""Where a person changes a deposit in QuickBooks Desktop; a port elsewhere says its own (``deposits_window``)."""


def deposits_window(port: BooksPort | None) -> str:
    """Where, in the port's QuickBooks, a person opens a deposit to take a payment out of it (words for advice):
    the port's ``deposits_window``, else Desktop's :data:`DESKTOP_DEPOSITS` (also with no port: the Web
    Connector)."""
    return str(getattr(port, "deposits_window", "") or DESKTOP_DEPOSITS)


def _deposited_payments(port: BooksPort, plan: Any) -> None:
    payments = [s for s in plan.steps if s.kind == Kind.PAYMENT.value]
    if not payments:
        return
    held = port.deposits_holding([s.remote_id for s in payments], EARLIEST)
    corrected_in = {s.remote_id for s in plan.cannot if s.kind == Kind.DEPOSIT.value}
    for step in payments:
        deposit = held.get(step.remote_id)
        if deposit is None:
            continue
        where = f"the deposit of {deposit.date} to {deposit.account_name} ({deposit.total})"
        window = deposits_window(port)
        verb = "delete" if step.action == "delete" else "change"
        if deposit.txn_id in corrected_in:  # the run took it out of the deposit, changed it and put it back
            step.action, step.reason = "refused", (
                f"the run corrected it inside {where} (took it out, changed it, put it back); QuickBooks refuses to "
                f"{verb} a deposited payment and the undo does not change deposits: take the payment out of that "
                f"deposit {window}, run the undo again, then put it back in the deposit")
        else:
            step.action, step.reason = "refused", (
                f"it is in {where}, and QuickBooks refuses to {verb} a deposited payment; take it out of that deposit "
                f"{window}, then run the undo again")


class _RunLinks:
    """The company's links, to tell which billing records are in QuickBooks and as what."""

    def __init__(self, session: Session, company_key: str) -> None:
        self.session = session
        self.by_local = {(link.kind, link.local_id): link for link in session.scalars(
            select(Link).where(Link.company_key == company_key))}

    def in_quickbooks(self, kind: str, local_id: int | None) -> Link | None:
        return self.by_local.get((kind, local_id)) if local_id is not None else None


def _kept(plan: Any) -> set[str]:
    """The ListIDs/TxnIDs the undo sends (deletes and restores) are not kept; every other record stays."""
    return {s.remote_id for s in plan.steps if s.action in ("delete", "deactivate")}


def _invoices_paid_by_kept_payments(links: _RunLinks, plan: Any) -> None:
    deleted = _kept(plan)
    for step in plan.steps:
        if step.kind != Kind.INVOICE.value or step.action != "delete":
            continue
        for app in links.session.scalars(select(Application).where(Application.invoice_id == step.local_id)):
            for kind, local_id in ((Kind.PAYMENT.value, app.payment_id), (Kind.CREDIT_MEMO.value, app.credit_memo_id)):
                link = links.in_quickbooks(kind, local_id)
                if link is not None and link.remote_id not in deleted:
                    step.action, step.reason = "refused", (
                        f"{record_words(kind, link.local_key)} is applied to it and the undo keeps it, and "
                        "QuickBooks refuses to delete an invoice with payments or credits applied; delete that "
                        f"{Kind(kind).label} in QuickBooks (or leave the invoice), then run the undo again")
                    break
            if step.action == "refused":
                break


def _customers_in_use(links: _RunLinks, plan: Any) -> None:
    deleted = _kept(plan)
    for step in plan.steps:
        if step.kind != Kind.CUSTOMER.value or step.action not in ("delete", "deactivate"):
            continue
        for kind, model in ((Kind.INVOICE.value, Invoice), (Kind.CREDIT_MEMO.value, CreditMemo),
                            (Kind.PAYMENT.value, Payment)):
            ids = links.session.scalars(select(model.id).where(model.member_id == step.local_id))
            used = next((link for link in (links.in_quickbooks(kind, i) for i in ids)
                         if link is not None and link.remote_id not in deleted), None)
            if used is not None:
                step.action, step.reason = "refused", f"{record_words(kind, used.local_key)} " + (
                    IN_USE_INACTIVE if step.action == "deactivate" else IN_USE)
                break


ITEM_IN_USE = ("uses this item and stays in QuickBooks, and QuickBooks refuses to delete an item that is used; leave the "
               "item, or delete its transactions in QuickBooks and run the undo again")


def _items_in_use(links: _RunLinks, plan: Any) -> None:
    """An item the run added (its ``local_id`` is the G/L account) that a kept invoice or credit memo uses."""
    deleted = _kept(plan)
    for step in plan.steps:
        if step.kind != Kind.ITEM.value or step.action != "delete":
            continue
        for kind, line, parent in ((Kind.INVOICE.value, InvoiceLine, InvoiceLine.invoice_id),
                                   (Kind.CREDIT_MEMO.value, CreditMemoLine, CreditMemoLine.credit_memo_id)):
            ids = links.session.scalars(select(parent).where(line.gl_account_id == step.local_id).distinct())
            used = next((link for link in (links.in_quickbooks(kind, i) for i in ids)
                         if link is not None and link.remote_id not in deleted), None)
            if used is not None:
                step.action, step.reason = "refused", f"{record_words(kind, used.local_key)} {ITEM_IN_USE}"
                break
