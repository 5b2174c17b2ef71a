"""Payments: one row per application (to an invoice, with cash and/or a credit memo's credit), the payment's
columns repeated on each of its rows. A payment deposits to a Bank or Other Current Asset account; its
applications go to open invoices and credit memos of its own member, within the payment's amount and within
what is left of each invoice and credit memo, counting the other open payments in the store.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, selectinload

from booksync.account_rules import DEPOSIT_GL_TYPES, type_words
from booksync.fields import payment_total_problem
from booksync.sources.checks.common import Records, applied_in_store, by_number, count, present, receipts
from booksync.sources.layouts import Row, Table
from booksync.sources.report import ImportResult, Problems
from booksync.sources.values import BAD, ZERO, Reader, ok
from booksync.store.models import Application, CreditMemo, GLAccount, Invoice, Member, Payment
from booksync.store.write import assign, touch

DEPOSIT_TYPES = DEPOSIT_GL_TYPES
"""G/L account types a payment may deposit to (QuickBooks refuses others with 3140; reference §7): the deposit
rule of :mod:`booksync.account_rules`."""


@dataclass
class _App:
    row: Row
    seq: int
    invoice: Any
    cash: Any
    memo: Any
    credit: Any


@dataclass
class _Payment:
    """A payment as its rows give it, checked."""

    number: str
    first: Row
    member: Any
    account: Any
    date: Any
    amount: Any
    apps: list[_App]


def payments(session: Session, reader: Reader, result: ImportResult) -> None:
    """Check every payment's rows, then the applications against the balances in the store, a batch of
    payments at a time; while the file has no problem, add or update each payment of the batch with its
    applications (its ``updated_at`` kept when nothing changed). What the store's other payments apply is
    counted without the payments the file holds (read first: :func:`_file_receipts`), so that writing a batch
    does not change what the next one is checked against."""
    balances = _Balances(_file_receipts(reader))
    records = Records(reader)
    for batch in records.batches():
        _batch(session, reader, result, balances, batch)
    records.settle_strays(lambda row, first: _stray(session, reader, row, first))


def _file_receipts(reader: Reader) -> set[str]:
    """The numbers of the payments the file holds (rows whose text is acceptable), from a first reading."""
    table = reader.table
    if table.again is None:
        raise ValueError("a payments table must be readable twice (Table.again)")
    quiet = Reader(Table(table.file, table.kind, table.columns, (), table.read_as, Problems(table.file)),
                   reader.options)
    return {row.get("number") for row in table.again() if quiet.check_text(row)}


def _batch(session: Session, reader: Reader, result: ImportResult, balances: _Balances,
           batch: list[list[Row]]) -> None:
    """Check a batch of payments against the store and, while the file has no problem, write it and let it go."""
    rows = [row for record in batch for row in record]
    members = by_number(session, Member, (record[0].get("member") for record in batch))
    accounts = by_number(session, GLAccount, (record[0].get("deposit_account") for record in batch))
    invoices = by_number(session, Invoice, (r.get("apply_to") for r in rows), selectinload(Invoice.lines),
                         selectinload(Invoice.member))
    memos = by_number(session, CreditMemo, (r.get("apply_credit_memo") for r in rows),
                      selectinload(CreditMemo.lines), selectinload(CreditMemo.member))
    existing = by_number(session, Payment, (record[0].get("number") for record in batch),
                         selectinload(Payment.applications))
    planned = [_payment(reader, record[0].get("number"), record, members, accounts, invoices, memos)
               for record in batch]
    _check_balances(session, reader, planned, balances)
    if reader.problems:
        return  # the import is refused: check the rest, write nothing more
    written = [_write(session, reader, result, existing.get(payment.number), payment) for payment in planned]
    session.flush()
    for stored in written:  # flushed: the session need not keep them
        session.expunge(stored)


def _stray(session: Session, reader: Reader, row: Row, first: Row) -> None:
    """The application of a payment's row apart from its other rows (the file is refused already)."""
    member = by_number(session, Member, [first.get("member")]).get(first.get("member"))
    invoices = by_number(session, Invoice, [row.get("apply_to")], selectinload(Invoice.member))
    memos = by_number(session, CreditMemo, [row.get("apply_credit_memo")], selectinload(CreditMemo.member))
    _application(reader, row, 0, member, invoices, memos)


