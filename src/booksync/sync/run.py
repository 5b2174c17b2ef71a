"""One synchronization run (DESIGN.md "The main job", steps 2–10), read as its steps: read QuickBooks, settle
interrupted runs, load, check, plan and stage, record the plan, confirm, back up, apply, record and report.

:func:`synchronize` is what callers call (holding :func:`booksync.sync.lock.sync_lock`); :class:`Run` holds one
run's state and calls one step after another. Each step is its own module:

* load — :mod:`booksync.sync.settle` (interrupted runs), :mod:`booksync.sync.load` and :mod:`booksync.sync.marks`
  (change marks, outstanding records), :mod:`booksync.sync.reads` (what else the run reads of QuickBooks);
* check — :mod:`booksync.sync.check` (over the rules in :mod:`booksync.sync.checks`, :mod:`booksync.sync.customers`);
* plan and stage — :mod:`booksync.sync.planning` (:mod:`booksync.sync.planner`, :mod:`booksync.sync.corrections`,
  :mod:`booksync.sync.staging`);
* confirm — :mod:`booksync.sync.confirm`; back up — :mod:`booksync.sync.backups`;
* apply — :mod:`booksync.sync.apply` (:mod:`booksync.sync.journal`, :mod:`booksync.sync.linking`,
  :mod:`booksync.sync.pre_images`, :mod:`booksync.sync.refusals`);
* record and report — :mod:`booksync.sync.record`, :mod:`booksync.sync.result`.
"""
from __future__ import annotations

import datetime as dt
import shutil
from typing import Any, Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from booksync.books.port import BooksPort
from booksync.domain import Kind, Operation, Plan, Problem, QBSnapshot
from booksync.errors import ConnectionFailure
from booksync.exits import EXIT_CHECKS, EXIT_OK, EXIT_REFUSED
from booksync.store.keys import adopt_company_key
from booksync.store.links import anchor_links
from booksync.store.models import SyncRun, _now
from booksync.store.restore import pending_restore
from booksync.sync.apply import Applier
from booksync.sync.backups import back_up
from booksync.sync.check import Checked, check, hold_back_gone
from booksync.sync.confirm import confirm
from booksync.sync.corrections import CorrectionPlanner, Remote
from booksync.sync.linking import LinkRecorder
from booksync.sync.load import gone_notices, load
from booksync.sync.options import Interaction, SyncOptions
from booksync.sync.planning import Stager, plan_and_stage
from booksync.sync.pre_images import PreImages
from booksync.sync.reads import read_customers, read_deposits, read_versions
from booksync.sync.record import (record_abandoned, record_connection_lost, record_finished, record_planned,
                                  record_stopped)
from booksync.sync.references import References, Versions
from booksync.sync.result import Stop, SyncResult
from booksync.sync.settle import settle_journal
from booksync.sync.staging import StagedPlan, discard_scratch, write_corrections_log
from booksync.sync.work import Work

READING_QUICKBOOKS = "Reading QuickBooks"


