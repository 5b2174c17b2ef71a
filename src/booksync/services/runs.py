"""Sync runs as the faces show them: the list, one run's files, journal and confirmation records, its log lines,
and undoing a run (:mod:`booksync.sync.undo`).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from booksync.books.port import BooksPort
from booksync.config import Home
from booksync.services.confirmation import AWAITING, AWAITING_FILE, CONFIRMED_FILE
from booksync.store.models import JournalEntry, SyncRun
from booksync.sync.backups import back_up
from booksync.sync.pre_images import PRE_IMAGES
from booksync.sync.run import new_run_id
from booksync.sync.undo import UndoRefused  # raised by plan_run_undo and stage_undo, caught by the faces
from booksync.sync.undo import UndoPlan, UndoStep, apply_undo, plan_undo, write_undo_log

RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}(-[0-9]+)?$")


@dataclass
class RunInfo:
    """One sync run as the pages show it."""

    id: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message: str
    planned: dict[str, int]
    applied: dict[str, int]
    problems: list[dict[str, str]]
    folder: str
    backup: str
    dry_run: bool

    @property
    def planned_total(self) -> int:
        return sum(self.planned.values())

    @property
    def applied_total(self) -> int:
        return sum(self.applied.values())


def run_info(run: SyncRun) -> RunInfo:
    try:
        summary = json.loads(run.summary or "{}")
    except ValueError:
        summary = {}
    # The web shows the run's message in its own words (pages, not commands) where the engine gave them.
    message = str(summary.get("message_web") or summary.get("message", ""))
    return RunInfo(run.id, run.status, run.started_at, run.finished_at, message,
                   dict(summary.get("planned") or {}), dict(summary.get("applied") or {}),
                   list(summary.get("problems") or []), run.folder, str(summary.get("backup") or ""), run.dry_run)


@dataclass
class RunFile:
    path: str
    """Relative to the run folder, with "/"."""
    size: int


@dataclass
class RunDetail:
    info: RunInfo
    files: list[RunFile]
    requests: list[RunFile]
    backup: list[RunFile]
    journal: dict[str, int]
    failed: list[JournalEntry]
    confirmable: bool
    awaiting: dict[str, Any] | None
    confirmed: dict[str, Any] | None
    has_corrections_log: bool


def list_runs(session: Session, limit: int = 200) -> list[RunInfo]:
    runs = session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit))
    return [run_info(r) for r in runs]


def run_folder(home: Home, run: SyncRun) -> Path:
    return home.run_folder(run.id)


def _files(folder: Path) -> list[RunFile]:
    if not folder.is_dir():
        return []
    return [RunFile(p.relative_to(folder).as_posix(), p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_detail(session: Session, home: Home, run: SyncRun) -> RunDetail:
    folder = run_folder(home, run)
    files = _files(folder)
    counts: dict[str, int] = {}
    failed = []
    for entry in session.scalars(select(JournalEntry).where(JournalEntry.run_id == run.id)
                                 .order_by(JournalEntry.seq)):
        counts[entry.status] = counts.get(entry.status, 0) + 1
        if entry.status in ("failed", "sent"):
            failed.append(entry)
    awaiting = _read_json(folder / AWAITING_FILE)
    return RunDetail(
        run_info(run),
        [f for f in files if not f.path.startswith("requests/")],
        [f for f in files if f.path.startswith("requests/")],
        _files(home.backups_dir / run.id),
        counts, failed,
        run.status == AWAITING and bool(awaiting and awaiting.get("digest")),
        awaiting, _read_json(folder / CONFIRMED_FILE),
        (folder / "corrections_log.html").is_file())


def safe_file(base: Path, relative: str) -> Path | None:
    """``base/relative`` when it is a file inside ``base`` (no way out with .. or links), else None."""
    try:
        root = base.resolve(strict=True)
        target = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if root not in target.parents or not target.is_file():
        return None
    return target


def log_lines(home: Home, run_id: str | None, limit: int = 400) -> list[str]:
    """The last lines of booksync's log (the current file and the one rotated before it, booksync.log.1: each
    at most ``logs.max_bytes``); with ``run_id``, only those that mention the run."""
    lines: list[str] = []
    for name in ("booksync.log.1", "booksync.log"):
        try:
            lines += (home.logs_dir / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    if run_id:
        lines = [line for line in lines if run_id in line]
    return lines[-limit:]


# ---------------------------------------------------------------------- the command line's runs list and show


def all_runs(session: Session) -> list[SyncRun]:
    """Every run, newest first."""
    return list(session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc())))


def run_journal(session: Session, run_id: str) -> tuple[SyncRun | None, list[JournalEntry]]:
    """The run ``run_id`` (None when there is none) and its journal, in the order the operations were planned."""
    run = session.get(SyncRun, run_id)
    if run is None:
        return None, []
    return run, list(session.scalars(select(JournalEntry).where(JournalEntry.run_id == run_id)
                                     .order_by(JournalEntry.seq)))


def kept_folder(home: Home, run: SyncRun) -> str:
    """Where the run's working files are in this home ("" when it kept none)."""
    return str(home.run_folder(run.id)) if run.folder else ""