def _payment(reader: Reader, number: str, rows: list[Row], members: dict[str, Any], accounts: dict[str, Any],
             invoices: dict[str, Any], memos: dict[str, Any]) -> _Payment:
    """The payment of ``rows`` checked: member, deposit account, date, amount and applications."""
    first = rows[0]
    member = members.get(first.get("member"))
    if member is None:
        reader.problem(first, "member", first.get("member"), "no member has this number")
    account = accounts.get(first.get("deposit_account"))
    if account is None:
        reader.problem(first, "deposit_account", first.get("deposit_account"), "no G/L account has this number")
    elif account.type not in DEPOSIT_TYPES:
        reader.problem(first, "deposit_account", first.get("deposit_account"),
                       f"G/L account {account.number} {account.name} is of type {type_words(account.type)}; a "
                       "payment is deposited to a Bank or Other Current Asset account (normally Undeposited Funds)")
    date = reader.date(first, "date")
    amount = reader.money(first, "amount")
    apps = [app for seq, row in enumerate(rows, 1)
            if (app := _application(reader, row, seq, member, invoices, memos)) is not None]
    if ok(amount) and amount is not None and all(ok(a.cash, a.credit) for a in apps):
        problem = payment_total_problem(amount, any(a.credit or a.row.get("apply_credit_memo") for a in apps))
        if problem:
            reader.problem(first, "amount", first.get("amount"), problem)
        cash = sum((a.cash for a in apps), ZERO)
        if cash > amount and not problem:
            reader.problem(first, "apply_amount", "", f"the amounts applied ({cash}) exceed the payment's "
                                                      f"amount {amount}")
    return _Payment(number, first, member, account, date, amount, apps)


def _write(session: Session, reader: Reader, result: ImportResult, stored: Any, payment: _Payment) -> Any:
    """Add ``payment``, or update ``stored`` with it (applications replaced only when they differ)."""
    is_new = stored is None
    if is_new:
        stored = Payment(number=payment.number)
        session.add(stored)
    first = payment.first
    changed = assign(stored, present(reader, {
        "member": payment.member, "date": payment.date, "amount": payment.amount, "method": first.get("method"),
        "reference": first.get("reference"), "deposit_account": payment.account, "memo": first.get("memo")},
        is_new, deposit_account="deposit_account"))
    new_apps = [(a.invoice.id, a.cash, a.memo.id if a.memo else None, a.credit) for a in payment.apps]
    old_apps = [(a.invoice_id, a.amount, a.credit_memo_id, a.credit_amount) for a in stored.applications]
    if new_apps != old_apps:
        stored.applications.clear()
        session.flush()
        for a in payment.apps:
            stored.applications.append(Application(seq=a.seq, invoice=a.invoice, amount=a.cash,
                                                   credit_memo=a.memo, credit_amount=a.credit))
        changed = True
    if changed and not is_new:
        touch(stored)
    count(result, is_new, changed)
    return stored


def _non_negative(reader: Reader, row: Row, column: str) -> Any:
    value = reader.money(row, column, ZERO)
    if ok(value) and value < 0:
        reader.problem(row, column, row.get(column), "an applied amount must not be negative")
        return BAD
    return value


def _referenced(reader: Reader, row: Row, column: str, records: dict[str, Any], member: Any, word: str) -> Any:
    """The ``word`` (invoice, credit memo) numbered in ``column``, or None; a problem is reported on the row
    when no such record exists, it belongs to another member, or it is no longer open (it is still returned)."""
    number = row.get(column)
    record = records.get(number)
    if record is None:
        reader.problem(row, column, number, f"no {word} has this number")
    elif member is not None and record.member_id != member.id:
        reader.problem(row, column, number, f"the {word} belongs to member {record.member.number}, not {member.number}")
    elif record.status != "open":
        reader.problem(row, column, number, f"the {word} is {record.status}")
    return record


