"""The record step: every run leaves its row in ``sync_runs`` (:class:`booksync.store.models.SyncRun`) and, when it
has a folder, ``summary.json`` there — planned, then finished with its result; stopped by a check or declined
before its plan was recorded; cancelled when an exception left it; stopped when QuickBooks could not be reached."""
from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from booksync.domain import Plan, Problem
from booksync.errors import ConnectionFailure
from booksync.exits import EXIT_CONNECTION
from booksync.store.models import SyncRun, _now
from booksync.sync.journal import requeue_sent, written_so_far
from booksync.sync.result import SyncResult

log = logging.getLogger("booksync.sync")


def record_planned(session: Session, run_id: str, key: str, dry_run: bool, folder: Path, plan: Plan) -> SyncRun:
    """The run's row, status "planned", with the plan's counts and digest; committed."""
    run = SyncRun(id=run_id, company_key=key, status="planned", dry_run=dry_run, folder=str(folder),
                  summary=json.dumps({"planned": plan.counts(), "digest": plan.digest()}))
    session.add(run)
    session.commit()
    return run


def record_finished(session: Session, run: SyncRun, result: SyncResult, folder: Path) -> SyncResult:
    """The run's row gets its final status and summary (committed), and its folder ``summary.json``."""
    run.status = result.status
    run.finished_at = _now()
    run.summary = json.dumps(result.as_dict())
    session.commit()
    if folder.exists():
        (folder / "summary.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result


def record_stopped(sessions: sessionmaker[Session], key: str, dry_run: bool, started: dt.datetime,
                   result: SyncResult) -> None:
    """A run stopped by a check, or declined, before its plan was recorded still gets its row in
    sync_runs (with the problems), so `booksync runs list` and the web interface show why."""
    with sessions() as session:
        if session.get(SyncRun, result.run_id) is None:
            session.add(SyncRun(id=result.run_id, company_key=key, status=result.status, dry_run=dry_run,
                                started_at=started, finished_at=_now(), folder=result.folder,
                                summary=json.dumps(result.as_dict())))
            session.commit()


def record_abandoned(sessions: sessionmaker[Session], run_id: str) -> None:
    """A run left by an exception (the person pressed Ctrl-C at the confirmation, the connection
    failed) is not left "planned" for ever: "cancelled" when nothing was sent yet."""
    try:
        with sessions() as session:
            run = session.get(SyncRun, run_id)
            if run is not None and run.status == "planned":
                run.status, run.finished_at = "cancelled", _now()
                session.commit()
    except Exception:  # noqa: BLE001 - the first exception is the one to report
        log.exception("could not record run %s as cancelled", run_id)


def record_connection_lost(sessions: sessionmaker[Session], run_id: str, folder: Path, exc: ConnectionFailure,
                           result: Callable[..., SyncResult]) -> None:
    """QuickBooks could not be reached in the middle of the run (the company file locked by another
    program, the Web Connector gone): the run is recorded "stopped" (not left "applying"), and
    ``exc.outcome`` says whether anything was written. Operations of a message QuickBooks certainly did not
    process (``exc.unprocessed``) go back to "pending"; others whose answer was lost stay "sent" for the
    next sync to settle by asking QuickBooks. ``result(status, code, message, **fields)`` builds the run's result."""
    try:
        with sessions() as session:
            run = session.get(SyncRun, run_id)
            if run is None or run.status not in ("planned", "applying"):
                exc.outcome = "Nothing was written to QuickBooks."
                return
            if exc.unprocessed:
                requeue_sent(session, run_id)
            applied, unknown = written_so_far(session, run_id)
            exc.outcome = _outcome(sum(applied.values()), unknown)
            message = f"QuickBooks could not be reached: {exc.message} {exc.outcome}"
            run.status, run.finished_at = "stopped", _now()
            stopped = result("stopped", EXIT_CONNECTION, message, applied=applied)
            stopped.problems = [Problem("connection", "QuickBooks", exc.message, exc.advice or "", exc.advice or "")]
            run.summary = json.dumps(stopped.as_dict())
            session.commit()
            if folder.exists():
                (folder / "summary.json").write_text(json.dumps(stopped.as_dict(), indent=2))
    except Exception:  # noqa: BLE001 - the connection failure is the one to report
        log.exception("could not record run %s as stopped", run_id)


def _outcome(done: int, unknown: int) -> str:
    """What a run that lost QuickBooks had written, in words."""
    if not done and not unknown:
        return "Nothing was written to QuickBooks."
    outcome = (f"{done} operation(s) were written to QuickBooks before it and are recorded; "
               "the rest were not written.") if done else "Nothing is known to be written."
    if unknown:
        outcome += (f" The answer to {unknown} operation(s) was lost: the next sync asks "
                    "QuickBooks about them before sending anything, so nothing is written twice.")
    else:
        outcome += " The next sync sends the rest; nothing is written twice."
    return outcome
