"""Where the Web Connector's sessions live: in this process and in the billing store's database.

Each ``booksync serve`` keeps the sessions whose sync it runs in memory (the sync engine is a thread of that
process, :mod:`booksync.webconnector.session`), and every session as a row of ``webconnector_sessions``
(:mod:`booksync.store.connector_sessions`), so that all processes sharing the billing store (two behind a
load balancer, on one machine or several; one restarted) agree on them:

* **a ticket is known everywhere**: a callback with a ticket this process did not issue finds its row;
* **a session not started yet moves**: a session authenticated elsewhere whose sync has not started (its
  first sendRequestXML had not come) is taken over, and this process runs its sync (``claim``: one process
  wins even when two try at once);
* **a running session does not move**: its sync is a thread of its owner, holding QuickBooks' answers and the
  plan in memory. A callback that reaches another process ends the session there, cleanly: the owner is asked
  to stop (it looks every :data:`KEEPER_SECONDS`), its sync stops at its next step, nothing more is sent,
  and the Web Connector is told what happened (:func:`handed_over`). What was sent is settled by the next
  update's journal recovery, as after any interrupted run;
* **one active session per billing store**: a second Web Connector (another user, or the same user from
  another address) gets "busy" while a session is active; the same Web Connector authenticating again
  drops its previous session (guide p.42), wherever it runs;
* **expiry**: a session with no callback for ``idle_timeout_seconds``, or older than ``max_session_seconds``,
  is removed by whichever process looks first; one whose owner fell silent for :data:`OWNER_SILENT_SECONDS`
  while it is active (the process died) frees the active place.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from types import SimpleNamespace
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from booksync.store.connector_sessions import ACTIVE, ConnectorSession, Limits, SharedSessions
from booksync.webconnector.session import FAILED, FINISHED, NEW, RUNNING, WCSession, is_query_only

log = logging.getLogger("booksync.webconnector")

KEEPER_SECONDS = 1.0
"""How often the owner of a session signs its row and looks whether another process ended the session."""
OWNER_SILENT_SECONDS = 30.0
"""An owner silent this long (or for ``idle_timeout_seconds``, when shorter) has died: its session no longer
holds the active place."""
DROP_WAIT_SECONDS = 12.0
"""How long a new session waits for another process to stop the sync of the session it drops."""
SWEEP_SECONDS = 1.0
"""Expired sessions are looked for at most this often per process (the limits are minutes)."""
SEEN_SECONDS = 1.0
"""A callback that changes nothing else records the Web Connector's visit at most this often (a write each)."""
DROPPED = "A new Web Connector session started; this one was dropped."
NOT_STOPPING = "the previous session's sync does not stop"
"""Why a new session is refused ("busy") when the session it drops keeps running (the words the log used)."""