# ---------------------------------------------------------------------- undo


def plan_run_undo(session: Session, port: BooksPort | None, home: Home, run_id: str) -> tuple[UndoPlan, Path]:
    """What undoing run ``run_id`` does, and its Corrections Log written in the run's folder (CSV; QuickBooks is read,
    nothing is changed; ``port`` None through the Web Connector: from the journal and pre-images alone). Raises
    :class:`UndoRefused` when the run is unknown, was not applied, or belongs to another company."""
    plan = plan_undo(session, port, run_id, home.run_folder(run_id))
    return plan, write_undo_log(home.run_folder(run_id), plan)


UNDO_KINDS = ("simulator", "rp2", "online", "webconnector")
"""Company kinds (``[company] kind``) booksync can undo a run in: QuickBooks Desktop it opens itself, QuickBooks
Online, and the Web Connector (staged for its next update: :func:`stage_undo`)."""


def undo_unavailable(home: Home, run_id: str) -> str:
    """"" when ``booksync runs undo`` can go ahead for this home's company kind; else why not. Through the Web
    Connector it is staged for the next update (:func:`stage_undo`)."""
    kind = str(home.settings["company"].get("kind", "simulator"))
    if kind in UNDO_KINDS:
        return ""
    return (f"Undo is not available for company kind {kind!r} (only \"simulator\", \"rp2\", \"online\" and "
            "\"webconnector\"). Nothing was changed.")


def can_send_undo(port: BooksPort) -> bool:
    """Whether booksync can send an undo to this company (its port sets records back: ``restore``)."""
    return hasattr(port, "restore")


def undo_run(session: Session, port: BooksPort, home: Home, plan: UndoPlan) -> tuple[int, list[UndoStep], Path]:
    """Send ``plan``: (records deleted or set back, the steps QuickBooks refused, the undo's Corrections Log
    rewritten with each outcome)."""
    done, failed = apply_undo(session, port, plan)
    return done, failed, write_undo_log(home.run_folder(plan.run_id), plan)


class _Quiet:
    """The back-up step's progress, unseen: the command prints where the backup went once it is taken."""

    def progress(self, phase: str, done: int, total: int) -> None:
        return None


def back_up_before_undo(home: Home, port: BooksPort, sessions: sessionmaker[Session], run_id: str) -> tuple[str, str]:
    """Back up before an undo writes, as a sync does (:func:`booksync.sync.backups.back_up`): the company file when
    the port can copy it (QuickBooks Online: the port's JSON export instead), booksync's database and the logs, into
    ``backups/YYYYMMDD-HHMMSS-undo-RUN_ID`` (pruned with the sync's backups, ``[sync] keep_backups``; restored with
    ``booksync backups restore``). Returns (the backup's folder, why the company file is not in it: "" when it is).
    QuickBooks Online (the port's ``copies_company`` is False): the reason says booksync cannot copy an Online
    company and that the run's pre-images are QuickBooks' side of the backup."""
    backup_id = f"{new_run_id(home.backups_dir)}-undo-{run_id}"
    keep = int(home.settings.get("sync", {}).get("keep_backups", 10))
    folder, note = back_up(home, port, sessions, backup_id, keep, _Quiet())  # type: ignore[arg-type]
    if not getattr(port, "copies_company", True):
        images = home.run_folder(run_id) / PRE_IMAGES
        note = ("booksync cannot copy a QuickBooks Online company (the backup holds booksync's database, the logs "
                "and a JSON export of the company, which cannot be restored into QuickBooks). QuickBooks' side of "
                f"the backup is the run's pre-images: each record it changed as it was before the run, in {images}.")
    return folder, note


# ---------------------------------------------------------------------- undo through the Web Connector

UNDO_WAITING = "undo waiting"
"""The status of a run whose undo is staged for the next Web Connector update (at most 20 characters)."""
UNDO_STAGED_FILE = "undo-staged.json"
"""In the run's folder while its undo waits: who staged it, when, and the run's status before."""
UNDO_SENT_FILE = "undo-sent.json"
"""In the run's folder once a Web Connector update sent the undo: the staged record and what became of it."""
WEB_CONNECTOR_NOTE = ("Through the Web Connector booksync reaches QuickBooks only during an update: the plan above "
                      "comes from the run's journal and pre-images. The next update reads QuickBooks first: a "
                      "record changed there since the run is left alone and named then, and what QuickBooks would "
                      "refuse is not sent. The company file cannot be copied first (make a backup in QuickBooks: "
                      "File > Back Up Company).")


