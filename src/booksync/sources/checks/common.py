"""What the per-kind checks share: records by number, a record's rows grouped, which fields a file sets,
what open payments already apply to an invoice or credit memo, and the counts of the report.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.sources.layouts import SPECS, Row
from booksync.sources.report import ImportResult
from booksync.sources.values import ZERO, Reader
from booksync.store.models import Application, Payment

CHUNK = 500
"""Numbers or ids per IN list (well below SQLite's and PostgreSQL's parameter limits)."""


def present(reader: Reader, values: dict[str, Any], is_new: bool, **columns: str) -> dict[str, Any]:
    """``values`` without the fields whose column the file does not have: those keep the stored value
    (a new record gets them empty). ``columns`` maps a field to its column when the names differ."""
    if is_new:
        return values
    present = set(reader.table.columns)
    return {k: v for k, v in values.items() if columns.get(k, k) in present}


def count(result: ImportResult, is_new: bool, changed: bool) -> None:
    """Count one record of the report: added, updated (changed), or unchanged."""
    if is_new:
        result.added += 1
    elif changed:
        result.updated += 1
    else:
        result.unchanged += 1


def by_number(session: Session, model: Any, numbers: Iterable[str], *options: Any) -> dict[str, Any]:
    """The stored records of ``model`` with these numbers (empty ones ignored), by number; ``options`` are
    loader options (``selectinload``)."""
    wanted = list({n for n in numbers if n})
    out: dict[str, Any] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        stmt = select(model).where(model.number.in_(chunk)).options(*options)
        out.update({r.number: r for r in session.scalars(stmt)})
    return out


def duplicates(reader: Reader, rows: list[Row]) -> None:
    """Report each row whose number an earlier row has."""
    seen: dict[str, int] = {}
    for row in rows:
        number = row.get("number")
        if number in seen:
            reader.problem(row, "number", number, f"the number appears again (first on row {seen[number]})")
        else:
            seen[number] = row.line


def choice(value: str, choices: Iterable[str]) -> str | None:
    """The choice ``value`` names, compared without case, spaces, hyphens or underscores."""
    key = re.sub(r"[\s_\-/]+", "", value).casefold()
    for choice in choices:
        if choice.casefold() == key:
            return choice
    return None




def group(reader: Reader, rows: list[Row]) -> dict[str, list[Row]]:
    """Rows by record number. A record's rows must be consecutive and repeat the same record columns."""
    record_cols = [c.name for c in SPECS[reader.table.kind] if c.record and c.name != "number"]
    groups: dict[str, list[Row]] = {}
    previous = None
    for row in rows:
        number = row.get("number")
        group = groups.setdefault(number, [])
        if group:
            first = group[0]
            if previous != number:
                reader.problem(row, "number", number, f"the number appears again: rows of one record must be "
                                                      f"consecutive (the record starts on row {first.line})")
            for col in record_cols:
                if row.get(col) != first.get(col):
                    reader.problem(row, col, row.get(col),
                                   f"differs from row {first.line} of the same record ({first.get(col)!r})")
        group.append(row)
        previous = number
    return groups




def applied_in_store(session: Session, column: Any, ids: list[int], excluded: set[str],
                      credit_only: bool = False) -> dict[int, tuple[Decimal, list[str]]]:
    """What open payments in the store (except those numbered in ``excluded``) apply to each invoice or
    credit memo id: (amount, receipt numbers). ``credit_only`` counts only the credit of credit memos."""
    out: dict[int, tuple[Decimal, list[str]]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        stmt = (select(Application, Payment.number).join(Payment, Application.payment_id == Payment.id)
                .where(column.in_(chunk), Payment.status == "open"))
        for app, number in session.execute(stmt):
            if number in excluded:
                continue
            key = app.credit_memo_id if credit_only else app.invoice_id
            amount = app.credit_amount if credit_only else app.amount + app.credit_amount
            total, numbers = out.get(key, (ZERO, []))
            out[key] = (total + amount, numbers + ([number] if number not in numbers else []))
    return out



def receipts(numbers: list[str]) -> str:
    """The words for these receipts: "payment 5501", "payments 5501, 5502" (sorted)."""
    return ("payment " if len(numbers) == 1 else "payments ") + ", ".join(sorted(numbers))