def process_name() -> str:
    """This service's name in the table's ``owner``: "HOST:PID:RANDOM" (two services in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def handed_over(row: ConnectorSession, alive: bool) -> str:
    """The Web Connector's message when a callback reached a process other than the one running the sync
    (``alive``: that process still signs the session; otherwise it stopped or died)."""
    host, _, rest = row.owner.partition(":")
    where = f"process {rest.partition(':')[0]} on {host}"
    what = (f"this update's sync runs in another booksync server ({where}), and the Web Connector's call reached "
            "a different one, which cannot continue it" if alive else
            f"the booksync server that ran this update's sync ({where}) stopped")
    written = (" QuickBooks' answer to a request that writes had not come back: the next update first checks "
               "what reached QuickBooks (booksync's journal), so nothing is written twice." if row.outstanding ==
               "write" else "")
    advice = " Update again." + (" Behind a load balancer, send each Web Connector to one server (affinity by "
                                 "client address)." if alive else "")
    return f"booksync: {what}. booksync ended the update; nothing more was sent.{written}{advice}"


def view(row: ConnectorSession) -> WCSession:
    """A session another process owns, as the callbacks read it (never runs anything here)."""
    session = WCSession(row.ticket_hash, row.user, row.created, 0, client=row.client)
    session.local = False
    session.state, session.message = row.phase, row.message
    if row.stop_reason and row.phase in (NEW, RUNNING):  # ended by another process before its owner noticed
        session.state, session.message = FAILED, row.stop_reason
    session.last_seen, session.requests, session.percent = row.last_seen, row.requests, row.percent
    if row.result_status:
        session.result = SimpleNamespace(status=row.result_status, run_id=row.run_id)
    return session


class SessionRegistry:
    """The sessions of one Web Connector service (see module docstring). ``clock``: seconds since the epoch."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], float]) -> None:
        self.table = SharedSessions(sessions)
        self.owner = process_name()
        self._clock = clock
        self._memory: dict[str, WCSession] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        self._swept = float("-inf")
        self._saved: dict[str, tuple[tuple[tuple[str, object], ...], float]] = {}
        """What was last written of each session this process saved (its values, then last_seen)."""

    # ------------------------------------------------------------------ finding a session

    def find(self, key: str, limits: Limits, answer_timeout: float) -> WCSession | None:
        """The session of ticket digest ``key``: this process's, one taken over, or a view of another's."""
        self.sweep(limits)
        with self._lock:
            session = self._memory.get(key)
        row = self.table.get(key)
        if session is not None:
            if row is None:  # closed or expired in another process
                self._forget(session, "The Web Connector session ended.")
                return None
            if row.owner == self.owner or session.thread is not None:
                if row.stop_reason:
                    with session.lock:
                        session.fail(row.stop_reason)
                return session
            with self._lock:  # another process took the session over before its sync started here
                self._memory.pop(key, None)
        if row is None:
            return None
        if row.phase == NEW and row.active == ACTIVE and not row.stop_reason:
            return self._take_over(row, answer_timeout)
        if row.phase == RUNNING and not row.stop_reason:  # its sync runs elsewhere (or nowhere: released now)
            alive = row.owner != self.owner and self._clock() - row.heartbeat <= limits.owner_silent
            log.warning("a callback for a session running in %s reached this server; ending the session", row.owner)
            self.table.ask_to_stop(key, handed_over(row, alive), release=not alive)
            row = self.table.get(key) or row
        return view(row)

    def _take_over(self, row: ConnectorSession, answer_timeout: float) -> WCSession:
        session = WCSession(row.ticket_hash, row.user, row.created, answer_timeout, client=row.client)
        session.last_seen = row.last_seen
        self.table.save(row.ticket_hash, owner=self.owner)  # claim() at its first sendRequestXML decides
        log.info("session for %r: continued here (authenticated by %s)", row.user, row.owner)
        self._keep(session)
        return session

    def claim(self, session: WCSession) -> bool:
        """Whether this process may start the session's sync (no other did, nobody ended it)."""
        if self.table.claim(session.ticket_key, self.owner, self._clock()):
            return True
        with self._lock:
            self._memory.pop(session.ticket_key, None)
        return False

    # ------------------------------------------------------------------ recording

    def add(self, session: WCSession, active: bool) -> bool:
        """Record a new session (authenticate). Returns False when another session holds the active place."""
        now = self._clock()
        row = ConnectorSession(ticket_hash=session.ticket_key, user=session.user, client=session.client,
                               active=ACTIVE if active else None, phase=session.state, message=session.message,
                               owner=self.owner, created=now, last_seen=now, heartbeat=now)
        if not self.table.insert(row):
            return False
        self._keep(session)
        return True

    def save(self, session: WCSession) -> None:
        """Write what the callbacks changed (a view records only that the Web Connector was seen). Nothing is
        written when only ``last_seen`` moved, by less than :data:`SEEN_SECONDS`."""
        values: dict[str, object] = {}
        if session.local:
            outstanding = "" if session.outstanding is None else (
                "read" if is_query_only(session.outstanding) else "write")
            result = session.result
            values = dict(phase=session.state, message=session.message, requests=session.requests,
                          percent=session.percent, outstanding=outstanding,
                          run_id=str(getattr(result, "run_id", "") or ""),
                          result_status=str(getattr(result, "status", "") or "") if session.state == FINISHED else "")
        snapshot = tuple(values.items())
        last = self._saved.get(session.ticket_key)
        if last is not None and last[0] == snapshot and session.last_seen - last[1] < SEEN_SECONDS:
            return
        self.table.save(session.ticket_key, unless_stopped=session.local, last_seen=session.last_seen, **values)
        with self._lock:
            self._saved[session.ticket_key] = (snapshot, session.last_seen)

    def close(self, key: str, limits: Limits) -> WCSession | None:
        """closeConnection: the session (this process's or a view), forgotten everywhere. The sync of a session
        another process runs, asked to stop, is waited for (:data:`DROP_WAIT_SECONDS` at most), so that the
        next update does not find it still holding the sync lock."""
        with self._lock:
            session = self._memory.pop(key, None)
            self._saved.pop(key, None)
        if session is None:
            row = self.table.get(key)
            session = view(row) if row is not None else None
            if row is not None and self._runs_elsewhere(row, limits):
                self._stop_elsewhere(key, row.stop_reason or "The Web Connector closed the session.")
        self.table.remove(key)
        return session

    # ------------------------------------------------------------------ one active session

    def drop_previous(self, user: str, client: str, limits: Limits) -> str | None:
        """Make room for a new session of ``user`` from ``client``: drop the same Web Connector's previous one
        (guide p.42). Returns why not (a "busy" answer) or None."""
        with self._lock:
            stale = [s for s in self._memory.values() if s.user == user and s.client == client]
        row = self.table.active()
        for s in stale:
            if row is None or s.ticket_key != row.ticket_hash:
                self._forget(s, DROPPED)
                self.table.remove(s.ticket_key)
        if row is None:
            return None
        if (row.user, row.client) != (user, client):
            return (f"another Web Connector (user {row.user!r} from {row.client or '?'}) has a session in "
                    "progress for this company")
        with self._lock:
            mine = self._memory.get(row.ticket_hash)
        if mine is not None:
            stopped = self._forget(mine, DROPPED)
        elif self._runs_elsewhere(row, limits):
            stopped = self._stop_elsewhere(row.ticket_hash, DROPPED)
        else:
            stopped = True  # nobody runs its sync
        if not stopped:
            self.table.ask_to_stop(row.ticket_hash, DROPPED, release=False)
            return NOT_STOPPING
        self.table.remove(row.ticket_hash)
        return None

    def _runs_elsewhere(self, row: ConnectorSession, limits: Limits) -> bool:
        """Whether another live process may still run the session's sync (it holds the active place)."""
        return (row.active == ACTIVE and row.phase != NEW and row.owner != self.owner
                and self._clock() - row.heartbeat <= limits.owner_silent)

    def _stop_elsewhere(self, key: str, reason: str) -> bool:
        """Ask the owner to stop the session's sync and wait until it did (True) or DROP_WAIT_SECONDS passed."""
        self.table.ask_to_stop(key, reason, release=False)
        deadline = time.monotonic() + DROP_WAIT_SECONDS
        while time.monotonic() < deadline:
            row = self.table.get(key)
            if row is None or row.active is None:
                return True
            time.sleep(0.2)
        return False

    def _forget(self, session: WCSession, reason: str) -> bool:
        """Stop a session of this process; True when its sync stopped within 10 seconds."""
        with self._lock:
            self._memory.pop(session.ticket_key, None)
            self._saved.pop(session.ticket_key, None)
        with session.lock:
            if session.state in (NEW, RUNNING):
                session.fail(reason)
        if session.thread is not None:
            session.thread.join(10)  # a cancelled engine stops at its next step (Bridge.POLL_SECONDS)
        return not (session.thread is not None and session.thread.is_alive())

    # ------------------------------------------------------------------ expiry, the keeper, shutdown

    def sweep(self, limits: Limits) -> None:
        """Remove the sessions that are over (:meth:`SharedSessions.expired`) and stop their syncs here
        (at most every :data:`SWEEP_SECONDS`)."""
        now = self._clock()
        if 0 <= now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        for row in self.table.expired(limits, now):
            with self._lock:
                session = self._memory.pop(row.ticket_hash, None)
            if session is not None:
                log.warning("session for %r expired; its sync was stopped", session.user)
                with session.lock:
                    session.end("The Web Connector session expired.")

    def _keep(self, session: WCSession) -> None:
        with self._lock:
            self._memory[session.ticket_key] = session
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keeping, name="booksync-wc-keeper", daemon=True)
                self._keeper.start()

    def _keeping(self) -> None:
        """Sign this process's sessions and stop those another process ended (module docstring)."""
        while not self._stopping.wait(KEEPER_SECONDS):
            with self._lock:
                mine = list(self._memory.values())
            for session in mine:
                try:
                    reason = self.table.beat(session.ticket_key, self._clock())
                    if reason is None or reason:
                        log.warning("session for %r: ended by another booksync server; stopping its sync",
                                    session.user)
                        if self._forget(session, reason or "The Web Connector session ended."):
                            self.table.save(session.ticket_key, active=None)
                except SQLAlchemyError:
                    log.exception("could not sign the Web Connector session in the billing store")

    def shutdown(self) -> None:
        """Stop every sync this process runs; other processes tell the Web Connector why."""
        self._stopping.set()
        with self._lock:
            sessions, self._memory = list(self._memory.values()), {}
        for s in sessions:
            with s.lock:
                s.end("booksync's Web Connector service stopped.")
            try:
                self.table.ask_to_stop(s.ticket_key, "booksync: the server running this update stopped; nothing "
                                       "more was sent. Update again.", release=True)
            except SQLAlchemyError:
                log.exception("could not record the end of a Web Connector session")


__all__ = ["SessionRegistry", "DROPPED", "NOT_STOPPING", "handed_over", "view", "KEEPER_SECONDS",
           "OWNER_SILENT_SECONDS"]
