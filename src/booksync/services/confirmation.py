"""Confirmation without a person at the QuickBooks PC: stage a plan, confirm it, apply it next time.

DESIGN.md's invariant "nothing reaches QuickBooks before the user confirms (or an unattended
policy the user set)" meets the Web Connector, which runs on a schedule with nobody watching.
The flow (docs/webconnector.md, "Confirming"):

1. a Web Connector session reads QuickBooks, plans and stages the run's working files; with no
   confirmation for that very plan, :func:`decide` records the run as **awaiting confirm**
   (``awaiting.json`` in its folder: the plan's digest) and the engine writes nothing;
2. a person reviews ``runs/RUN_ID`` (plan, requests, Corrections Log) and runs
   ``booksync runs confirm RUN_ID`` (or ``--latest``): :func:`confirm_run` writes
   ``confirmed.json`` (the digest, who, when) and marks the run **confirmed**;
3. the next session plans again; :func:`decide` compares the new plan's digest
   (:meth:`booksync.domain.Plan.digest`) with the confirmed one: equal → apply (the confirmed run
   becomes **confirm used**); different (something changed in the billing store or QuickBooks) →
   the confirmation is **confirm outdated** and the new plan is staged and awaits confirmation.

The opt-in unattended policy (``webconnector.unattended = true``) applies a plan without
confirmation when none of its corrections is dated in a closed period or overwrites a conflict
(:func:`unattended_allows`); the run folder records that the policy applied it.

Statuses live in the runs table's free-text ``status`` (at most 20 characters); the records are
JSON files in the run folder, so ``booksync runs show`` and the files tell the whole story.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from booksync.domain import Plan
from booksync.kinds import BILLED_TRANSACTIONS
from booksync.store.models import BILLING_MODELS, GLAccount, Link, Member, SyncRun

AWAITING = "awaiting confirm"
CONFIRMED = "confirmed"
USED = "confirm used"
OUTDATED = "confirm outdated"
SUPERSEDED = "superseded"

AWAITING_FILE = "awaiting.json"
CONFIRMED_FILE = "confirmed.json"


class ConfirmError(Exception):
    """The run cannot be confirmed; the message says why and what to do."""


@dataclass
class Decision:
    """What :func:`decide` answered for a plan.

    Attributes:
        apply: True to write the plan now.
        how: for people: "confirmed by NAME at TIME (run R)", "unattended policy", or "staged".
        confirmed_run: the run whose confirmation is used, if any.
    """

    apply: bool
    how: str
    confirmed_run: str | None = None

    @property
    def staged(self) -> bool:
        return not self.apply


def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def billing_state(session: Session) -> str:
    """A digest that changes whenever the billing store or the link table changes.

    Every change to a billing record sets its ``updated_at`` and records are never removed
    (they are voided or deleted by status), so counts and latest change times suffice.
    """
    parts = []
    for model in (Member, GLAccount, *(BILLING_MODELS[kind] for kind in BILLED_TRANSACTIONS)):
        count, latest = session.execute(select(func.count(), func.max(model.updated_at)).select_from(model)).one()
        parts.append(f"{model.__tablename__}:{count}:{latest}")
    count, latest = session.execute(select(func.count(), func.max(Link.synced_at)).select_from(Link)).one()
    parts.append(f"links:{count}:{latest}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def unattended_allows(plan: Plan) -> tuple[bool, str]:
    """Whether the unattended policy may apply ``plan`` without a person: no correction dated on or
    before the closing date, and none that overwrites a conflict (issue 6). Returns (ok, reason)."""
    closed = [c for c in plan.corrections if c.closed]
    # The correction planner marks an overwritten conflict only in the note (sync/corrections.py).
    conflicts = [c for c in plan.corrections if c.note.startswith("Conflict")]
    if closed:
        return False, f"{len(closed)} correction(s) in a closed period"
    if conflicts:
        return False, f"{len(conflicts)} correction(s) overwrite a change made in QuickBooks"
    return True, ""


def pending_run(session: Session) -> SyncRun | None:
    """The latest run awaiting confirmation or confirmed and not yet applied, if any."""
    return session.scalar(select(SyncRun).where(SyncRun.status.in_((AWAITING, CONFIRMED)))
                          .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))


def decide(sessions: sessionmaker[Session], folder: Path, plan: Plan, unattended: bool, billing: str) -> Decision:
    """Answer the engine's "update QuickBooks now?" for a Web Connector session (see module docstring).

    ``folder`` is the new run's working folder (its name is the run id); ``billing`` the
    :func:`billing_state` when the session started, kept with a staged run so that the next
    session can tell whether there is anything new to plan.
    """
    run_id = folder.name
    digest = plan.digest()
    with sessions() as session:
        pending = session.scalar(select(SyncRun).where(SyncRun.status.in_((AWAITING, CONFIRMED)),
                                                       SyncRun.id != run_id)
                                 .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
        if pending is not None and pending.status == CONFIRMED:
            record = _read(folder.parent / pending.id / CONFIRMED_FILE) or {}  # runs/ of this home
            if record.get("digest") == digest:
                pending.status = USED
                session.commit()
                _write(folder / CONFIRMED_FILE, {**record, "confirmed_run": pending.id, "applied_by": run_id})
                how = f"confirmed by {record.get('confirmed_by') or 'a person'} at {record.get('confirmed_at')} " \
                      f"(run {pending.id})"
                return Decision(True, how, pending.id)
            pending.status = OUTDATED
        if unattended:
            ok, _ = unattended_allows(plan)
            if ok:
                session.commit()
                _write(folder / CONFIRMED_FILE, {"run_id": run_id, "digest": digest, "confirmed_at": _now(),
                                                  "confirmed_by": "", "how": "unattended policy"})
                return Decision(True, "unattended policy")
        for older in session.scalars(select(SyncRun).where(SyncRun.status == AWAITING, SyncRun.id != run_id)):
            older.status = SUPERSEDED
        session.commit()
    _write(folder / AWAITING_FILE, {
        "run_id": run_id, "digest": digest, "staged_at": _now(), "billing": billing,
        "counts": plan.counts(), "operations": plan.size, "corrections": len(plan.corrections),
        "unattended": unattended_allows(plan)[1] if unattended else ""})
    return Decision(False, "staged")


def record_staged(sessions: sessionmaker[Session], run_id: str, message: str, folder: Path | None) -> None:
    """Turn the engine's "declined" into "awaiting confirm" for a run :func:`decide` staged."""
    with sessions() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            return
        run.status = AWAITING
        summary = json.loads(run.summary or "{}")
        summary.update(status=AWAITING, message=message)
        run.summary = json.dumps(summary)
        session.commit()
    if folder is None:
        return
    summary_file = folder / "summary.json"
    data = _read(summary_file)
    if data is not None:
        data.update(status=AWAITING, message=message)
        _write(summary_file, data)