def new_run_id(runs_dir: Any, taken: Any = frozenset()) -> str:
    """YYYYMMDD-HHMMSS, with -2, -3... when a run folder or a recorded run (``taken``) has it already."""
    base = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while (runs_dir / run_id).exists() or run_id in taken:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


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
        self.refs = References()
        self.versions = Versions()
        self.links = LinkRecorder(self.run_id, self.refs, self.versions)
        self.pre_images = PreImages(self.folder)
        self.digest = ""
        self.settled: list[str] = []
        self.notices: list[Problem] = []
        self.held: list[Problem] = []
        """Members held back: their QuickBooks customer is gone (:func:`booksync.sync.check.hold_back_gone`)."""
        self.staged: StagedPlan | None = None
        self.refusal_web = ""
        """The refusal that stopped :meth:`apply`, in the web interface's words."""
        self.backup_note = ""
        """Why the backup holds no copy of the company file ("" when it does)."""

    def result(self, status: str, code: int, message: str, **kw: Any) -> SyncResult:
        """The run's result (the report step): members held back are said whatever else happened."""
        if self.held:
            kw["problems"] = list(kw.get("problems") or []) + self.held
            # The command line lists problems above its last line, the web below its message: no "see below".
            message += (f" {len(self.held)} member(s) were held back because their QuickBooks customer is gone; "
                        "they are listed with what to do.")
        return SyncResult(self.run_id, status, code, message, folder=str(self.folder) if self.folder.exists() else "",
                          digest=self.digest, settled=self.settled, notices=self.notices,
                          backup_note=self.backup_note, **kw)

    def stopped(self, stop: Stop, **kw: Any) -> SyncResult:
        return self.result(stop.status, stop.code, stop.message, problems=stop.problems, **kw)

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
            record_connection_lost(self.sessions, self.run_id, self.folder, exc, self.result)
            raise
        except BaseException:
            record_abandoned(self.sessions, self.run_id)
            raise
        finally:
            if self.staged is not None:
                self.staged.discard()
        if result.status in ("stopped", "declined"):
            record_stopped(self.sessions, self.port.company_key, self.options.dry_run, self.started, result)
        return result

    def _execute(self) -> SyncResult:
        snapshot = self.read_quickbooks()
        key = self.port.company_key
        with self.sessions() as session:
            self.settle(session, key, snapshot)
            work, stamps = load(session, key, self.port, self.ui, everything=self.options.full_scan,
                                run_id=self.run_id)
            if work.is_empty():
                return self.result("nothing", EXIT_OK, "Nothing to synchronize: QuickBooks is up to date.")
            self.read_customers(work, snapshot)
            self.held = hold_back_gone(work, snapshot)
            if self.held and work.is_empty():
                return self.result("nothing", EXIT_OK, "Nothing else to synchronize.")
            work.default_class = self.options.default_class
            checked = check(work, snapshot, self.ui, self.options.create_payment_methods)
            if isinstance(checked, Stop):
                return self.stopped(checked)
            plan = self.plan(work, snapshot, checked, stamps)
            if isinstance(plan, Stop):
                return self.stopped(plan)
            log_files = write_corrections_log(self.folder, plan, snapshot, self.options.policy) \
                if plan.corrections else {}
            run = record_planned(session, self.run_id, key, self.options.dry_run, self.folder, plan)
            summary = dict(planned=plan.counts(), adjustments=len(plan.adjustments))
            stop = confirm(self.ui, plan, self.folder, log_files, self.options.dry_run)
            if stop is not None:
                return self._finish(session, run, stop.status, stop.code, stop.message, **summary)
            backup = self.backup()
            self.links.record_bill_info(session, key, checked.customers.new_links)
            applied, error = self.apply(session, run, plan, self.staged.batches, key)
            if error is not None:
                return self._finish(session, run, "refused", EXIT_REFUSED, error, applied=applied, backup=backup,
                                    message_web=self.refusal_web, **summary)
            return self._finish(session, run, "completed", EXIT_OK,
                                f"QuickBooks was updated: {sum(applied.values())} operation(s) applied.",
                                applied=applied, backup=backup, **summary)

    # -- the steps

    def read_quickbooks(self) -> QBSnapshot:
        """The snapshot, without customers: those the run needs are read later (:meth:`read_customers`)."""
        self.ui.progress(READING_QUICKBOOKS, 0, 1)
        snapshot = self.port.snapshot(balances=False, customers=False)
        self.ui.progress(READING_QUICKBOOKS, 1, 1)
        return snapshot

    def settle(self, session: Session, key: str, snapshot: QBSnapshot) -> None:
        """Adopt the company's key, settle interrupted runs, and anchor the links to their records' numbers
        (records gone from the billing store become :attr:`notices`)."""
        if adopt_company_key(session, key, getattr(self.port, "legacy_key", "")):
            session.commit()
        self.settled = settle_journal(session, key, snapshot, self.port, self.run_id, self.links, self.versions)
        # Links follow the billing records' own identity (numbers), not row ids that may be reused.
        self.notices = gone_notices(anchor_links(session, key))
        session.commit()

    def read_customers(self, work: Work, snapshot: QBSnapshot) -> None:
        read_customers(self.port, self.ui, work, snapshot)

    def read_versions(self, work: Work, snapshot: Any) -> dict[tuple[str, int], Remote]:
        return read_versions(self.port, work, snapshot)

    def read_deposits(self, work: Work) -> dict[str, Any]:
        return read_deposits(self.port, work)

    def plan(self, work: Work, snapshot: QBSnapshot, checked: Checked,
             stamps: dict[tuple[str, int], dt.datetime]) -> Plan | Stop:
        """Read what corrections need, then plan and stage (:func:`booksync.sync.planning.plan_and_stage`); a run
        that stops here leaves no folder."""
        self.ui.progress("Reading QuickBooks' versions of the records to correct", 0, 1)
        key = self.port.company_key
        builder = CorrectionPlanner(work, snapshot, checked.customers, self.port.limits, key,
                                    remote=self.read_versions(work, snapshot), policy=self.options.policy,
                                    deposits=self.read_deposits(work))
        self.refs.resolved = {(link.kind, link.local_id): link.remote_id for link in work.links.values()}
        self.refs.resolved.update({(Kind.CUSTOMER.value, m): lid for m, lid in checked.customers.linked.items()})
        self.staged = StagedPlan(self.folder, self.port, self.refs.resolve, snapshot, min(
            self.options.message_size, getattr(self.port, "message_size", self.options.message_size)))
        try:
            plan, stop = plan_and_stage(builder, work, checked.create, Stager(self.staged, stamps, self.versions),
                                        self.ui, self.notices, self.port)
            self.digest = plan.digest()
            if stop is not None:
                self._discard_folder()
                return stop
        except BaseException:
            self._discard_folder()
            raise
        return plan

    def backup(self) -> str:
        """Copy the company file, booksync's database and the logs into backups/RUN_ID."""
        target, self.backup_note = back_up(self.home, self.port, self.sessions, self.run_id,
                                           self.options.keep_backups, self.ui)
        return target

    def apply(self, session: Session, run: SyncRun, plan: Plan, batches: Callable[[], Iterator[list[Operation]]],
              key: str) -> tuple[dict[str, int], str | None]:
        """Send the plan's messages (:meth:`booksync.sync.apply.Applier.apply`)."""
        applier = Applier(self.port, self.ui, self.run_id, self.refs, self.versions, self.links, self.pre_images)
        try:
            return applier.apply(session, run, plan, batches, key)
        finally:
            self.refusal_web = applier.refusal_web

    def _discard_folder(self) -> None:
        """A run that stops before its plan is recorded leaves no folder."""
        if self.staged is not None:
            self.staged.discard()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _finish(self, session: Session, run: SyncRun, status: str, code: int, message: str, **kw: Any) -> SyncResult:
        if self.staged is not None:
            self.staged.discard()
        return record_finished(session, run, self.result(status, code, message, **kw), self.folder)


def synchronize(sessions: sessionmaker[Session], port: BooksPort, home: Any, interaction: Interaction,
                options: SyncOptions | None = None) -> SyncResult:
    """Run one synchronization (see module docstring). Callers hold :func:`booksync.sync.lock.sync_lock`.
    Raises :class:`booksync.errors.BooksError` for connection failures and malformed answers; refusals come
    back in the result."""
    run = Run(sessions, port, home, interaction, options or SyncOptions())
    return run.execute()
