"""A synchronization started from the browser: the engine in a background thread, its questions as dialogs.

:class:`WebInteraction` is the web's :class:`~booksync.services.syncing.Interaction`, the counterpart
of the command line's ``CliInteraction``: each question becomes a :class:`Question` the processing
page shows as a dialog, and the engine's thread waits for the answer. A question nobody answers
within ``web.question_timeout_seconds`` is answered the safe way (no / cancel): nothing is written.
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from booksync.config import ConfigError, Home
from booksync.domain import Plan
from booksync.services.quickbooks import advice_for_the_web

log = logging.getLogger("booksync.web")

NEGATIVE = {"create_customers": "no", "corrections": "cancel", "confirm": "no"}
"""The answer given for a question nobody answers in time: nothing is written."""
CHOICES = {"create_customers": ("yes", "no"), "corrections": ("continue", "cancel"), "confirm": ("yes", "no")}


@dataclass
class Question:
    """A question of the running sync, waiting for a person.

    Attributes:
        id: unique within the job; an answer must name it (a stale page cannot answer a newer question).
        kind: "create_customers", "corrections" or "confirm".
        data: what the dialog shows (member labels, plan counts, the run id...).
    """

    id: int
    kind: str
    data: dict[str, Any]
    answer: str | None = None


@dataclass
class SyncJob:
    """One synchronization started from the web interface, and everything its pages show."""

    id: str
    user: str
    started_at: dt.datetime
    state: str = "running"
    """running, question, finished (the engine returned a result) or failed (it could not run)."""
    phase: str = "Starting"
    done: int = 0
    total: int = 0
    question: Question | None = None
    run_id: str = ""
    previewed: bool = False
    """The Corrections Log was opened in the viewer during this job's gate."""
    result: dict[str, Any] | None = None
    error: str = ""
    advice: str = ""
    finished_at: dt.datetime | None = None
    steps: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _ids: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    # -- for the engine's thread

    def set_progress(self, phase: str, done: int, total: int) -> None:
        with self._cond:
            if phase != self.phase:
                self.steps.append(phase)
            self.phase, self.done, self.total = phase, done, total

    def ask(self, kind: str, data: dict[str, Any], timeout: float) -> str:
        """Show a question and wait for its answer (the negative one when nobody answers in time)."""
        with self._cond:
            question = Question(next(self._ids), kind, data)
            self.question, self.state = question, "question"
            self._cond.wait_for(lambda: question.answer is not None, timeout=timeout)
            if question.answer is None:
                question.answer = NEGATIVE[kind]
                answer = _answer_text(kind, question.answer)
                self.steps.append(f"No answer came within {int(timeout)} seconds: {answer}")
            self.question, self.state = None, "running"
            return question.answer

    def finish(self, result: dict[str, Any] | None, error: str = "", advice: str = "") -> None:
        with self._cond:
            self.result, self.error, self.advice = result, error, advice
            self.state = "finished" if result is not None else "failed"
            self.question = None
            self.finished_at = dt.datetime.now()
            if result is not None and result.get("folder"):
                self.run_id = str(result.get("run_id") or self.run_id)
            self._cond.notify_all()

    # -- for the pages

    def answer(self, question_id: int, choice: str) -> str:
        """Answer the current question; returns "" when accepted, else why not."""
        with self._cond:
            q = self.question
            if q is None or q.id != question_id:
                return "That question was already answered; here is where the synchronization is now."
            if choice not in CHOICES[q.kind]:
                return "That is not one of the choices."
            if q.kind == "corrections" and choice == "continue" and not self.previewed:
                return "Preview the Corrections Log before you continue."
            q.answer = choice
            # The run goes on at once: a page loaded before the engine's thread wakes must not show the question.
            self.question, self.state = None, "running"
            self.steps.append(_answer_text(q.kind, choice))
            self._cond.notify_all()
            return ""

    def mark_previewed(self, run_id: str) -> None:
        with self._cond:
            if self.question is not None and self.question.kind == "corrections" and run_id == self.run_id:
                self.previewed = True

    @property
    def active(self) -> bool:
        return self.state in ("running", "question")

    def status(self) -> dict[str, Any]:
        """What the processing page polls."""
        with self._cond:
            percent = int(100 * self.done / self.total) if self.total else 0
            return {"id": self.id, "state": self.state, "phase": self.phase, "done": self.done, "total": self.total,
                    "percent": percent, "question": self.question.id if self.question else None,
                    "question_kind": self.question.kind if self.question else None,
                    "run_id": self.run_id, "steps": list(self.steps),
                    "result_status": (self.result or {}).get("status")}


def _answer_text(kind: str, choice: str) -> str:
    return {("create_customers", "yes"): "Create the missing customers: yes",
            ("create_customers", "no"): "Create the missing customers: no",
            ("corrections", "continue"): "Corrections Log previewed; continue",
            ("corrections", "cancel"): "Cancelled at the Corrections Log",
            ("confirm", "yes"): "Update QuickBooks now: yes",
            ("confirm", "no"): "Update QuickBooks now: no"}[(kind, choice)]


