"""The dashboard: what waits to be synchronized and what would stop a run, by the sync's own checks.

The checks are the run's own (:mod:`booksync.sync.checks` and :mod:`booksync.sync.customers` over the sync's
``load_work``), so the dashboard warns about exactly what would stop a run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.config import Home
from booksync.domain import Kind, Problem
from booksync.services.quickbooks import Books, company_key
from booksync.services.runs import RunInfo, run_info
from booksync.store.models import SyncRun


@dataclass
class Waiting:
    """Records waiting to be synchronized: new ones and corrections of ones already in QuickBooks."""

    invoices: int = 0
    credit_memos: int = 0
    payments: int = 0
    changed_invoices: int = 0
    changed_credit_memos: int = 0
    changed_payments: int = 0
    changed_members: int = 0

    @property
    def new(self) -> int:
        return self.invoices + self.credit_memos + self.payments

    @property
    def corrections(self) -> int:
        return self.changed_invoices + self.changed_credit_memos + self.changed_payments + self.changed_members

    @property
    def total(self) -> int:
        return self.new + self.corrections


@dataclass
class Dashboard:
    books: Books
    kind: str
    company_path: str
    last_run: RunInfo | None
    waiting: Waiting
    unmapped: list[Problem] = field(default_factory=list)
    missing_customers: list[tuple[str, str]] = field(default_factory=list)
    """(number, name) of members being billed that have no QuickBooks customer."""
    customer_problems: list[Problem] = field(default_factory=list)
    deposit_problems: list[Problem] = field(default_factory=list)
    awaiting: RunInfo | None = None
    gone: list[Problem] = field(default_factory=list)
    """Records linked to QuickBooks that are gone from the billing store (store/links.py)."""


def dashboard(session: Session, home: Home, books: Books, kind: str) -> Dashboard:
    from booksync.sync.checks import check_accounts, check_deposit_accounts
    from booksync.sync.customers import resolve_customers
    from booksync.store.links import gone_links
    from booksync.sync.load import gone_notices, load_work

    key = company_key(session, books)
    latest = session.scalar(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
    awaiting = session.scalar(select(SyncRun).where(SyncRun.status == "awaiting confirm")
                              .order_by(SyncRun.started_at.desc()).limit(1))
    work = load_work(session, key)
    waiting = Waiting(work.count(Kind.INVOICE), work.count(Kind.CREDIT_MEMO), work.count(Kind.PAYMENT),
                      len(work.changed_invoices),
                      len(work.changed_credit_memos), len(work.changed_payments) + len(work.deleted_payments),
                      len(work.changed_members))
    board = Dashboard(books, kind, str(home.company_path) if kind == "simulator" else "",
                      run_info(latest) if latest else None, waiting,
                      awaiting=run_info(awaiting) if awaiting else None)
    board.gone = gone_notices(gone_links(session, key)) if key else []
    if books.snapshot is not None and not work.is_empty():
        board.unmapped = check_accounts(work, books.snapshot)
        customers = resolve_customers(work, books.snapshot)
        board.missing_customers = [(m.number, m.name) for m in customers.missing]
        board.customer_problems = customers.problems
        board.deposit_problems = check_deposit_accounts(work, books.snapshot)
    return board
