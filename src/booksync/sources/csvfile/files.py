"""Reading an import file: a CSV file or an Excel workbook (.xlsx), told apart by its content, within the
bounds of :mod:`booksync.sources.csvfile.bounds`.
"""
from __future__ import annotations

from pathlib import Path

from booksync.sources.csvfile import bounds
from booksync.sources.csvfile.csvtext import read_csv
from booksync.sources.csvfile.workbook import read_xlsx
from booksync.sources.layouts import Table
from booksync.sources.report import fail
from booksync.sources.values import ImportOptions


def read_table(path: Path, kind: str, options: ImportOptions | None = None) -> Table:
    """Read ``path`` (CSV or .xlsx, told apart by content) for ``kind`` (an import name). Raises
    :class:`ImportFailed` for a file that cannot be read at all and for header problems; row problems are in
    the table's ``problems``. A CSV file's rows are read as the table's ``rows`` are iterated (once)."""
    options = options or ImportOptions()
    path = Path(path)
    file = path.name
    try:
        size = path.stat().st_size
        limit = bounds.MAX_FILE_BYTES
        if size > limit:
            raise fail(file, f"the file is larger than {limit} bytes; split it")
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(b"PK\x03\x04"):
            return read_xlsx(path, file, kind, options)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise fail(file, "an Excel 97-2003 workbook (.xls) or other OLE file; save it as .xlsx or CSV UTF-8")
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            raise fail(file, "not an Excel .xlsx workbook (it is not a zip file); save it as .xlsx or CSV UTF-8")
        return read_csv(path, file, kind, options)
    except OSError as exc:
        raise fail(file, f"cannot read the file: {exc.strerror or exc}") from None