class WebInteraction:
    """The sync engine's questions, asked through the processing page (see module docstring)."""

    def __init__(self, job: SyncJob, timeout: float) -> None:
        self.job = job
        self.timeout = timeout

    def ask_create_customers(self, members: list[str]) -> bool:
        data = {"count": len(members), "members": members[:15], "more": max(0, len(members) - 15)}
        return self.job.ask("create_customers", data, self.timeout) == "yes"

    def review_corrections(self, plan: Plan, log_files: dict[str, Path]) -> bool:
        folder = Path(log_files["pdf"]).parent
        self.job.run_id = folder.name
        data = {"count": len(plan.corrections), "past": sum(c.past_period for c in plan.corrections),
                "closed": sum(c.closed for c in plan.corrections), "run_id": folder.name}
        return self.job.ask("corrections", data, self.timeout) == "continue"

    def confirm_update(self, plan: Plan, folder: Path) -> bool:
        self.job.run_id = folder.name
        adjustments = [f"{a.record}, {a.field}: \"{a.original}\" -> \"{a.adjusted}\" ({a.reason})"
                       for a in plan.adjustments]
        data = {"counts": plan.counts(), "operations": plan.size, "corrections": len(plan.corrections),
                "adjustments": adjustments[:12], "more_adjustments": max(0, len(adjustments) - 12),
                "run_id": folder.name}
        return self.job.ask("confirm", data, self.timeout) == "yes"

    def progress(self, phase: str, done: int, total: int) -> None:
        self.job.set_progress(phase, done, total)


@dataclass
class SyncChoices:
    """The command line's sync options the web offers (None: the home's [corrections] settings)."""

    on_conflict: str | None = None
    closed_period: str | None = None
    allow_deposit_changes: bool = False


class SyncJobs:
    """The synchronizations of this server: at most one runs at a time; finished ones are kept for their page."""

    def __init__(self, home: Home, sessions: Any, on_finish: Callable[[], None] = lambda: None) -> None:
        self.home = home
        self.sessions = sessions
        self.on_finish = on_finish
        self.jobs: dict[str, SyncJob] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> SyncJob | None:
        return self.jobs.get(job_id)

    def running(self) -> SyncJob | None:
        return next((j for j in self.jobs.values() if j.active), None)

    def start(self, user: str, choices: SyncChoices) -> SyncJob:
        """Start a synchronization, or return the one already running."""
        with self._lock:
            current = self.running()
            if current is not None:
                return current
            job = SyncJob(uuid.uuid4().hex, user, dt.datetime.now())
            self.jobs[job.id] = job
            for old in sorted(self.jobs.values(), key=lambda j: j.started_at)[:-20]:
                self.jobs.pop(old.id, None)
        thread = threading.Thread(target=self._run, args=(job, choices), name=f"booksync-sync-{job.id[:8]}",
                                  daemon=True)
        thread.start()
        return job

    def _run(self, job: SyncJob, choices: SyncChoices) -> None:
        from booksync.books.registry import open_books
        from booksync.errors import ConnectionFailure
        from booksync.services.syncing import MalformedResponse, SyncBusy, run_sync, sync_lock, sync_options

        settings = self.home.settings
        timeout = float(settings.get("web", {}).get("question_timeout_seconds", 1800))
        try:
            options = sync_options(settings, on_conflict=choices.on_conflict, closed_period=choices.closed_period,
                                   allow_deposit_changes=choices.allow_deposit_changes)
            log.info("web sync started by %s", job.user)
            with sync_lock(self.home), open_books(self.home) as port:
                result = run_sync(self.sessions, port, self.home, WebInteraction(job, timeout), options)
            log.info("run %s: %s (started in the web interface by %s)", result.run_id, result.message, job.user)
            job.finish(result.as_dict())
        except SyncBusy as exc:
            job.finish(None, str(exc))
        except MalformedResponse as exc:
            log.exception("malformed answer from QuickBooks")
            job.finish(None, f"QuickBooks' answer could not be read: {exc}",
                       "Operations recorded before it stand; any whose answer was lost are settled by asking "
                       "QuickBooks at the start of the next synchronization. Synchronize again.")
        except ConnectionFailure as exc:
            job.finish(None, f"Could not connect to QuickBooks. {exc.message} {exc.outcome}".strip(),
                       (advice_for_the_web(exc.advice, self.home) + " " if exc.advice else "")
                       + "Nothing will be written twice: synchronize again "
                       "once QuickBooks is reachable.")
        except ConfigError as exc:
            job.finish(None, str(exc))
        except Exception as exc:  # noqa: BLE001 - the page must say what happened
            log.exception("web sync failed")
            job.finish(None, f"An unexpected error occurred: {type(exc).__name__}: {exc}",
                       "The details are in booksync's log.")
        finally:
            self.on_finish()
