"""The plan and stage step, one streamed pass: the corrections planner (:class:`booksync.sync.corrections.
CorrectionPlanner`) hands its operations over at safe points to :class:`Stager`, which stamps each with the
``updated_at`` it was planned from and writes it to the run's working files (:class:`booksync.sync.staging.
StagedPlan`); then the checks that need the whole plan (applications, open balances in QuickBooks) run."""
from __future__ import annotations

import datetime as dt

from booksync.books.port import BooksPort
from booksync.domain import Action, Operation, Plan, Problem
from booksync.exits import EXIT_CHECKS, EXIT_OK
from booksync.sync.balances import PlannedApplications, check_open_balances
from booksync.sync.checks import check_applications
from booksync.sync.collector import collector_paused
from booksync.sync.corrections import CorrectionPlanner
from booksync.sync.load import part_size
from booksync.sync.options import Interaction
from booksync.sync.references import Versions
from booksync.sync.result import Stop
from booksync.sync.staging import StagedPlan
from booksync.sync.work import Work

EXAMINING = "Examining records"
"""Planning's progress phase: it counts billing records; the plan that follows counts changes (operations)."""


class Stager:
    """The planner's sink: hands the operations planned so far to the working files."""

    def __init__(self, staged: StagedPlan, stamps: dict[tuple[str, int], dt.datetime], versions: Versions) -> None:
        self.staged = staged
        self.stamps = stamps
        """``updated_at`` of every record the run loaded, as loaded (journal ``source_updated_at``)."""
        self.versions = versions
        self.applications = PlannedApplications()
        """What the plan's payments apply to invoices already in QuickBooks (checked before anything is written)."""

    def __call__(self, plan: Plan) -> None:
        ops = plan.take()
        self.applications.observe(ops)
        for op in ops:
            if op.stamp is None:
                op.stamp = self._planned_stamp(op)
            if op.action is not Action.ADD and op.remote_id:
                self.versions.targets.add(op.remote_id)
        self.staged.put(ops)

    def _planned_stamp(self, op: Operation) -> dt.datetime | None:
        """The ``updated_at`` of the billing row ``op`` was planned from (for an adjustment, the original's)."""
        if op.link_mode == "adjustment" and op.related:
            return self.stamps.get((op.related[0], op.related[1]))
        return self.stamps.get((op.kind.value, op.local_id))


def plan_and_stage(builder: CorrectionPlanner, work: Work, create: bool, stager: Stager, ui: Interaction,
                   notices: list[Problem], port: BooksPort) -> tuple[Plan, Stop | None]:
    """Build the plan into the working files; returns it, and a :class:`Stop` when it cannot be applied (exit 3) or
    holds nothing (exit 0). The working files are closed (``plan.txt``, ``plan.json``) only when it goes on."""
    records = work.add_count()
    ui.progress(EXAMINING, 0, records)
    builder.progress = lambda done, total: ui.progress(EXAMINING, done, total)
    builder.sink, builder.sink_every = stager, part_size()
    with collector_paused():
        plan = builder.build(create)
        plan.notices = notices
        stager(plan)
    ui.progress(EXAMINING, records, records)
    problems = builder.problems + check_applications(work, builder.planned)
    if not problems:
        problems = check_open_balances(stager.applications, port)
    if problems:
        return plan, Stop("stopped", EXIT_CHECKS, "The plan cannot be applied; nothing was written.", problems)
    if not plan.size:
        skipped = f" ({len(builder.skipped)} conflict(s) skipped)" if builder.skipped else ""
        return plan, Stop("nothing", EXIT_OK, "Nothing to synchronize: QuickBooks is up to date" + skipped + ".")
    stager.staged.close(plan)
    return plan, None
