"""One synchronization run: DESIGN.md "The main job", steps 2–10.

:func:`synchronize` reads QuickBooks through a books port, checks, plans,
stages the working files, asks (through an :class:`Interaction`), backs up,
applies the operations with a journal, and reports. The command line and the
web interface both call it; neither holds sync logic.
"""
from __future__ import annotations

import datetime as dt
import gc
import getpass
import json
import logging
import os
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from filelock import FileLock, Timeout

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.util import identity_key

from booksync.books.port import BooksPort, Outcome
from booksync.exits import EXIT_CHECKS, EXIT_CONNECTION, EXIT_DECLINED, EXIT_OK, EXIT_REFUSED, EXIT_UNEXPECTED  # noqa: F401
from booksync.faults import fault_point
from booksync.domain import (PLACEHOLDER_MEMO, Action, Kind, Operation, Plan, Problem, QBSnapshot, Ref, operation_words,
                      placeholder_payment)
from booksync.errors import ConnectionFailure, BooksError, Refused
from booksync.store.keys import adopt_company_key
from booksync.store.models import (Application, CreditMemo, GLAccount, Invoice, JournalEntry, Link, Member, Outstanding,
                            Payment, SyncMark, SyncRun, _now)
from booksync.sync import planner
from booksync.sync.balances import PlannedApplications, check_open_balances
from booksync.sync.corrections import CorrectionPlanner, CorrectionPolicy, Remote
from booksync.store import rows
from booksync.store.backup import backup_database
from booksync.store.locks import LockHeld, advisory_lock
from booksync.store.links import GoneRecord, anchor_links, link_key
from booksync.store.restore import pending_restore
from booksync.sync.staging import StagedPlan, discard_scratch, write_corrections_log

PRE_IMAGES = "pre-images.jsonl"
"""The file in a run's folder holding the pre-images of the records it changed, voided or deleted."""

log = logging.getLogger("booksync.sync")



class Interaction(Protocol):
    """The questions a run asks, answered by a person or by unattended flags."""

    def ask_create_customers(self, members: list[str]) -> bool: ...

    def review_corrections(self, plan: Plan, log_files: dict[str, Path]) -> bool:
        """The Corrections Log gate: True once the log was previewed or printed; False cancels."""
        ...

    def confirm_update(self, plan: Plan, folder: Path) -> bool: ...

    def progress(self, phase: str, done: int, total: int) -> None: ...


@dataclass
class SyncOptions:
    dry_run: bool = False
    message_size: int = 50
    keep_backups: int = 10
    policy: CorrectionPolicy = field(default_factory=CorrectionPolicy)
    full_scan: bool = False
    """Examine every billing record, not only those changed since the change mark (load_work everything)."""


@dataclass
class SyncResult:
    """What a run did. ``status``: nothing, stopped, declined, dry-run, completed, refused.

    ``exit_code`` is one of :mod:`booksync.exits` (0 fine, 3 checks stopped the run, 4 the user declined,
    5 QuickBooks refused an operation).
    """

    run_id: str
    status: str
    exit_code: int
    message: str
    problems: list[Problem] = field(default_factory=list)
    planned: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    folder: str = ""
    backup: str = ""
    adjustments: int = 0
    digest: str = ""
    """The plan's digest (:meth:`booksync.domain.Plan.digest`), when a plan was made."""
    settled: list[str] = field(default_factory=list)
    """Operations of interrupted runs settled at the start of this run."""
    message_web: str = ""
    """``message`` in the web interface's words, where they differ (pages, not commands); "" = the same."""
    backup_note: str = ""
    """Why the backup holds no copy of the company file ("" when it does)."""
    notices: list[Problem] = field(default_factory=list)
    """What the user must know that did not stop the run: records linked to QuickBooks that are gone from
    the billing store (code "gone", :func:`booksync.store.links.anchor_links`)."""

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "exit_code": self.exit_code, "message": self.message,
                "message_web": self.message_web, "backup_note": self.backup_note,
                "problems": [p.__dict__ for p in self.problems], "planned": self.planned, "applied": self.applied,
                "folder": self.folder, "backup": self.backup, "adjustments": self.adjustments,
                "digest": self.digest, "settled": self.settled, "notices": [p.__dict__ for p in self.notices]}


RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
"""Seconds to wait before resending after a transient refusal (a record locked by another user)."""

READING_CUSTOMERS = "Reading QuickBooks customers"
"""Progress phase of :meth:`Run.read_customers`: the customers the run needs."""

EXAMINING = "Examining records"
"""Planning's progress phase: it counts billing records; the plan that follows counts changes (operations)."""

def gone_notices(gone: list[GoneRecord]) -> list[Problem]:
    """The records gone from the billing store that QuickBooks still holds, as notices with advice."""
    out = []
    for g in gone:
        if g.state:
            continue  # booksync already voided or deleted it in QuickBooks: nothing left to decide
        message, fix = g.advice()
        out.append(Problem("gone", g.label, message, fix, g.web_fix()))
    return out


def new_run_id(runs_dir: Path, taken: Any = frozenset()) -> str:
    """YYYYMMDD-HHMMSS, with -2, -3... when a run folder or a recorded run (``taken``) has it already."""
    base = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while (runs_dir / run_id).exists() or run_id in taken:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


# ---------------------------------------------------------------------- loading the work


MARK_MARGIN = dt.timedelta(minutes=10)
"""How far before a run's start its change mark is set. Records stamped within the margin are looked at
again by the next run (harmless: they are classified, not re-sent), which covers clocks of several
PostgreSQL clients that differ a little and changes committed a little after they were stamped.
``BOOKSYNC_MARK_MARGIN_SECONDS`` overrides it (the tests set 0, so that every run relies on the mark)."""


def mark_margin() -> dt.timedelta:
    raw = os.environ.get("BOOKSYNC_MARK_MARGIN_SECONDS", "")
    return dt.timedelta(seconds=float(raw)) if raw else MARK_MARGIN

_MODELS = ((Kind.INVOICE, Invoice), (Kind.CREDIT_MEMO, CreditMemo), (Kind.PAYMENT, Payment),
           (Kind.CUSTOMER, Member))


def change_candidates(session: Session, company_key: str) -> dict[Kind, list[int]] | None:
    """The records a run must look at: those changed after the company's mark, and those still
    outstanding when it was set. None when the company has no mark yet (every record is a candidate).

    Uses the ``updated_at`` indexes, so the cost follows the size of the change, not of the history
    (issue 10; docs/architecture.md "Change marks")."""
    mark = session.get(SyncMark, company_key)
    if mark is None:
        return None
    out: dict[Kind, list[int]] = {}
    for kind, model in _MODELS:
        ids = set(session.scalars(select(model.id).where(model.updated_at > mark.checked_through)))
        ids.update(session.scalars(select(Outstanding.local_id).where(Outstanding.company_key == company_key,
                                                                      Outstanding.kind == kind.value)))
        out[kind] = sorted(ids)
    return out


def remember_outstanding(session: Session, company_key: str, work: planner.Work, started: dt.datetime,
                         run_id: str = "") -> None:
    """Move the company's change mark to ``started`` (less :func:`mark_margin`) and record the records of
    ``work`` that need synchronizing as outstanding, replacing the previous set. ``work`` must come
    from :func:`load_work` run after ``started``. Does not commit."""
    needed = {(Kind.INVOICE.value, r.id) for r in work.invoices + work.changed_invoices}
    needed |= {(Kind.CREDIT_MEMO.value, r.id) for r in work.credit_memos + work.changed_credit_memos}
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


