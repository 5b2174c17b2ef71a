"""Import of billing files into the billing store: members, G/L accounts, invoices, credit memos, payments.

Files are CSV (UTF-8, UTF-16 with a byte order mark, Windows-1252 or ISO-8859-1 when certain, or as declared:
:mod:`booksync.store.encodings`) or Excel workbooks (.xlsx, first sheet or a named one). Column layouts,
types, settings and examples: ``docs/import.md``.

The file source is a push source (:class:`booksync.sources.port.PushSource`): it reads the file
(:mod:`.files`), hands the rows to the per-kind checks (:mod:`booksync.sources.checks`) in one transaction
(:mod:`booksync.sources.run`), and the engine reads the billing store it wrote.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from booksync.kinds import IMPORT_KINDS
from booksync.sources.csvfile.files import read_table
from booksync.sources.report import ImportResult
from booksync.sources.run import check_kind, import_table
from booksync.sources.values import ImportOptions


def import_file(session: Session, kind: str, path: Path | str,
                options: ImportOptions | None = None) -> ImportResult:
    """Import ``path`` (CSV or .xlsx) as ``kind`` (one of :data:`booksync.kinds.IMPORT_KINDS`) in one
    transaction.

    Returns counts of added, updated and unchanged records, warnings, and how the file was read.
    Raises :class:`booksync.sources.report.ImportFailed` with every problem found (file, row, column, value,
    reason); then nothing was written. Raises ``ValueError`` for an unknown kind.
    """
    check_kind(kind)
    options = options or ImportOptions()
    return import_table(session, read_table(Path(path), kind, options), options)


class CsvFileSource:
    """The CSV/XLSX files of a membership system's exports, as a :class:`booksync.sources.port.PushSource`.

    ``options``: how to read the files (the home's ``[import]`` settings and the command's options)."""

    kinds: tuple[str, ...] = IMPORT_KINDS

    def __init__(self, options: ImportOptions | None = None) -> None:
        self.options = options or ImportOptions()

    def deliver(self, session: Session, kind: str, where: Path | str) -> ImportResult:
        """Import the file ``where`` as ``kind``: :func:`import_file`."""
        return import_file(session, kind, where, self.options)
