"""The payments waiting in Undeposited Funds, read from QuickBooks Desktop (issue 22 item 5).

``ReceivePaymentToDepositQuery`` answers the payments "received into the Undeposited Funds account but not yet
deposited" (qbxmlops130-annotated.xml ReceivePaymentToDepositQueryRq, QuickBooks SDK OSR), so a payment a person
already put in a deposit is not among them; sales receipts received into Undeposited Funds answer too (a deposit
takes them the same way). The request takes no filter and no iterator (only IncludeRetElement);
each ReceivePaymentToDepositRet has TxnID, TxnType, CustomerRef, TxnDate, RefNumber and Amount. QuickBooks Online
has no such query; ``booksync deposits suggest`` is Desktop-only for now (``services/deposits.py``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from booksync.books.desktop.adapter import DesktopBooks
from booksync.domain import Kind
from booksync.kinds import by_qbxml_type
from booksync.qbxml.parse import MalformedResponse, decimal, text

WANTED = ("TxnID", "TxnType", "CustomerRef", "TxnDate", "RefNumber", "Amount")


@dataclass(frozen=True)
class WaitingPayment:
    """A payment (or sales receipt: ``kind``) waiting in Undeposited Funds: its TxnID, the customer's name
    (FullName), its number in
    QuickBooks (RefNumber: a check number, or the receipt number booksync wrote; "" when none), its date and its
    amount (Decimal, two places)."""

    payment_id: str
    kind: Kind
    customer: str
    ref_number: str
    date: dt.date
    amount: Decimal


def payments_to_deposit(port: DesktopBooks) -> list[WaitingPayment]:
    """Every payment and sales receipt waiting in Undeposited Funds, as QuickBooks orders them (by date). None
    waiting (status 1): an empty list. Raises what :meth:`DesktopBooks.query` raises (booksync.errors types, MalformedResponse for
    an unreadable amount or date)."""
    waiting = []
    for ret in port.query("ReceivePaymentToDepositQuery", iterate=False, include=WANTED):
        try:
            kind = by_qbxml_type(text(ret, "TxnType", "ReceivePayment")).kind
        except KeyError:
            raise MalformedResponse(f"a transaction waiting to be deposited has the type {text(ret, 'TxnType')!r}") \
                from None
        try:
            day = dt.date.fromisoformat(text(ret, "TxnDate"))
        except ValueError:
            raise MalformedResponse(f"a payment waiting to be deposited has the date {text(ret, 'TxnDate')!r}") \
                from None
        waiting.append(WaitingPayment(payment_id=text(ret, "TxnID"), kind=kind, customer=text(ret, "CustomerRef/FullName"),
                                      ref_number=text(ret, "RefNumber"), date=day, amount=decimal(ret, "Amount")))
    return waiting