def _mark_outstanding(session: Session, company_key: str, pending: set[tuple[str, int]],
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


def load_work(session: Session, company_key: str, *, everything: bool = False) -> planner.Work:
    """Load the records changed since booksync wrote them, and what they need, from the billing store;
    the records not yet in QuickBooks are read part by part while planning (``work.source``,
    :class:`booksync.store.rows.AddsSource`). Only the change candidates (:func:`change_candidates`) are
    examined unless ``everything`` is set or the company has no mark yet."""
    work = planner.Work()
    work.gl_accounts = {g.id: g for g in session.scalars(select(GLAccount))}
    candidates = None if everything else change_candidates(session, company_key)

    def among(stmt: Any, model: Any, kind: Kind) -> list[Any]:
        if candidates is None:
            return list(session.scalars(stmt))
        out: list[Any] = []
        for chunk in _chunks(candidates[kind]):
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
                  | {p.member_id for p in work.changed_payments + work.deleted_payments
                     + work.linked_payments_touching}
                  | {m.id for m in work.changed_members})
    work.members = rows.members(session, member_ids)
    wanted: dict[str, set[int]] = {Kind.CUSTOMER.value: member_ids, Kind.INVOICE.value: set(),
                                   Kind.CREDIT_MEMO.value: set()}
    wanted[Kind.INVOICE.value] |= {r.id for r in work.changed_invoices}
    wanted[Kind.CREDIT_MEMO.value] |= {r.id for r in work.changed_credit_memos}
    wanted[Kind.PAYMENT.value] = {p.id for p in work.changed_payments + work.deleted_payments
                                  + work.linked_payments_touching}
    for payment in work.open_payments() + work.linked_payments_touching:
        for app in payment.applications:
            wanted[Kind.INVOICE.value].add(app.invoice_id)
            if app.credit_memo_id is not None:
                wanted[Kind.CREDIT_MEMO.value].add(app.credit_memo_id)

    for kind, ids in wanted.items():
        for chunk in _chunks(sorted(ids)):
            stmt = select(Link).where(Link.company_key == company_key, Link.kind == kind, Link.local_id.in_(chunk))
            work.links.update({(link.kind, link.local_id): link for link in session.scalars(stmt)})
    return work


def _load_changes(session: Session, key: str, work: planner.Work, changed: Any) -> None:
    """Records already in QuickBooks whose billing row changed since booksync wrote it."""
    work.changed_invoices = changed(Invoice, Kind.INVOICE, selectinload(Invoice.lines))
    work.changed_credit_memos = changed(CreditMemo, Kind.CREDIT_MEMO, selectinload(CreditMemo.lines))
    payments = changed(Payment, Kind.PAYMENT, selectinload(Payment.applications))
    work.changed_payments = [p for p in payments if p.status == "open"]
    work.deleted_payments = [p for p in payments if p.status != "open"]
    work.changed_members = changed(Member, Kind.CUSTOMER)
    invoice_ids = [r.id for r in work.changed_invoices]
    memo_ids = [r.id for r in work.changed_credit_memos]
    touching: dict[int, Any] = {}
    for ids, column in ((invoice_ids, Application.invoice_id), (memo_ids, Application.credit_memo_id)):
        for chunk in _chunks(ids):
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


def open_take_outs(session: Session, key: str) -> set[str]:
    """TxnIDs of the deposits whose last operation booksync completed took payments out (its payload holds a
    placeholder line): a put-back may be missing there. One query over the journal's deposit rows."""
    prefix = PLACEHOLDER_MEMO.split("{txn_id}")[0]
    last: dict[str, tuple[str, str]] = {}
    for target, action, written in session.execute(
            select(JournalEntry.target_id, JournalEntry.action, JournalEntry.written)
            .where(JournalEntry.company_key == key, JournalEntry.kind == Kind.DEPOSIT.value,
                   JournalEntry.status == "done").order_by(JournalEntry.id)):
        last[target] = (action, written or "")
    return {target for target, (action, written) in last.items()
            if target and action == Action.MOD.value and prefix in written}


def part_size() -> int:
    """Records to add read and planned at a time (``BOOKSYNC_PLAN_PART`` overrides
    :data:`booksync.store.rows.PART`)."""
    raw = os.environ.get("BOOKSYNC_PLAN_PART", "")
    return int(raw) if raw else rows.PART


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


# ---------------------------------------------------------------------- the run


