"""Invoices and credit memos: one row per line, the record's columns repeated on each of its rows. Lines
post to income G/L accounts; quantity × rate = amount (the missing one computed); a given total must be the
lines' sum; a record re-imported must stay at least as large as what payments apply to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Callable

from sqlalchemy.orm import Session, selectinload

from booksync import kinds
from booksync.fields import amount_problem, quantity_problem, sales_total_problem
from booksync.sources.checks.common import (Records, applied_in_store, by_number, count, present, receipts,
                                            replace_lines)
from booksync.sources.layouts import Row
from booksync.sources.report import ImportResult
from booksync.sources.values import BAD, CENT, ZERO, Reader, canonical_quantity, ok
from booksync.store import models
from booksync.store.models import Application, GLAccount, Invoice, Member
from booksync.store.write import assign, touch

INCOME_TYPES = ("Income", "OtherIncome")
"""G/L account types an invoice or credit memo line normally posts to; others are imported with a warning."""
REFUSED_LINE_TYPES = ("AccountsReceivable",)
"""G/L account types a line must never post to: the document itself posts to Accounts Receivable, so the
line would cancel it (debit and credit the same account)."""

Check = Callable[[Session, Reader, ImportResult], None]


@dataclass
class _Line:
    row: Row
    seq: int
    account: Any
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


def _line_amounts(reader: Reader, row: Row) -> tuple[Any, Any, Any]:
    """(quantity, rate, amount) of a line, the missing one computed; BAD when unreadable."""
    qty = reader.quantity(row, "quantity", Decimal(1))
    rate = reader.quantity(row, "rate")
    amount = reader.money(row, "amount")
    if not ok(qty, rate, amount):
        return BAD, BAD, BAD
    if amount is None and rate is None:
        reader.problem(row, "amount", "", "a line needs an amount or a rate")
        return BAD, BAD, BAD
    if amount is None:
        amount = (qty * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        problem = amount_problem(amount)
        if problem:
            reader.problem(row, "rate", row.get("rate"), f"quantity × rate = {amount}, which {problem}")
            return BAD, BAD, BAD
        return qty, rate, amount
    if rate is None:
        if qty == 0:
            if amount != 0:
                reader.problem(row, "quantity", row.get("quantity"), f"a line of quantity 0 cannot amount to "
                                                                     f"{amount}; give the rate, or quantity 1")
                return BAD, BAD, BAD
            return qty, Decimal(0), amount
        with localcontext() as ctx:
            ctx.prec = 60
            rate = (amount / qty).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
        problem = quantity_problem(rate)
        if problem:
            reader.problem(row, "amount", row.get("amount"), f"amount ÷ quantity = {rate}, a rate which {problem}")
            return BAD, BAD, BAD
        return qty, canonical_quantity(rate), amount
    expected = (qty * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    if expected != amount:
        reader.problem(row, "amount", row.get("amount"), f"quantity × rate = {qty} × {rate} = {expected}, not the "
                                                         f"amount {amount}")
        return BAD, BAD, BAD
    return qty, rate, amount




@dataclass
class _Record:
    """An invoice or credit memo as its rows give it, checked."""

    number: str
    first: Row
    member: Any
    date: Any
    due: Any
    lines: list[_Line]
    total: Decimal


def sales(kind: str) -> Check:
    """The check of ``kind`` ("invoices" or "credit-memos"): every record's rows checked, then, when the file
    has no problem, each record added or updated with its lines (its ``updated_at`` kept when nothing
    changed)."""
    spec = kinds.by_import_name(kind)
    label = spec.label
    model = getattr(models, spec.billing_model)
    line_model = model.lines.property.mapper.class_

    def run(session: Session, reader: Reader, result: ImportResult) -> None:
        records = Records(reader)
        for batch in records.batches():
            _batch(session, reader, result, model, line_model, label, batch)
        records.settle_strays(lambda row, first: _stray(session, reader, label, row))
    return run


def _batch(session: Session, reader: Reader, result: ImportResult, model: Any, line_model: Any, label: str,
           batch: list[list[Row]]) -> None:
    """Check a batch of records against the store and, while the file has no problem, write it and let it go."""
    rows = [row for record in batch for row in record]
    members = by_number(session, Member, (record[0].get("member") for record in batch))
    accounts = by_number(session, GLAccount, (r.get("gl_account") for r in rows))
    existing = by_number(session, model, (record[0].get("number") for record in batch), selectinload(model.lines))
    planned = [checked for record in batch
               if (checked := _record(reader, label, record[0].get("number"), record, members, accounts)) is not None]
    _check_applied_totals(session, reader, model, existing, planned)
    if reader.problems:
        return  # the import is refused: check the rest, write nothing more
    written = [_write(session, reader, result, model, line_model, existing.get(record.number), record)
               for record in planned]
    session.flush()
    for stored in written:  # flushed: the session need not keep them
        session.expunge(stored)


def _stray(session: Session, reader: Reader, label: str, row: Row) -> None:
    """The line of a record's row apart from its other rows (the file is refused already)."""
    _line(reader, label, row, 0, by_number(session, GLAccount, [row.get("gl_account")]))


