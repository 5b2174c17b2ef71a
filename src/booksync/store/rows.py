"""Light, read-only copies of billing rows for planning many records at once.

A full sync plans every invoice, credit memo and payment of the history. As SQLAlchemy ORM
objects they cost ~20 µs and ~1 KB each (identity map, instance state, collections); these
slotted records are filled from plain Core rows in a few queries and carry the same attribute
names the planner reads (docs/performance.md finding 2). They are never written back: changes
go through the ORM models in :mod:`booksync.store.models`.
"""
from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Iterator

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from booksync.store.models import (Application, CreditMemo, CreditMemoLine, Invoice, InvoiceLine, Link, Member, Payment,
                                   SalesReceipt, SalesReceiptLine)

CHUNK = 500
"""Ids per IN list (well below SQLite's and PostgreSQL's parameter limits)."""


@dataclass(slots=True)
class LineRow:
    id: int
    seq: int
    gl_account_id: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(slots=True)
class SaleRow:
    """An invoice or credit memo with its lines (ordered by ``seq``)."""

    id: int
    number: str
    member_id: int
    date: dt.date
    due_date: dt.date | None
    memo: str
    status: str
    updated_at: dt.datetime
    lines: list[LineRow] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(slots=True)
class ReceiptRow:
    """A sales receipt with its lines (ordered by ``seq``)."""

    id: int
    number: str
    member_id: int
    date: dt.date
    method: str
    reference: str
    deposit_account_id: int
    memo: str
    status: str
    updated_at: dt.datetime
    lines: list[LineRow] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(slots=True)
class TargetRow:
    """What a payment's application needs of the invoice or credit memo it names."""

    number: str
    status: str


@dataclass(slots=True)
class ApplicationRow:
    id: int
    seq: int
    invoice_id: int
    amount: Decimal
    credit_memo_id: int | None
    credit_amount: Decimal
    invoice: TargetRow
    credit_memo: TargetRow | None


@dataclass(slots=True)
class PaymentRow:
    """A payment with its applications (ordered by ``seq``)."""

    id: int
    number: str
    member_id: int
    date: dt.date
    amount: Decimal
    method: str
    reference: str
    deposit_account_id: int
    memo: str
    status: str
    updated_at: dt.datetime
    applications: list[ApplicationRow] = field(default_factory=list)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _unlinked(model: Any, company_key: str, kind: str) -> Select:
    return (select(model.id).outerjoin(Link, and_(Link.company_key == company_key, Link.kind == kind,
                                                  Link.local_id == model.id))
            .where(Link.id.is_(None), model.status == "open"))


def unlinked_sales(session: Session, kind: str, company_key: str, candidates: list[int] | None) -> list[SaleRow]:
    """Open invoices (``kind`` "invoice") or credit memos ("credit_memo") with no link to the company,
    among ``candidates`` (ids) or all of them when None; ordered by id, lines by seq."""
    model, line_model = (Invoice, InvoiceLine) if kind == "invoice" else (CreditMemo, CreditMemoLine)
    parent = line_model.invoice_id if kind == "invoice" else line_model.credit_memo_id
    table, lines = model.__table__, line_model.__table__
    heads_sql = select(table.c.id, table.c.number, table.c.member_id, table.c.date, table.c.due_date,
                       table.c.memo, table.c.status, table.c.updated_at)
    lines_sql = select(parent, lines.c.id, lines.c.seq, lines.c.gl_account_id, lines.c.description,
                       lines.c.quantity, lines.c.rate, lines.c.amount)
    wanted = _unlinked(model, company_key, kind)
    out: dict[int, SaleRow] = {}
    if candidates is None:
        selections = [(heads_sql.where(table.c.id.in_(wanted)), lines_sql.where(parent.in_(wanted)))]
    else:
        selections = [(heads_sql.where(table.c.id.in_(wanted.where(model.id.in_(chunk)))),
                       lines_sql.where(parent.in_(wanted.where(model.id.in_(chunk))))) for chunk in _chunks(candidates)]
    for heads, line_rows in selections:
        for row in session.execute(heads.order_by(table.c.id)):
            out[row[0]] = SaleRow(*row)
        for row in session.execute(line_rows.order_by(parent, lines.c.seq)):
            out[row[0]].lines.append(LineRow(*row[1:]))
    return sorted(out.values(), key=lambda r: r.id)


