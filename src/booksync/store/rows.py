"""Light, read-only copies of billing rows for planning many records at once.

A full sync plans every invoice, credit memo and payment of the history. As SQLAlchemy ORM
objects they cost ~20 µs and ~1 KB each (identity map, instance state, collections); these
slotted records are filled from plain Core rows in a few queries and carry the same attribute
names the planner reads (docs/performance.md finding 2). They are never written back: changes
go through the ORM models in :mod:`booksync.store.models`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from .models import Application, CreditMemo, CreditMemoLine, Invoice, InvoiceLine, Link, Payment

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


__all__ = ["SaleRow", "LineRow", "PaymentRow", "ApplicationRow", "TargetRow", "unlinked_sales",
           "unlinked_payments"]