def stage_undo(session: Session, home: Home, run_id: str, user: str) -> Path:
    """Stage run ``run_id``'s undo for the next Web Connector update, like a confirmed staged sync
    (:mod:`booksync.services.confirmation`): writes :data:`UNDO_STAGED_FILE` in the run's folder (who, when, the
    run's status before) and marks the run :data:`UNDO_WAITING`. Returns the file. Raises :class:`UndoRefused`
    when the undo is staged already (the caller planned it first: :func:`plan_run_undo` with no port)."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise UndoRefused(f"There is no run {run_id!r}; see 'booksync runs list'.")
    if run.status == UNDO_WAITING:
        raise UndoRefused(f"Run {run_id}'s undo is staged already: the next Web Connector update sends it.")
    folder = home.run_folder(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / UNDO_STAGED_FILE
    path.write_text(json.dumps({"run_id": run_id, "status_before": run.status, "staged_by": user,
                                "staged_at": dt.datetime.now().replace(microsecond=0).isoformat()}, indent=1),
                    encoding="utf-8")
    run.status = UNDO_WAITING
    session.commit()
    return path


def staged_undo(session: Session) -> str | None:
    """The run whose undo waits for a Web Connector update (the oldest staged), or None."""
    return session.scalar(select(SyncRun.id).where(SyncRun.status == UNDO_WAITING)
                          .order_by(SyncRun.started_at, SyncRun.id).limit(1))


@dataclass
class StagedUndoResult:
    """What a Web Connector update did with a staged undo, shaped as the session reports a sync's result:
    ``status`` "completed" (all undone), "partly undone", "nothing undone" or "undo refused"; ``message`` in
    words; ``problems`` empty (the records refused are in the undo's Corrections Log)."""

    run_id: str
    status: str
    message: str
    folder: str = ""
    problems: list[Any] | None = None


def send_staged_undo(sessions: sessionmaker[Session], port: BooksPort, home: Home, run_id: str) -> StagedUndoResult:
    """Send run ``run_id``'s staged undo during a Web Connector update (``port`` talks to QuickBooks through it):
    plans it again with QuickBooks' answers (versions, deposits), backs up booksync's database and logs, sends it
    and writes its Corrections Log. The run becomes "undone" or "partly undone"; when nothing was undone (or the
    undo is refused) it gets its status back. :data:`UNDO_STAGED_FILE` becomes :data:`UNDO_SENT_FILE`."""
    folder = home.run_folder(run_id)
    staged = _read_json(folder / UNDO_STAGED_FILE) or {}
    with sessions() as session:
        before = str(staged.get("status_before") or "completed")
        try:
            plan = plan_undo(session, port, run_id, folder)
        except UndoRefused as exc:
            result = StagedUndoResult(run_id, "undo refused", f"The undo of run {run_id} was not sent: {exc}")
        else:
            if plan.steps:
                back_up_before_undo(home, port, sessions, run_id)
            done, failed = apply_undo(session, port, plan) if plan.steps or plan.refused else (0, [])
            log = write_undo_log(folder, plan)
            result = (_undo_result(run_id, done, failed, log) if plan.steps or plan.refused else StagedUndoResult(
                run_id, "nothing undone", f"Nothing was undone: every record of run {run_id} was left alone or cannot "
                f"be undone; the reasons are in {log}."))
        run = session.get(SyncRun, run_id)
        if run is not None and run.status == UNDO_WAITING:  # nothing was undone: the run is as it was
            run.status = before
        session.commit()
    (folder / UNDO_SENT_FILE).write_text(json.dumps({**staged, "status": result.status, "message": result.message,
                                                     "sent_at": dt.datetime.now().replace(microsecond=0).isoformat()},
                                                    indent=1), encoding="utf-8")
    (folder / UNDO_STAGED_FILE).unlink(missing_ok=True)
    result.folder = str(folder)
    return result


def undo_state(home: Home, run_id: str) -> tuple[str, dict[str, Any] | None]:
    """What became of the run's undo through the Web Connector, in words ("" when none was staged), and its
    record (:data:`UNDO_STAGED_FILE` while it waits, :data:`UNDO_SENT_FILE` once sent)."""
    folder = home.run_folder(run_id)
    staged = _read_json(folder / UNDO_STAGED_FILE)
    if staged is not None:
        return (f"Its undo waits for the next Web Connector update (staged by {staged.get('staged_by', '')} at "
                f"{staged.get('staged_at', '')}).", staged)
    sent = _read_json(folder / UNDO_SENT_FILE)
    if sent is not None:
        return (f"Its undo was sent by a Web Connector update at {sent.get('sent_at', '')}: "
                f"{sent.get('message', '')}", sent)
    return "", None


def _undo_result(run_id: str, done: int, failed: list[UndoStep], log: Path) -> StagedUndoResult:
    if not failed:
        return StagedUndoResult(run_id, "completed", f"The undo was sent: {done} record(s) deleted or set back")
    if done:
        return StagedUndoResult(run_id, "partly undone", f"Run {run_id} was partly undone: {done} record(s) deleted "
                                f"or set back, {len(failed)} refused by QuickBooks; the reasons are in {log}.")
    return StagedUndoResult(run_id, "nothing undone", f"Nothing was undone: QuickBooks refused all {len(failed)} "
                            f"record(s) of run {run_id}; the reasons are in {log}. The run is as it was.")
