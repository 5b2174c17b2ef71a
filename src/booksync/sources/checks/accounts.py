"""G/L accounts: a number, a name, a type QuickBooks knows (:data:`booksync.account_rules.GL_TYPES`), and
the cross reference to a QuickBooks account (an empty one keeps what the store has).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from booksync.account_rules import GL_TYPES
from booksync.sources.checks.common import by_number, choice, count, duplicates, present
from booksync.sources.report import ImportResult
from booksync.sources.values import Reader
from booksync.store.models import GLAccount
from booksync.store.write import assign


def gl_accounts(session: Session, reader: Reader, result: ImportResult) -> None:
    """Check every row (each number once, a type QuickBooks knows), then, when the file has no problem, add or
    update each account (its ``updated_at`` kept when nothing changed)."""
    rows = [r for r in reader.table.rows if reader.check_text(r)]
    duplicates(reader, rows)
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
        return
    for row, values in planned:
        account = existing.get(row.get("number"))
        is_new = account is None
        if is_new:
            account = GLAccount(number=row.get("number"), qb_account="")
            session.add(account)
        count(result, is_new, assign(account, present(reader, values, is_new)))


