"""The Web Connector's sessions in the billing store's database, shared by every process that uses it.

One row per ticket (table ``webconnector_sessions``, migration 0008), so that any ``booksync serve`` sharing
the database (two processes behind a load balancer, or one restarted between two callbacks) knows a ticket
another issued, and so that at most one session per billing store (one company) is active at a time:
``active`` is 1 while a session may run a sync and NULL once it ended, under a unique constraint (NULLs are
distinct on SQLite and PostgreSQL), so a second claim fails inside the database, whichever process makes it.

The ticket itself is never stored: only its SHA-256 digest (the service compares tickets by equality, so a
digest is enough, and a copy of the database holds no usable ticket). Times are seconds since the epoch, of
the clock of the process that wrote them (machines sharing the database keep their clocks in step, NTP; the
limits they are compared with are minutes).

The table is a live session's state, not billing data: it is on its own metadata, so backups of a
PostgreSQL store (:mod:`booksync.store.backup`) neither copy nor restore it.
"""
from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy import Float, Integer, String, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


USER_CHARS, CLIENT_CHARS = 200, 100
"""The lengths of ``user`` and ``client`` (the Web Connector's address); longer values are cut by the caller."""


class SessionBase(DeclarativeBase):
    """Apart from :class:`booksync.store.models.Base`: not billing data (see module docstring)."""


class ConnectorSession(SessionBase):
    """One Web Connector session (see module docstring).

    ``phase``: new, running, finished, failed, no work (the service's states). ``owner`` names the process that
    runs (or will run) the session's sync: "HOST:PID:RANDOM". ``stop_reason``: set by another process that ended
    the session (a new session dropped it, or a callback it could not answer); the owner stops its sync and
    clears ``active``. ``outstanding``: "read" or "write" while a request handed to the Web Connector awaits
    its answer, "" otherwise; ``requests``: how many requests were handed out (the queue's position).
    """

    __tablename__ = "webconnector_sessions"
    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(USER_CHARS), default="")
    client: Mapped[str] = mapped_column(String(CLIENT_CHARS), default="")
    active: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    phase: Mapped[str] = mapped_column(String(20), default="new")
    message: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    outstanding: Mapped[str] = mapped_column(String(10), default="")
    requests: Mapped[int] = mapped_column(Integer, default=0)
    percent: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[str] = mapped_column(String(40), default="")
    result_status: Mapped[str] = mapped_column(String(20), default="")
    created: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    heartbeat: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class Limits:
    """When a session is over, in seconds: no callback for ``idle``, older than ``longest``, or its owner
    silent for ``owner_silent`` while its sync runs (the process died)."""

    idle: float
    longest: float
    owner_silent: float


ACTIVE = 1
ENDED_PHASES = ("finished", "failed", "no work")


class SharedSessions:
    """Reads and writes of :class:`ConnectorSession` rows, each in a short transaction of its own."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _session(self) -> Session:
        return self.sessions()

    def get(self, ticket_hash: str) -> ConnectorSession | None:
        with self._session() as db:
            return db.get(ConnectorSession, ticket_hash)

    def active(self) -> ConnectorSession | None:
        """The billing store's active session, if any."""
        with self._session() as db:
            return db.scalar(select(ConnectorSession).where(ConnectorSession.active == ACTIVE))

    def insert(self, row: ConnectorSession) -> bool:
        """Record a new session. Returns False when ``row`` is active and another active session exists
        (the unique constraint decides, also against a process claiming at the same moment)."""
        with self._session() as db:
            db.add(row)
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                return False
        return True

    def save(self, ticket_hash: str, unless_stopped: bool = False, **values: object) -> None:
        """Set ``values`` on the session's row (nothing when it is gone; with ``unless_stopped``, nothing either
        when another process ended it: its phase and message stay the ones it wrote)."""
        where = [ConnectorSession.ticket_hash == ticket_hash]
        if unless_stopped:
            where.append(ConnectorSession.stop_reason == "")
        with self._session() as db, db.begin():
            db.execute(update(ConnectorSession).where(*where).values(**values))

    def claim(self, ticket_hash: str, owner: str, now: float) -> bool:
        """Make ``owner`` the process that runs a session's sync, when it is still new and nobody ended it.
        Returns False when another process claimed it first (the phase moved) or it was ended."""
        with self._session() as db, db.begin():
            done = db.execute(update(ConnectorSession).where(
                ConnectorSession.ticket_hash == ticket_hash, ConnectorSession.phase == "new",
                ConnectorSession.active == ACTIVE, ConnectorSession.stop_reason == "").values(
                owner=owner, phase="running", heartbeat=now, last_seen=now))
            return done.rowcount == 1

    def ask_to_stop(self, ticket_hash: str, reason: str, release: bool) -> None:
        """End a session another process owns: its owner stops the sync and clears ``active`` (``release``:
        clear it now, because nobody runs the session's sync)."""
        values: dict[str, object] = {"stop_reason": reason, "phase": "failed", "message": reason}
        if release:
            values["active"] = None
        with self._session() as db, db.begin():
            db.execute(update(ConnectorSession).where(ConnectorSession.ticket_hash == ticket_hash,
                                                      ConnectorSession.stop_reason == "").values(**values))

    def beat(self, ticket_hash: str, now: float) -> str | None:
        """The owner's sign of life. Returns the stop reason ("" to go on), or None when the row is gone."""
        with self._session() as db, db.begin():
            db.execute(update(ConnectorSession).where(ConnectorSession.ticket_hash == ticket_hash)
                       .values(heartbeat=now))
            return db.scalar(select(ConnectorSession.stop_reason).where(ConnectorSession.ticket_hash == ticket_hash))

    def remove(self, ticket_hash: str) -> None:
        """Forget a session (closeConnection): its ticket is unknown from now on, everywhere."""
        with self._session() as db, db.begin():
            db.execute(delete(ConnectorSession).where(ConnectorSession.ticket_hash == ticket_hash))

    def expired(self, limits: Limits, now: float) -> list[ConnectorSession]:
        """Remove the sessions that are over (see :class:`Limits`) and return them.

        Over: no callback for ``limits.idle`` or older than ``limits.longest`` (the ticket dies, as in one
        process); or running with an owner silent for ``limits.owner_silent`` (a process that died with the
        session: its ticket stays known, ended, so the Web Connector is told why, and ``active`` is freed)."""
        with self._session() as db, db.begin():
            rows = list(db.scalars(select(ConnectorSession).where(
                (ConnectorSession.last_seen < now - limits.idle) | (ConnectorSession.created < now - limits.longest))))
            if rows:
                db.execute(delete(ConnectorSession).where(
                    ConnectorSession.ticket_hash.in_([r.ticket_hash for r in rows])))
            db.execute(update(ConnectorSession).where(
                ConnectorSession.active == ACTIVE, ConnectorSession.phase.in_(("running",) + ENDED_PHASES),
                ConnectorSession.heartbeat < now - limits.owner_silent).values(active=None))
            return rows


__all__ = ["USER_CHARS", "CLIENT_CHARS", "ConnectorSession", "SessionBase", "SharedSessions", "Limits", "ACTIVE", "ENDED_PHASES"]
