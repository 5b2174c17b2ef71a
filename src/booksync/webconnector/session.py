"""One Web Connector session: its ticket's state, the engine's worker thread, and the questions it answers.

A session starts at a successful authenticate and ends at closeConnection, at an error, or when
it expires. At the first sendRequestXML it starts the sync engine in a worker thread over a
:class:`~booksync.webconnector.bridge.Bridge`; the callbacks then move the engine's requests out
and QuickBooks' answers in (see :mod:`booksync.webconnector.service`).

States: ``new`` (authenticated, engine not started), ``running``, ``finished`` (the engine
returned a result), ``failed`` (stopped on an error; ``message`` says why), ``no work``
(authenticate answered "none"; ``message`` says why).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.orm import Session, sessionmaker

from booksync.domain import Plan
from booksync.errors import ConnectionFailure, BooksError
from booksync.qbxml.parse import MalformedResponse, parse_xml
from booksync.webconnector.bridge import Bridge
from booksync.services.confirmation import Decision, decide

log = logging.getLogger("booksync.webconnector")

NEW, RUNNING, FINISHED, FAILED, NO_WORK = "new", "running", "finished", "failed", "no work"
OK_STATUSES = ("completed", "nothing", "awaiting confirm", "dry-run")
"""Engine results the Web Connector is told are a success (100 %); others end negative (guide p.77)."""

_LATIN1_DECLARATION = b'<?xml version="1.0" encoding="ISO-8859-1"?>'


def request_text(message: bytes) -> str:
    """A request message as the string sendRequestXML returns.

    booksync's messages are ISO-8859-1 and say so (:func:`booksync.qbxml.build.message`);
    anything else is taken as UTF-8.
    """
    return message.decode("iso-8859-1" if message.startswith(_LATIN1_DECLARATION) else "utf-8")


def is_query_only(message: bytes) -> bool:
    """True when every request of the message set only reads (``*QueryRq``): safe to send again."""
    try:
        root = parse_xml(message, "qbXML request")
    except MalformedResponse:
        return False
    msgs = root.find("QBXMLMsgsRq")
    requests = [rq for rq in msgs if isinstance(rq.tag, str)] if msgs is not None else []
    return bool(requests) and all(rq.tag.endswith("QueryRq") for rq in requests)


def failure_text(exc: BaseException) -> str:
    """An engine failure as one message for the user: what happened and what to do."""
    if isinstance(exc, ConnectionFailure):
        return f"{exc.message} {exc.advice}".strip()
    if isinstance(exc, MalformedResponse):
        return (f"QuickBooks' answer could not be read ({exc}). Nothing more was sent; update again, and if it "
                "happens again send logs/booksync.log to booksync's maintainers.")
    return str(exc)


class WCSession:
    """The state behind one ticket (see module docstring). Callbacks hold :attr:`lock` while they act."""

    def __init__(self, ticket_key: str, user: str, now: float, answer_timeout: float, client: str = "") -> None:
        self.ticket_key = ticket_key
        self.user = user
        self.client = client
        """The Web Connector's address: with the user, what tells the same Web Connector from another."""
        self.local = True
        """True when this process runs (or will run) the session's sync; False for a session another process
        owns, seen through the billing store (:mod:`booksync.webconnector.shared`)."""
        self.created = now
        self.last_seen = now
        self.last_engine_event = now
        self.state = NEW
        self.message = ""
        self.bridge = Bridge(answer_timeout)
        self.thread: threading.Thread | None = None
        self.outstanding: bytes | None = None
        """The request handed to the Web Connector whose answer has not come back yet."""
        self.pending: bytes | None = None
        """A request the engine made that is not handed out yet."""
        self.result: Any = None
        self.decision: Decision | None = None
        self.percent = 0
        self.requests = 0
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle

    def start(self, runner: Callable[[], Any]) -> None:
        """Run ``runner`` (the engine) in a worker thread; its result or failure comes back as an event."""
        self.state = RUNNING

        def work() -> None:
            try:
                result = runner()
            except BooksError as exc:
                log.warning("session for %r: the sync stopped: %s", self.user, exc)
                self.bridge.failed(failure_text(exc))
            except Exception:  # noqa: BLE001 - the thread must always report back
                log.exception("session for %r: unexpected error in the sync", self.user)
                self.bridge.failed("booksync stopped on an unexpected error; nothing more was sent. The details are "
                                   "in booksync's log (logs/booksync.log).")
            else:
                self.bridge.finished(result)

        # Daemon: a stuck engine must not keep the server from shutting down; cancel() stops it anyway.
        self.thread = threading.Thread(target=work, name=f"booksync-wc-{self.ticket_key[:8]}", daemon=True)
        self.thread.start()

    def take_event(self, timeout: float, now: Callable[[], float] = time.time) -> None:
        """Wait up to ``timeout`` seconds for the engine's next event and record it."""
        event = self.bridge.next_event(timeout)
        if event is None:
            return
        self.last_engine_event = now()
        if event.kind == "request":
            self.pending = event.payload
            self.requests += 1
        elif event.kind == "finished":
            self.finish(event.payload)
        else:
            self.fail(event.payload)

    def finish(self, result: Any) -> None:
        self.state = FINISHED
        self.result = result
        self.message = closing_message(result, self.decision)

    def fail(self, message: str) -> None:
        """End the session on an error: the engine is told to stop, ``message`` is for getLastError."""
        if self.state in (FAILED, FINISHED):
            return
        self.state = FAILED
        self.message = message
        self.bridge.cancel(message)

    def end(self, reason: str) -> None:
        """Stop the engine if it still runs (closeConnection, expiry, a newer session)."""
        if self.state == RUNNING:
            self.bridge.cancel(reason)
            self.state = FAILED
            self.message = self.message or reason

    @property
    def succeeded(self) -> bool:
        return self.state == FINISHED and getattr(self.result, "status", "") in OK_STATUSES

    # ------------------------------------------------------------------ progress

    def progress(self, phase: str, done: int, total: int) -> None:
        """The engine's progress as a percentage for receiveResponseXML (guide p.77: 100 only at the end)."""
        if phase.startswith("Updating") and total:
            self.percent = 15 + int(84 * done / total)
        elif phase.startswith("Backing"):
            self.percent = 12
        elif phase == "Reading QuickBooks":
            self.percent = max(self.percent, 10 if done >= total else 2)
        elif phase == "Reading QuickBooks customers":  # those the run needs, after the billing store
            self.percent = max(self.percent, 11 if done >= total else 10)

    def percent_for_qbwc(self) -> int:
        # While reading, each message moves the bar a little; the engine reports the rest.
        reading = min(9, 1 + self.requests) if self.percent < 10 else self.percent
        return max(1, min(99, reading))


