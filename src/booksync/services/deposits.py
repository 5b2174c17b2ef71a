"""What ``booksync deposits suggest`` calls (issue 22 item 5): the payments waiting in Undeposited Funds that
add up to a bank line. Reading them is the port's (``books/desktop/to_deposit.py``), the search is pure
(``reports/deposit_grouping.py``); accepting a proposal will create a payout (issue 22 items 1–2, not built yet).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.books.desktop.adapter import DesktopBooks
from booksync.books.desktop.to_deposit import WaitingPayment, payments_to_deposit
from booksync.reports.deposit_grouping import MAX_CANDIDATES, MAX_STEPS, Grouping, group_payments
from booksync.store.models import Link


class SuggestUnavailable(Exception):
    """The company is not one this helper can read the waiting payments of (QuickBooks Online for now)."""


@dataclass
class DepositSuggestion:
    """The answer: the search's ``grouping``, how many payments are ``waiting`` in Undeposited Funds in all, and
    the billing receipt number of each payment or sales receipt booksync wrote, by TxnID (``receipts``; one
    entered in QuickBooks by hand has none)."""

    grouping: Grouping[WaitingPayment]
    waiting: int
    receipts: dict[str, str] = field(default_factory=dict)


def suggest_deposit(port: Any, session: Session, amount: Decimal, bank_date: dt.date,
                    max_candidates: int = MAX_CANDIDATES, max_steps: int = MAX_STEPS) -> DepositSuggestion:
    """The preferred set of waiting payments adding up to ``amount`` on ``bank_date`` (see
    :func:`booksync.reports.deposit_grouping.group_payments`). ``port``: an open books port; ``session``: the billing
    store (read only, for receipt numbers). Raises :class:`SuggestUnavailable` for a QuickBooks Online company (it has
    no query for the payments not yet deposited: the helper is Desktop-only for now), and what reading QuickBooks
    raises (booksync.errors)."""
    if not isinstance(port, DesktopBooks):
        raise SuggestUnavailable(
            "Suggesting a deposit reads QuickBooks Desktop's payments waiting in Undeposited Funds; for QuickBooks "
            "Online it is not built yet. Group the payments in QuickBooks Online's Bank Deposit window.")
    port.snapshot(balances=False, customers=False)  # the company key, for the links
    waiting = payments_to_deposit(port)
    grouping = group_payments(waiting, amount, bank_date, max_candidates, max_steps)
    receipts: dict[str, str] = {}
    for p in grouping.best or ():
        if p.kind is None:  # a journal entry and the like: nothing booksync wrote
            continue
        link = session.execute(select(Link.local_key).where(
            Link.company_key == port.company_key, Link.kind == p.kind.value, Link.remote_id == p.payment_id)).first()
        if link is not None:
            receipts[p.payment_id] = link[0]
    return DepositSuggestion(grouping, len(waiting), receipts)
