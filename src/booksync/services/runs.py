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
from booksync.sync.undo import UndoRefused  # noqa: F401 - raised by plan_run_undo, caught by the faces
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
    """What undoing run ``run_id`` does, and its Corrections Log written in the run's folder (CSV; QuickBooks is
    read, nothing is changed; ``port`` None through the Web Connector: from the journal and pre-images alone). Raises :class:`UndoRefused` when the run is unknown, was not applied, or belongs to
    another company."""
    plan = plan_undo(session, port, run_id, home.run_folder(run_id))
    return plan, write_undo_log(home.run_folder(run_id), plan)


UNDO_KINDS = ("simulator", "rp2", "online")
"""Company kinds (``[company] kind``) booksync can send an undo to: QuickBooks Desktop it opens itself, and
QuickBooks Online."""


def undo_unavailable(home: Home, run_id: str, dry_run: bool) -> str:
    """"" when ``booksync runs undo`` can go ahead for this home's company kind; else why not and what to do
    instead. The Web Connector: refused outright (booksync reaches QuickBooks only inside a Web Connector update)."""
    kind = str(home.settings["company"].get("kind", "simulator"))
    if kind in UNDO_KINDS:
        return ""
    images = home.run_folder(run_id) / "pre-images.jsonl"
    head = ("Undo is available for QuickBooks Desktop through the simulator or the request processor (company kind "
            "\"simulator\" or \"rp2\") and for QuickBooks Online, not yet ")
    if kind == "webconnector":
        return (head + "through the Web Connector (booksync reaches QuickBooks only during a Web Connector update). "
                "Do this instead: take the run's records out by hand in QuickBooks ('booksync runs show " + run_id +
                f"' lists them; each changed record as it was before the run is in {images}), or restore the company "
                "file from the backup made in QuickBooks (File > Back Up Company) before the run. Nothing was changed.")
    return head + f"for company kind {kind!r}. Nothing was changed."


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
    the port can copy it, booksync's database and the logs, into ``backups/YYYYMMDD-HHMMSS-undo-RUN_ID`` (pruned
    with the sync's backups, ``[sync] keep_backups``; restored with ``booksync backups restore``). Returns (the
    backup's folder, why the company file is not in it: "" when it is). QuickBooks Online (the port's
    ``copies_company`` is False): no backup is taken, ("", the sentence saying why and where the pre-images are)."""
    if not getattr(port, "copies_company", True):
        images = home.run_folder(run_id) / PRE_IMAGES
        return "", ("No backup is taken before the undo: booksync cannot copy a QuickBooks Online company. The run's "
                    f"pre-images are the backup: each record it changed as it was before the run, in {images}.")
    backup_id = f"{new_run_id(home.backups_dir)}-undo-{run_id}"
    keep = int(home.settings.get("sync", {}).get("keep_backups", 10))
    return back_up(home, port, sessions, backup_id, keep, _Quiet())  # type: ignore[arg-type]

