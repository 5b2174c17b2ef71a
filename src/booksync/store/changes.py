"""Changes to billing records made the way a membership system's user makes them:
void or delete an invoice or credit memo, delete a payment, edit a payment.

Each change is recorded in the billing store only (with a new ``updated_at``);
the next sync carries it to QuickBooks as a correction.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..money import MoneyError, to_money
from .models import Application, CreditMemo, GLAccount, Invoice, Member, Payment, _now

MODELS = {"invoice": Invoice, "credit-memo": CreditMemo, "payment": Payment}


class ChangeRefused(Exception):
    """The change cannot be made as asked; the message says why and what to do."""


def _find(session: Session, kind: str, number: str):
    record = session.scalar(select(MODELS[kind]).where(MODELS[kind].number == number))
    if record is None:
        raise ChangeRefused(f"There is no {kind.replace('-', ' ')} numbered {number}.")
    return record


def _applications_to(session: Session, kind: str, record) -> list[Application]:
    column = Application.invoice_id if kind == "invoice" else Application.credit_memo_id
    stmt = (select(Application).join(Payment, Payment.id == Application.payment_id)
            .where(column == record.id, Payment.status == "open"))
    return list(session.scalars(stmt))


def set_status(session: Session, kind: str, number: str, status: str) -> str:
    """Void or delete an invoice or credit memo, or delete a payment. Returns what was done.

    Raises :class:`ChangeRefused` for an unknown number, a record already in that state,
    voiding a payment (QuickBooks cannot void payments: delete it), and an invoice or
    credit memo that payments still apply to (edit those payments first).
    """
    record = _find(session, kind, number)
    label = f"{kind.replace('-', ' ')} {number}"
    if kind == "payment" and status == "void":
        raise ChangeRefused("QuickBooks cannot void a payment (TxnVoid has no ReceivePayment type); "
                            f"delete it instead: booksync payments delete {number}")
    if record.status == status:
        raise ChangeRefused(f"The {label} is already {'voided' if status == 'void' else 'deleted'}.")
    if record.status == "deleted":
        raise ChangeRefused(f"The {label} was deleted.")
    if kind != "payment":
        apps = _applications_to(session, kind, record)
        if apps:
            receipts = ", ".join(sorted({session.get(Payment, a.payment_id).number for a in apps}))
            raise ChangeRefused(f"Payment(s) {receipts} apply to the {label}. Remove those applications first "
                                f"(booksync payments edit RECEIPT --apply ...), then {status} it.")
    record.status = status
    record.updated_at = _now()
    session.commit()
    return f"The {label} is {'voided' if status == 'void' else 'deleted'}; the next sync carries it to QuickBooks."


def edit_payment(session: Session, number: str, member: str | None = None, date: str | None = None,
                 amount: str | None = None, applications: list[str] | None = None,
                 deposit_account: str | None = None, memo: str | None = None) -> str:
    """Edit a payment. ``applications`` are "INVOICE=AMOUNT" strings that replace the
    payment's applications (an empty list removes them all; None keeps them).

    Raises :class:`ChangeRefused` naming the argument and the reason.
    """
    payment = _find(session, "payment", number)
    if payment.status != "open":
        raise ChangeRefused(f"Payment {number} was deleted.")
    if member is not None:
        target = session.scalar(select(Member).where(Member.number == member))
        if target is None:
            raise ChangeRefused(f"--member: there is no member numbered {member}.")
        if target.id != payment.member_id and applications is None and payment.applications:
            raise ChangeRefused("--member: the payment applies to the old member's invoices; give its new "
                                "applications with --apply (or --apply none).")
        payment.member = target
    if date is not None:
        try:
            payment.date = dt.date.fromisoformat(date)
        except ValueError:
            raise ChangeRefused(f"--date: {date!r} is not a date in the form YYYY-MM-DD.") from None
    if amount is not None:
        try:
            value = to_money(amount)
        except MoneyError as exc:
            raise ChangeRefused(f"--amount: {exc}") from None
        if value < 0:
            raise ChangeRefused("--amount: a payment cannot be negative.")
        payment.amount = value
    if deposit_account is not None:
        gl = session.scalar(select(GLAccount).where(GLAccount.number == deposit_account))
        if gl is None:
            raise ChangeRefused(f"--deposit-account: there is no G/L account numbered {deposit_account}.")
        payment.deposit_account = gl
    if memo is not None:
        payment.memo = memo
    if applications is not None:
        new_apps = []
        for seq, item in enumerate(a for a in applications if a.lower() != "none"):
            invoice_number, sep, value = item.partition("=")
            invoice = session.scalar(select(Invoice).where(Invoice.number == invoice_number.strip()))
            if not sep or invoice is None:
                raise ChangeRefused(f"--apply {item!r}: give INVOICE=AMOUNT with an existing invoice number.")
            if invoice.member_id != payment.member.id:
                raise ChangeRefused(f"--apply {item!r}: invoice {invoice.number} belongs to another member.")
            if invoice.status != "open":
                raise ChangeRefused(f"--apply {item!r}: invoice {invoice.number} is {invoice.status}.")
            try:
                value_d = to_money(value)
            except MoneyError as exc:
                raise ChangeRefused(f"--apply {item!r}: {exc}") from None
            new_apps.append(Application(seq=seq + 1, invoice=invoice, amount=value_d, credit_amount=Decimal("0.00")))
        payment.applications.clear()
        session.flush()
        payment.applications.extend(new_apps)
    applied = sum((a.amount for a in payment.applications), Decimal("0.00"))
    if applied > payment.amount:
        session.rollback()
        raise ChangeRefused(f"The applications ({applied}) exceed the payment's amount ({payment.amount}).")
    payment.updated_at = _now()
    session.commit()
    return f"Payment {number} changed; the next sync carries it to QuickBooks."