def closing_message(result: Any, decision: Decision | None) -> str:
    """What the Web Connector shows when the session ends (closeConnection, guide p.68)."""
    status = getattr(result, "status", "")
    run_id = getattr(result, "run_id", "")
    if status == "completed":
        how = f", {decision.how}" if decision is not None else ""
        return f"booksync: {result.message.rstrip('.')} in run {run_id}{how}."
    if status in ("awaiting confirm", "nothing"):
        return f"booksync: {result.message}"
    lines = [f"booksync: {result.message}"]
    problems = getattr(result, "problems", []) or []
    for p in problems[:5]:
        lines.append(f"{p.record}: {p.message}" + (f" ({p.fix})" if p.fix else ""))
    if len(problems) > 5:
        lines.append(f"... and {len(problems) - 5} more; 'booksync sync --dry-run' lists them all.")
    return " ".join(lines)


def staged_message(result: Any, plan_counts: dict[str, int]) -> str:
    """The message of a run staged for confirmation."""
    n = sum(plan_counts.values())
    return (f"{n} change(s) staged as run {result.run_id}; nothing was written to QuickBooks. Review them "
            f"('booksync runs show {result.run_id}', or the folder runs/{result.run_id}) and confirm with "
            f"'booksync runs confirm {result.run_id}'; the next Web Connector update applies them.")


class WebConnectorInteraction:
    """The engine's questions, answered for a session nobody watches (:class:`booksync.services.syncing.Interaction`).

    * create customers for members without one: ``webconnector.create_customers`` (default yes:
      the plan is still confirmed by a person before anything is written);
    * the Corrections Log gate: passed, because the log is staged in the run folder and read by the
      person who confirms the run (or the unattended policy, which never applies corrections in a
      closed period or over a conflict, decides);
    * update QuickBooks now: :func:`booksync.services.confirmation.decide`.
    """

    def __init__(self, session: WCSession, sessions: sessionmaker[Session], create_customers: bool,
                 unattended: bool, billing: str) -> None:
        self.session = session
        self.sessions = sessions
        self.create_customers = create_customers
        self.unattended = unattended
        self.billing = billing
        self.plan: Plan | None = None

    def ask_create_customers(self, members: list[str]) -> bool:
        log.info("%d member(s) have no QuickBooks customer; create them: %s", len(members),
                 "yes" if self.create_customers else "no (webconnector.create_customers = false)")
        return self.create_customers

    def review_corrections(self, plan: Plan, log_files: dict[str, Path]) -> bool:
        return True

    def confirm_update(self, plan: Plan, folder: Path) -> bool:
        self.plan = plan
        decision = decide(self.sessions, folder, plan, self.unattended, self.billing)
        self.session.decision = decision
        log.info("run %s: %s", folder.name, "applying (" + decision.how + ")" if decision.apply
                 else "staged; awaiting confirmation")
        return decision.apply

    def progress(self, phase: str, done: int, total: int) -> None:
        self.session.progress(phase, done, total)