def _written_targets(written: str | None) -> Iterator[tuple[str, int]]:
    """(kind, local id) of each invoice and credit memo a payment's written JSON applies to."""
    try:
        payload = json.loads(written or "{}")
    except ValueError:
        return
    for app in payload.get("applications") or []:
        credits = [c.get("credit_memo") or {} for c in app.get("credits") or []]
        for ref in [app.get("invoice") or {}, *credits]:
            if ref.get("ref") in (Kind.INVOICE.value, Kind.CREDIT_MEMO.value) and isinstance(ref.get("id"), int):
                yield ref["ref"], ref["id"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a CPU-bound step that allocates an object or more per
    record and makes no reference cycles: with it on, its full passes over the growing heap took 40 % of a
    full plan (docs/performance.md finding 2). Never around waits for people or QuickBooks: in
    `booksync serve` the whole process shares the collector."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class Run:
    """State of one run while it goes through the steps."""

    def __init__(self, sessions: sessionmaker[Session], port: BooksPort, home: Any, interaction: Interaction,
                 options: SyncOptions) -> None:
        self.sessions = sessions
        self.port = port
        self.home = home
        self.ui = interaction
        self.options = options
        with sessions() as session:  # runs stopped before their plan have a row but no folder
            taken = set(session.scalars(select(SyncRun.id).where(
                SyncRun.started_at >= _now() - dt.timedelta(minutes=5))))
        self.run_id = new_run_id(home.runs_dir, taken)
        self.started = _now()
        self.folder = home.runs_dir / self.run_id
        self.resolved: dict[tuple[str, int], str] = {}
        self._link_cache: dict[tuple[str, int], Link] | None = None
        self._new_links: dict[tuple[str, int], dict[str, Any]] = {}
        """Links the current message creates, inserted together by :meth:`_insert_new_links`."""
        self.versions: dict[str, str] = {}
        """Latest EditSequence by ListID/TxnID, from the answers of this run."""
        self.digest = ""
        self.settled: list[str] = []
        self.notices: list[Problem] = []
        self.held: list[Problem] = []
        """Members held back: their QuickBooks customer is gone (:func:`booksync.sync.planner.hold_back`)."""
        self._stamps: dict[tuple[str, int], dt.datetime] = {}
        """``updated_at`` of every record this run loaded, as loaded: the versions its operations are planned
        from (journal ``source_updated_at``)."""
        self._marks_pending: set[tuple[str, int]] = set()
        self._marks_settled: set[tuple[str, int]] = set()
        self.staged: StagedPlan | None = None
        self._mod_targets: set[str] = set()
        """ListIDs/TxnIDs this run's plan changes: the only versions :attr:`versions` must keep."""
        self.planned_applications = PlannedApplications()
        """What the plan's payments apply to invoices already in QuickBooks (checked before anything is written)."""
        self._planned_yet = False
        self._fetched: dict[tuple[str, int], str] = {}
        self.refusal_web = ""
        self.backup_note = ""
        """Why the backup holds no copy of the company file ("" when it does)."""
        self._pre_imaged: set[str] = set()
        """ListIDs/TxnIDs whose pre-image this run recorded (the first one counts: before the run touched it)."""
        """The refusal that stopped :meth:`apply`, in the web interface's words."""
        """ListIDs/TxnIDs of the records the current message refers to, read from the link table."""

    def _flush_marks(self, session: Session, key: str) -> None:
        _mark_outstanding(session, key, self._marks_pending, self._marks_settled)
        self._marks_pending, self._marks_settled = set(), set()

    def result(self, status: str, code: int, message: str, **kw: Any) -> SyncResult:
        if self.held:  # members held back (their customer is gone in QuickBooks): said whatever else happened
            kw["problems"] = list(kw.get("problems") or []) + self.held
            message += (f" {len(self.held)} member(s) were held back because their QuickBooks customer is gone; "
                        "see below.")
        return SyncResult(self.run_id, status, code, message, folder=str(self.folder) if self.folder.exists() else "",
                          digest=self.digest, settled=self.settled, notices=self.notices,
                          backup_note=self.backup_note, **kw)

    def execute(self) -> SyncResult:
        interrupted = pending_restore(self.home.path)
        if interrupted is not None:  # a database from before a run beside a company file from after it
            return self.result("stopped", EXIT_CHECKS, f"{interrupted.describe()} Nothing was synchronized: "
                               f"run 'booksync backups restore {interrupted.run_id}' to finish the restore "
                               "(or restore another backup), then synchronize.")
        discard_scratch(self.home.runs_dir)  # of runs killed earlier: callers hold the home's sync lock
        try:
            result = self._execute()
        except ConnectionFailure as exc:
            self._stop_on_connection(exc)
            raise
        except BaseException:
            self._abandon()
            raise
        finally:
            if self.staged is not None:
                self.staged.discard()
        if result.status in ("stopped", "declined"):
            self._record_stopped(result)
        return result

    def _abandon(self) -> None:
        """A run left by an exception (the person pressed Ctrl-C at the confirmation, the connection
        failed) is not left "planned" for ever: "cancelled" when nothing was sent yet."""
        try:
            with self.sessions() as session:
                run = session.get(SyncRun, self.run_id)
                if run is not None and run.status == "planned":
                    run.status, run.finished_at = "cancelled", _now()
                    session.commit()
        except Exception:  # noqa: BLE001 - the first exception is the one to report
            log.exception("could not record run %s as cancelled", self.run_id)

    def _stop_on_connection(self, exc: ConnectionFailure) -> None:
        """QuickBooks could not be reached in the middle of the run (the company file locked by another
        program, the Web Connector gone): the run is recorded "stopped" (not left "applying"), and
        ``exc.outcome`` says whether anything was written. Operations of a message QuickBooks certainly did not
        process (``exc.unprocessed``) go back to "pending"; others whose answer was lost stay "sent" for the
        next sync to settle by asking QuickBooks."""
        try:
            with self.sessions() as session:
                run = session.get(SyncRun, self.run_id)
                if run is None or run.status not in ("planned", "applying"):
                    exc.outcome = "Nothing was written to QuickBooks."
                    return
                table = JournalEntry.__table__
                if exc.unprocessed:
                    session.execute(update(table).where(table.c.run_id == self.run_id, table.c.status == "sent")
                                    .values(status="pending", updated_at=_now()))
                applied: dict[str, int] = {}
                unknown = 0
                for action, kind, status in session.execute(select(table.c.action, table.c.kind, table.c.status)
                                                            .where(table.c.run_id == self.run_id)):
                    if status == "done":
                        label = f"{action} {kind}"
                        applied[label] = applied.get(label, 0) + 1
                    elif status == "sent":
                        unknown += 1
                done = sum(applied.values())
                if not done and not unknown:
                    exc.outcome = "Nothing was written to QuickBooks."
                else:
                    exc.outcome = (f"{done} operation(s) were written to QuickBooks before it and are recorded; "
                                   "the rest were not written.") if done else "Nothing is known to be written."
                    if unknown:
                        exc.outcome += (f" The answer to {unknown} operation(s) was lost: the next sync asks "
                                        "QuickBooks about them before sending anything, so nothing is written twice.")
                    else:
                        exc.outcome += " The next sync sends the rest; nothing is written twice."
                message = f"QuickBooks could not be reached: {exc.message} {exc.outcome}"
                run.status, run.finished_at = "stopped", _now()
                result = self.result("stopped", EXIT_CONNECTION, message, applied=applied)
                result.problems = [Problem("connection", "QuickBooks", exc.message, exc.advice or "", exc.advice or "")]
                run.summary = json.dumps(result.as_dict())
                session.commit()
                if self.folder.exists():
                    (self.folder / "summary.json").write_text(json.dumps(result.as_dict(), indent=2))
        except Exception:  # noqa: BLE001 - the connection failure is the one to report
            log.exception("could not record run %s as stopped", self.run_id)

    def _record_stopped(self, result: SyncResult) -> None:
        """A run stopped by a check, or declined, before its plan was recorded still gets its row in
        sync_runs (with the problems), so `booksync runs list` and the web interface show why."""
        with self.sessions() as session:
            if session.get(SyncRun, self.run_id) is None:
                session.add(SyncRun(id=self.run_id, company_key=self.port.company_key, status=result.status,
                                    dry_run=self.options.dry_run, started_at=self.started, finished_at=_now(),
                                    folder=result.folder,
                                    summary=json.dumps(result.as_dict())))
                session.commit()

    def _execute(self) -> SyncResult:
        self.ui.progress("Reading QuickBooks", 0, 1)
        # Customers are read later, only those this run needs (read_customers).
        snapshot = self.port.snapshot(balances=False, customers=False)
        key = self.port.company_key
        self.ui.progress("Reading QuickBooks", 1, 1)
        with self.sessions() as session:
            if adopt_company_key(session, key, getattr(self.port, "legacy_key", "")):
                session.commit()
            self.settled = self.settle_journal(session, key, snapshot)
            # Links follow the billing records' own identity (numbers), not row ids that may be reused.
            self.notices = gone_notices(anchor_links(session, key))
            session.commit()
            started = _now()
            self.ui.progress("Reading the billing store", 0, 1)
            with collector_paused():
                work = load_work(session, key, everything=self.options.full_scan)
                self.find_held_payments(session, key, work)
                self._stamps = work.stamps()
                remember_outstanding(session, key, work, started, self.run_id)
                session.commit()
            self.ui.progress("Reading the billing store", 1, 1)
            if work.is_empty():
                return self.result("nothing", EXIT_OK, "Nothing to synchronize: QuickBooks is up to date.")
            self.read_customers(work, snapshot)
            for member, link in planner.customers_gone(work, snapshot):
                held = planner.hold_back(work, {member.id})
                self.held.append(planner.customer_gone_problem(member, link, held))
            if self.held and work.is_empty():
                return self.result("nothing", EXIT_OK, "Nothing else to synchronize.")
            problems = planner.check_accounts(work, snapshot)
            if problems:
                headline = planner.UNMAPPED_HEADLINE.format(n=len(problems))
                return self.result("stopped", EXIT_CHECKS, headline + " Map them, then synchronize again.",
                                   problems=problems)
            customers = planner.resolve_customers(work, snapshot)
            if customers.problems:
                return self.result("stopped", EXIT_CHECKS, "Some members cannot reach their QuickBooks customer.",
                                   problems=customers.problems)
            create = False
            if customers.missing:
                labels = [planner.member_label(m) for m in customers.missing]
                create = self.ui.ask_create_customers(labels)
                if not create:
                    problems = [Problem("no-customer", label, "has no QuickBooks customer",
                                        f"link it by hand: booksync members map {m.number} \"Customer name\"",
                                        "link it to a QuickBooks customer on the member's Bill Info tab")
                                for label, m in zip(labels, customers.missing)]
                    return self.result("declined", EXIT_DECLINED,
                                       f"{len(labels)} member(s) have no QuickBooks customer and none were created; "
                                       "nothing was written.", problems=problems)
            problems = planner.check_deposit_accounts(work, snapshot)
            if problems:
                return self.result("stopped", EXIT_CHECKS, f"{len(problems)} payment(s) deposit to an account "
                                   "QuickBooks does not accept for payments; nothing was written.", problems=problems)
            self.ui.progress("Reading QuickBooks' versions of the records to correct", 0, 1)
            remote = self.read_versions(work, snapshot)
            deposits = self.read_deposits(work)
            plan_builder = CorrectionPlanner(work, snapshot, customers, self.port.limits, key, remote=remote,
                                             policy=self.options.policy, deposits=deposits)
            records = work.add_count()
            self.ui.progress(EXAMINING, 0, records)
            plan_builder.progress = lambda done, total: self.ui.progress(EXAMINING, done, total)
            self.resolved = {(link.kind, link.local_id): link.remote_id for link in work.links.values()}
            self.resolved.update({(Kind.CUSTOMER.value, m): lid for m, lid in customers.linked.items()})
            staged = self.staged = StagedPlan(self.folder, self.port, self.resolve, snapshot, min(
                self.options.message_size, getattr(self.port, "message_size", self.options.message_size)))
            try:
                plan_builder.sink, plan_builder.sink_every = self._stage, part_size()
                with collector_paused():
                    plan = plan_builder.build(create)
                    plan.notices = self.notices
                    self._stage(plan)
                self.ui.progress(EXAMINING, records, records)
                self.digest = plan.digest()
                problems = plan_builder.problems + planner.check_applications(work, plan_builder.planned)
                if not problems:
                    problems = check_open_balances(self.planned_applications, self.port)
                if problems or not plan.size:
                    self._discard_folder()
                    if problems:
                        return self.result("stopped", EXIT_CHECKS, "The plan cannot be applied; nothing was written.",
                                           problems=problems)
                    skipped = f" ({len(plan_builder.skipped)} conflict(s) skipped)" if plan_builder.skipped else ""
                    return self.result("nothing", EXIT_OK, "Nothing to synchronize: QuickBooks is up to date"
                                       + skipped + ".")
                staged.close(plan)
            except BaseException:
                self._discard_folder()
                raise
            log_files = write_corrections_log(self.folder, plan, snapshot, self.options.policy) \
                if plan.corrections else {}
            run = SyncRun(id=self.run_id, company_key=key, status="planned", dry_run=self.options.dry_run,
                          folder=str(self.folder), summary=json.dumps({"planned": plan.counts(),
                                                                       "digest": plan.digest()}))
            session.add(run)
            session.commit()
            counts = plan.counts()
            adjusted = len(plan.adjustments)
            if self.options.dry_run:
                return self._finish(session, run, "dry-run", EXIT_OK,
                                    f"Dry run: {plan.size} operation(s) staged in {self.folder}; "
                                    "nothing was sent to QuickBooks.", planned=counts, adjustments=adjusted)
            review = getattr(self.ui, "review_corrections", None)
            if plan.corrections and review is not None and not review(plan, log_files):
                return self._finish(session, run, "cancelled", EXIT_DECLINED,
                                    "Cancelled at the Corrections Log; nothing was written to QuickBooks.",
                                    planned=counts, adjustments=adjusted)
            if not self.ui.confirm_update(plan, self.folder):
                return self._finish(session, run, "declined", EXIT_DECLINED,
                                    "QuickBooks was not updated; the plan was discarded.", planned=counts,
                                    adjustments=adjusted)
            backup = self.backup()
            self._record_bill_info(session, key, customers.new_links)
            applied, error = self.apply(session, run, plan, staged.batches, key)
            if error is not None:
                return self._finish(session, run, "refused", EXIT_REFUSED, error, planned=counts, applied=applied,
                                    backup=backup, adjustments=adjusted, message_web=self.refusal_web)
            return self._finish(session, run, "completed", EXIT_OK,
                                f"QuickBooks was updated: {sum(applied.values())} operation(s) applied.",
                                planned=counts, applied=applied, backup=backup, adjustments=adjusted)

    def _stage(self, plan: Plan) -> None:
        """Hand the operations planned so far to the working files (the planner's sink)."""
        ops = plan.take()
        self.planned_applications.observe(ops)
        for op in ops:
            if op.stamp is None:
                op.stamp = self._planned_stamp(op)
            if op.action is not Action.ADD and op.remote_id:
                self._mod_targets.add(op.remote_id)
        self.staged.put(ops)

    def _discard_folder(self) -> None:
        """A run that stops before its plan is recorded leaves no folder."""
        if self.staged is not None:
            self.staged.discard()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _finish(self, session: Session, run: SyncRun, status: str, code: int, message: str, **kw: Any) -> SyncResult:
        if self.staged is not None:
            self.staged.discard()
        run.status = status
        run.finished_at = _now()
        result = self.result(status, code, message, **kw)
        run.summary = json.dumps(result.as_dict())
        session.commit()
        if self.folder.exists():
            (self.folder / "summary.json").write_text(json.dumps(result.as_dict(), indent=2))
        return result

    def settle_journal(self, session: Session, key: str, snapshot: Any) -> list[str]:
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
            customers = {c.list_id: c for c in self.port.find_customers(wanted)[0]}
        for entry in entries:
            found = self._took_effect(session, key, entry, customers)
            if found is not None:
                entry.status, entry.remote_id, entry.edit_sequence = "done", found[0], found[1]
                entry.error = f"settled by run {self.run_id}: it had taken effect"
                self._record_link(session, key, entry, found[0], found[1], found[2])
                lines.append(f"{entry.action} {entry.kind} {entry.number}: had taken effect; recorded")
            else:
                entry.status = "pending"
                entry.error = f"settled by run {self.run_id}: it had not taken effect"
                lines.append(f"{entry.action} {entry.kind} {entry.number}: had not taken effect; planned again")
        for run in session.scalars(select(SyncRun).where(SyncRun.company_key == key, SyncRun.status == "applying")):
            run.status = "interrupted"
        self._flush_marks(session, key)
        session.commit()
        paid = [e for e in entries if e.status == "done" and e.kind == Kind.PAYMENT.value]
        if paid:
            try:
                self._follow_settled_payments(session, key, paid)
                session.commit()
            except BooksError as exc:
                session.rollback()
                log.warning("could not re-read the invoices settled payments apply to: %s", exc)
        if lines:
            log.info("settled %d operation(s) of interrupted runs: %s", len(lines), "; ".join(lines))
        return lines

    def _took_effect(self, session: Session, key: str, entry: JournalEntry,
                     customers: dict[str, Any]) -> tuple[str, str, str] | None:
        kind = Kind(entry.kind)
        if entry.action == Action.ADD.value:
            return self.port.find_added(entry.kind, entry.ref_number, entry.external_guid)
        link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == entry.kind,
                                                 Link.local_id == entry.local_id))
        recorded = link.edit_sequence if link is not None else entry.fingerprint
        if kind is Kind.CUSTOMER:
            customer = customers.get(entry.target_id)
            written = json.loads(entry.written or "{}")
            if customer is not None and customer.edit_sequence != recorded and customer.name == written.get("name"):
                return customer.list_id, customer.edit_sequence, customer.full_name
            return None
        txn = self.port.transactions(entry.kind, [entry.target_id]).get(entry.target_id)
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

    def read_customers(self, work: planner.Work, snapshot: QBSnapshot) -> None:
        """Complete a snapshot read without customers (``snapshot(customers=False)``) with the customers and
        other names this run needs (:func:`booksync.sync.planner.customers_needed`): a sync of ten changes
        reads ten customers, not the tens of thousands a large association has."""
        if snapshot.complete:
            return
        self.ui.progress(READING_CUSTOMERS, 0, 1)
        ids, names = planner.customers_needed(work, self.port.limits)
        snapshot.customers, snapshot.other_names = self.port.find_customers(sorted(ids), sorted(names))
        self.ui.progress(READING_CUSTOMERS, 1, 1)

    def read_deposits(self, work: planner.Work) -> dict[str, Any]:
        """The QuickBooks deposits holding payments that may be corrected (read only when there are some), and
        those holding booksync's placeholder lines (:meth:`find_held_payments`), by payment TxnID."""
        payments = work.changed_payments + work.deleted_payments + work.linked_payments_touching
        links = [work.links[(Kind.PAYMENT.value, p.id)] for p in payments if (Kind.PAYMENT.value, p.id) in work.links]
        ids = [link.remote_id for link in links]
        if not ids:
            return dict(work.held_deposits)
        # A deposit is dated on or after the payments it holds as QuickBooks has them (the dates written), which a
        # date correction may move past the deposit's date.
        dates = [p.date.isoformat() for p in payments]
        dates += [json.loads(link.written).get("date") or dates[0] for link in links if link.written]
        return {**work.held_deposits, **self.port.deposits_holding(ids, min(dates))}

    def find_held_payments(self, session: Session, key: str, work: planner.Work) -> None:
        """Payments an earlier run took out of a deposit and did not put back (killed between the two, or a
        refused put-back): the deposits its journal took payments out of last are read again, and every line
        of booksync's placeholder memo they still hold (:func:`booksync.domain.placeholder_payment`) puts its
        payment into ``work.held_payments`` (with its link and member), to be put back by this run."""
        deposit_ids = open_take_outs(session, key)
        if not deposit_ids:
            return
        held: dict[str, Any] = {}
        for deposit in self.port.deposits(sorted(deposit_ids)):
            for line in deposit.lines:
                if placeholder_payment(line.memo):
                    held[placeholder_payment(line.memo)] = deposit
        if not held:
            return
        links = list(session.scalars(select(Link).where(Link.company_key == key, Link.kind == Kind.PAYMENT.value,
                                                        Link.remote_id.in_(sorted(held)))))
        loaded = {p.id for p in work.changed_payments + work.deleted_payments}
        ids = [link.local_id for link in links if link.local_id not in loaded]
        work.held_deposits = held
        work.links.update({(link.kind, link.local_id): link for link in links})
        if ids:
            work.held_payments = list(session.scalars(select(Payment).where(Payment.id.in_(ids))
                                                      .options(selectinload(Payment.applications))))
            missing = {p.member_id for p in work.held_payments} - set(work.members)
            if missing:
                work.members.update(rows.members(session, missing))

    def read_versions(self, work: planner.Work, snapshot: Any) -> dict[tuple[str, int], Remote]:
        """Re-read, from QuickBooks, the current version of every linked record a correction may touch."""
        out: dict[tuple[str, int], Remote] = {}
        customers = {c.list_id: c for c in snapshot.customers}
        for member in work.changed_members:
            link = work.links.get((Kind.CUSTOMER.value, member.id))
            if link is not None:
                c = customers.get(link.remote_id)
                out[(Kind.CUSTOMER.value, member.id)] = Remote(c.edit_sequence if c else "", exists=c is not None)
        groups = ((Kind.INVOICE, work.changed_invoices), (Kind.CREDIT_MEMO, work.changed_credit_memos),
                  (Kind.PAYMENT, work.changed_payments + work.deleted_payments + work.linked_payments_touching))
        for kind, records in groups:
            ids = {work.links[(kind.value, r.id)].remote_id: r.id for r in records
                   if (kind.value, r.id) in work.links}
            found = self.port.transactions(kind.value, list(ids)) if ids else {}
            for remote_id, local_id in ids.items():
                txn = found.get(remote_id)
                out[(kind.value, local_id)] = (Remote(txn.edit_sequence, txn.total, txn.date) if txn
                                               else Remote("", exists=False))
        return out

    def resolve(self, ref: Ref) -> str | None:
        if ref.remote_id:
            return ref.remote_id
        if ref.local_id is None:
            return None
        key = (ref.kind, ref.local_id)
        return self.resolved.get(key) or self._fetched.get(key)

    def _fetch_refs(self, session: Session, key: str, batch: list[Operation]) -> None:
        """Read from the link table the ListIDs/TxnIDs of the customers, invoices and credit memos the message
        refers to that were created earlier in this run (a million-record run does not hold them all)."""
        wanted: dict[str, set[int]] = {}
        for op in batch:
            payload = op.payload
            refs = [getattr(payload, "customer", None)]
            for app in getattr(payload, "applications", None) or ():
                refs += [app.invoice, *(credit.credit_memo for credit in app.credits)]
            for ref in refs:
                if isinstance(ref, Ref) and not ref.remote_id and ref.local_id is not None \
                        and (ref.kind, ref.local_id) not in self.resolved:
                    wanted.setdefault(ref.kind, set()).add(ref.local_id)
        self._fetched = {}
        for kind, ids in wanted.items():
            for chunk in _chunks(sorted(ids)):
                stmt = select(Link.local_id, Link.remote_id).where(Link.company_key == key, Link.kind == kind,
                                                                  Link.local_id.in_(chunk))
                self._fetched.update({(kind, local_id): remote_id for local_id, remote_id in session.execute(stmt)
                                      if remote_id})

    def _keep_version(self, remote_id: str, edit_sequence: str) -> None:
        """Remember the version a record has after this run changed it, when a later operation of the plan
        needs it (before the plan is made, every version is kept)."""
        if not self._planned_yet or remote_id in self._mod_targets:
            self.versions[remote_id] = edit_sequence

    # -- backup, apply

    def backup(self) -> str:
        """Copy the company file, booksync's database and the logs into backups/RUN_ID."""
        target = self.home.backups_dir / self.run_id
        target.mkdir(parents=True, exist_ok=True)
        self.ui.progress("Backing up", 0, 1)
        fault_point("backup")
        if self.port.backup(str(target)) is None:
            self.backup_note = getattr(self.port, "backup_note", "") or (
                "booksync cannot copy the company file from here (Web Connector, QuickBooks Online): it kept the "
                "pre-images of the records it changes instead ('booksync runs undo RUN' takes the run back out)")
        backup_database(self.home.database_url, self.sessions.kw["bind"], target)
        if self.home.logs_dir.exists():
            shutil.copytree(self.home.logs_dir, target / "logs", dirs_exist_ok=True)
        self._prune_backups()
        self.ui.progress("Backing up", 1, 1)
        return str(target)

    def _prune_backups(self) -> None:
        keep = max(1, int(self.options.keep_backups))
        folders = sorted(p for p in self.home.backups_dir.iterdir() if p.is_dir())
        for old in folders[:-keep]:
            shutil.rmtree(old, ignore_errors=True)

    def _record_bill_info(self, session: Session, key: str, links: dict[int, tuple[str, str]]) -> None:
        for member_id, (list_id, name) in links.items():
            member = session.get(Member, member_id)
            session.add(Link(company_key=key, kind=Kind.CUSTOMER.value, local_id=member_id, remote_id=list_id,
                             local_key=member.number if member is not None else str(member_id),
                             qb_name=name, run_id=self.run_id,
                             source_updated_at=member.updated_at if member is not None else None))
        session.commit()

    def apply(self, session: Session, run: SyncRun, plan: Plan, batches: Callable[[], Iterator[list[Operation]]],
              key: str) -> tuple[dict[str, int], str | None]:
        """Send the messages ``batches()`` yields, in order, journaling each operation; stop at the first
        refusal. Every operation is journaled "pending" first; each message's entries are then read back
        as it is sent (a million-operation run holds one message at a time)."""
        run.status = "applying"
        self._planned_yet = True
        table = JournalEntry.__table__
        for batch in batches():
            session.execute(insert(table), [journal_values(run.id, key, op) for op in batch])
        session.commit()
        applied: dict[str, int] = {}
        done = 0
        total = plan.size
        for batch in batches():
            # Plain rows, read for _record_link; their status changes go through Core statements.
            entries = {e.seq: e for e in session.execute(select(table).where(
                table.c.run_id == run.id, table.c.seq.in_([op.seq for op in batch])))}
            status = {op.seq: "pending" for op in batch}
            self._fetch_refs(session, key, batch)
            pending = batch
            for attempt in range(len(RETRY_DELAYS) + 1):
                failure = self._send(session, key, pending, entries, status, applied)
                done = sum(applied.values())
                if failure is None or not getattr(failure[1].error, "transient", False) \
                        or attempt == len(RETRY_DELAYS):
                    break
                # Another user holds a record: wait, then resend what did not go through (bounded).
                log.info("retrying after a transient refusal: %s", failure[1].error)
                self.ui.progress(f"QuickBooks is busy; retrying in {RETRY_DELAYS[attempt]} s", attempt + 1,
                                 len(RETRY_DELAYS))
                time.sleep(RETRY_DELAYS[attempt])
                pending = [op for op in pending if status[op.seq] in ("failed", "pending")]
            self.ui.progress("Updating QuickBooks", done, total)
            if failure is not None:
                self.refusal_web = explain_refusal(*failure, face="web")
                return applied, explain_refusal(*failure)
            unanswered = [op for op in batch if status[op.seq] != "done"]
            if unanswered:
                # Never "updated" while an operation went unanswered: it stays pending, planned again next run.
                op = unanswered[0]
                self.refusal_web = (f"QuickBooks did not process {len(unanswered)} operation(s), the first to "
                                    f"{op.action.value} {op.kind.label} {op.number}, and gave no reason: synchronize "
                                    "again (booksync checks what was written first).")
                return applied, (f"QuickBooks did not process {len(unanswered)} operation(s) of a message, the first "
                                 f"to {op.action.value} {op.kind.label} {op.number} ({op.description}), and gave no "
                                 "reason; nothing else was sent after it. Synchronize again: booksync checks what "
                                 "was written first.")
        return applied, None

    def _send(self, session: Session, key: str, batch: list[Operation], entries: dict[int, Any],
              status: dict[int, str], applied: dict[str, int]) -> tuple[Operation, Outcome] | None:
        """Send one message: journal "sent" before, each outcome after (``status`` follows them).
        Returns the first refusal. ``entries``: the journal rows of the message by seq (read only)."""
        # Read before anything is marked sent: a failed read leaves the message simply not sent.
        targets = self._payment_targets(session, key, batch)
        self._record_pre_images(batch)
        table = JournalEntry.__table__
        run_id = entries[batch[0].seq].run_id
        session.execute(update(table).where(table.c.run_id == run_id, table.c.seq.in_([op.seq for op in batch]))
                        .values(status="sent", updated_at=_now()))
        for op in batch:
            status[op.seq] = "sent"
            if op.action is Action.MOD and op.remote_id in self.versions:
                op.edit_sequence = self.versions[op.remote_id]
            if op.kind is Kind.DEPOSIT:  # the version before, to settle it later
                session.execute(update(table).where(table.c.run_id == run_id, table.c.seq == op.seq)
                                .values(fingerprint=op.edit_sequence or ""))
        fault_point("before-sent")
        session.commit()
        fault_point("before-send")
        outcomes = self.port.send(batch, self.resolve)
        fault_point("after-send")
        failure: tuple[Operation, Outcome] | None = None
        answers: list[dict[str, Any]] = []
        # One query for the batch's links, and no flush per operation (the benchmark's finding 4).
        with session.no_autoflush:
            self._link_cache = self._links_of(session, key, batch)
            for op, outcome in zip(batch, outcomes):
                entry = entries[op.seq]
                answer = {"s": op.seq, "st": "pending", "rid": entry.remote_id, "es": entry.edit_sequence,
                          "err": entry.error}
                if outcome.status == "done":
                    answer.update(st="done", rid=outcome.remote_id, es=outcome.edit_sequence, err="")
                    self._record_link(session, key, entry, outcome.remote_id, outcome.edit_sequence, outcome.name)
                    label = f"{op.action.value} {op.kind.value}"
                    applied[label] = applied.get(label, 0) + 1
                elif outcome.status == "failed":
                    answer.update(st="failed", err=str(outcome.error))
                    failure = failure or (op, outcome)
                status[op.seq] = answer["st"]
                answers.append(answer)
            self._link_cache = None
            self._insert_new_links(session)
            self._flush_marks(session, key)
        now = _now()
        session.execute(update(table).where(table.c.run_id == run_id, table.c.seq == bindparam("s"))
                        .values(status=bindparam("st"), remote_id=bindparam("rid"), edit_sequence=bindparam("es"),
                                error=bindparam("err"), updated_at=now),
                        answers)
        session.commit()  # the answers first: nothing after this may lose them
        fault_point("after-record")
        try:
            with session.no_autoflush:
                self._follow_applied_versions(batch, outcomes, targets)
            session.commit()
        except BooksError as exc:
            # Only the recorded versions are stale: the next correction of these documents may report a
            # conflict that --on-conflict=overwrite resolves. Nothing written is lost.
            session.rollback()
            log.warning("could not re-read the invoices the payments apply to: %s", exc)
        return failure

    def _record_pre_images(self, batch: list[Operation]) -> None:
        """Before a message changes, voids or deletes records, keep what each looked like before this run first
        touched it, from QuickBooks' own answer to a query (``BooksPort.pre_images``): one JSON line per record in
        ``runs/RUN/pre-images.jsonl`` (:data:`booksync.sync.undo.PRE_IMAGES`), written and synced before the message
        is sent. ``booksync runs undo`` restores from them."""
        wanted: dict[str, list[Operation]] = {}
        for op in batch:
            if op.action is not Action.ADD and op.remote_id and op.remote_id not in self._pre_imaged:
                wanted.setdefault(op.kind.value, []).append(op)
        if not wanted:
            return
        lines = []
        for kind, ops in wanted.items():
            found = self.port.pre_images(kind, sorted({op.remote_id for op in ops}))
            for op in ops:
                if op.remote_id in self._pre_imaged:
                    continue
                self._pre_imaged.add(op.remote_id)
                version, record = found.get(op.remote_id, ("", ""))
                lines.append(json.dumps({"seq": op.seq, "action": op.action.value, "kind": kind,
                                         "local_id": op.local_id, "number": op.number, "remote_id": op.remote_id,
                                         "version": version, "record": record, "found": op.remote_id in found}))
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / PRE_IMAGES, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())

    def _payment_targets(self, session: Session, key: str,
                         batch: list[Operation]) -> list[tuple[Link, str | None]]:
        """The links of the invoices and credit memos the message's payments apply to, now and as last
        written, each with its version in QuickBooks before the message when booksync wrote it in an
        earlier run (None when this run wrote it). Nothing is read when the message holds no payment."""
        payments = [op for op in batch if op.kind is Kind.PAYMENT]
        if not payments:
            return []
        wanted: dict[str, set[int]] = {Kind.INVOICE.value: set(), Kind.CREDIT_MEMO.value: set()}
        for op in payments:
            for app in getattr(op.payload, "applications", None) or ():
                for ref in [app.invoice, *(credit.credit_memo for credit in app.credits)]:
                    if ref.local_id is not None and ref.kind in wanted:
                        wanted[ref.kind].add(ref.local_id)
        written = session.scalars(select(Link.written).where(
            Link.company_key == key, Link.kind == Kind.PAYMENT.value,
            Link.local_id.in_([op.local_id for op in payments])))
        for text in written:
            for kind, local_id in _written_targets(text):
                wanted[kind].add(local_id)
        out: list[tuple[Link, str | None]] = []
        for kind, local_ids in wanted.items():
            if not local_ids:
                continue
            links = [link for link in session.scalars(select(Link).where(
                Link.company_key == key, Link.kind == kind, Link.local_id.in_(sorted(local_ids)))) if link.remote_id]
            older = [link.remote_id for link in links if link.run_id != self.run_id]
            now = self.port.versions(kind, older) if older else {}
            out.extend((link, now.get(link.remote_id))
                       if link.run_id != self.run_id else (link, None) for link in links)
        return out

    def _planned_stamp(self, op: Operation) -> dt.datetime | None:
        """The ``updated_at`` of the billing row ``op`` was planned from (for an adjustment, the original's)."""
        if op.link_mode == "adjustment" and op.related:
            return self._stamps.get((op.related[0], op.related[1]))
        return self._stamps.get((op.kind.value, op.local_id))

    def _follow_settled_payments(self, session: Session, key: str, entries: list[JournalEntry]) -> None:
        """After a crash, the settled payments' documents get the versions the payments gave them, as
        :meth:`_follow_applied_versions` would have recorded — for documents the same interrupted run
        wrote (for older ones the version before the lost message is unknown: a later correction may then
        report a conflict, which --on-conflict=overwrite resolves)."""
        wanted: dict[tuple[str, str], set[int]] = {}
        for entry in entries:
            for kind, local_id in _written_targets(entry.written):
                wanted.setdefault((kind, entry.run_id), set()).add(local_id)
        for (kind, run_id), local_ids in wanted.items():
            links = [link for link in session.scalars(select(Link).where(
                Link.company_key == key, Link.kind == kind, Link.local_id.in_(sorted(local_ids))))
                if link.remote_id and link.run_id == run_id]
            self._read_versions_into(kind, links)

    def _follow_applied_versions(self, batch: list[Operation], outcomes: list[Outcome],
                                 targets: list[tuple[Link, str | None]]) -> None:
        """Record the versions the message's payments gave the invoices and credit memos they apply to.

        QuickBooks Online raises an invoice's SyncToken when a payment is applied to it or taken off it
        (LanternOps/breeze#4624, reference/peer-systems.md #15): without this, booksync's own payments
        would make every paid invoice look edited in QuickBooks (a conflict) at its next correction.
        A record written by an earlier run follows only when its version before the message was the one
        booksync recorded: an edit made in QuickBooks in between stays a conflict."""
        if not targets or not any(op.kind is Kind.PAYMENT and outcome.status == "done"
                                  for op, outcome in zip(batch, outcomes)):
            return
        for kind in (Kind.INVOICE.value, Kind.CREDIT_MEMO.value):
            mine = [(link, before) for link, before in targets if link.kind == kind
                    and (link.run_id == self.run_id or before == link.edit_sequence)]
            self._read_versions_into(kind, [link for link, _ in mine])

    def _read_versions_into(self, kind: str, links: list[Link]) -> None:
        """Read the current versions of these documents from QuickBooks into their links (and into the
        versions this run sends with later Mods). One query; nothing when ``links`` is empty."""
        if not links:
            return
        found = self.port.versions(kind, sorted({link.remote_id for link in links}))
        for link in links:
            version = found.get(link.remote_id)
            if version:
                link.edit_sequence = version
                self._keep_version(link.remote_id, version)

    @staticmethod
    def _links_of(session: Session, key: str, batch: list[Operation]) -> dict[tuple[str, int], Link]:
        kinds: dict[str, list[int]] = {}
        for op in batch:
            kind = f"adjustment_{op.kind.value}" if op.link_mode == "adjustment" else op.kind.value
            kinds.setdefault(kind, []).append(op.local_id)
        out: dict[tuple[str, int], Link] = {}
        for kind, ids in kinds.items():
            stmt = select(Link).where(Link.company_key == key, Link.kind == kind, Link.local_id.in_(ids))
            out.update({(link.kind, link.local_id): link for link in session.scalars(stmt)})
        return out

    def _record_link(self, session: Session, key: str, entry: JournalEntry, remote_id: str, edit_sequence: str,
                     name: str = "") -> None:
        """Make the link table follow a done operation, described by its journal entry."""
        if edit_sequence:
            self._keep_version(remote_id, edit_sequence)
        kind = Kind(entry.kind)
        if entry.action == Action.ADD.value and kind in (Kind.ITEM, Kind.PAYMENT_METHOD):
            self.resolved[(entry.kind, entry.local_id)] = remote_id  # no link rows: few, kept for the run
        if kind in (Kind.ITEM, Kind.PAYMENT_METHOD, Kind.DEPOSIT):
            return
        link_kind = f"adjustment_{entry.kind}" if entry.link_mode == "adjustment" else entry.kind
        cache = self._link_cache
        if (link_kind, entry.local_id) in self._new_links:  # a second operation on it in one message
            self._insert_new_links(session)
            cache = None
        if cache is not None:
            link = cache.get((link_kind, entry.local_id))
            if link is None and entry.link_mode == "full":
                self._new_link(session, key, kind, link_kind, entry, remote_id, edit_sequence, name)
                return
        else:
            link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == link_kind,
                                                     Link.local_id == entry.local_id))
            if link is not None and self._link_cache is not None:  # a later operation finds it there
                self._link_cache[(link_kind, entry.local_id)] = link
        if link is None:
            link = Link(company_key=key, kind=link_kind, local_id=entry.local_id,
                        local_key=link_key(link_kind, entry.local_id, entry.number))
            session.add(link)
            if cache is not None:
                cache[(link_kind, entry.local_id)] = link
        marked = (link_kind, entry.local_id)
        if entry.link_mode == "version":
            self._marks_pending.add(marked)
            # Applications released for a moment: until the payment's final ReceivePaymentMod is recorded,
            # the link says "released", so a run that stops in between plans the payment again.
            link.edit_sequence, link.fingerprint = edit_sequence, "released"
            link.source_updated_at = dt.datetime(1970, 1, 1)
            return
        self._marks_settled.add(marked)
        link.remote_id = remote_id or link.remote_id
        link.edit_sequence = edit_sequence
        link.run_id = entry.run_id
        if entry.link_mode in ("void", "deleted"):
            link.fingerprint, link.written = entry.link_mode, ""
            link.source_updated_at = _planned(session, kind, entry)
            return
        if entry.link_mode == "adjustment":
            data = json.loads(entry.written)
            link.fingerprint, link.written = entry.fingerprint, data["payload"]
            link.qb_name, link.source_updated_at = entry.number, _now()
            self._marks_settled.add((data["related"][0], data["related"][1]))
            self._follow_original(session, key, data["related"], entry.source_updated_at)
            return
        for attr, value in self._full_link(session, kind, entry, link.remote_id, edit_sequence, name).items():
            setattr(link, attr, value)

    def _full_link(self, session: Session, kind: Kind, entry: Any, remote_id: str, edit_sequence: str,
                   name: str) -> dict[str, Any]:
        """What the link of a record written by a "full" operation records (the member's Bill Info follows a
        customer's name)."""
        planned = _planned(session, kind, entry)
        if kind is Kind.CUSTOMER and name:
            planned = self._follow_bill_info(session, entry.local_id, name, planned)
        return dict(remote_id=remote_id, edit_sequence=edit_sequence, run_id=entry.run_id,
                    qb_name=name or entry.number, fingerprint=entry.fingerprint, written=entry.written,
                    source_updated_at=planned)

    def _new_link(self, session: Session, key: str, kind: Kind, link_kind: str, entry: Any, remote_id: str,
                  edit_sequence: str, name: str) -> None:
        """A record added by a "full" operation gets its link row (:meth:`_full_link`), inserted with the
        message's other new links by one Core statement: ORM objects and their flush were a sixth of a first
        sync (benchmarks/scale.py, phase ``sync``, profiled at 10k)."""
        self._marks_settled.add((link_kind, entry.local_id))
        self._new_links[(link_kind, entry.local_id)] = dict(
            company_key=key, kind=link_kind, local_id=entry.local_id, synced_at=_now(),
            local_key=link_key(link_kind, entry.local_id, entry.number),
            **self._full_link(session, kind, entry, remote_id, edit_sequence, name))

    def _insert_new_links(self, session: Session) -> None:
        if self._new_links:
            session.execute(insert(Link.__table__), list(self._new_links.values()))
            self._new_links = {}

    @staticmethod
    def _follow_bill_info(session: Session, member_id: int, name: str, planned: dt.datetime | None) -> Any:
        """The member's Bill Info follows its customer's name; returns the ``updated_at`` the link records.

        When the member is as planned, Bill Info and both timestamps move together, so the member is not
        seen as changed. When it changed since (renamed while the run waited), Bill Info is set without
        touching ``updated_at``: the change stays visible to the next run."""
        now = _now()
        moved = session.execute(_BILL_INFO_AS_PLANNED, {"mid": member_id, "planned": planned, "bill_to": name,
                                                        "now": now}).rowcount
        if moved:
            stamp = now
        else:
            session.execute(_BILL_INFO_ONLY, {"mid": member_id, "bill_to": name})
            stamp = planned
        cached = session.identity_map.get(identity_key(Member, member_id))
        if cached is not None:
            session.expire(cached, ["qb_customer", "updated_at"])
        return stamp

    @staticmethod
    def _follow_original(session: Session, key: str, related: list, planned: dt.datetime | None) -> None:
        """After an adjustment, the closed original's link records the billing version as handled: the one
        planned (``planned``; the row as it is now for journal rows from before migration 0004)."""
        kind, local_id, fp, written = related
        link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == kind,
                                                 Link.local_id == local_id))
        if planned is None:
            model = {Kind.INVOICE.value: Invoice, Kind.CREDIT_MEMO.value: CreditMemo}[kind]
            record = session.get(model, local_id)
            planned = record.updated_at if record is not None else None
        if link is not None and planned is not None:
            link.fingerprint, link.written = fp, written or link.written
            link.source_updated_at = planned


