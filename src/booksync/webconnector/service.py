"""The Web Connector callbacks, with the return conventions of Intuit's guide, independent of SOAP.

QuickBooks Web Connector (QBWC) calls, per update (guide ch. 2, p.21–25; reference §12):
``clientVersion`` → ``authenticate`` → (QBWC opens QuickBooks; on failure ``connectionError``)
→ ``sendRequestXML`` / ``receiveResponseXML`` … → ``closeConnection``; ``getLastError`` after
an empty sendRequestXML or a negative receiveResponseXML.

How booksync answers:

* ``authenticate`` → [ticket, ""] (use the open company, or ``webconnector.company_file``);
  [ticket, "nvu"] for a wrong user or password; [ticket, "none"] when there is nothing to do
  (nothing new in the billing store, or a staged run still awaits confirmation) (guide p.21–22);
  [ticket, "busy"] when the previous session's sync does not stop (guide p.62).
* ``sendRequestXML`` → the engine's next qbXML request; "" when there is none yet (the engine is
  thinking: getLastError then answers "NoOp" and QBWC asks again 5 s later, guide p.8, p.80) or
  the session ended (getLastError says why). The first call checks the qbXML version and the
  company's FileID (:mod:`booksync.webconnector.company`) before the engine starts.
* ``receiveResponseXML`` → percent done, 100 when the run ended well; negative when QuickBooks
  could not process a request (empty response with an HRESULT), when the answer was out of
  sequence, or when the run ended with a refusal (guide p.77, p.53).
* ``connectionError`` → "done" after logging (guide p.69: do not retry blindly).
* ``getLastError`` → the error message, "NoOp" while the engine thinks, or the result.
* ``closeConnection`` → the session's outcome in one sentence; the ticket is invalid afterwards.

Tickets are random (``secrets``), stored only as SHA-256 digests, bound to one session, and expire
after ``webconnector.idle_timeout_seconds`` without a callback or ``max_session_seconds`` in all.
Every wait on the engine is bounded by ``webconnector.wait_seconds``. Sessions are kept in the billing
store as well (:mod:`booksync.webconnector.shared`), so every ``booksync serve`` sharing it knows them,
and at most one is active per billing store.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy.exc import SQLAlchemyError

from booksync import __version__
from booksync.attempts import AttemptThrottle, ChecksBusy, clip
from booksync.books.desktop.adapter import DesktopBooks
from booksync.books.desktop.rp2 import explain_hresult, parse_hresult
from booksync.config import Home
from booksync.store.connector_sessions import CLIENT_CHARS, USER_CHARS, Limits
from booksync.store.db import open_store
from booksync.services.connector_auth import check_credentials
from booksync.services.confirmation import (AWAITING, CONFIRMED, billing_state, pending_run, record_staged,
                                            staged_unchanged)
from booksync.services.connector_state import ConnectorState
from booksync.services.runs import send_staged_undo, staged_undo
from booksync.services.syncing import SyncBusy, nothing_to_sync, run_sync, sync_lock, sync_options
from booksync.webconnector.company import CompanyRefused, check_company, negotiate_version, read_hcp
from booksync.webconnector.session import (FAILED, FINISHED, NEW, NO_WORK, RUNNING, WCSession, WebConnectorInteraction,
                                           is_query_only, request_text, staged_message)
from booksync.webconnector.shared import OWNER_SILENT_SECONDS, SessionRegistry

log = logging.getLogger("booksync.webconnector")

ERROR_QUICKBOOKS = -101
"""receiveResponseXML's answer when QuickBooks could not process a request (as Intuit's sample, guide p.78)."""
ERROR_SERVICE = -1
"""receiveResponseXML's answer for every other error; getLastError says what happened."""
MIN_QBWC_VERSION = (2, 0)
"""getLastError's "NoOp" (used while the engine thinks) needs QBWC 2.0 (guide p.8)."""
UNKNOWN_TICKET = ("booksync does not know this Web Connector session: it ended or expired. Nothing more was sent. "
                  "Update again.")
ENDED = "booksync: this session has already ended."
CALLER_TEXT_CHARS = 1000
"""Longest HRESULT message from the Web Connector that booksync logs and shows (QuickBooks' own are a sentence)."""


