"""What the per-kind checks share: records by number, a record's rows grouped, which fields a file sets,
what open payments already apply to an invoice or credit memo, and the counts of the report.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

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


def choice(value: str, choices: Iterable[str]) -> str | None:
    """The choice ``value`` names, compared without case, spaces, hyphens or underscores."""
    key = re.sub(r"[\s_\-/]+", "", value).casefold()
    for choice in choices:
        if choice.casefold() == key:
            return choice
    return None




BATCH = 2000
"""Records checked against the store and written per batch: an import holds one batch of records, whatever
the file's size (issue 19 item 10)."""


class Records:
    """The records of a table as its rows are read: each record's consecutive rows, rows whose text is not
    acceptable (:meth:`Reader.check_text`) left out.

    A record's rows must be consecutive and repeat the same record columns; each row that does not is
    reported where it stands ("the number appears again...", "differs from row N of the same record"). A row
    of a record that was already handed over (its rows are not consecutive) is kept aside and judged by
    :meth:`settle_strays` once the file is read. Holds the row of each record's first row by number (to find
    those), not the records."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.columns = [c.name for c in SPECS[reader.table.kind] if c.record and c.name != "number"]
        self.firsts: dict[str, int] = {}
        self.strays: list[tuple[Row, bool]] = []
        """Rows of records handed over already, and whether each follows a row of another record."""

    def __iter__(self) -> Iterator[list[Row]]:
        current: list[Row] = []
        previous = None
        for row in self.reader.table.rows:
            if not self.reader.check_text(row):
                continue
            number = row.get("number")
            if current and current[0].get("number") == number:
                self._same_record(row, current[0], previous != number)
                current.append(row)
            elif number in self.firsts:
                self.strays.append((row, previous != number))
            else:
                if current:
                    yield current
                current = [row]
                self.firsts[number] = row.line
            previous = number
        if current:
            yield current

    def batches(self, size: int | None = None) -> Iterator[list[list[Row]]]:
        """The records, :data:`BATCH` (or ``size``) at a time."""
        size = size or BATCH
        batch: list[list[Row]] = []
        for record in self:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _same_record(self, row: Row, first: Row, apart: bool) -> None:
        if apart:
            self.reader.problem(row, "number", row.get("number"), f"the number appears again: rows of one record "
                                                                   f"must be consecutive (the record starts on row "
                                                                   f"{first.line})")
        for col in self.columns:
            if row.get(col) != first.get(col):
                self.reader.problem(row, col, row.get(col),
                                    f"differs from row {first.line} of the same record ({first.get(col)!r})")

    def settle_strays(self, check: Callable[[Row, Row], None]) -> None:
        """Report each row kept aside as the record's other rows were: against the record's first row (read
        again from the table), then ``check(row, first)`` for the row's own values. The file is refused
        already (each such row is a problem), so the record's totals are not judged again with them."""
        if not self.strays:
            return
        wanted = {self.firsts[row.get("number")] for row, _ in self.strays}
        firsts: dict[str, Row] = {}
        again = self.reader.table.again() if self.reader.table.again is not None else ()
        try:
            for row in again:
                if row.line in wanted:
                    firsts[row.get("number")] = row
                    if len(firsts) == len(wanted):
                        break
        finally:
            close = getattr(again, "close", None)
            if close is not None:
                close()
        for row, apart in self.strays:
            first = firsts.get(row.get("number"), Row(self.firsts[row.get("number")], {}))
            self._same_record(row, first, apart)
            check(row, first)


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


def replace_lines(session: Any, stored: Any, lines: list[Any], line_model: Any) -> bool:
    """Give ``stored`` (an invoice, credit memo or sales receipt) the checked ``lines`` (``seq``, ``account``,
    ``description``, ``quantity``, ``rate``, ``amount``) as ``line_model`` rows when they differ from its lines;
    True when they were replaced."""
    new = [(ln.account.id, ln.description, ln.quantity, ln.rate, ln.amount) for ln in lines]
    old = [(ln.gl_account_id, ln.description, ln.quantity, ln.rate, ln.amount) for ln in stored.lines]
    if new == old:
        return False
    stored.lines.clear()
    session.flush()
    for ln in lines:
        stored.lines.append(line_model(seq=ln.seq, gl_account=ln.account, description=ln.description,
                                       quantity=ln.quantity, rate=ln.rate, amount=ln.amount))
    return True