_members = Member.__table__
# Built once: a first sync runs them for every customer it creates.
_BILL_INFO_AS_PLANNED = (update(_members).where(_members.c.id == bindparam("mid"),
                                                _members.c.updated_at == bindparam("planned"),
                                                _members.c.qb_customer != bindparam("bill_to"))
                         .values(qb_customer=bindparam("bill_to"), updated_at=bindparam("now")))
_BILL_INFO_ONLY = (update(_members).where(_members.c.id == bindparam("mid"),
                                          _members.c.qb_customer != bindparam("bill_to"))
                   .values(qb_customer=bindparam("bill_to"), updated_at=_members.c.updated_at))


def _planned(session: Session, kind: Kind, entry: Any) -> dt.datetime | None:
    """The billing row's ``updated_at`` the operation of journal ``entry`` was planned from. The version written
    is the one planned: a change made to the billing row since (while the run waited for its confirmation, or
    before an interrupted run was settled) is still a change."""
    if entry.source_updated_at is not None:
        return entry.source_updated_at
    # journal rows from before migration 0004: the row as it is now
    model = {Kind.INVOICE: Invoice, Kind.CREDIT_MEMO: CreditMemo, Kind.PAYMENT: Payment, Kind.CUSTOMER: Member}[kind]
    record = session.get(model, entry.local_id)
    return record.updated_at if record is not None else None


