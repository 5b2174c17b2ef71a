"""Reading an Excel workbook (.xlsx): the first sheet or a named one, every cell as the text the checks
read (numbers as Excel shows them, dates as YYYY-MM-DD), each problem at its row, column and cell ("J5").

A workbook is refused before it is opened when it unpacks to more than
:data:`booksync.sources.csvfile.bounds.MAX_XLSX_UNCOMPRESSED` bytes or is not a workbook at all.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from booksync.sources.csvfile import bounds
from booksync.sources.csvfile.header import check_header, header_name
from booksync.sources.layouts import SPECS, Column, Row, Table
from booksync.sources.report import ImportFailed, Problems, fail
from booksync.sources.values import ImportOptions

EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                          "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})
"""Error values Excel shows in a cell whose formula failed; such a cell is refused, never read as text."""


def excel_value(value: Any, column: Column | None, problems: Problems, row: int, cell: str) -> str | None:
    """A workbook cell as the text the checks read, or None after reporting why it cannot be read."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Excel shows (and keeps) 15 significant digits; 0.1+0.2 is 0.3 to the user, not 0.30000000000000004.
        return format(Decimal(format(value, ".15g")), "f")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        shown = value.isoformat()
        if column is None or column.type != "date":
            what = column.name if column is not None else "this column"
            problems.add(row, column.name if column else "", shown, f"Excel holds a date or time here, but "
                         f"{what} is not a date column; format the column as Text in Excel and type the value "
                         "again", cell)
            return None
        if isinstance(value, dt.time) or (isinstance(value, dt.datetime) and value.time() != dt.time(0)):
            problems.add(row, column.name, shown, "has a time of day; a date is expected", cell)
            return None
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    text = str(value).strip()
    if text in EXCEL_ERRORS:
        problems.add(row, column.name if column else "", text, f"the cell holds the Excel error {text}; correct "
                     "the formula in Excel", cell)
        return None
    return text


def read_xlsx(path: Path, file: str, kind: str, options: ImportOptions) -> Table:
    """The rows of the workbook's first sheet (or ``options.sheet``) for ``kind``. Raises
    :class:`ImportFailed` for a workbook that cannot be read and for header problems; problems of cells are
    in the table's ``problems``."""
    if options.encoding:
        raise fail(file, "--encoding applies to CSV files only; a workbook carries its own encoding")
    _check_archive(path, file)
    workbook, formulas = _open(path, file)
    problems = Problems(file)
    try:
        sheet = _sheet(workbook, file, options)
        title = sheet.title
        formula_sheet = formulas[title]
        for each in (sheet, formula_sheet):
            if hasattr(each, "reset_dimensions"):
                # Some writers record a wrong sheet size; read every row and cell actually there.
                each.reset_dimensions()
        try:
            names, rows = _sheet_rows(sheet.iter_rows(values_only=True), formula_sheet.iter_rows(values_only=True),
                                      file, kind, title, problems)
        except ImportFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged sheet part fails inside openpyxl's reader
            raise fail(file, f"the sheet {title!r} cannot be read: {type(exc).__name__}: {exc}") from None
    finally:
        workbook.close()
        formulas.close()
    return Table(file, kind, [n for n in names if n], rows, f"Excel sheet {title!r}", problems,
                 again=lambda: rows)


def _check_archive(path: Path, file: str) -> None:
    """Refuse a file that is not a zip holding a workbook, or that unpacks to too much."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise fail(file, f"not a readable .xlsx workbook: {exc}") from None
    if size > bounds.MAX_XLSX_UNCOMPRESSED:
        raise fail(file, f"the workbook unpacks to {size} bytes, more than booksync reads "
                         f"({bounds.MAX_XLSX_UNCOMPRESSED}); save the sheet as CSV")
    if "xl/workbook.xml" not in names:
        raise fail(file, "not an Excel .xlsx workbook (a zip file without xl/workbook.xml); save it as .xlsx "
                         "or CSV UTF-8")


def _open(path: Path, file: str) -> tuple[Any, Any]:
    """The workbook twice, read only: with saved values, and with formulas."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        # The same sheet as formulas: a formula cell Excel never calculated (a workbook written by a
        # program, not saved by Excel) has no saved value, and must not read as an empty cell.
        formulas = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged workbook
        raise fail(file, f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from None
    return workbook, formulas


def _sheet(workbook: Any, file: str, options: ImportOptions) -> Any:
    """The sheet ``options.sheet`` names, else the first worksheet."""
    sheets = workbook.sheetnames
    if options.sheet:
        if options.sheet not in sheets:
            raise fail(file, f"the workbook has no sheet {options.sheet!r}; its sheets are "
                             f"{', '.join(repr(s) for s in sheets)}")
        return workbook[options.sheet]
    if not workbook.worksheets:
        raise fail(file, "the workbook has no worksheet")
    return workbook.worksheets[0]


def _sheet_rows(iterator: Iterator[tuple[Any, ...]], formula_rows: Iterator[tuple[Any, ...]], file: str,
                kind: str, title: str, problems: Problems) -> tuple[list[str], list[Row]]:
    """The header's column names and the data rows (empty rows skipped)."""
    from openpyxl.utils import get_column_letter

    header = next(iterator, None)
    next(formula_rows, None)
    names = [header_name(h) for h in (header or ())]
    if not any(names):
        raise fail(file, f"the first row of sheet {title!r} must hold the column names", row=1)
    check_header(file, kind, names, lambda i: get_column_letter(i + 1))
    specs = {c.name: c for c in SPECS[kind]}
    rows: list[Row] = []
    for number, cells in enumerate(iterator, 2):
        row_formulas = next(formula_rows, ())
        if number - 1 > bounds.MAX_ROWS:  # row 1 is the header
            raise fail(file, f"the sheet has more than {bounds.MAX_ROWS} data rows (besides the header); split it")
        if not any(c is not None and str(c).strip() for c in (*cells, *row_formulas)):
            continue
        rows.append(_row(number, cells, row_formulas, names, specs, problems))
    return names, rows


def _row(number: int, cells: tuple[Any, ...], row_formulas: tuple[Any, ...], names: list[str],
         specs: dict[str, Column], problems: Problems) -> Row:
    """Row ``number`` of the sheet: each named column's text and cell; problems reported as found."""
    from openpyxl.utils import get_column_letter

    values: dict[str, str] = {}
    refs: dict[str, str] = {}
    bad: set[str] = set()
    for i, value in enumerate(cells):
        name = names[i] if i < len(names) else ""
        ref = f"{get_column_letter(i + 1)}{number}"
        if not name:
            if value is not None and str(value).strip():
                problems.add(number, f"#{i + 1}", str(value), "a value under a column without a name", ref)
            continue
        formula = row_formulas[i] if i < len(row_formulas) else None
        if value is None and isinstance(formula, str) and formula.startswith("="):
            problems.add(number, name, formula, "formula without a saved value: open and save the file in Excel",
                         ref)
            text = None
        else:
            text = excel_value(value, specs.get(name), problems, number, ref)
        if text is None:
            bad.add(name)
        values[name] = text or ""
        refs[name] = ref
    return Row(number, values, refs, bad)
