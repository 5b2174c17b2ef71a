"""Change marks (issue 10; docs/architecture.md "Change marks"): which billing records a run must look at.

``sync_marks`` keeps per company the time up to which every billing record was examined, ``sync_outstanding`` the
records that still needed writing then. :func:`change_candidates` reads them at the start of the load step;
:func:`remember_outstanding` moves the mark and replaces the outstanding set right after loading;
:func:`mark_outstanding` follows each message of the apply step. The kinds looked at are the billing kinds of
:data:`booksync.kinds.BILLING_KINDS`, their tables :data:`booksync.store.models.BILLING_MODELS`.
"""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from booksync.domain import Kind
from booksync.kinds import BILLING_KINDS
from booksync.store.models import BILLING_MODELS, Outstanding, SyncMark
from booksync.sync.work import Work

MARK_MARGIN = dt.timedelta(minutes=10)
"""How far before a run's start its change mark is set. Records stamped within the margin are looked at
again by the next run (harmless: they are classified, not re-sent), which covers clocks of several
PostgreSQL clients that differ a little and changes committed a little after they were stamped.
``BOOKSYNC_MARK_MARGIN_SECONDS`` overrides it (the tests set 0, so that every run relies on the mark)."""


def mark_margin() -> dt.timedelta:
    raw = os.environ.get("BOOKSYNC_MARK_MARGIN_SECONDS", "")
    return dt.timedelta(seconds=float(raw)) if raw else MARK_MARGIN


def change_candidates(session: Session, company_key: str) -> dict[Kind, list[int]] | None:
    """The records a run must look at: those changed after the company's mark, and those still
    outstanding when it was set. None when the company has no mark yet (every record is a candidate).

    Uses the ``updated_at`` indexes, so the cost follows the size of the change, not of the history
    (issue 10; docs/architecture.md "Change marks")."""
    mark = session.get(SyncMark, company_key)
    if mark is None:
        return None
    out: dict[Kind, list[int]] = {}
    for kind in BILLING_KINDS:
        model = BILLING_MODELS[kind]
        ids = set(session.scalars(select(model.id).where(model.updated_at > mark.checked_through)))
        ids.update(session.scalars(select(Outstanding.local_id).where(Outstanding.company_key == company_key,
                                                                      Outstanding.kind == kind.value)))
        out[kind] = sorted(ids)
    return out


def remember_outstanding(session: Session, company_key: str, work: Work, started: dt.datetime,
                         run_id: str = "") -> None:
    """Move the company's change mark to ``started`` (less :func:`mark_margin`) and record the records of
    ``work`` that need synchronizing as outstanding, replacing the previous set. ``work`` must come
    from :func:`booksync.sync.load.load_work` run after ``started``. Does not commit."""
    needed = {(Kind.INVOICE.value, r.id) for r in work.invoices + work.changed_invoices}
    needed |= {(Kind.CREDIT_MEMO.value, r.id) for r in work.credit_memos + work.changed_credit_memos}
    needed |= {(Kind.SALES_RECEIPT.value, r.id) for r in work.receipts + work.changed_receipts}
    needed |= {(Kind.PAYMENT.value, p.id) for p in work.payments + work.changed_payments + work.deleted_payments}
    needed |= {(Kind.CUSTOMER.value, m.id) for m in work.changed_members}
    session.execute(delete(Outstanding.__table__).where(Outstanding.company_key == company_key))
    rows_ = [{"company_key": company_key, "kind": kind, "local_id": local_id} for kind, local_id in sorted(needed)]
    if rows_:
        session.execute(insert(Outstanding.__table__), rows_)
    if work.source is not None:  # the records to add, from their ids (a million rows are not built at once)
        for kind, ids in work.source.ids.items():
            for start in range(0, len(ids), 10_000):
                session.execute(insert(Outstanding.__table__), [
                    {"company_key": company_key, "kind": kind, "local_id": local_id}
                    for local_id in ids[start:start + 10_000]])
    mark = session.get(SyncMark, company_key)
    if mark is None:
        mark = SyncMark(company_key=company_key)
        session.add(mark)
    mark.checked_through, mark.run_id = started - mark_margin(), run_id


def mark_outstanding(session: Session, company_key: str, pending: set[tuple[str, int]],
                     settled: set[tuple[str, int]]) -> None:
    """After a message: records left half done (payments released) stay outstanding; records written
    completely need not be looked at again unless they change."""
    # Core statements only (rows, not ORM objects): an ORM DELETE would evaluate its criteria against
    # every object in the session, and ORM objects would go stale behind the Core ones.
    by_kind: dict[str, list[int]] = {}
    for kind, local_id in settled | pending:
        by_kind.setdefault(kind, []).append(local_id)
    for kind, ids in by_kind.items():
        session.execute(delete(Outstanding.__table__).where(Outstanding.company_key == company_key,
                                                            Outstanding.kind == kind, Outstanding.local_id.in_(ids)))
    if pending:
        session.execute(insert(Outstanding.__table__), [{"company_key": company_key, "kind": kind, "local_id": local_id}
                                                        for kind, local_id in sorted(pending)])
