"""The apply step: the staged messages are sent in order, each operation journaled before its message goes and
its answer recorded after (:mod:`booksync.sync.journal`), the link table following every done operation
(:class:`booksync.sync.linking.LinkRecorder`); the first refusal stops the run (:mod:`booksync.sync.refusals`), a
transient one (a record locked by another user) is retried a few times first.

Fault points (:func:`booksync.faults.fault_point`, tests/test_crash_recovery.py): ``before-sent``, ``before-send``,
``after-send``, ``after-record``.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.books.port import BooksPort, Outcome
from booksync.domain import Action, Kind, Operation, Plan
from booksync.errors import BooksError
from booksync.faults import fault_point
from booksync.store.models import Link, SyncRun
from booksync.sync.journal import entries_of, journal_pending, mark_sent, record_answers
from booksync.sync.linking import LinkRecorder
from booksync.sync.options import Interaction
from booksync.sync.pre_images import PreImages
from booksync.sync.references import References, Versions
from booksync.sync.refusals import RETRY_DELAYS, explain_refusal
from booksync.sync.written import written_targets

log = logging.getLogger("booksync.sync")

Failure = tuple[Operation, Outcome]
"""The first refused operation of a message and QuickBooks' answer."""


class Applier:
    """Sends one run's messages (see the module docstring)."""

    def __init__(self, port: BooksPort, ui: Interaction, run_id: str, refs: References, versions: Versions,
                 links: LinkRecorder, pre_images: PreImages) -> None:
        self.port = port
        self.ui = ui
        self.run_id = run_id
        self.refs = refs
        self.versions = versions
        self.links = links
        self.pre_images = pre_images
        self.refusal_web = ""
        """The refusal that stopped :meth:`apply`, in the web interface's words."""

    def apply(self, session: Session, run: SyncRun, plan: Plan, batches: Callable[[], Iterator[list[Operation]]],
              key: str) -> tuple[dict[str, int], str | None]:
        """Send the messages ``batches()`` yields, in order, journaling each operation; stop at the first
        refusal. Every operation is journaled "pending" first; each message's entries are then read back
        as it is sent (a million-operation run holds one message at a time). Returns (operations done by "action
        kind", the refusal in the command line's words or None)."""
        run.status = "applying"
        self.run_id = run.id
        self.versions.planned = True
        journal_pending(session, run.id, key, batches)
        applied: dict[str, int] = {}
        for batch in batches():
            status = {op.seq: "pending" for op in batch}
            failure = self._send_with_retries(session, key, batch, status, applied)
            self.ui.progress("Updating QuickBooks", sum(applied.values()), plan.size)
            if failure is not None:
                self.refusal_web = explain_refusal(*failure, face="web")
                return applied, explain_refusal(*failure)
            unanswered = [op for op in batch if status[op.seq] != "done"]
            if unanswered:
                return applied, self._unanswered(unanswered)
        return applied, None

    def _send_with_retries(self, session: Session, key: str, batch: list[Operation], status: dict[int, str],
                           applied: dict[str, int]) -> Failure | None:
        """Send a message; while QuickBooks refuses it for a transient reason, wait and resend what did not go
        through (bounded: :data:`RETRY_DELAYS`). Returns the refusal that remains."""
        # Plain rows, read for LinkRecorder.record; their status changes go through Core statements.
        entries = entries_of(session, self.run_id, batch)
        self.refs.fetch(session, key, batch)
        pending = batch
        for attempt in range(len(RETRY_DELAYS) + 1):
            failure = self._send(session, key, pending, entries, status, applied)
            if failure is None or not getattr(failure[1].error, "transient", False) \
                    or attempt == len(RETRY_DELAYS):
                return failure
            # Another user holds a record: wait, then resend what did not go through (bounded).
            log.info("retrying after a transient refusal: %s", failure[1].error)
            self.ui.progress(f"QuickBooks is busy; retrying in {RETRY_DELAYS[attempt]} s", attempt + 1,
                             len(RETRY_DELAYS))
            time.sleep(RETRY_DELAYS[attempt])
            pending = [op for op in pending if status[op.seq] in ("failed", "pending")]
        return failure

    def _unanswered(self, unanswered: list[Operation]) -> str:
        """Never "updated" while an operation went unanswered: it stays pending, planned again next run."""
        op = unanswered[0]
        self.refusal_web = (f"QuickBooks did not process {len(unanswered)} operation(s), the first to "
                            f"{op.action.value} {op.kind.label} {op.number}, and gave no reason: synchronize "
                            "again (booksync checks what was written first).")
        return (f"QuickBooks did not process {len(unanswered)} operation(s) of a message, the first "
                f"to {op.action.value} {op.kind.label} {op.number} ({op.description}), and gave no "
                "reason; nothing else was sent after it. Synchronize again: booksync checks what "
                "was written first.")

    def _send(self, session: Session, key: str, batch: list[Operation], entries: dict[int, Any],
              status: dict[int, str], applied: dict[str, int]) -> Failure | None:
        """Send one message: journal "sent" before, each outcome after (``status`` follows them).
        Returns the first refusal. ``entries``: the journal rows of the message by seq (read only)."""
        # Read before anything is marked sent: a failed read leaves the message simply not sent.
        targets = self._payment_targets(session, key, batch)
        self.pre_images.record(self.port, batch)
        for op in batch:
            status[op.seq] = "sent"
            if op.action is Action.MOD and op.remote_id in self.versions.latest:
                op.edit_sequence = self.versions.latest[op.remote_id]
        mark_sent(session, self.run_id, batch)
        fault_point("before-sent")
        session.commit()
        fault_point("before-send")
        outcomes = self.port.send(batch, self.refs.resolve)
        fault_point("after-send")
        failure = self._record_outcomes(session, key, batch, outcomes, entries, status, applied)
        session.commit()  # the answers first: nothing after this may lose them
        fault_point("after-record")
        try:
            with session.no_autoflush:
                self._follow_applied_versions(batch, outcomes, targets)
            session.commit()
        except BooksError as exc:
            # Only the recorded versions are stale: the next correction of these documents may report a
            # conflict that --on-conflict=overwrite resolves. Nothing written is lost.
            session.rollback()
            log.warning("could not re-read the invoices the payments apply to: %s", exc)
        return failure

    def _record_outcomes(self, session: Session, key: str, batch: list[Operation], outcomes: list[Outcome],
                         entries: dict[int, Any], status: dict[int, str], applied: dict[str, int]) -> Failure | None:
        """Journal each answer and make the links follow the done operations (not committed). Returns the first
        refusal."""
        failure: Failure | None = None
        answers: list[dict[str, Any]] = []
        with session.no_autoflush:
            self.links.begin_message(session, key, batch)
            for op, outcome in zip(batch, outcomes):
                entry = entries[op.seq]
                answer = {"s": op.seq, "st": "pending", "rid": entry.remote_id, "es": entry.edit_sequence,
                          "err": entry.error}
                if outcome.status == "done":
                    answer.update(st="done", rid=outcome.remote_id, es=outcome.edit_sequence, err="")
                    self.links.record(session, key, entry, outcome.remote_id, outcome.edit_sequence, outcome.name)
                    label = f"{op.action.value} {op.kind.value}"
                    applied[label] = applied.get(label, 0) + 1
                elif outcome.status == "failed":
                    answer.update(st="failed", err=str(outcome.error))
                    failure = failure or (op, outcome)
                status[op.seq] = answer["st"]
                answers.append(answer)
            self.links.end_message(session, key)
        record_answers(session, self.run_id, answers)
        return failure

    def _payment_targets(self, session: Session, key: str,
                         batch: list[Operation]) -> list[tuple[Link, str | None]]:
        """The links of the invoices and credit memos the message's payments apply to, now and as last
        written, each with its version in QuickBooks before the message when booksync wrote it in an
        earlier run (None when this run wrote it). Nothing is read when the message holds no payment."""
        payments = [op for op in batch if op.kind is Kind.PAYMENT]
        if not payments:
            return []
        wanted: dict[str, set[int]] = {Kind.INVOICE.value: set(), Kind.CREDIT_MEMO.value: set()}
        for op in payments:
            for app in getattr(op.payload, "applications", None) or ():
                for ref in [app.invoice, *(credit.credit_memo for credit in app.credits)]:
                    if ref.local_id is not None and ref.kind in wanted:
                        wanted[ref.kind].add(ref.local_id)
        written = session.scalars(select(Link.written).where(
            Link.company_key == key, Link.kind == Kind.PAYMENT.value,
            Link.local_id.in_([op.local_id for op in payments])))
        for text in written:
            for kind, local_id in written_targets(text):
                wanted[kind].add(local_id)
        out: list[tuple[Link, str | None]] = []
        for kind, local_ids in wanted.items():
            if not local_ids:
                continue
            links = [link for link in session.scalars(select(Link).where(
                Link.company_key == key, Link.kind == kind, Link.local_id.in_(sorted(local_ids)))) if link.remote_id]
            older = [link.remote_id for link in links if link.run_id != self.run_id]
            now = self.port.versions(kind, older) if older else {}
            out.extend((link, now.get(link.remote_id))
                       if link.run_id != self.run_id else (link, None) for link in links)
        return out

    def _follow_applied_versions(self, batch: list[Operation], outcomes: list[Outcome],
                                 targets: list[tuple[Link, str | None]]) -> None:
        """Record the versions the message's payments gave the invoices and credit memos they apply to.

        QuickBooks Online raises an invoice's SyncToken when a payment is applied to it or taken off it
        (LanternOps/breeze#4624, reference/peer-systems.md #15): without this, booksync's own payments
        would make every paid invoice look edited in QuickBooks (a conflict) at its next correction.
        A record written by an earlier run follows only when its version before the message was the one
        booksync recorded: an edit made in QuickBooks in between stays a conflict."""
        if not targets or not any(op.kind is Kind.PAYMENT and outcome.status == "done"
                                  for op, outcome in zip(batch, outcomes)):
            return
        for kind in (Kind.INVOICE.value, Kind.CREDIT_MEMO.value):
            mine = [(link, before) for link, before in targets if link.kind == kind
                    and (link.run_id == self.run_id or before == link.edit_sequence)]
            self.versions.follow(self.port, kind, [link for link, _ in mine])
