"""Settling interrupted runs, first thing in a run (docs/architecture.md "Journal and recovery"): every operation an
earlier run journaled "sent" without its answer is looked up in QuickBooks; one that took effect is recorded done
(its link follows), one that did not goes back to "pending" to be planned again."""
from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.books.port import BooksPort
from booksync.domain import Action, Kind, QBSnapshot
from booksync.errors import BooksError
from booksync.store.models import JournalEntry, Link, SyncRun
from booksync.sync.linking import LinkRecorder
from booksync.sync.references import Versions
from booksync.sync.written import written_targets

log = logging.getLogger("booksync.sync")


def settle_journal(session: Session, key: str, snapshot: QBSnapshot, port: BooksPort, run_id: str,
                   links: LinkRecorder, versions: Versions) -> list[str]:
    """Settle every operation of an interrupted run whose outcome is unknown (journal status "sent")
    by asking QuickBooks whether it took effect; record it as done, or as pending to plan again.
    Returns one line per settled operation."""
    entries = list(session.scalars(select(JournalEntry).where(JournalEntry.company_key == key,
                                                              JournalEntry.status == "sent")
                                   .order_by(JournalEntry.run_id, JournalEntry.seq)))
    lines = []
    customers = {c.list_id: c for c in snapshot.customers}
    wanted = sorted({e.target_id for e in entries if e.kind == Kind.CUSTOMER.value and e.target_id})
    if wanted and not snapshot.complete:
        customers = {c.list_id: c for c in port.find_customers(wanted)[0]}
    for entry in entries:
        found = _took_effect(session, key, port, entry, customers)
        if found is not None:
            entry.status, entry.remote_id, entry.edit_sequence = "done", found[0], found[1]
            entry.error = f"settled by run {run_id}: it had taken effect"
            links.record(session, key, entry, found[0], found[1], found[2])
            lines.append(f"{entry.action} {entry.kind} {entry.number}: had taken effect; recorded")
        else:
            entry.status = "pending"
            entry.error = f"settled by run {run_id}: it had not taken effect"
            lines.append(f"{entry.action} {entry.kind} {entry.number}: had not taken effect; planned again")
    for run in session.scalars(select(SyncRun).where(SyncRun.company_key == key, SyncRun.status == "applying")):
        run.status = "interrupted"
    links.flush_marks(session, key)
    session.commit()
    paid = [e for e in entries if e.status == "done" and e.kind == Kind.PAYMENT.value]
    if paid:
        try:
            _follow_settled_payments(session, key, port, paid, versions)
            session.commit()
        except BooksError as exc:
            session.rollback()
            log.warning("could not re-read the invoices settled payments apply to: %s", exc)
    if lines:
        log.info("settled %d operation(s) of interrupted runs: %s", len(lines), "; ".join(lines))
    return lines


def _took_effect(session: Session, key: str, port: BooksPort, entry: JournalEntry,
                 customers: dict[str, Any]) -> tuple[str, str, str] | None:
    kind = Kind(entry.kind)
    if entry.action == Action.ADD.value:
        return port.find_added(entry.kind, entry.ref_number, entry.external_guid)
    link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == entry.kind,
                                             Link.local_id == entry.local_id))
    recorded = link.edit_sequence if link is not None else entry.fingerprint
    if kind is Kind.CUSTOMER:
        customer = customers.get(entry.target_id)
        written = json.loads(entry.written or "{}")
        if customer is not None and customer.edit_sequence != recorded and customer.name == written.get("name"):
            return customer.list_id, customer.edit_sequence, customer.full_name
        return None
    txn = port.transactions(entry.kind, [entry.target_id]).get(entry.target_id)
    if entry.action == Action.DELETE.value:
        return (entry.target_id, "", "") if txn is None else None
    if txn is None:
        return None
    if entry.action == Action.VOID.value:
        return (txn.remote_id, txn.edit_sequence, "") if txn.total == 0 else None
    if kind is Kind.DEPOSIT:
        return (txn.remote_id, txn.edit_sequence, "") if txn.edit_sequence != recorded else None
    written = json.loads(entry.written or "{}")
    expected = Decimal(written["total"]) if "total" in written else sum(
        (Decimal(line["amount"]) for line in written.get("lines") or []), Decimal("0.00"))
    if txn.edit_sequence != recorded and txn.total == expected:
        return txn.remote_id, txn.edit_sequence, ""
    return None


def _follow_settled_payments(session: Session, key: str, port: BooksPort, entries: list[JournalEntry],
                             versions: Versions) -> None:
    """After a crash, the settled payments' documents get the versions the payments gave them, as the apply step
    would have recorded (:meth:`booksync.sync.apply.Applier.follow_applied_versions`) — for documents the same
    interrupted run wrote (for older ones the version before the lost message is unknown: a later correction may
    then report a conflict, which --on-conflict=overwrite resolves)."""
    wanted: dict[tuple[str, str], set[int]] = {}
    for entry in entries:
        for kind, local_id in written_targets(entry.written):
            wanted.setdefault((kind, entry.run_id), set()).add(local_id)
    for (kind, run_id), local_ids in wanted.items():
        links = [link for link in session.scalars(select(Link).where(
            Link.company_key == key, Link.kind == kind, Link.local_id.in_(sorted(local_ids))))
            if link.remote_id and link.run_id == run_id]
        versions.follow(port, kind, links)
