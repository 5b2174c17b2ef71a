"""The write path of billing rows: members, G/L accounts, invoices, credit memos, payments.

Every writer of billing records (an import, ``booksync payments edit``, voiding or deleting a record, a future
API source) writes through it, and so keeps the ``updated_at`` invariant the change marks rely on
(docs/architecture.md "Change marks") without knowing it:

* a record whose values did not change keeps its ``updated_at`` (:func:`assign` sets only what differs, so
  an identical re-import plans no corrections);
* a record that changed, its own columns or only its lines or applications (:func:`touch`), gets a new one;
* every row a write changed is stamped with one time taken just before its commit (:func:`writing`): other
  sessions see the rows only at the commit, and a sync that set its mark while the write ran (less its
  margin) must still find them after it.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import update
from sqlalchemy.orm import Session

from booksync.store.models import BILLING_MODELS, GLAccount, _now

STAMPED_MODELS = (*BILLING_MODELS.values(), GLAccount)
"""The billing rows a write restamps: each kind's (:data:`booksync.store.models.BILLING_MODELS`) and G/L
accounts."""


def assign(record: Any, values: dict[str, Any]) -> bool:
    """Set each field of ``record`` (an ORM billing row) named in ``values`` whose value differs.

    Returns True when anything changed. Nothing is set when every value is the one stored, so the row is not
    written and keeps its ``updated_at`` (the ORM stamps ``updated_at`` only on a row it writes)."""
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


def touch(record: Any) -> None:
    """Mark ``record`` changed when only its lines or applications changed (rows of other tables): the ORM
    stamps a row's ``updated_at`` only when its own columns change."""
    record.updated_at = _now()


@contextmanager
def writing(session: Session) -> Iterator[Session]:
    """One all-or-nothing write of billing rows in ``session``.

    On leaving the block normally: flush, give every billing row changed since the block began the time of
    the commit as ``updated_at`` (:func:`restamp`), commit. On any exception (``BaseException``: an interrupt
    too): roll back everything done in the session since its last commit and re-raise; nothing is written.
    Yields ``session``."""
    started = _now()
    try:
        yield session
        session.flush()
        restamp(session, started)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def restamp(session: Session, started: dt.datetime) -> None:
    """Give every billing row stamped at or after ``started`` (naive UTC) the time now as ``updated_at``.

    Rows are stamped as they are written, but other sessions see them only at the commit. A sync that reads
    in between moves its change mark past those stamps, and would never look at the rows once they appear;
    stamped just before the commit, they are after any mark a sync set meanwhile (less its margin)."""
    now = _now()
    for model in STAMPED_MODELS:
        table = model.__table__
        session.execute(update(table).where(table.c.updated_at >= started).values(updated_at=now))
