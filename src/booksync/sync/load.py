"""The load step: the billing records a run looks at (:func:`load_work`), from the change marks
(:mod:`booksync.sync.marks`) and the payments an earlier run left outside their deposit
(:func:`find_held_payments`); then the outstanding set is replaced (:func:`load`).

Records to add are held as ids only (:class:`booksync.store.rows.AddsSource`); the planner reads them a part at a
time (:func:`part_size`). Records already in QuickBooks that changed are loaded with what their corrections need.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, selectinload

from booksync.books.port import BooksPort
from booksync.domain import Kind, Problem, placeholder_payment
from booksync.store import rows
from booksync.store.links import GoneRecord
from booksync.store.models import (Application, CreditMemo, GLAccount, Invoice, Link, Member, Payment,
                                   PaymentMethodMap, SalesReceipt, _now)
from booksync.sync.collector import collector_paused
from booksync.sync.journal import open_take_outs
from booksync.sync.marks import change_candidates, remember_outstanding
from booksync.sync.options import Interaction
from booksync.sync.work import Work

LOADING = "Reading the billing store"
"""Progress phase of :func:`load`."""


def load(session: Session, key: str, port: BooksPort, ui: Interaction, *, everything: bool,
         run_id: str) -> tuple[Work, dict[tuple[str, int], dt.datetime]]:
    """The load step: read the work (:func:`load_work`, :func:`find_held_payments`), then move the change mark and
    record what is outstanding (:func:`booksync.sync.marks.remember_outstanding`), committed: a run that stops or
    is declined afterwards loses nothing. Returns the work and the ``updated_at`` of every record loaded, as
    loaded (:meth:`Work.stamps`: the versions the plan is made of; taken before the commit expires them)."""
    started = _now()
    ui.progress(LOADING, 0, 1)
    with collector_paused():
        work = load_work(session, key, everything=everything)
        find_held_payments(session, key, work, port)
        stamps = work.stamps()
        remember_outstanding(session, key, work, started, run_id)
        session.commit()
    ui.progress(LOADING, 1, 1)
    return work, stamps


def gone_notices(gone: list[GoneRecord]) -> list[Problem]:
    """The records gone from the billing store that QuickBooks still holds, as notices with advice."""
    out = []
    for g in gone:
        if g.state:
            continue  # booksync already voided or deleted it in QuickBooks: nothing left to decide
        message, fix = g.advice()
        out.append(Problem("gone", g.label, message, fix, g.web_fix()))
    return out


def load_work(session: Session, company_key: str, *, everything: bool = False) -> Work:
    """Load the records changed since booksync wrote them, and what they need, from the billing store;
    the records not yet in QuickBooks are read part by part while planning (``work.source``,
    :class:`booksync.store.rows.AddsSource`). Only the change candidates
    (:func:`booksync.sync.marks.change_candidates`) are examined unless ``everything`` is set or the company has
    no mark yet."""
    work = Work()
    work.gl_accounts = {g.id: g for g in session.scalars(select(GLAccount))}
    work.method_map = {m.name.casefold(): (m.qb_method, m.create_missing)
                       for m in session.scalars(select(PaymentMethodMap)) if m.qb_method}
    candidates = None if everything else change_candidates(session, company_key)

    def among(stmt: Any, model: Any, kind: Kind) -> list[Any]:
        if candidates is None:
            return list(session.scalars(stmt))
        out: list[Any] = []
        for chunk in chunks(candidates[kind]):
            out.extend(session.scalars(stmt.where(model.id.in_(chunk))))
        return out

    def changed(model: Any, kind: Kind, *options: Any) -> list[Any]:
        stmt = (select(model).join(Link, and_(Link.company_key == company_key, Link.kind == kind.value,
                                              Link.local_id == model.id))
                .where(Link.source_updated_at.is_not(None), Link.source_updated_at != model.updated_at,
                       Link.fingerprint.not_in(("void", "deleted"))).options(*options).order_by(model.id))
        return among(stmt, model, kind)

    # Records to add are the bulk of a first sync: only their ids are held; planning reads them a part at a
    # time as light rows (store/rows.py; docs/performance.md "Streaming a full sync").
    work.source = rows.AddsSource(session, company_key, None if candidates is None else {
        kind.value: ids for kind, ids in candidates.items()}, part_size())
    _load_changes(session, company_key, work, changed)
    member_ids = (work.source.member_ids()
                  | {r.member_id for r in work.changed_invoices + work.changed_credit_memos}
                  | {r.member_id for r in work.changed_receipts}
                  | {p.member_id for p in work.changed_payments + work.deleted_payments
                     + work.linked_payments_touching}
                  | {m.id for m in work.changed_members})
    work.members = rows.members(session, member_ids)
    _load_links(session, company_key, work, member_ids)
    return work


def _load_links(session: Session, company_key: str, work: Work, member_ids: set[int]) -> None:
    """The links of the members billed, of the changed records, and of what the payments apply to."""
    wanted: dict[str, set[int]] = {Kind.CUSTOMER.value: member_ids, Kind.INVOICE.value: set(),
                                   Kind.CREDIT_MEMO.value: set()}
    wanted[Kind.INVOICE.value] |= {r.id for r in work.changed_invoices}
    wanted[Kind.CREDIT_MEMO.value] |= {r.id for r in work.changed_credit_memos}
    wanted[Kind.SALES_RECEIPT.value] = {r.id for r in work.changed_receipts}
    wanted[Kind.PAYMENT.value] = {p.id for p in work.changed_payments + work.deleted_payments
                                  + work.linked_payments_touching}
    for payment in work.open_payments() + work.linked_payments_touching:
        for app in payment.applications:
            wanted[Kind.INVOICE.value].add(app.invoice_id)
            if app.credit_memo_id is not None:
                wanted[Kind.CREDIT_MEMO.value].add(app.credit_memo_id)

    for kind, ids in wanted.items():
        for chunk in chunks(sorted(ids)):
            stmt = select(Link).where(Link.company_key == company_key, Link.kind == kind, Link.local_id.in_(chunk))
            work.links.update({(link.kind, link.local_id): link for link in session.scalars(stmt)})


def _load_changes(session: Session, key: str, work: Work, changed: Any) -> None:
    """Records already in QuickBooks whose billing row changed since booksync wrote it."""
    work.changed_invoices = changed(Invoice, Kind.INVOICE, selectinload(Invoice.lines))
    work.changed_credit_memos = changed(CreditMemo, Kind.CREDIT_MEMO, selectinload(CreditMemo.lines))
    work.changed_receipts = changed(SalesReceipt, Kind.SALES_RECEIPT, selectinload(SalesReceipt.lines))
    payments = changed(Payment, Kind.PAYMENT, selectinload(Payment.applications))
    work.changed_payments = [p for p in payments if p.status == "open"]
    work.deleted_payments = [p for p in payments if p.status != "open"]
    work.changed_members = changed(Member, Kind.CUSTOMER)
    invoice_ids = [r.id for r in work.changed_invoices]
    memo_ids = [r.id for r in work.changed_credit_memos]
    touching: dict[int, Any] = {}
    for ids, column in ((invoice_ids, Application.invoice_id), (memo_ids, Application.credit_memo_id)):
        for chunk in chunks(ids):
            # From the applications (their invoice/credit memo index) to the payments: starting from the
            # payment links instead walks all of them (docs/performance.md finding 1).
            stmt = (select(Payment).join(Link, and_(Link.company_key == key, Link.kind == Kind.PAYMENT.value,
                                                    Link.local_id == Payment.id))
                    .where(Payment.id.in_(select(Application.payment_id).where(column.in_(chunk))))
                    .options(selectinload(Payment.applications)))
            touching.update({p.id: p for p in session.scalars(stmt)})
    # Payments whose QuickBooks copy (what booksync wrote) applies to them, though the billing store no longer does.
    for p in work.changed_payments + work.deleted_payments:
        touching.setdefault(p.id, p)
    work.linked_payments_touching = list(touching.values())
    for p in work.linked_payments_touching:
        for app in p.applications:
            _ = app.invoice, app.credit_memo


def find_held_payments(session: Session, key: str, work: Work, port: BooksPort) -> None:
    """Payments an earlier run took out of a deposit and did not put back (killed between the two, or a
    refused put-back): the deposits its journal took payments out of last are read again, and every line
    of booksync's placeholder memo they still hold (:func:`booksync.domain.placeholder_payment`) puts its
    payment into ``work.held_payments`` (with its link and member), to be put back by this run."""
    deposit_ids = open_take_outs(session, key)
    if not deposit_ids:
        return
    held: dict[str, Any] = {}
    for deposit in port.deposits(sorted(deposit_ids)):
        for line in deposit.lines:
            if placeholder_payment(line.memo):
                held[placeholder_payment(line.memo)] = deposit
    if not held:
        return
    links = list(session.scalars(select(Link).where(
        Link.company_key == key, Link.kind.in_((Kind.PAYMENT.value, Kind.SALES_RECEIPT.value)),
        Link.remote_id.in_(sorted(held)))))
    loaded = {p.id for p in work.changed_payments + work.deleted_payments}
    ids = [link.local_id for link in links if link.kind == Kind.PAYMENT.value and link.local_id not in loaded]
    receipt_ids = [link.local_id for link in links if link.kind == Kind.SALES_RECEIPT.value
                   and link.local_id not in {r.id for r in work.changed_receipts}]
    work.held_deposits = held
    work.links.update({(link.kind, link.local_id): link for link in links})
    if receipt_ids:
        work.held_receipts = list(session.scalars(select(SalesReceipt).where(SalesReceipt.id.in_(receipt_ids))
                                                  .options(selectinload(SalesReceipt.lines))))
        missing = {r.member_id for r in work.held_receipts} - set(work.members)
        if missing:
            work.members.update(rows.members(session, missing))
    if ids:
        work.held_payments = list(session.scalars(select(Payment).where(Payment.id.in_(ids))
                                                  .options(selectinload(Payment.applications))))
        missing = {p.member_id for p in work.held_payments} - set(work.members)
        if missing:
            work.members.update(rows.members(session, missing))


def part_size() -> int:
    """Records to add read and planned at a time (``BOOKSYNC_PLAN_PART`` overrides
    :data:`booksync.store.rows.PART`)."""
    raw = os.environ.get("BOOKSYNC_PLAN_PART", "")
    return int(raw) if raw else rows.PART


def chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    """``ids`` in lists of at most ``size`` (the IN lists of one query)."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]