def ticket_key(ticket: str) -> str:
    """Tickets are kept as digests: a memory dump or a log line never holds a usable ticket."""
    return hashlib.sha256((ticket or "").encode("utf-8")).hexdigest()


class WebConnectorService:
    """The eight callbacks of QBWebConnectorSvc.wsdl over one booksync home (see module docstring).

    ``engine`` stands in for the run in tests (:func:`booksync.services.syncing.run_sync`'s); ``clock`` the
    time in seconds since the epoch (sessions are shared through the billing store with other processes, whose
    clocks are compared with it: :mod:`booksync.webconnector.shared`).
    """

    def __init__(self, home_path: Path | str, engine: Callable[..., Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        home = Home.load(home_path)
        self.home_path = home.path
        self.db = open_store(home.database_url)
        self._engine = engine
        self._clock = clock
        self._registry = SessionRegistry(self.db, clock)
        self._state_lock = threading.Lock()
        self._throttle = AttemptThrottle.from_settings(home.settings.get("web", {}), clock)

    # ------------------------------------------------------------------ helpers

    def _home(self) -> Home:
        # Read for every session: set-password, policies and timeouts apply without a restart.
        return Home.load(self.home_path)

    @staticmethod
    def _setting(home: Home, key: str) -> Any:
        return home.settings["webconnector"][key]

    def _limits(self, home: Home) -> Limits:
        idle = float(self._setting(home, "idle_timeout_seconds"))
        return Limits(idle=idle, longest=float(self._setting(home, "max_session_seconds")),
                      owner_silent=min(idle, OWNER_SILENT_SECONDS))

    def _find(self, ticket: str | None, home: Home) -> WCSession | None:
        """The ticket's session, wherever it was begun (expired ones are removed first), or None."""
        return self._registry.find(ticket_key(ticket or ""), self._limits(home),
                                   float(self._setting(home, "idle_timeout_seconds")))

    @contextmanager
    def _acting(self, ticket: str | None, home: Home) -> Iterator[WCSession | None]:
        """A callback's hold on its session: the session's lock, the Web Connector seen now, and what the
        callback changed written to the billing store afterwards, for the other processes."""
        session = self._find(ticket, home)
        if session is None:
            yield None
            return
        with session.lock:
            session.last_seen = self._clock()
            try:
                yield session
            finally:
                try:
                    self._registry.save(session)
                except SQLAlchemyError:  # the answer still goes out; the others see the session as it was
                    log.exception("could not record the Web Connector session in the billing store")

    def _sweep(self, home: Home) -> None:
        """End the sessions that expired (no callback for idle_timeout_seconds, or older than max_session_seconds)."""
        self._registry.sweep(self._limits(home))

    def _wait(self, session: WCSession, home: Home) -> None:
        session.take_event(float(self._setting(home, "wait_seconds")), self._clock)

    def _remember(self, **last: Any) -> None:
        with self._state_lock:
            state = ConnectorState.load(self.home_path)
            state.last_session = {"at": dt.datetime.now().replace(microsecond=0).isoformat(), **last}
            state.save(self.home_path)

    # ------------------------------------------------------------------ serverVersion, clientVersion

    def serverVersion(self, strVersion: str | None = None) -> str:
        """booksync's version, shown in QBWC's "More information" (guide p.8, p.74)."""
        return f"booksync {__version__}"

    def clientVersion(self, strVersion: str | None) -> str:
        """"" to proceed; "W:…" for a Web Connector older than 2.0 (guide p.66–67)."""
        match = re.match(r"\s*(\d+)\.(\d+)", strVersion or "")
        if match and (int(match.group(1)), int(match.group(2))) < MIN_QBWC_VERSION:
            return ("W:booksync is made for QuickBooks Web Connector 2.0 or later; with this version a long update "
                    "may stop early. Please install the latest Web Connector from Intuit.")
        return ""

    # ------------------------------------------------------------------ authenticate

    def authenticate(self, strUserName: str | None, strPassword: str | None, client: str = "") -> list[str]:
        """[ticket, "" | company path | "nvu" | "none" | "busy"] (guide p.21–22, p.62). Attempts are limited
        per user and per address (``web.signin_attempts_*``, as the web sign-in): over the limit, or when
        too many password checks run at once, the answer is "busy" (with the seconds to postpone when known)
        and no password is checked."""
        ticket = secrets.token_urlsafe(32)
        home = self._home()
        user = strUserName or ""
        # Counted before the check (per user and per address, as the web sign-in): parallel guesses cannot
        # outrun the limit, and each check costs the hash's memory.
        attempt = self._throttle.begin(user, client)
        if attempt is None:
            wait = self._throttle.retry_after(user, client)
            log.warning("authenticate: refused user %s from %s: too many attempts; answering busy for %.0f s",
                        clip(user, 60), client or "?", wait)
            return [ticket, "busy", str(int(wait) + 1)]
        try:
            ok = check_credentials(home.settings, user, strPassword or "")
        except ChecksBusy:
            log.warning("authenticate: too many password checks at once; answering busy to %s", client or "?")
            return [ticket, "busy"]
        if not ok:
            # Never the password: only who tried, and from where.
            log.warning("authenticate: refused user %s from %s: wrong user name or password", clip(user, 60),
                        client or "?")
            return [ticket, "nvu"]
        self._throttle.succeeded(attempt)
        self._sweep(home)
        user, client = user[:USER_CHARS], client[:CLIENT_CHARS]  # the table's columns
        # One active session per billing store, across every process sharing it: the same Web Connector
        # (user and address) authenticating again drops its lost session (guide p.42); another is busy.
        refused = self._registry.drop_previous(user, client, self._limits(home))
        if refused is not None:
            log.warning("authenticate: %s; answering busy", refused)
            return [ticket, "busy"]
        work, message = self._pending_work(home)
        session = WCSession(ticket_key(ticket), user, self._clock(), float(self._setting(home, "idle_timeout_seconds")),
                            client=client)
        if not work:
            session.state, session.message = NO_WORK, message
        if not self._registry.add(session, active=work):
            log.warning("authenticate: another Web Connector's session began at the same moment; answering busy")
            return [ticket, "busy"]
        if not work:
            log.info("authenticate: %r from %s: nothing to do (%s)", user, client or "?", message)
            return [ticket, "none"]
        log.info("authenticate: %r from %s: session started", user, client or "?")
        return [ticket, str(self._setting(home, "company_file") or "")]

    def _pending_work(self, home: Home) -> tuple[bool, str]:
        """Whether a session has something to do, and when not, why (for closeConnection)."""
        state = ConnectorState.load(home.path)
        with self.db() as session:
            if staged_undo(session) is not None:  # 'booksync runs undo' staged one: this update sends it
                return True, ""
            run = pending_run(session)
            if run is not None and run.status == CONFIRMED:
                return True, ""
            if run is not None and run.status == AWAITING:
                if staged_unchanged(session, run, home.runs_dir):
                    return False, (f"booksync: run {run.id} awaits your confirmation; nothing was written. Review "
                                   f"runs/{run.id} and run 'booksync runs confirm {run.id}'; the next update "
                                   "applies it.")
                return True, ""
            if not state.company_key:
                return True, ""
            if nothing_to_sync(session, state.company_key):
                return False, "booksync: Nothing to synchronize: QuickBooks is up to date."
        return True, ""

    # ------------------------------------------------------------------ sendRequestXML

    def sendRequestXML(self, ticket: str | None, strHCPResponse: str | None, strCompanyFileName: str | None,
                       qbXMLCountry: str | None, qbXMLMajorVers: int, qbXMLMinorVers: int) -> str:
        """The next qbXML request, or "" (see module docstring; guide p.80)."""
        home = self._home()
        with self._acting(ticket, home) as session:
            if session is None:
                log.warning("sendRequestXML: unknown or ended ticket")
                return ""
            if session.state == NEW:
                try:
                    self._begin(session, home, strHCPResponse or "", strCompanyFileName or "", qbXMLCountry or "",
                                qbXMLMajorVers, qbXMLMinorVers)
                except CompanyRefused as exc:
                    log.warning("sendRequestXML: %s", exc)
                    session.fail(str(exc))
                    return ""
            if session.state != RUNNING:
                return ""
            if session.outstanding is not None:
                return self._asked_again(session)
            if session.pending is None:
                self._wait(session, home)
            if session.pending is None:
                return ""
            session.outstanding, session.pending = session.pending, None
            return request_text(session.outstanding)

    def _begin(self, session: WCSession, home: Home, hcp: str, company_file: str, country: str, major: int,
               minor: int) -> None:
        """Check the company and the qbXML version, then start the engine. Raises CompanyRefused."""
        info = read_hcp(hcp)
        version = negotiate_version(int(major or 0), int(minor or 0), info)
        if country and country.upper() != "US":
            log.warning("QuickBooks reports qbXMLCountry %r; booksync writes US qbXML %s", country, version)
        wc = home.settings["webconnector"]
        with self._state_lock:
            state = ConnectorState.load(home.path)
            recorded = check_company(info, state, str(wc.get("owner_id", "")), str(wc.get("file_id", "")),
                                     company_file)
            state.save(home.path)
        if recorded:
            log.info("recorded the company \"%s\" (FileID %s, %s) for this booksync home", info.name,
                     state.company_file_id, company_file or "the open company file")
        with self.db() as db_session:
            billing = billing_state(db_session)
        if not self._registry.claim(session):  # another process took the session over and started its sync
            session.local = False
            raise CompanyRefused("booksync: this update's sync was started by another booksync server sharing the "
                                 "billing store, and this call reached a different one; nothing was sent from here. "
                                 "Update again; behind a load balancer, send each Web Connector to one server.")
        log.info("session for %r: QuickBooks %s, company \"%s\", qbXML %s", session.user, info.product, info.name,
                 version)
        session.start(lambda: self._run(session, home, billing))

    def _asked_again(self, session: WCSession) -> str:
        """sendRequestXML before the answer to the last request came back: the exchange was disrupted
        (guide p.53). Reads are asked again; a write is not, so nothing is written twice."""
        if is_query_only(session.outstanding):
            log.warning("session for %r: the Web Connector asked again before answering; resending a query",
                        session.user)
            return request_text(session.outstanding)
        session.fail("The Web Connector asked for the next request before bringing QuickBooks' answer to one that "
                     "writes; booksync stopped so that nothing is written twice. 'booksync runs show' lists what "
                     "the run sent; update again.")
        return ""

    def _run(self, session: WCSession, home: Home, billing: str) -> Any:
        """The engine, in the session's worker thread."""
        wc = home.settings["webconnector"]
        port = DesktopBooks(session.bridge, owner_id=str(wc.get("owner_id", "")))
        interaction = WebConnectorInteraction(session, self.db, bool(wc.get("create_customers", True)),
                                              bool(wc.get("unattended", False)), billing)
        options = sync_options(home.settings)
        from booksync.errors import ConnectionFailure

        try:
            # One sync at a time per home: a command-line sync and a Web Connector session never overlap.
            with sync_lock(home):
                with self.db() as db_session:
                    undo = staged_undo(db_session)
                result = (send_staged_undo(self.db, port, home, undo) if undo is not None
                          else run_sync(self.db, port, home, interaction, options, engine=self._engine))
        except SyncBusy as exc:
            raise ConnectionFailure(0x8004041B, str(exc), "The Web Connector will try again at its next update.") \
                from None
        finally:
            # The link table's key for this company, known once QuickBooks was read: authenticate uses it
            # to tell "nothing to do" without opening QuickBooks.
            if port.company_key:
                with self._state_lock:
                    state = ConnectorState.load(home.path)
                    state.company_key = port.company_key
                    state.save(home.path)
        if session.decision is not None and session.decision.staged and result.status == "declined":
            result.message = staged_message(result, interaction.plan.counts() if interaction.plan else {})
            result.status = AWAITING
            record_staged(self.db, result.run_id, result.message, Path(result.folder) if result.folder else None)
        log.info("run %s: %s", result.run_id, result.message)
        return result

    # ------------------------------------------------------------------ receiveResponseXML

    def receiveResponseXML(self, ticket: str | None, response: str | None, hresult: str | None,
                           message: str | None) -> int:
        """Percent done (0–100), or negative on error (guide p.77)."""
        home = self._home()
        with self._acting(ticket, home) as session:
            if session is None:
                log.warning("receiveResponseXML: unknown or ended ticket")
                return ERROR_SERVICE
            if session.state not in (NEW, RUNNING):
                return 100 if session.succeeded else ERROR_SERVICE
            if session.outstanding is None:
                session.fail("The Web Connector brought an answer booksync did not ask for (the exchange was "
                             "disrupted); booksync stopped. Update again.")
                return ERROR_SERVICE
            session.outstanding = None
            if (hresult or "").strip() or not (response or "").strip():
                return self._quickbooks_failed(session, hresult or "", message or "")
            session.bridge.answer(response or "")
            self._wait(session, home)
            if session.state == RUNNING:
                return session.percent_for_qbwc()
            return 100 if session.succeeded else ERROR_SERVICE

    def _quickbooks_failed(self, session: WCSession, hresult: str, message: str) -> int:
        """QuickBooks could not process the request: the response is empty and hresult/message say why
        (guide p.77). The engine stops; the session ends with a negative percent, never a resend
        (a service that ignores this path makes QBWC send the same request forever, reference §12)."""
        hresult, message = clip(hresult, 40), clip(message, CALLER_TEXT_CHARS)
        failure = explain_hresult(parse_hresult(hresult), message or "QuickBooks returned an empty response.")
        log.warning("session for %r: QuickBooks could not process a request: %s %s", session.user, hresult, message)
        session.fail(f"QuickBooks could not process booksync's request (HRESULT {hresult or 'none'}): "
                     f"{failure.message} {failure.advice}")
        return ERROR_QUICKBOOKS

    # ------------------------------------------------------------------ getLastError, connectionError, close

    def getLastError(self, ticket: str | None) -> str:
        """The message to show, or "NoOp" while the engine is still working (guide p.72–73)."""
        home = self._home()
        with self._acting(ticket, home) as session:
            if session is None:
                return UNKNOWN_TICKET
            now = session.last_seen
            if session.state == RUNNING:
                limit = float(self._setting(home, "idle_timeout_seconds"))
                if session.pending is None and now - session.last_engine_event > limit:
                    session.fail(f"booksync's sync made no progress for {limit:.0f} seconds and was stopped. Update "
                                 "again; if it happens again, see logs/booksync.log.")
                    return session.message
                return "NoOp"
            if session.state == NEW:
                return "NoOp"
            return session.message

    def connectionError(self, ticket: str | None, hresult: str | None, message: str | None) -> str:
        """Always "done": QBWC could not open QuickBooks; booksync logs why and stops (guide p.51–52, p.69).

        The ticket is checked first: without a session of its own, nothing the caller sent is logged or kept.
        The HRESULT and message are cut (:data:`CALLER_TEXT_CHARS`) before they are logged or kept."""
        with self._acting(ticket, self._home()) as session:
            if session is None:
                log.warning("connectionError with an unknown or ended ticket; ignored")
                return "done"
            hresult, message = clip(hresult, 40), clip(message, CALLER_TEXT_CHARS)
            failure = explain_hresult(parse_hresult(hresult), message)
            log.warning("connectionError: the Web Connector could not open QuickBooks: %s %s", hresult, message)
            session.fail(f"The Web Connector could not open QuickBooks: {failure.message} {failure.advice}")
        return "done"

    def closeConnection(self, ticket: str | None) -> str:
        """The session's outcome, shown by QBWC; the ticket is invalid afterwards (guide p.68)."""
        self._sweep(self._home())
        session = self._registry.close(ticket_key(ticket or ""), self._limits(self._home()))
        if session is None:
            return ENDED
        with session.lock:
            session.end("The Web Connector closed the session.")
            text = session.message or "booksync: the session ended before anything was done."
            if session.state not in (FINISHED, FAILED, NO_WORK):
                text = "booksync: the session ended before anything was done."
        run_id = getattr(session.result, "run_id", "")
        self._remember(status=session.state if session.state != FINISHED else session.result.status,
                       message=text, run_id=run_id)
        log.info("closeConnection for %r: %s", session.user, text)
        return text

    def shutdown(self) -> None:
        """Stop every running sync (server shutdown); other processes sharing the billing store tell the Web
        Connector why."""
        self._registry.shutdown()


__all__ = ["WebConnectorService", "ERROR_QUICKBOOKS", "ERROR_SERVICE", "UNKNOWN_TICKET", "ENDED"]
