"""The bridge between the synchronous sync engine and the Web Connector's callbacks.

The engine runs in a worker thread and talks to QuickBooks through a transport whose
``process(message) -> answer`` blocks. With the Web Connector, QuickBooks is reached the other
way round: the Web Connector asks for a request (sendRequestXML) and later brings QuickBooks'
answer (receiveResponseXML). :class:`Bridge` joins the two:

* engine thread: :meth:`Bridge.process` posts the request as an event and waits for the answer;
* callback threads: :meth:`Bridge.next_event` takes the engine's next event (a request to hand
  out, the run's end, or its failure); :meth:`Bridge.answer` delivers QuickBooks' answer;
  :meth:`Bridge.cancel` stops the engine at its next step (also when QuickBooks could not
  process a request: the session ends and the waiting engine gets a ConnectionFailure).

Every wait is bounded: the engine waits at most ``answer_timeout`` seconds for an answer, and a
callback at most the ``timeout`` it passes. Nothing here loops forever.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from booksync.books.desktop.rp2 import answer_bytes
from booksync.errors import ConnectionFailure

POLL_SECONDS = 0.25
"""How often a waiting engine looks whether the session was cancelled."""


@dataclass(frozen=True)
class Event:
    """What the engine thread tells the callbacks.

    ``kind``: "request" (``payload`` is the qbXML request message, bytes), "finished" (``payload``
    is the :class:`~booksync.services.syncing.SyncResult`), or "error" (``payload`` is the message for
    the user, str).
    """

    kind: str
    payload: Any


@dataclass(frozen=True)
class _Failure:
    failure: ConnectionFailure


class Bridge:
    """A qbXML transport whose other end is the Web Connector (see module docstring)."""

    def __init__(self, answer_timeout: float) -> None:
        self.answer_timeout = answer_timeout
        self._events: queue.Queue[Event] = queue.Queue()
        self._answers: queue.Queue[bytes | str | _Failure] = queue.Queue(maxsize=1)
        self._cancelled = threading.Event()
        self._cancel_reason = ""

    # ------------------------------------------------------------------ engine side

    def process(self, message: bytes) -> bytes:
        """Hand ``message`` to the Web Connector and wait for QuickBooks' answer.

        Raises :class:`ConnectionFailure` when QuickBooks could not process it (the Web Connector
        reported an HRESULT), when no answer came within ``answer_timeout`` seconds, or when the
        session was cancelled; raises :class:`~booksync.qbxml.parse.MalformedResponse` when the
        answer is not XML.
        """
        self._raise_if_cancelled()
        self._events.put(Event("request", message))
        deadline = time.monotonic() + self.answer_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectionFailure(0, f"The Web Connector brought no answer from QuickBooks within "
                                           f"{self.answer_timeout:.0f} seconds.",
                                        "Check that the Web Connector and QuickBooks are still running, then "
                                        "update again.")
            try:
                answer = self._answers.get(timeout=min(remaining, POLL_SECONDS))
            except queue.Empty:
                self._raise_if_cancelled()
                continue
            if isinstance(answer, _Failure):
                raise answer.failure
            return answer_bytes(answer)

    def finished(self, result: Any) -> None:
        """The engine ended normally with ``result``."""
        self._events.put(Event("finished", result))

    def failed(self, message: str) -> None:
        """The engine stopped on an error; ``message`` is for the user."""
        self._events.put(Event("error", message))

    def _raise_if_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise ConnectionFailure(0, self._cancel_reason or "The Web Connector session ended.",
                                    "Update again from the Web Connector.")

    # ------------------------------------------------------------------ callback side

    def next_event(self, timeout: float) -> Event | None:
        """The engine's next event, or None when it has none within ``timeout`` seconds (still thinking)."""
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def answer(self, response: str | bytes) -> None:
        """Deliver QuickBooks' response message set to the waiting engine."""
        self._put_answer(response)

    def cancel(self, reason: str) -> None:
        """Stop the engine at its next step: a waiting :meth:`process` raises ConnectionFailure(reason)."""
        self._cancel_reason = reason
        self._cancelled.set()
        self._put_answer(_Failure(ConnectionFailure(0, reason, "Update again from the Web Connector.")))

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _put_answer(self, item: bytes | str | _Failure) -> None:
        # At most one answer is outstanding; a stale one (never taken) is replaced, not queued behind.
        try:
            self._answers.get_nowait()
        except queue.Empty:
            pass
        try:
            self._answers.put_nowait(item)
        except queue.Full:  # a concurrent put won the race; the engine takes that one
            pass