def _record(reader: Reader, label: str, number: str, rows: list[Row], members: dict[str, Any],
            accounts: dict[str, Any]) -> _Record | None:
    """The record of ``rows`` checked, or None when a value of its could not be read (reported)."""
    first = rows[0]
    member = members.get(first.get("member"))
    if member is None:
        reader.problem(first, "member", first.get("member"), "no member has this number")
    date = reader.date(first, "date")
    due = reader.date(first, "due_date")
    given_total = reader.money(first, "total")
    if ok(date, due) and date is not None and due is not None and due < date:
        reader.warn(first, "due_date", first.get("due_date"), f"the due date is before the {label}'s date")
    lines = [_line(reader, label, row, seq, accounts) for seq, row in enumerate(rows, 1)]
    amounts = [ln.amount for ln in lines]
    if not ok(*amounts, given_total):
        return None
    total = sum(amounts, ZERO)
    if given_total is not None and given_total != total:
        reader.problem(first, "total", first.get("total"), f"the lines add up to {total}, not the total {given_total}")
    problem = sales_total_problem(label, total)
    if problem:
        reader.problem(first, "amount", "", f"{label} {number}: {problem}")
    return _Record(number, first, member, date, due, lines, total)


def _line(reader: Reader, label: str, row: Row, seq: int, accounts: dict[str, Any]) -> _Line:
    """Line ``seq`` of a record: its G/L account (income, never Accounts Receivable) and amounts."""
    account = accounts.get(row.get("gl_account"))
    if account is None:
        reader.problem(row, "gl_account", row.get("gl_account"), "no G/L account has this number")
    elif account.type in REFUSED_LINE_TYPES:
        reader.problem(row, "gl_account", row.get("gl_account"),
                       f"G/L account {account.number} {account.name} is the {account.type} account; "
                       f"{label} lines post to income accounts (the {label} itself posts to "
                       "Accounts Receivable)")
    elif account.type not in INCOME_TYPES:
        reader.warn(row, "gl_account", row.get("gl_account"),
                    f"G/L account {account.number} {account.name} is of type {account.type}, not "
                    "Income or OtherIncome; the line will post to it")
    qty, rate, amount = _line_amounts(reader, row)
    return _Line(row, seq, account, row.get("description"), qty, rate, amount)


def _write(session: Session, reader: Reader, result: ImportResult, model: Any, line_model: Any, stored: Any,
           record: _Record) -> Any:
    """Add ``record``, or update ``stored`` with it (lines replaced only when they differ)."""
    is_new = stored is None
    if is_new:
        stored = model(number=record.number)
        session.add(stored)
    changed = assign(stored, present(reader, {"member": record.member, "date": record.date,
                                              "due_date": record.due, "memo": record.first.get("memo")}, is_new))
    changed = replace_lines(session, stored, record.lines, line_model) or changed
    if changed and not is_new:
        touch(stored)
    count(result, is_new, changed)
    return stored


def _check_applied_totals(session: Session, reader: Reader, model: Any, existing: dict[str, Any],
                          planned: list[_Record]) -> None:
    """A re-imported invoice (credit memo) must stay at least as large as the payments (credits) applied
    to it: QuickBooks refuses to shrink it below that (status 3210)."""
    ids = [existing[p.number].id for p in planned if p.number in existing]
    if not ids:
        return
    is_invoice = model is Invoice
    column = Application.invoice_id if is_invoice else Application.credit_memo_id
    applied = applied_in_store(session, column, ids, set(), credit_only=not is_invoice)
    for p in planned:
        stored = existing.get(p.number)
        if stored is None or stored.id not in applied:
            continue
        amount, numbers = applied[stored.id]
        if p.total < amount:
            what = "apply" if is_invoice else "use"
            if len(numbers) == 1:
                what += "s"
            reader.problem(p.first, "amount", "", f"{receipts(numbers)} {what} {amount} of "
                                                  f"{'invoice' if is_invoice else 'credit memo'} {p.number}; its "
                                                  f"new total {p.total} would be less (QuickBooks refuses that): "
                                                  "reduce the payments' applications first")