def unlinked_receipts(session: Session, company_key: str, candidates: list[int]) -> list[ReceiptRow]:
    """Open sales receipts with no link to the company among ``candidates`` (ids); ordered by id, lines by seq."""
    table, lines = SalesReceipt.__table__, SalesReceiptLine.__table__
    parent = lines.c.sales_receipt_id
    heads_sql = select(*(table.c[name] for name in ReceiptRow.__slots__ if name != "lines"))
    lines_sql = select(parent, lines.c.id, lines.c.seq, lines.c.gl_account_id, lines.c.description,
                       lines.c.quantity, lines.c.rate, lines.c.amount)
    wanted = _unlinked(SalesReceipt, company_key, "sales_receipt")
    out: dict[int, ReceiptRow] = {}
    for chunk in _chunks(candidates):
        ids = wanted.where(SalesReceipt.id.in_(chunk))
        for row in session.execute(heads_sql.where(table.c.id.in_(ids)).order_by(table.c.id)):
            out[row[0]] = ReceiptRow(*row)
        for row in session.execute(lines_sql.where(parent.in_(ids)).order_by(parent, lines.c.seq)):
            out[row[0]].lines.append(LineRow(*row[1:]))
    return sorted(out.values(), key=lambda r: r.id)


def unlinked_payments(session: Session, company_key: str, candidates: list[int] | None) -> list[PaymentRow]:
    """Open payments with no link to the company, among ``candidates`` or all; with their applications
    and the number and status of each invoice and credit memo they apply to."""
    table, apps = Payment.__table__, Application.__table__
    invoices, memos = Invoice.__table__, CreditMemo.__table__
    heads_sql = select(table.c.id, table.c.number, table.c.member_id, table.c.date, table.c.amount, table.c.method,
                       table.c.reference, table.c.deposit_account_id, table.c.memo, table.c.status,
                       table.c.updated_at)
    apps_sql = (select(apps.c.payment_id, apps.c.id, apps.c.seq, apps.c.invoice_id, apps.c.amount,
                       apps.c.credit_memo_id, apps.c.credit_amount, invoices.c.number, invoices.c.status,
                       memos.c.number, memos.c.status)
                .join(invoices, invoices.c.id == apps.c.invoice_id)
                .outerjoin(memos, memos.c.id == apps.c.credit_memo_id))
    wanted = _unlinked(Payment, company_key, "payment")
    if candidates is None:
        selections = [(heads_sql.where(table.c.id.in_(wanted)), apps_sql.where(apps.c.payment_id.in_(wanted)))]
    else:
        selections = [(heads_sql.where(table.c.id.in_(wanted.where(Payment.id.in_(chunk)))),
                       apps_sql.where(apps.c.payment_id.in_(wanted.where(Payment.id.in_(chunk)))))
                      for chunk in _chunks(candidates)]
    out: dict[int, PaymentRow] = {}
    for heads, app_rows in selections:
        for row in session.execute(heads.order_by(table.c.id)):
            out[row[0]] = PaymentRow(*row)
        for row in session.execute(app_rows.order_by(apps.c.payment_id, apps.c.seq)):
            memo = TargetRow(row[9], row[10]) if row[5] is not None else None
            out[row[0]].applications.append(ApplicationRow(row[1], row[2], row[3], row[4], row[5], row[6],
                                                           TargetRow(row[7], row[8]), memo))
    return sorted(out.values(), key=lambda p: p.id)


@dataclass(slots=True)
class MemberRow:
    """A member as planning reads it (every column of ``members``)."""

    id: int
    number: str
    name: str
    company: str
    contact_first: str
    contact_last: str
    address1: str
    address2: str
    city: str
    state: str
    postal_code: str
    email: str
    phone: str
    status: str
    qb_customer: str
    created_at: dt.datetime
    updated_at: dt.datetime


def members(session: Session, ids: Iterable[int]) -> dict[int, MemberRow]:
    """The members with these ids, as light rows, by id (a first sync of a large association bills tens of
    thousands; as ORM objects they cost ~2.5 KB each)."""
    table = Member.__table__
    columns = [table.c[name] for name in MemberRow.__slots__]
    out: dict[int, MemberRow] = {}
    for chunk in _chunks(sorted(ids)):
        out.update({row[0]: MemberRow(*row) for row in session.execute(select(*columns).where(table.c.id.in_(chunk)))})
    return out


@dataclass(slots=True)
class LinkRow:
    """What planning needs of a link: the ListID/TxnID of the record in QuickBooks."""

    remote_id: str


PART = 2000
"""Records per part when the records to add are read part by part (``BOOKSYNC_PLAN_PART`` overrides it;
the tests set a small value so that every run crosses parts)."""
FEW = 20_000
"""Up to this many change candidates of a kind, the records to add are found among them by id and sorted in
Python; beyond, by one ordered query over every record not in QuickBooks (filtered by the candidates)."""
_SALES_AND_PAYMENTS = (("invoice", Invoice), ("credit_memo", CreditMemo), ("sales_receipt", SalesReceipt),
                       ("payment", Payment))