def _application(reader: Reader, row: Row, seq: int, member: Any, invoices: dict[str, Any],
                 memos: dict[str, Any]) -> _App | None:
    """The application on ``row``, or None when the row applies nothing (a payment kept as credit)."""
    cash = _non_negative(reader, row, "apply_amount")
    credit = _non_negative(reader, row, "apply_credit_amount")
    if not row.get("apply_to"):
        if row.get("apply_amount") or row.get("apply_credit_memo") or row.get("apply_credit_amount"):
            reader.problem(row, "apply_to", "", "an application needs the invoice it applies to")
        return None
    invoice = _referenced(reader, row, "apply_to", invoices, member, "invoice")
    memo = None
    if row.get("apply_credit_memo"):
        memo = _referenced(reader, row, "apply_credit_memo", memos, member, "credit memo")
        if ok(credit) and not credit:
            reader.problem(row, "apply_credit_amount", row.get("apply_credit_amount"),
                           "applying a credit memo needs the credit applied (apply_credit_amount)")
    elif ok(credit) and credit:
        reader.problem(row, "apply_credit_memo", "", "apply_credit_amount needs the credit memo it comes from")
    if ok(cash, credit) and not cash and not credit and row.get("apply_credit_memo") == "":
        reader.problem(row, "apply_amount", row.get("apply_amount"),
                       f"the application to invoice {row.get('apply_to')} applies nothing (give apply_amount)")
    if invoice is None or (row.get("apply_credit_memo") and memo is None):
        return _App(row, seq, None, BAD, None, BAD)
    return _App(row, seq, invoice, cash, memo, credit)


@dataclass
class _Balances:
    """What the file applies so far to each invoice (cash and credit) and uses of each credit memo, by id, and
    which were reported; ``receipts``: the payments the file holds (their stored applications are replaced,
    so the store's are counted without them)."""

    receipts: set[str]
    applied: dict[int, Decimal] = field(default_factory=dict)
    used: dict[int, Decimal] = field(default_factory=dict)
    reported: set[tuple[str, int]] = field(default_factory=set)


def _check_balances(session: Session, reader: Reader, planned: list[_Payment], balances: _Balances) -> None:
    """Applications must not exceed an invoice's balance, nor a credit memo's unused credit, counting the
    other open payments in the store (QuickBooks refuses both with 3210). Each is reported once, on the row
    where the file's running total first goes beyond it."""
    apps = [a for p in planned for a in p.apps if a.invoice is not None and ok(a.cash, a.credit)]
    invoice_ids = sorted({a.invoice.id for a in apps})
    memo_ids = sorted({a.memo.id for a in apps if a.memo is not None})
    applied = applied_in_store(session, Application.invoice_id, invoice_ids, balances.receipts)
    used = applied_in_store(session, Application.credit_memo_id, memo_ids, balances.receipts, credit_only=True)
    running, reported = balances.applied, balances.reported
    this = reader.table.this
    upto = " up to this row" if this == "this file" else ""
    for a in apps:
        invoice = a.invoice
        before, paid_by = applied.get(invoice.id, (ZERO, []))
        running[invoice.id] = running.get(invoice.id, ZERO) + a.cash + a.credit
        if before + running[invoice.id] > invoice.total and ("invoice", invoice.id) not in reported:
            reported.add(("invoice", invoice.id))
            elsewhere = f", {before} applied by {receipts(paid_by)}" if paid_by else ""
            reader.problem(a.row, "apply_amount", a.row.get("apply_amount"),
                           f"invoice {invoice.number} has {invoice.total - before} left to pay (total "
                           f"{invoice.total}{elsewhere}); {this} applies {running[invoice.id]} to it{upto}")
    running = balances.used
    for a in apps:
        memo = a.memo
        if memo is None:
            continue
        before, paid_by = used.get(memo.id, (ZERO, []))
        running[memo.id] = running.get(memo.id, ZERO) + a.credit
        if before + running[memo.id] > memo.total and ("credit memo", memo.id) not in reported:
            reported.add(("credit memo", memo.id))
            elsewhere = f", {before} used by {receipts(paid_by)}" if paid_by else ""
            reader.problem(a.row, "apply_credit_amount", a.row.get("apply_credit_amount"),
                           f"credit memo {memo.number} has {memo.total - before} of credit left (total "
                           f"{memo.total}{elsewhere}); {this} uses {running[memo.id]} of it{upto}")
