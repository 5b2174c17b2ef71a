"""Editing a payment the way a membership system's user does (``booksync payments edit``): the edited payment
is one row of the payments import, through the same checks (:func:`booksync.sources.run.import_rows`), so an
edit is refused whenever the same change made by an import would be.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from booksync.sources.report import ImportFailed
from booksync.sources.run import import_rows
from booksync.sources.values import parse_date
from booksync.store.changes import ChangeRefused, find

OPTIONS = {"member": "--member", "date": "--date", "amount": "--amount", "deposit_account": "--deposit-account",
           "memo": "--memo", "apply_to": "--apply", "apply_amount": "--apply", "method": "its method",
           "reference": "its reference", "apply_credit_memo": "its credit memo application",
           "apply_credit_amount": "its credit memo application", "number": "the receipt number"}
"""The option of ``payments edit`` that sets each column of the payments import (for messages)."""


def _check_date(date: str | None) -> None:
    """Refuse a --date that is not YYYY-MM-DD (the import's --date-format is not an option here)."""
    if date is not None:
        try:
            parse_date(date, us_hint="")
        except ValueError as exc:
            raise ChangeRefused(f"--date: {exc} (value {date!r}).") from None


def edit_payment(session: Session, number: str, member: str | None = None, date: str | None = None,
                 amount: str | None = None, applications: list[str] | None = None,
                 deposit_account: str | None = None, memo: str | None = None) -> str:
    """Edit a payment. ``applications`` are "INVOICE=AMOUNT" strings that replace the
    payment's applications (an empty list or ["none"] removes them all; None keeps them).

    The edited payment goes through the payments import's own checks (:func:`booksync.sources.run.import_rows`):
    a deposit G/L account of a deposit type, invoices of the payment's member and open, applications within the
    payment's amount and within each invoice's open balance (counting the other payments in the store), amounts
    QuickBooks can hold. Whole or nothing; a payment whose values do not change keeps its ``updated_at``.

    Raises :class:`ChangeRefused` naming the option and the reason, as the import would.
    """
    _check_date(date)
    payment = find(session, "payment", number)
    if payment.status != "open":
        raise ChangeRefused(f"Payment {number} was deleted.")
    if member is not None and member != payment.member.number and applications is None and payment.applications:
        raise ChangeRefused("--member: the payment applies to the old member's invoices; give its new "
                            "applications with --apply (or --apply none).")
    row = {"number": number, "member": payment.member.number if member is None else member,
           "date": payment.date.isoformat() if date is None else date,
           "amount": str(payment.amount) if amount is None else amount,
           "method": payment.method, "reference": payment.reference,
           "deposit_account": payment.deposit_account.number if deposit_account is None else deposit_account,
           "memo": payment.memo if memo is None else memo}
    if applications is None:
        apps = [{"apply_to": a.invoice.number, "apply_amount": str(a.amount),
                 "apply_credit_memo": a.credit_memo.number if a.credit_memo is not None else "",
                 "apply_credit_amount": str(a.credit_amount) if a.credit_memo is not None else ""}
                for a in payment.applications]
    else:
        apps = []
        for item in (a for a in applications if a.strip().lower() != "none"):
            invoice_number, sep, value = item.partition("=")
            if not sep or not invoice_number.strip() or not value.strip():
                raise ChangeRefused(f"--apply {item!r}: give INVOICE=AMOUNT.")
            apps.append({"apply_to": invoice_number.strip(), "apply_amount": value.strip()})
    rows = [{**row, **app} for app in apps] or [row]
    try:
        result = import_rows(session, "payments", rows, source=f"payments edit {number}")
    except ImportFailed as exc:
        reasons = []
        for p in exc.problems:
            where = OPTIONS.get(p.column, p.column)
            if p.column in ("apply_to", "apply_amount") and p.row >= 2 and p.row - 2 < len(apps):
                app = apps[p.row - 2]
                where = f"--apply {app['apply_to']}={app['apply_amount']}" if applications is not None else \
                    f"its application to invoice {app['apply_to']}"
            value = f" (value {p.value!r})" if p.value and p.column not in ("apply_to", "apply_amount") else ""
            line = f"{where}: {p.reason}{value}."
            if line not in reasons:
                reasons.append(line)
        raise ChangeRefused(" ".join(reasons)) from None
    if not result.updated:
        return f"Payment {number} already holds these values; nothing changed."
    return f"Payment {number} changed; the next sync carries it to QuickBooks."