def journal_values(run_id: str, key: str, op: Operation) -> dict[str, Any]:
    """The journal row of an operation, status "pending" (not sent): everything needed to settle it after a crash."""
    payload = op.payload
    written = (op.written or planner.written_json(payload)) if payload is not None else ""
    if op.link_mode == "adjustment":
        written = json.dumps({"payload": written, "related": list(op.related or ())})
    ref = getattr(payload, "ref_number", None) or getattr(payload, "name", None) or op.number
    now = _now()
    return dict(run_id=run_id, seq=op.seq, action=op.action.value, kind=op.kind.value, local_id=op.local_id,
                number=op.number, request_id=str(op.seq), external_guid=getattr(payload, "external_guid", "") or "",
                company_key=key, target_id=op.remote_id or "", fingerprint=op.fingerprint, written=written,
                link_mode=op.link_mode, ref_number=ref, source_updated_at=op.stamp, status="pending",
                remote_id="", edit_sequence="", error="", updated_at=now)


def explain_refusal(op: Operation, outcome: Outcome, face: str = "cli") -> str:
    """What happened, to which record, what to do — for a refused operation, in the words of ``face``: "cli"
    names commands, "web" the pages of the web interface."""
    web = face == "web"
    error = outcome.error
    what = f"QuickBooks refused to {operation_words(op.action, op.kind)} {op.number} ({op.description})"
    if getattr(error, "advice", ""):
        return f"{what}: {error}. Operations before it were applied."
    if isinstance(error, Refused) and error.transient:
        return (f"{what}: status {error.code}, \"{error.message}\". Another QuickBooks user holds the record; "
                f"booksync retried {len(RETRY_DELAYS)} times. Ask them to finish and close the record, then "
                "synchronize again; operations before it were applied.")
    if isinstance(error, Refused):
        advice = {
            3100: "Another customer, vendor or other name in QuickBooks already uses this name: rename one of them "
                  "or link the member to the existing customer " + ("on its Bill Info tab." if web else
                                                                    "with 'booksync members map'."),
            3140: "A customer, item or account it refers to is missing, inactive or of the wrong type in "
                  "QuickBooks: check the cross references " + ("(the Cross Reference Accounts page) and the member's "
                                                               "Bill Info tab." if web else
                                                               "('booksync accounts xref') and the member's Bill Info."),
            3171: "It is dated on or before QuickBooks' closing date: change the date, or ask the accountant "
                  "to move the closing date.",
            3200: "It was changed in QuickBooks since booksync read it: synchronize again.",
            3210: "A value is not accepted (for example a payment larger than what is due): correct the record "
                  "in the billing store and synchronize again.",
        }.get(error.code, "Correct the record and synchronize again; operations before it were applied.")
        return f"{what}: status {error.code}, \"{error.message}\". {advice}"
    return f"{what}: {error}"


