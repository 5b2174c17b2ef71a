"""The payments waiting in Undeposited Funds, read from QuickBooks Desktop (issue 22 item 5).

``ReceivePaymentToDepositQuery`` answers the payments "received into the Undeposited Funds account but not yet
deposited" (qbxmlops130-annotated.xml ReceivePaymentToDepositQueryRq, QuickBooks SDK OSR), so a payment a person
already put in a deposit is not among them. Sales receipts received into Undeposited Funds answer too, and in a
real company any other transaction that put money there (TxnType may be one of 27 types, a JournalEntry line with
its TxnLineID): a deposit takes each of them the same way, so each is kept. The request takes no filter and no
iterator (only IncludeRetElement); each ReceivePaymentToDepositRet has TxnID, TxnLineID, TxnType, CustomerRef,
TxnDate, RefNumber and Amount. QuickBooks Online
has no such query; ``booksync deposits suggest`` is Desktop-only for now (``services/deposits.py``).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from booksync.books.desktop.adapter import DesktopBooks
from booksync.domain import Kind
from booksync.kinds import by_qbxml_type, spec
from booksync.qbxml.parse import MalformedResponse, decimal, text

WANTED = ("TxnID", "TxnLineID", "TxnType", "CustomerRef", "TxnDate", "RefNumber", "Amount")


@dataclass(frozen=True)
class WaitingPayment:
    """A payment (or sales receipt, or other transaction: ``kind``, None for a type booksync does not write, then
    ``txn_type`` names it, e.g. "JournalEntry", and ``line_id`` its TxnLineID) waiting in Undeposited Funds: its
    TxnID, the customer's name (FullName), its number in
    QuickBooks (RefNumber: a check number, or the receipt number booksync wrote; "" when none), its date and its
    amount (Decimal, two places)."""

    payment_id: str
    kind: Kind | None
    customer: str
    ref_number: str
    date: dt.date
    amount: Decimal
    txn_type: str = "ReceivePayment"
    line_id: str = ""

    @property
    def label(self) -> str:
        """The transaction's kind in words: "payment", "sales receipt", "journal entry"."""
        if self.kind is not None:
            return spec(self.kind).label
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", self.txn_type).lower()


def payments_to_deposit(port: DesktopBooks) -> list[WaitingPayment]:
    """Every payment, sales receipt or other transaction waiting in Undeposited Funds, as QuickBooks orders them (by
    date). None waiting (status 1): an empty list. Raises what :meth:`DesktopBooks.query` raises (booksync.errors
    types), and MalformedResponse for an unreadable amount or date."""
    waiting = []
    for ret in port.query("ReceivePaymentToDepositQuery", iterate=False, include=WANTED):
        txn_type = text(ret, "TxnType", "ReceivePayment")
        try:
            kind: Kind | None = by_qbxml_type(txn_type).kind
        except KeyError:
            kind = None
        try:
            day = dt.date.fromisoformat(text(ret, "TxnDate"))
        except ValueError:
            raise MalformedResponse(f"a payment waiting to be deposited has the date {text(ret, 'TxnDate')!r}") \
                from None
        waiting.append(WaitingPayment(payment_id=text(ret, "TxnID"), kind=kind,
                                      customer=text(ret, "CustomerRef/FullName"), ref_number=text(ret, "RefNumber"),
                                      date=day, amount=decimal(ret, "Amount"), txn_type=txn_type,
                                      line_id=text(ret, "TxnLineID")))
    return waiting
