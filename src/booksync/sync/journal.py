"""The run journal (table ``journal``, :class:`booksync.store.models.JournalEntry`): every operation is journaled
"pending" before anything is sent (:func:`journal_pending`), "sent" before its message goes
(:func:`mark_sent`), and "done", "failed" or back to "pending" with QuickBooks' answer (:func:`record_answers`).
A run that dies leaves "sent" rows for the next run to settle (:mod:`booksync.sync.settle`).

Core statements only: a million-operation run holds one message's rows at a time.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from booksync.domain import PLACEHOLDER_MEMO, Action, Kind, Operation
from booksync.store.models import JournalEntry, _now
from booksync.sync.written import written_json

_table = JournalEntry.__table__


def journal_values(run_id: str, key: str, op: Operation) -> dict[str, Any]:
    """The journal row of an operation, status "pending" (not sent): everything needed to settle it after a crash."""
    payload = op.payload
    written = (op.written or written_json(payload)) if payload is not None else ""
    if op.link_mode == "adjustment":
        written = json.dumps({"payload": written, "related": list(op.related or ())})
    ref = getattr(payload, "ref_number", None) or getattr(payload, "name", None) or op.number
    now = _now()
    return dict(run_id=run_id, seq=op.seq, action=op.action.value, kind=op.kind.value, local_id=op.local_id,
                number=op.number, request_id=str(op.seq), external_guid=getattr(payload, "external_guid", "") or "",
                company_key=key, target_id=op.remote_id or "", fingerprint=op.fingerprint, written=written,
                link_mode=op.link_mode, ref_number=ref, source_updated_at=op.stamp, status="pending",
                remote_id="", edit_sequence="", error="", updated_at=now)


def journal_pending(session: Session, run_id: str, key: str,
                    batches: Callable[[], Iterator[list[Operation]]]) -> None:
    """Journal every operation of the plan "pending", message by message, and commit."""
    for batch in batches():
        session.execute(insert(_table), [journal_values(run_id, key, op) for op in batch])
    session.commit()


def entries_of(session: Session, run_id: str, batch: list[Operation]) -> dict[int, Any]:
    """The journal rows of a message, by seq (plain rows, read only)."""
    return {e.seq: e for e in session.execute(select(_table).where(
        _table.c.run_id == run_id, _table.c.seq.in_([op.seq for op in batch])))}


def mark_sent(session: Session, run_id: str, batch: list[Operation]) -> None:
    """Journal the message's operations "sent"; a deposit's keeps the version it had before (to settle it later).
    Does not commit."""
    session.execute(update(_table).where(_table.c.run_id == run_id, _table.c.seq.in_([op.seq for op in batch]))
                    .values(status="sent", updated_at=_now()))
    for op in batch:
        if op.kind is Kind.DEPOSIT:  # the version before, to settle it later
            session.execute(update(_table).where(_table.c.run_id == run_id, _table.c.seq == op.seq)
                            .values(fingerprint=op.edit_sequence or ""))


def record_answers(session: Session, run_id: str, answers: list[dict[str, Any]]) -> None:
    """Journal QuickBooks' answers: each ``{"s": seq, "st": status, "rid": id, "es": version, "err": error}``.
    Does not commit."""
    session.execute(update(_table).where(_table.c.run_id == run_id, _table.c.seq == bindparam("s"))
                    .values(status=bindparam("st"), remote_id=bindparam("rid"), edit_sequence=bindparam("es"),
                            error=bindparam("err"), updated_at=_now()),
                    answers)


def requeue_sent(session: Session, run_id: str) -> None:
    """The run's "sent" operations back to "pending": QuickBooks certainly did not process their message."""
    session.execute(update(_table).where(_table.c.run_id == run_id, _table.c.status == "sent")
                    .values(status="pending", updated_at=_now()))


def written_so_far(session: Session, run_id: str) -> tuple[dict[str, int], int]:
    """What the run's journal says was written: operations done by "action kind", and how many were sent with
    their answer lost."""
    applied: dict[str, int] = {}
    unknown = 0
    for action, kind, status in session.execute(select(_table.c.action, _table.c.kind, _table.c.status)
                                                .where(_table.c.run_id == run_id)):
        if status == "done":
            label = f"{action} {kind}"
            applied[label] = applied.get(label, 0) + 1
        elif status == "sent":
            unknown += 1
    return applied, unknown


def open_take_outs(session: Session, key: str) -> set[str]:
    """TxnIDs of the deposits whose last operation booksync completed took payments out (its payload holds a
    placeholder line): a put-back may be missing there. One query over the journal's deposit rows."""
    prefix = PLACEHOLDER_MEMO.split("{txn_id}")[0]
    last: dict[str, tuple[str, str]] = {}
    for target, action, written in session.execute(
            select(JournalEntry.target_id, JournalEntry.action, JournalEntry.written)
            .where(JournalEntry.company_key == key, JournalEntry.kind == Kind.DEPOSIT.value,
                   JournalEntry.status == "done").order_by(JournalEntry.id)):
        last[target] = (action, written or "")
    return {target for target, (action, written) in last.items()
            if target and action == Action.MOD.value and prefix in written}