_LINES = (("invoice", InvoiceLine, InvoiceLine.invoice_id), ("credit_memo", CreditMemoLine, CreditMemoLine.credit_memo_id),
          ("sales_receipt", SalesReceiptLine, SalesReceiptLine.sales_receipt_id))
_DEPOSITED = (("sales_receipt", SalesReceipt), ("payment", Payment))


class AddsSource:
    """The records a run adds to QuickBooks — open invoices, credit memos, sales receipts and payments with no
    link to the company — read from the billing store part by part, in the plan's order, instead of held whole.

    Only their ids are held (8 bytes each, in the plan's order: sales by date, number and id, payments by
    date, number and id); rows are loaded a part at a time, and what the checks need of all of them (members
    billed, accounts used, payment methods) is asked of the database. A full sync of a million transactions
    then fits in a few hundred megabytes (docs/performance.md, "Streaming a full sync").

    ``candidates`` (kind → ids) limits the records to those the change marks name; None looks at all.
    """

    def __init__(self, session: Session, company_key: str, candidates: dict[str, list[int]] | None,
                 part: int = PART) -> None:
        self.session, self.company_key, self.part = session, company_key, max(1, part)
        self.everything = candidates is None
        postgres = session.get_bind().dialect.name == "postgresql"
        self.ids: dict[str, array] = {}
        for kind, model in _SALES_AND_PAYMENTS:
            ids = array("q")
            # Counted per kind: members re-examined after a mass customer creation are no reason to scan sales.
            if candidates is not None and len(candidates.get(kind) or ()) <= FEW:
                # The usual incremental run: look only at the candidates, sort them here.
                found: list[tuple[Any, ...]] = []
                for chunk in _chunks(sorted(candidates.get(kind) or ())):
                    found += session.execute(
                        select(model.date, model.number, model.id)
                        .outerjoin(Link, and_(Link.company_key == company_key, Link.kind == kind,
                                              Link.local_id == model.id))
                        .where(Link.id.is_(None), model.status == "open", model.id.in_(chunk))).all()
                ids.extend(local_id for _, _, local_id in sorted(found))
            else:
                # Byte order for numbers (C collation on PostgreSQL): the same order as Python's sort of str.
                number = model.number.collate("C") if postgres else model.number
                stmt = (select(model.id).where(model.id.in_(_unlinked(model, company_key, kind)))
                        .order_by(model.date, number, model.id))
                wanted = None if candidates is None else set(candidates.get(kind) or ())
                # Through the connection: rows stream from the cursor (an ORM execution buffers them all).
                for (local_id,) in session.connection().execute(stmt):
                    if wanted is None or local_id in wanted:
                        ids.append(local_id)
            self.ids[kind] = ids

    def count(self, kind: str) -> int:
        return len(self.ids[kind])

    def _filters(self, kind: str, column: Any) -> Iterator[Any]:
        """WHERE clauses selecting this kind's records to add through ``column`` (their id or a foreign key
        to it): one subquery when every record is looked at, else IN lists of ids."""
        if not self.ids[kind]:
            return
        if self.everything:
            model = dict(_SALES_AND_PAYMENTS)[kind]
            yield column.in_(_unlinked(model, self.company_key, kind))
            return
        for chunk in _chunks(sorted(self.ids[kind])):
            yield column.in_(chunk)

    def drop_members(self, member_ids: set[int]) -> int:
        """Leave out the records billing one of ``member_ids`` (held back by the run); returns how many."""
        dropped = 0
        for kind, model in _SALES_AND_PAYMENTS:
            drop: set[int] = set()
            for where in self._filters(kind, model.id):
                for chunk in _chunks(sorted(member_ids)):
                    drop.update(self.session.scalars(select(model.id).where(where, model.member_id.in_(chunk))))
            if drop:
                self.ids[kind] = array("q", (i for i in self.ids[kind] if i not in drop))
                dropped += len(drop)
        if dropped:
            self.everything = False  # the filters must now name the ids kept
        return dropped

    def member_ids(self) -> set[int]:
        """The members these records bill."""
        out: set[int] = set()
        for kind, model in _SALES_AND_PAYMENTS:
            for where in self._filters(kind, model.id):
                out.update(self.session.scalars(select(model.member_id).where(where).distinct()))
        return out

    def line_accounts(self) -> dict[int, int]:
        """G/L account id → number of lines of the invoices, credit memos and sales receipts to add that use it."""
        out: dict[int, int] = {}
        for kind, lines, parent in _LINES:
            for where in self._filters(kind, parent):
                stmt = select(lines.gl_account_id, func.count()).where(where).group_by(lines.gl_account_id)
                for gl_id, n in self.session.execute(stmt):
                    out[gl_id] = out.get(gl_id, 0) + n
        return out

    def deposit_accounts(self) -> dict[int, int]:
        """G/L account id → number of payments and sales receipts to add that deposit to it."""
        out: dict[int, int] = {}
        for kind, model in _DEPOSITED:
            for where in self._filters(kind, model.id):
                stmt = select(model.deposit_account_id, func.count()).where(where).group_by(model.deposit_account_id)
                for gl_id, n in self.session.execute(stmt):
                    out[gl_id] = out.get(gl_id, 0) + n
        return out

    def methods(self) -> set[str]:
        """The payment methods of the payments and sales receipts to add."""
        out: set[str] = set()
        for kind, model in _DEPOSITED:
            for where in self._filters(kind, model.id):
                out.update(self.session.scalars(select(model.method).where(where).distinct()))
        return out

    def receipts_depositing_to(self, gl_ids: set[int]) -> list[ReceiptRow]:
        """The sales receipts to add that deposit to one of ``gl_ids``, with their lines."""
        ids: list[int] = []
        for where in self._filters("sales_receipt", SalesReceipt.id):
            ids.extend(self.session.scalars(select(SalesReceipt.id).where(
                where, SalesReceipt.deposit_account_id.in_(sorted(gl_ids)))))
        return unlinked_receipts(self.session, self.company_key, sorted(ids)) if ids else []

    def receipt_parts(self) -> Iterator[list[ReceiptRow]]:
        """The sales receipts to add, a part at a time, in the plan's order (date, number, id)."""
        ids = self.ids["sales_receipt"]
        for start in range(0, len(ids), self.part):
            part = ids[start:start + self.part].tolist()
            found = {r.id: r for r in unlinked_receipts(self.session, self.company_key, part)}
            yield [found[i] for i in part if i in found]

    def _payments_where(self, condition: Any) -> list[PaymentRow]:
        ids: list[int] = []
        for where in self._filters("payment", Payment.id):
            ids.extend(self.session.scalars(select(Payment.id).where(where, condition)))
        return unlinked_payments(self.session, self.company_key, sorted(ids)) if ids else []

    def payments_depositing_to(self, gl_ids: set[int]) -> list[PaymentRow]:
        """The payments to add that deposit to one of ``gl_ids``, with their applications."""
        return self._payments_where(Payment.deposit_account_id.in_(sorted(gl_ids)))

    def payments_applying_to(self, invoice_ids: set[int]) -> list[PaymentRow]:
        """The payments to add that apply to one of ``invoice_ids``, with their applications."""
        touching: list[int] = []
        for chunk in _chunks(sorted(invoice_ids)):
            touching.extend(self.session.scalars(select(Application.payment_id).where(
                Application.invoice_id.in_(chunk))))
        return [p for chunk in _chunks(sorted(set(touching)))
                for p in self._payments_where(Payment.id.in_(chunk))]

    def sales_parts(self) -> Iterator[list[tuple[str, SaleRow]]]:
        """The invoices, then the credit memos, to add, a part at a time, in the plan's order."""
        for kind in ("invoice", "credit_memo"):
            ids = self.ids[kind]
            for start in range(0, len(ids), self.part):
                part = ids[start:start + self.part].tolist()
                found = {r.id: r for r in unlinked_sales(self.session, kind, self.company_key, part)}
                yield [(kind, found[i]) for i in part if i in found]

    def payment_parts(self) -> Iterator[tuple[list[PaymentRow], dict[tuple[str, int], LinkRow]]]:
        """The payments to add, a part at a time, in the plan's order; each part with the links of the
        invoices and credit memos it applies to that are in QuickBooks already."""
        ids = self.ids["payment"]
        for start in range(0, len(ids), self.part):
            part = ids[start:start + self.part].tolist()
            found = {p.id: p for p in unlinked_payments(self.session, self.company_key, part)}
            payments = [found[i] for i in part if i in found]
            targets: dict[str, set[int]] = {"invoice": set(), "credit_memo": set()}
            for p in payments:
                for app in p.applications:
                    targets["invoice"].add(app.invoice_id)
                    if app.credit_memo_id is not None:
                        targets["credit_memo"].add(app.credit_memo_id)
            links: dict[tuple[str, int], LinkRow] = {}
            for kind, local_ids in targets.items():
                for chunk in _chunks(sorted(local_ids)):
                    stmt = select(Link.local_id, Link.remote_id).where(
                        Link.company_key == self.company_key, Link.kind == kind, Link.local_id.in_(chunk))
                    links.update({(kind, local_id): LinkRow(remote_id) for local_id, remote_id in
                                  self.session.execute(stmt)})
            yield payments, links


__all__ = ["AddsSource", "LinkRow", "MemberRow", "members", "SaleRow", "LineRow", "PaymentRow", "ApplicationRow",
           "ReceiptRow", "TargetRow", "unlinked_sales", "unlinked_payments", "unlinked_receipts"]
