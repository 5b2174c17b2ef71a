"""What a run reads from QuickBooks beyond the snapshot, and only what it needs: the customers and names of the
members it bills or changes (:func:`read_customers`), the current versions of the records it may correct
(:func:`read_versions`), the deposits holding payments it may correct (:func:`read_deposits`)."""
from __future__ import annotations

import json
from typing import Any

from booksync.books.port import BooksPort
from booksync.domain import Kind, QBSnapshot
from booksync.sync.corrections import Remote
from booksync.sync.customers import customers_needed
from booksync.sync.options import Interaction
from booksync.sync.work import Work

READING_CUSTOMERS = "Reading QuickBooks customers"
"""Progress phase of :func:`read_customers`: the customers the run needs."""


def read_customers(port: BooksPort, ui: Interaction, work: Work, snapshot: QBSnapshot) -> None:
    """Complete a snapshot read without customers (``snapshot(customers=False)``) with the customers and
    other names this run needs (:func:`booksync.sync.customers.customers_needed`): a sync of ten changes
    reads ten customers, not the tens of thousands a large association has."""
    if snapshot.complete:
        return
    ui.progress(READING_CUSTOMERS, 0, 1)
    ids, names = customers_needed(work, port.limits)
    snapshot.customers, snapshot.other_names = port.find_customers(sorted(ids), sorted(names))
    ui.progress(READING_CUSTOMERS, 1, 1)


def read_deposits(port: BooksPort, work: Work) -> dict[str, Any]:
    """The QuickBooks deposits holding payments and sales receipts that may be corrected (read only when there are some), and
    those holding booksync's placeholder lines (:func:`booksync.sync.load.find_held_payments`), by payment TxnID."""
    payments = work.changed_payments + work.deleted_payments + work.linked_payments_touching + work.changed_receipts
    keys = [(Kind.PAYMENT.value, p.id) for p in work.changed_payments + work.deleted_payments
            + work.linked_payments_touching] + [(Kind.SALES_RECEIPT.value, r.id) for r in work.changed_receipts]
    links = [work.links[key] for key in keys if key in work.links]
    ids = [link.remote_id for link in links]
    if not ids:
        return dict(work.held_deposits)
    # A deposit is dated on or after the payments it holds as QuickBooks has them (the dates written), which a
    # date correction may move past the deposit's date.
    dates = [p.date.isoformat() for p in payments]
    dates += [json.loads(link.written).get("date") or dates[0] for link in links if link.written]
    return {**work.held_deposits, **port.deposits_holding(ids, min(dates))}


def read_versions(port: BooksPort, work: Work, snapshot: Any) -> dict[tuple[str, int], Remote]:
    """Re-read, from QuickBooks, the current version of every linked record a correction may touch."""
    out: dict[tuple[str, int], Remote] = {}
    customers = {c.list_id: c for c in snapshot.customers}
    for member in work.changed_members:
        link = work.links.get((Kind.CUSTOMER.value, member.id))
        if link is not None:
            c = customers.get(link.remote_id)
            out[(Kind.CUSTOMER.value, member.id)] = Remote(c.edit_sequence if c else "", exists=c is not None)
    groups = ((Kind.INVOICE, work.changed_invoices), (Kind.CREDIT_MEMO, work.changed_credit_memos),
              (Kind.SALES_RECEIPT, work.changed_receipts), (Kind.PAYMENT, work.changed_payments + work.deleted_payments + work.linked_payments_touching))
    for kind, records in groups:
        ids = {work.links[(kind.value, r.id)].remote_id: r.id for r in records
               if (kind.value, r.id) in work.links}
        found = port.transactions(kind.value, list(ids)) if ids else {}
        for remote_id, local_id in ids.items():
            txn = found.get(remote_id)
            out[(kind.value, local_id)] = (Remote(txn.edit_sequence, txn.total, txn.date) if txn
                                           else Remote("", exists=False))
    return out