class SyncBusy(Exception):
    """Another sync holds this home; the message says who and since when."""


_BUSY = ("Another sync is running for this company: {who}. Nothing was written; wait for it to finish, then "
         "synchronize again.")


@contextmanager
def sync_lock(home: Any) -> Iterator[None]:
    """One sync at a time per billing store (and so per company). With PostgreSQL, an advisory lock in its
    database (store/locks.py), which holds for every process and machine sharing it; with SQLite, a file
    lock in the home with who holds it beside it. Raises :class:`SyncBusy` saying who holds it."""
    url = getattr(home, "database_url", "")
    info = home.path / "sync.lock.json"  # who holds it, for this home's readers (the web's status, the tests)
    if url and not url.startswith("sqlite"):
        try:
            with advisory_lock(url), _holder_file(info):
                yield
        except LockHeld as exc:
            raise SyncBusy(_BUSY.format(who=exc.holder)) from None
        return
    lock = FileLock(str(home.path / "sync.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = json.loads(info.read_text())
            who = f"{holder['user']} on {holder['host']} (process {holder['pid']}), since {holder['since']}"
        except (OSError, ValueError, KeyError):
            who = "another process"
        raise SyncBusy(_BUSY.format(who=who)) from None
    try:
        with _holder_file(info):
            yield
    finally:
        lock.release()


@contextmanager
def _holder_file(info: Path) -> Iterator[None]:
    try:
        info.write_text(json.dumps({"pid": os.getpid(), "user": getpass.getuser(), "host": socket.gethostname(),
                                    "since": dt.datetime.now().isoformat(timespec="seconds")}))
        yield
    finally:
        info.unlink(missing_ok=True)


def synchronize(sessions: sessionmaker[Session], port: BooksPort, home: Any, interaction: Interaction,
                options: SyncOptions | None = None) -> SyncResult:
    """Run one synchronization (see module docstring). Callers hold :func:`sync_lock`.
    Raises :class:`BooksError` for connection failures and malformed answers; refusals come
    back in the result."""
    run = Run(sessions, port, home, interaction, options or SyncOptions())
    return run.execute()


__all__ = ["synchronize", "SyncOptions", "SyncResult", "Interaction", "BooksError", "Action"]
