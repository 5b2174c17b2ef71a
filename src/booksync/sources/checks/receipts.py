"""Sales receipts: sales paid on the spot (event tickets, donations). One row per line, the receipt's columns
repeated on each of its rows, as invoices are (:mod:`.sales`): lines post to income G/L accounts, quantity × rate
= amount, a given total must be the lines' sum. Like a payment (:mod:`.payments`) a sales receipt is deposited:
to a G/L account of a deposit type (Undeposited Funds or a bank account), never an income account (the deposit
rule of :mod:`booksync.account_rules`; QuickBooks refuses another DepositToAccountRef with 3140).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, selectinload

from booksync.account_rules import DEPOSIT_GL_TYPES
from booksync.fields import receipt_total_problem
from booksync.sources.checks.common import Records, by_number, count, present, replace_lines
from booksync.sources.checks.sales import INCOME_TYPES, REFUSED_LINE_TYPES, _line_amounts
from booksync.sources.layouts import Row
from booksync.sources.report import ImportResult
from booksync.sources.values import ZERO, Reader, ok
from booksync.store.models import GLAccount, Member, SalesReceipt, SalesReceiptLine
from booksync.store.write import assign, touch


@dataclass
class _Line:
    row: Row
    seq: int
    account: Any
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


@dataclass
class _Receipt:
    """A sales receipt as its rows give it, checked."""

    number: str
    first: Row
    member: Any
    account: Any
    date: Any
    lines: list[_Line]


def sales_receipts(session: Session, reader: Reader, result: ImportResult) -> None:
    """Check every sales receipt's rows, a batch at a time; while the file has no problem, add or update each
    receipt of the batch with its lines (its ``updated_at`` kept when nothing changed)."""
    records = Records(reader)
    for batch in records.batches():
        _batch(session, reader, result, batch)
    records.settle_strays(lambda row, first: _line(reader, row, 0, by_number(session, GLAccount,
                                                                              [row.get("gl_account")])))


def _batch(session: Session, reader: Reader, result: ImportResult, batch: list[list[Row]]) -> None:
    rows = [row for record in batch for row in record]
    members = by_number(session, Member, (record[0].get("member") for record in batch))
    accounts = by_number(session, GLAccount, [r.get("gl_account") for r in rows]
                         + [record[0].get("deposit_account") for record in batch])
    existing = by_number(session, SalesReceipt, (record[0].get("number") for record in batch),
                         selectinload(SalesReceipt.lines))
    planned = [checked for record in batch
               if (checked := _receipt(reader, record, members, accounts)) is not None]
    if reader.problems:
        return  # the import is refused: check the rest, write nothing more
    written = [_write(session, reader, result, existing.get(r.number), r) for r in planned]
    session.flush()
    for stored in written:
        session.expunge(stored)


def _receipt(reader: Reader, rows: list[Row], members: dict[str, Any], accounts: dict[str, Any]) -> _Receipt | None:
    """The receipt of ``rows`` checked (member, deposit account, date, lines, total), or None when a value of
    its could not be read (reported)."""
    first = rows[0]
    number = first.get("number")
    member = members.get(first.get("member"))
    if member is None:
        reader.problem(first, "member", first.get("member"), "no member has this number")
    account = accounts.get(first.get("deposit_account"))
    if account is None:
        reader.problem(first, "deposit_account", first.get("deposit_account"), "no G/L account has this number")
    elif account.type not in DEPOSIT_GL_TYPES:
        reader.problem(first, "deposit_account", first.get("deposit_account"),
                       f"G/L account {account.number} {account.name} is of type {account.type}; a sales receipt "
                       "is deposited to a Bank or OtherCurrentAsset account (normally Undeposited Funds), its "
                       "lines post to the income accounts")
    date = reader.date(first, "date")
    given_total = reader.money(first, "total")
    lines = [_line(reader, row, seq, accounts) for seq, row in enumerate(rows, 1)]
    amounts = [ln.amount for ln in lines]
    if not ok(*amounts, given_total):
        return None
    total = sum(amounts, ZERO)
    if given_total is not None and given_total != total:
        reader.problem(first, "total", first.get("total"), f"the lines add up to {total}, not the total {given_total}")
    problem = receipt_total_problem(total)
    if problem:
        reader.problem(first, "amount", "", f"sales receipt {number}: {problem}")
    return _Receipt(number, first, member, account, date, lines)


def _line(reader: Reader, row: Row, seq: int, accounts: dict[str, Any]) -> _Line:
    """Line ``seq``: its G/L account (income; never Accounts Receivable, which a paid sale does not touch) and
    amounts."""
    account = accounts.get(row.get("gl_account"))
    if account is None:
        reader.problem(row, "gl_account", row.get("gl_account"), "no G/L account has this number")
    elif account.type in REFUSED_LINE_TYPES or account.type in DEPOSIT_GL_TYPES:
        reader.problem(row, "gl_account", row.get("gl_account"),
                       f"G/L account {account.number} {account.name} is of type {account.type}; sales receipt "
                       "lines post to income accounts (the money received goes to the deposit_account)")
    elif account.type not in INCOME_TYPES:
        reader.warn(row, "gl_account", row.get("gl_account"),
                    f"G/L account {account.number} {account.name} is of type {account.type}, not "
                    "Income or OtherIncome; the line will post to it")
    qty, rate, amount = _line_amounts(reader, row)
    return _Line(row, seq, account, row.get("description"), qty, rate, amount)


def _write(session: Session, reader: Reader, result: ImportResult, stored: Any, receipt: _Receipt) -> Any:
    """Add ``receipt``, or update ``stored`` with it (lines replaced only when they differ)."""
    is_new = stored is None
    if is_new:
        stored = SalesReceipt(number=receipt.number)
        session.add(stored)
    first = receipt.first
    changed = assign(stored, present(reader, {
        "member": receipt.member, "date": receipt.date, "method": first.get("method"),
        "reference": first.get("reference"), "deposit_account": receipt.account, "memo": first.get("memo")},
        is_new, deposit_account="deposit_account"))
    changed = replace_lines(session, stored, receipt.lines, SalesReceiptLine) or changed
    if changed and not is_new:
        touch(stored)
    count(result, is_new, changed)
    return stored