def _run_folder(run: SyncRun, runs_dir: Path | None) -> Path:
    """The run's folder under ``runs_dir`` (the home's ``runs/``: a copied home's run rows still name the
    original's folders), or as the run recorded it when no ``runs_dir`` is given."""
    return runs_dir / run.id if runs_dir is not None else Path(run.folder)


def staged_unchanged(session: Session, run: SyncRun, runs_dir: Path | None = None) -> bool:
    """True when nothing in the billing store changed since ``run`` was staged (so re-planning would
    only stage the same plan again)."""
    record = _read(_run_folder(run, runs_dir) / AWAITING_FILE) or {}
    return bool(record.get("billing")) and record.get("billing") == billing_state(session)


@dataclass
class Confirmed:
    """What :func:`confirm_run` confirmed: the run, its plan digest and counts, its folder."""

    run_id: str
    digest: str
    counts: dict[str, int]
    corrections: int
    folder: Path


def confirm_run(sessions: sessionmaker[Session], run_id: str | None, who: str,
                runs_dir: Path | None = None) -> Confirmed:
    """Confirm the run ``run_id`` (None: the latest run awaiting confirmation) on behalf of ``who``.

    Raises :class:`ConfirmError` when there is no such run or it is not awaiting confirmation.
    """
    with sessions() as session:
        if run_id is None:
            run = session.scalar(select(SyncRun).where(SyncRun.status == AWAITING)
                                 .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
            if run is None:
                raise ConfirmError("No run is awaiting confirmation. A Web Connector update stages one when there is "
                                   "something to synchronize; see 'booksync runs list'.")
        else:
            run = session.get(SyncRun, run_id)
            if run is None:
                raise ConfirmError(f"There is no run {run_id!r}; see 'booksync runs list'.")
        if run.status != AWAITING:
            hint = {CONFIRMED: "it is already confirmed; the next Web Connector update applies it",
                    SUPERSEDED: "a newer plan replaced it; confirm that one ('booksync runs confirm --latest')",
                    OUTDATED: "its plan changed before it could be applied; a newer run awaits confirmation",
                    USED: "it was applied already"}.get(run.status, "only a plan staged by a Web Connector update "
                                                                      "can be confirmed")
            raise ConfirmError(f"Run {run.id} is '{run.status}': {hint}.")
        folder = _run_folder(run, runs_dir)
        record = _read(folder / AWAITING_FILE)
        if not record or not record.get("digest"):
            raise ConfirmError(f"Run {run.id} has no {AWAITING_FILE} in {folder}; it cannot be confirmed. The next "
                               "Web Connector update stages a new plan.")
        _write(folder / CONFIRMED_FILE, {"run_id": run.id, "digest": record["digest"], "confirmed_at": _now(),
                                         "confirmed_by": who, "how": "booksync runs confirm"})
        run.status = CONFIRMED
        session.commit()
        return Confirmed(run.id, record["digest"], dict(record.get("counts") or {}),
                         int(record.get("corrections") or 0), folder)

