"""The import run: one kind's rows through its checks in one transaction, whole or not at all, and the
report (counts, warnings, or every problem).

A file is imported whole or not at all. Every row is read and checked first, then the records are checked
against each other and against the store (applications against invoice balances, credit memos against
their totals, lines against a given total...). Every problem is reported with its file, row, column, value
and reason — all of them at once, up to :data:`booksync.sources.report.MAX_PROBLEMS` shown — and nothing is
written when there is one. Re-importing a record with an existing number updates it; a record whose content
did not change keeps its ``updated_at`` (:mod:`booksync.store.write`), so an identical re-import plans no
corrections.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from booksync.kinds import IMPORT_KINDS
from booksync.sources.checks import CHECKS
from booksync.sources.layouts import COLUMNS, Row, Table
from booksync.sources.report import ImportResult, Problems
from booksync.sources.values import ImportOptions, Reader
from booksync.store.write import writing


def check_kind(kind: str) -> None:
    """Raise ``ValueError`` unless ``kind`` is one of :data:`booksync.kinds.IMPORT_KINDS`."""
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(IMPORT_KINDS)}")


def import_table(session: Session, table: Table, options: ImportOptions) -> ImportResult:
    """Check and write the rows of ``table`` (read once) in one transaction of ``session``, committed.

    Returns what was added, updated or unchanged, the warnings, and how the rows were read. Raises
    :class:`booksync.sources.report.ImportFailed` with every problem; the transaction is then rolled back and
    nothing of the table was written."""
    result = ImportResult(table.kind, table.file, read_as=table.read_as)
    reader = Reader(table, options)
    with writing(session):
        CHECKS[table.kind](session, reader, result)
        if table.problems:
            raise table.problems.failure()
    result.warnings = table.problems.warnings
    return result


def import_rows(session: Session, kind: str, rows: list[dict[str, str]], source: str,
                this: str = "this edit") -> ImportResult:
    """Import records given as rows of text, with exactly the checks of a file of ``kind``: what the editing
    commands (``booksync payments edit``) use, so that an edit is refused whenever the same change made by an
    import would be; what a source that is not a file (an API) uses. ``rows``: column name → value as a file
    would hold it (every column of the kind given; dates ISO, amounts plain); ``source`` names them in
    problems, ``this`` in messages about balances.

    Returns what was added, updated or unchanged. Raises :class:`booksync.sources.report.ImportFailed`
    (nothing written); ``ValueError`` for an unknown kind."""
    check_kind(kind)
    columns = list(COLUMNS[kind])
    held = [Row(n, {c: str(r.get(c) or "").strip() for c in columns}) for n, r in enumerate(rows, 2)]
    table = Table(source, kind, columns, held, "rows", Problems(source), this, again=lambda: held)
    return import_table(session, table, ImportOptions())
