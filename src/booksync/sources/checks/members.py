"""Members: check each row and write the file a batch at a time (memory bounded whatever the file's size,
issue 19 item 10). A member is known by its number; its Bill Info (``qb_customer``) names one QuickBooks
customer, which no other member may name.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from booksync.sources.checks.common import by_number, count, present
from booksync.sources.layouts import COLUMNS, Row
from booksync.sources.report import ImportResult
from booksync.sources.values import Reader
from booksync.store.models import Member
from booksync.store.write import assign

MEMBER_BATCH = 2000
"""Members checked against the store and written per batch (an import holds one batch of records)."""


def members(session: Session, reader: Reader, result: ImportResult) -> None:
    """Members a batch at a time (memory bounded: the rows are read as they come, the records of a batch
    are flushed and let go). Writing stops at the first problem; the rest is still checked, and
    the import run (:mod:`booksync.sources.run`) rolls the transaction back, so nothing of a refused file is written."""
    seen: dict[str, int] = {}  # number -> row: duplicates, and which stored members the file itself changes
    # Bill Info names one QuickBooks customer per member: the same customer for two members is refused.
    holders: dict[str, tuple[str, int]] = {}  # in the file: Bill Info (casefolded) -> (number, row)
    claims: list[tuple[int, str, str, str, str]] = []  # (row, cell, Bill Info, number, stored holder's number)
    batch: list[tuple[Row, dict[str, Any]]] = []
    for row in reader.table.rows:
        if not reader.check_text(row):
            continue
        number = row.get("number")
        if number in seen:
            reader.problem(row, "number", number, f"the number appears again (first on row {seen[number]})")
            continue
        seen[number] = row.line
        status = (row.get("status") or "active").lower()
        if status not in ("active", "inactive"):
            reader.problem(row, "status", row.get("status"), "must be active or inactive")
        bill_info = row.get("qb_customer")
        if bill_info:
            holder = holders.get(bill_info.casefold())
            if holder is not None:
                reader.problem(row, "qb_customer", bill_info, f"member {holder[0]} (row {holder[1]}) has the same "
                                                              "QuickBooks customer; each member needs its own")
            else:
                holders[bill_info.casefold()] = (number, row.line)
        values = {c: row.get(c) for c in COLUMNS["members"] if c not in ("number", "status", "qb_customer")}
        values["status"] = status
        if bill_info:
            # An empty qb_customer keeps the Bill Info: the sync records it, and re-importing the same
            # file must not erase it ('booksync members map' changes or clears it).
            values["qb_customer"] = bill_info
        batch.append((row, values))
        if len(batch) >= MEMBER_BATCH:
            _member_batch(session, reader, batch, result, claims)
            batch = []
    if batch:
        _member_batch(session, reader, batch, result, claims)
    for line, cell, bill_info, number, stored in claims:
        if stored not in seen:  # a stored member the file does not give another Bill Info
            reader.problems.add(line, "qb_customer", bill_info, f"member {stored} (already in the billing store) "
                                "has the same QuickBooks customer; each member needs its own", cell)


def _member_batch(session: Session, reader: Reader, batch: list[tuple[Row, dict[str, Any]]],
                  result: ImportResult, claims: list[tuple[int, str, str, str, str]]) -> None:
    """Check one batch against the store (Bill Info held by stored members, noted in ``claims`` to be
    decided once the whole file is read), then, while the file has no problem, write it."""
    named = {values["qb_customer"].lower(): row for row, values in batch if values.get("qb_customer")}
    if named:
        for number, bill_info in session.execute(select(Member.number, Member.qb_customer).where(
                func.lower(Member.qb_customer).in_(list(named)))):
            row = named.get(bill_info.lower())
            if row is not None and number != row.get("number"):
                claims.append((row.line, row.cells.get("qb_customer", ""), row.get("qb_customer"), row.get("number"),
                               number))
    if reader.problems:
        return  # the import is refused: check the rest, write nothing more
    existing = by_number(session, Member, (row.get("number") for row, _ in batch))
    added = []
    for row, values in batch:
        member = existing.get(row.get("number"))
        if member is None:  # new members in one INSERT of many rows: no ORM object each (speed)
            added.append({"number": row.get("number"), "qb_customer": "", **values})
            count(result, True, True)
        else:
            count(result, False, assign(member, present(reader, values, False)))
    if added:
        session.execute(insert(Member.__table__), added)  # Python-side defaults (created_at...) still apply
    session.flush()
    for member in existing.values():  # flushed: the session need not keep them
        session.expunge(member)


