"""Changes to billing records made the way a membership system's user makes them: void or delete an
invoice, credit memo or sales receipt, delete a payment. (Editing a payment goes through the payments import's checks:
:mod:`booksync.sources.edits`.)

Each change is recorded in the billing store only, through its write path (:mod:`booksync.store.write`,
which gives the record a new ``updated_at``); the next sync carries it to QuickBooks as a correction.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.store.models import Application, CreditMemo, Invoice, Payment, SalesReceipt
from booksync.store.write import writing

MODELS = {"invoice": Invoice, "credit-memo": CreditMemo, "sales-receipt": SalesReceipt, "payment": Payment}


class ChangeRefused(Exception):
    """The change cannot be made as asked; the message says why and what to do."""


def find(session: Session, kind: str, number: str):
    """The invoice, credit memo or payment (``kind`` "invoice", "credit-memo", "payment") numbered ``number``.
    Raises :class:`ChangeRefused` when there is none."""
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
    """Void or delete an invoice, credit memo or sales receipt, or delete a payment. Returns what was done.

    Raises :class:`ChangeRefused` for an unknown number, a record already in that state,
    voiding a payment (QuickBooks cannot void payments: delete it), and an invoice or
    credit memo that payments still apply to (edit those payments first).
    """
    record = find(session, kind, number)
    label = f"{kind.replace('-', ' ')} {number}"
    if kind == "payment" and status == "void":
        raise ChangeRefused("QuickBooks cannot void a payment (TxnVoid has no ReceivePayment type); "
                            f"delete it instead: booksync payments delete {number}")
    if record.status == status:
        raise ChangeRefused(f"The {label} is already {'voided' if status == 'void' else 'deleted'}.")
    if record.status == "deleted":
        raise ChangeRefused(f"The {label} was deleted.")
    if kind in ("invoice", "credit-memo"):
        apps = _applications_to(session, kind, record)
        if apps:
            receipts = ", ".join(sorted({session.get(Payment, a.payment_id).number for a in apps}))
            raise ChangeRefused(f"Payment(s) {receipts} apply to the {label}. Remove those applications first "
                                f"(booksync payments edit RECEIPT --apply ...), then "
                                f"{'void' if status == 'void' else 'delete'} it.")
    with writing(session):
        record.status = status
    return f"The {label} is {'voided' if status == 'void' else 'deleted'}; the next sync carries it to QuickBooks."
