"""G/L accounts: a number, a name, a type QuickBooks knows (:data:`booksync.account_rules.GL_TYPES`), and
the cross reference to a QuickBooks account (an empty one keeps what the store has).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from booksync.account_rules import GL_TYPES
from booksync.sources.checks.common import BATCH, by_number, choice, count, present
from booksync.sources.layouts import Row
from booksync.sources.report import ImportResult
from booksync.sources.values import Reader
from booksync.store.models import GLAccount
from booksync.store.write import assign


def gl_accounts(session: Session, reader: Reader, result: ImportResult) -> None:
    """Check every row (each number once, a type QuickBooks knows), a batch at a time; while the file has no
    problem, add or update each account of the batch (its ``updated_at`` kept when nothing changed)."""
    seen: dict[str, int] = {}  # number -> row of its first appearance
    batch: list[Row] = []
    for row in reader.table.rows:
        if not reader.check_text(row):
            continue
        number = row.get("number")
        if number in seen:
            reader.problem(row, "number", number, f"the number appears again (first on row {seen[number]})")
        else:
            seen[number] = row.line
        batch.append(row)
        if len(batch) >= BATCH:
            _batch(session, reader, result, batch)
            batch = []
    if batch:
        _batch(session, reader, result, batch)


def _batch(session: Session, reader: Reader, result: ImportResult, rows: list[Row]) -> None:
    existing = by_number(session, GLAccount, (r.get("number") for r in rows))
    planned = []
    for row in rows:
        gl_type = choice(row.get("type"), GL_TYPES)
        if gl_type is None:
            reader.problem(row, "type", row.get("type"), f"must be one of {', '.join(GL_TYPES)}")
        values = {"name": row.get("name"), "type": gl_type}
        if row.get("qb_account"):
            # Empty keeps the cross reference ('booksync accounts xref' changes or clears it).
            values["qb_account"] = row.get("qb_account")
        planned.append((row, values))
    if reader.problems:
        return  # the import is refused: check the rest, write nothing more
    for row, values in planned:
        account = existing.get(row.get("number"))
        is_new = account is None
        if is_new:
            account = GLAccount(number=row.get("number"), qb_account="")
            session.add(account)
        count(result, is_new, assign(account, present(reader, values, is_new)))
    session.flush()
    for account in existing.values():  # flushed: the session need not keep them
        session.expunge(account)
