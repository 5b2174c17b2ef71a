"""Literal inputs for the planner's unit tests: a small chart of accounts, G/L accounts mapped to it, members,
and a way to get the link row booksync keeps after writing a record (by planning it, as a run does).

Import the planner and the corrections planner from here: when their modules move, only this file changes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from booksync.books.desktop.adapter import DESKTOP_LIMITS
from booksync.domain import Kind, QBAccount, QBCompany, QBCustomer, QBListEntry, QBSnapshot
from booksync.records import GLAccount, Link, Member, Sale, SaleLine
from booksync.sync import balances, corrections, planner  # noqa: F401  (re-exported for the tests)
# Re-exported for the tests: the checks, customers' rules, Work and ExternalGUIDs left sync/planner.py (issue 18).
from booksync.sync.checks import (application_problems, check_accounts, check_applications,  # noqa: F401
                                  check_deposit_accounts, check_overapplied, deposit_gl_accounts)
from booksync.sync.customers import (CustomerResolution, customer_gone_problem, customers_gone,  # noqa: F401
                                     customers_needed, hold_back, resolve_customers)
from booksync.sync.work import Work  # noqa: F401
from booksync.sync.written import external_guid  # noqa: F401

KEY = "company-key"
DAY = dt.date(2025, 3, 3)

CHART = [QBAccount("A-CHK", "Checking", "Bank"),
         QBAccount("A-UF", "Undeposited Funds", "OtherCurrentAsset", special="UndepositedFunds"),
         QBAccount("A-DUES", "Membership Dues", "Income"),
         QBAccount("A-ADS", "Advertising Income", "Income")]

GLS = {1: GLAccount(1, "4020", "Dues", "Income", "Membership Dues"),
       2: GLAccount(2, "4300", "Advertising", "Income", "Advertising Income"),
       5: GLAccount(5, "1050", "Undeposited Funds", "OtherCurrentAsset", "Undeposited Funds"),
       7: GLAccount(7, "1000", "Checking", "Bank", "Checking")}

ACME = Member(1, "1001", "Acme Widgets")
BOLT = Member(2, "1002", "Bolt Bakery")
MEMBERS = {m.id: m for m in (ACME, BOLT)}

ITEMS = [QBListEntry("I-DUES", "4020 Dues", "Item", account_list_id="A-DUES"),
         QBListEntry("I-ADS", "4300 Advertising", "Item", account_list_id="A-ADS")]
"""The service items booksync created in an earlier run (named after their G/L accounts)."""


def money(text: str) -> Decimal:
    return Decimal(text)


def invoice(id: int, number: str, *amounts: str, member: Member = ACME, gl: int = 1, date: dt.date = DAY,
            status: str = "open", **kw: Any) -> Sale:
    """An invoice (or credit memo: same shape) with one line per amount, posting to G/L account ``gl``."""
    lines = tuple(SaleLine(gl, Decimal(a), description=f"line {i}", seq=i) for i, a in enumerate(amounts, 1))
    return Sale(id, number, member.id, date, lines=lines, status=status, **kw)


def snapshot(customers: tuple[str, ...] = (), items: list[QBListEntry] | None = None, methods: tuple[str, ...] = (),
             closing: dt.date | None = None, other_names: tuple[str, ...] = ()) -> QBSnapshot:
    """A company with :data:`CHART`; ``customers`` are names whose ListID is "C-NAME"."""
    return QBSnapshot(QBCompany("Test Co", closing_date=closing), list(CHART), list(items or []),
                      [QBListEntry(f"M-{m}", m, "PaymentMethod") for m in methods],
                      [QBCustomer(f"C-{n}", n, n, "1") for n in customers],
                      [QBListEntry(f"V-{n}", n, "Vendor") for n in other_names])


def work(**kw: Any) -> Work:
    """A :class:`Work` over :data:`GLS` and :data:`MEMBERS` unless given."""
    kw.setdefault("gl_accounts", dict(GLS))
    kw.setdefault("members", dict(MEMBERS))
    return Work(**kw)


def linked(*members: Member) -> CustomerResolution:
    """Every member linked to customer "C-NAME"."""
    return CustomerResolution(linked={m.id: f"C-{m.name}" for m in members})


def build(w: Work, snap: QBSnapshot | None = None, customers: CustomerResolution | None = None,
          create_customers: bool = True) -> planner.Planner:
    """Plan ``w`` (adds only); returns the planner (``.plan``, ``.problems``)."""
    builder = planner.Planner(w, snap or snapshot(items=ITEMS), customers or linked(ACME, BOLT), DESKTOP_LIMITS, KEY)
    builder.build(create_customers=create_customers)
    return builder


def written(kind: Kind, record: Any, links: dict[tuple[str, int], Any] | None = None,
            edit_sequence: str = "5") -> Link:
    """The link row booksync keeps once ``record`` (an invoice, credit memo or payment as the billing store had
    it) was written: its TxnID is "TXN-NUMBER", its payload and fingerprint what the planner gives it."""
    w = work(links=dict(links or {}))
    if kind is Kind.INVOICE:
        w.invoices = [record]
    elif kind is Kind.CREDIT_MEMO:
        w.credit_memos = [record]
    elif kind is Kind.SALES_RECEIPT:
        w.receipts = [record]
    else:
        w.payments = [record]
    builder = build(w, create_customers=False)
    (op,) = [op for op in builder.plan.operations if op.kind is kind]
    return Link(f"TXN-{record.number}", edit_sequence=edit_sequence, fingerprint=op.fingerprint, written=op.written)
