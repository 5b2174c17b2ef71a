"""Import of billing data into the billing store: members, G/L accounts, invoices, credit memos, payments.

Files are CSV (UTF-8, UTF-16 with a byte order mark, Windows-1252 or ISO-8859-1 when certain, or as
declared: store/encodings.py) or Excel workbooks (.xlsx, first sheet or a named
one). Column layouts, types, settings and examples: ``docs/import.md``.

A file is imported whole or not at all. Every row is read and checked first, then the records are
checked against each other and against the store (applications against invoice balances, credit
memos against their totals, lines against a given total...). Every problem is reported with its file,
row, column, value and reason — all of them at once, up to :data:`MAX_PROBLEMS` shown — and nothing of
the file is written when there is one. Re-importing a record with an existing number updates it; a
record whose content did not change keeps its ``updated_at``, so an identical re-import plans no
corrections.

The QuickBooks rules an imported value must meet (amount digits and decimals, non-negative totals)
come from :mod:`booksync.fields`, where all QuickBooks field rules live.
"""
from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from booksync.account_rules import DEPOSIT_GL_TYPES, GL_TYPES
from booksync.fields import amount_problem, payment_total_problem, quantity_problem, sales_total_problem
from booksync.store.encodings import EncodingProblem, declared_encoding, detect
from booksync.store.models import (Application, CreditMemo, CreditMemoLine, GLAccount, Invoice, InvoiceLine, Member, Payment,
                     _now)

KINDS = ("members", "gl-accounts", "invoices", "credit-memos", "payments")
INCOME_TYPES = ("Income", "OtherIncome")
"""G/L account types an invoice or credit memo line normally posts to; others are imported with a warning."""
REFUSED_LINE_TYPES = ("AccountsReceivable",)
"""G/L account types a line must never post to: the document itself posts to Accounts Receivable, so the
line would cancel it (debit and credit the same account)."""
DEPOSIT_TYPES = DEPOSIT_GL_TYPES
"""G/L account types a payment may deposit to (QuickBooks refuses others with 3140; reference §7): the deposit
rule of :mod:`booksync.account_rules`."""
DATE_FORMATS = ("iso", "us")
AMOUNT_MODES = ("strict", "lenient")
MAX_PROBLEMS = 50
"""Problems shown for one file; the rest are counted ("... and N more")."""
MAX_FILE_BYTES = 50 * 1024 * 1024
STREAMED = frozenset({"members"})
"""Kinds imported a batch at a time (memory bounded whatever the file's size, issue 19 item 10); the others
still hold the file's rows (their checks relate rows to each other: lines of a document, applications)."""
MAX_STREAMED_FILE_BYTES = 1024 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024
"""A workbook is a zip; refuse one that unpacks to more than this (a zip bomb, or far beyond billing data)."""
MAX_ROWS = 1_000_000
"""The most data rows (besides the header) a file may hold."""
SHOWN_VALUE = 80
"""How many characters of a value a problem shows."""
FIRST_YEAR, LAST_YEAR = 1900, 2100
"""Dates outside these years are refused: a typing slip (2205, 0225), not billing data."""
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                          "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# ---------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column of an import layout.

    ``type``: "id" (a number or a reference to one, one line of text), "text", "date", "money" (two
    decimals), "quantity" (up to five decimals), "choice". ``record``: for kinds with one row per line
    or application, the column belongs to the record and repeats on each of its rows. ``length``:
    the most characters the billing store keeps (from :mod:`.models`), None for unlimited.
    """

    name: str
    type: str = "text"
    required: bool = False
    record: bool = True
    length: int | None = None


def _len(model: Any, column: str) -> int | None:
    return getattr(model.__table__.c[column].type, "length", None)


def _member_columns() -> tuple[Column, ...]:
    text_cols = ("company", "contact_first", "contact_last", "address1", "address2", "city", "state", "postal_code",
                 "email", "phone")
    return (Column("number", "id", True, length=_len(Member, "number")),
            Column("name", "text", True, length=_len(Member, "name")),
            *(Column(c, length=_len(Member, c)) for c in text_cols),
            Column("status", "choice"),
            Column("qb_customer", "text", length=_len(Member, "qb_customer")))


def _sales_columns(model: Any) -> tuple[Column, ...]:
    return (Column("number", "id", True, length=_len(model, "number")),
            Column("member", "id", True, length=_len(Member, "number")),
            Column("date", "date", True), Column("due_date", "date"), Column("memo"),
            Column("total", "money"),
            Column("gl_account", "id", True, record=False, length=_len(GLAccount, "number")),
            Column("description", record=False), Column("quantity", "quantity", record=False),
            Column("rate", "quantity", record=False), Column("amount", "money", record=False))


SPECS: dict[str, tuple[Column, ...]] = {
    "members": _member_columns(),
    "gl-accounts": (Column("number", "id", True, length=_len(GLAccount, "number")),
                    Column("name", "text", True, length=_len(GLAccount, "name")),
                    Column("type", "choice", True),
                    Column("qb_account", length=_len(GLAccount, "qb_account"))),
    "invoices": _sales_columns(Invoice),
    "credit-memos": _sales_columns(CreditMemo),
    "payments": (Column("number", "id", True, length=_len(Payment, "number")),
                 Column("member", "id", True, length=_len(Member, "number")),
                 Column("date", "date", True), Column("amount", "money", True),
                 Column("method", length=_len(Payment, "method")),
                 Column("reference", length=_len(Payment, "reference")),
                 Column("deposit_account", "id", True, length=_len(GLAccount, "number")),
                 Column("memo"),
                 Column("apply_to", "id", record=False, length=_len(Invoice, "number")),
                 Column("apply_amount", "money", record=False),
                 Column("apply_credit_memo", "id", record=False, length=_len(CreditMemo, "number")),
                 Column("apply_credit_amount", "money", record=False)),
}
COLUMNS: dict[str, tuple[str, ...]] = {kind: tuple(c.name for c in cols) for kind, cols in SPECS.items()}
REQUIRED: dict[str, tuple[str, ...]] = {kind: tuple(c.name for c in cols if c.required)
                                        for kind, cols in SPECS.items()}


# ---------------------------------------------------------------------- results and problems


@dataclass
class ImportProblem:
    """One thing wrong with an input file: where it is and why.

    ``row`` is the row as a spreadsheet shows it (the header is row 1; 0 for the file as a whole);
    ``cell`` the Excel cell (e.g. "J5") for workbooks, "" for CSV.
    """

    file: str
    row: int
    column: str
    value: str
    reason: str
    cell: str = ""

    def __str__(self) -> str:
        if self.row <= 0:
            where = self.file
        else:
            where = f"{self.file}, row {self.row}"
            if self.column:
                where += f", column {self.column}" + (f" (cell {self.cell})" if self.cell else "")
        value = f" (value {self.value!r})" if self.value else ""
        if len(self.value) > SHOWN_VALUE:  # a 5 MB cell: show its start and its length, not all of it
            value = f" (value {self.value[:SHOWN_VALUE]!r}... {len(self.value)} characters)"
        return f"{where}: {self.reason}{value}"


class ImportFailed(Exception):
    """The file was not imported; nothing of it was written.

    ``problems``: the first :data:`MAX_PROBLEMS` problems, in row order; ``total``: how many there are.
    """

    def __init__(self, problems: list[ImportProblem], total: int | None = None) -> None:
        self.total = max(total or 0, len(problems))
        self.problems = problems[:MAX_PROBLEMS]
        self.more = self.total - len(self.problems)
        lines = [str(p) for p in self.problems]
        if self.more:
            lines.append(f"... and {self.more} more problem(s)")
        super().__init__("\n".join(lines))


@dataclass
class ImportResult:
    """What an import did: counts of records, warnings (imported anyway), and how the file was read."""

    kind: str
    file: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[ImportProblem] = field(default_factory=list)
    read_as: str = ""
    """e.g. "CSV, UTF-8", "CSV, windows-1252 (detected)", "Excel sheet 'Invoices'"."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file (settings ``[import]`` of booksync.toml, or the ``import`` command's options).

    Attributes:
        date_format: "iso" (YYYY-MM-DD) or "us" (MM/DD/YYYY; ISO dates are accepted too).
        amounts: "strict" (plain numbers: 1250.00) or "lenient" (also "$1,250.00", "(25.00)").
        encoding: a CSV file's text encoding; "" detects it.
        sheet: the workbook sheet to read; "" reads the first.
    """

    date_format: str = "iso"
    amounts: str = "strict"
    encoding: str = ""
    sheet: str = ""

    def __post_init__(self) -> None:
        if self.date_format not in DATE_FORMATS:
            raise ValueError(f"date_format must be one of {', '.join(DATE_FORMATS)}, not {self.date_format!r}")
        if self.amounts not in AMOUNT_MODES:
            raise ValueError(f"amounts must be one of {', '.join(AMOUNT_MODES)}, not {self.amounts!r}")

    @classmethod
    def from_settings(cls, settings: dict[str, Any], **overrides: Any) -> "ImportOptions":
        """Options from a home's ``[import]`` settings; ``overrides`` that are not None win.
        Raises ``ValueError`` for a value that is not allowed."""
        values = {k: settings.get(k, getattr(cls, k)) for k in ("date_format", "amounts", "encoding", "sheet")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: str(v or "").strip().lower() if k in ("date_format", "amounts") else str(v or "")
                      for k, v in values.items()})


class _Problems:
    """Collects the problems (and warnings) of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[tuple[int, int, ImportProblem]] = []
        self.warnings: list[ImportProblem] = []

    def add(self, row: int, column: str, value: str, reason: str, cell: str = "") -> None:
        self.items.append((row, len(self.items), ImportProblem(self.file, row, column, value, reason, cell)))

    def warn(self, row: int, column: str, value: str, reason: str, cell: str = "") -> None:
        self.warnings.append(ImportProblem(self.file, row, column, value, reason, cell))

    def __bool__(self) -> bool:
        return bool(self.items)

    def failure(self) -> ImportFailed:
        ordered = [p for _, _, p in sorted(self.items, key=lambda t: (t[0], t[1]))]
        return ImportFailed(ordered, len(ordered))


def _fail(file: str, reason: str, row: int = 0, column: str = "", value: str = "") -> ImportFailed:
    return ImportFailed([ImportProblem(file, row, column, value, reason)])


# ---------------------------------------------------------------------- reading files


@dataclass
class Row:
    """One data row: its spreadsheet row number, its values by column name (trimmed text), and for
    workbooks the cell of each column."""

    line: int
    values: dict[str, str]
    cells: dict[str, str] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)
    """Columns whose cell could not be read (already reported)."""

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass
class Table:
    """A file read into rows; ``columns`` are the (normalized) header names present."""

    file: str
    kind: str
    columns: list[str]
    rows: Iterable[Row]
    """Read once: a CSV file's rows come as they are read."""
    read_as: str
    problems: _Problems
    this: str = "this file"
    """How messages name what is imported ("this file"; "this edit" for an editing command)."""


def _header_name(raw: Any) -> str:
    name = str(raw if raw is not None else "").replace("\ufeff", "").replace("\u200b", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", name)


def _check_header(file: str, kind: str, names: list[str], position: Callable[[int], str]) -> None:
    """Raise :class:`ImportFailed` for missing required, unknown or repeated columns."""
    spec = COLUMNS[kind]
    problems = [ImportProblem(file, 1, col, "", "required column is missing") for col in REQUIRED[kind]
                if col not in names]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name not in spec:
            problems.append(ImportProblem(file, 1, name, "",
                                          f"unknown column; expected columns are {', '.join(spec)}"))
        elif name in seen:
            problems.append(ImportProblem(file, 1, name, "", f"the column appears twice (columns "
                                                             f"{position(seen[name])} and {position(i)})"))
        else:
            seen[name] = i
    if problems:
        raise ImportFailed(problems)


def _sniff_delimiter(first_line: str, kind: str) -> str:
    """The delimiter that splits the header into the most known column names (comma on a tie)."""
    best, best_known = ",", -1
    for delimiter in (",", ";", "\t"):
        try:
            names = next(csv.reader([first_line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        known = sum(_header_name(n) in COLUMNS[kind] for n in names)
        if known > best_known:
            best, best_known = delimiter, known
    return best


def _read_csv(path: Path, file: str, kind: str, options: ImportOptions) -> Table:
    """The header now; the rows as they are read (``Table.rows`` is consumed once): a file is never held whole."""
    if options.sheet:
        raise _fail(file, "--sheet applies to Excel workbooks (.xlsx) only")
    try:
        encoding = declared_encoding(path, options.encoding) if options.encoding else detect(path)
    except EncodingProblem as exc:
        raise _fail(file, exc.reason, row=exc.row) from None
    # The csv module refuses a field over 128 KiB *before* counting its row; read any field the file size
    # allows, so that a too long value is reported on its row and column by the length checks.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_STREAMED_FILE_BYTES))
    fh = open(path, encoding=encoding.codec, newline="")
    try:
        first_line = fh.readline()
        if not first_line:
            raise _fail(file, "the file is empty", row=1)
        delimiter = _sniff_delimiter(first_line.rstrip("\r\n"), kind)
        reader = csv.reader(itertools.chain([first_line], fh), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise _fail(file, "the file is empty", row=1) from None
        except csv.Error as exc:
            raise _fail(file, f"not a CSV file: {exc}", row=1) from None
        names = [_header_name(h) for h in header]
        if not any(names):
            raise _fail(file, "the first row must hold the column names", row=1)
        _check_header(file, kind, names, lambda i: str(i + 1))
    except BaseException:
        fh.close()
        raise
    problems = _Problems(file)
    return Table(file, kind, [n for n in names if n], _csv_rows(fh, reader, file, names, delimiter, problems),
                 f"CSV, {encoding.read_as}" + (f", columns separated by {'tab' if delimiter == chr(9) else repr(delimiter)}"
                                               if delimiter != "," else ""), problems)


def _csv_rows(fh: Any, reader: Any, file: str, names: list[str], delimiter: str,
              problems: "_Problems") -> Iterator[Row]:
    """The data rows of a CSV file, one at a time; closes ``fh`` at the end."""
    record = 1
    try:
        for cells in reader:
            record += 1
            if record - 1 > MAX_ROWS:  # record 1 is the header
                raise _fail(file, f"the file has more than {MAX_ROWS} data rows (besides the header); split it")
            if not any(c.strip() for c in cells):
                continue
            extra = cells[len(names):]
            if len(cells) < len(names) or any(c.strip() for c in extra):
                hint = ""
                if len(cells) > len(names) and delimiter == ",":
                    hint = "; a value holding a comma (such as 1,250.00) must be in double quotes"
                problems.add(record, "", "", f"has {len(cells)} fields, the header has {len(names)}{hint}")
                continue
            values: dict[str, str] = {}
            for i, (name, cell) in enumerate(zip(names, cells)):
                value = cell.strip()
                if not name:
                    if value:
                        problems.add(record, f"#{i + 1}", value, "a value under a column without a name")
                    continue
                values[name] = value
            yield Row(record, values)
    except csv.Error as exc:
        problems.add(record, "", "", f"not valid CSV: {exc}")
    finally:
        fh.close()


def _excel_value(value: Any, column: Column | None, problems: _Problems, row: int, cell: str) -> str | None:
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


def _read_xlsx(path: Path, file: str, kind: str, options: ImportOptions) -> Table:
    if options.encoding:
        raise _fail(file, "--encoding applies to CSV files only; a workbook carries its own encoding")
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(file, f"not a readable .xlsx workbook: {exc}") from None
    if size > MAX_XLSX_UNCOMPRESSED:
        raise _fail(file, f"the workbook unpacks to {size} bytes, more than booksync reads "
                          f"({MAX_XLSX_UNCOMPRESSED}); save the sheet as CSV")
    if "xl/workbook.xml" not in names:
        raise _fail(file, "not an Excel .xlsx workbook (a zip file without xl/workbook.xml); save it as .xlsx "
                          "or CSV UTF-8")
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        # The same sheet as formulas: a formula cell Excel never calculated (a workbook written by a
        # program, not saved by Excel) has no saved value, and must not read as an empty cell.
        formulas = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged workbook
        raise _fail(file, f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from None
    problems = _Problems(file)
    try:
        sheets = workbook.sheetnames
        if options.sheet:
            if options.sheet not in sheets:
                raise _fail(file, f"the workbook has no sheet {options.sheet!r}; its sheets are "
                                  f"{', '.join(repr(s) for s in sheets)}")
            sheet = workbook[options.sheet]
        else:
            if not workbook.worksheets:
                raise _fail(file, "the workbook has no worksheet")
            sheet = workbook.worksheets[0]
        title = sheet.title
        formula_sheet = formulas[title]
        for each in (sheet, formula_sheet):
            if hasattr(each, "reset_dimensions"):
                # Some writers record a wrong sheet size; read every row and cell actually there.
                each.reset_dimensions()
        iterator: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
        formula_rows: Iterator[tuple[Any, ...]] = formula_sheet.iter_rows(values_only=True)
        try:
            header = next(iterator, None)
            next(formula_rows, None)
            names = [_header_name(h) for h in (header or ())]
            if not any(names):
                raise _fail(file, f"the first row of sheet {title!r} must hold the column names", row=1)
            _check_header(file, kind, names, lambda i: get_column_letter(i + 1))
            specs = {c.name: c for c in SPECS[kind]}
            rows: list[Row] = []
            for number, cells in enumerate(iterator, 2):
                row_formulas = next(formula_rows, ())
                if number - 1 > MAX_ROWS:  # row 1 is the header
                    raise _fail(file, f"the sheet has more than {MAX_ROWS} data rows (besides the header); split it")
                if not any(c is not None and str(c).strip() for c in (*cells, *row_formulas)):
                    continue
                values: dict[str, str] = {}
                refs: dict[str, str] = {}
                bad: set[str] = set()
                for i, value in enumerate(cells):
                    name = names[i] if i < len(names) else ""
                    ref = f"{get_column_letter(i + 1)}{number}"
                    if not name:
                        if value is not None and str(value).strip():
                            problems.add(number, f"#{i + 1}", str(value), "a value under a column without a name",
                                         ref)
                        continue
                    formula = row_formulas[i] if i < len(row_formulas) else None
                    if value is None and isinstance(formula, str) and formula.startswith("="):
                        problems.add(number, name, formula, "formula without a saved value: open and save the "
                                     "file in Excel", ref)
                        text = None
                    else:
                        text = _excel_value(value, specs.get(name), problems, number, ref)
                    if text is None:
                        bad.add(name)
                    values[name] = text or ""
                    refs[name] = ref
                rows.append(Row(number, values, refs, bad))
        except ImportFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged sheet part fails inside openpyxl's reader
            raise _fail(file, f"the sheet {title!r} cannot be read: {type(exc).__name__}: {exc}") from None
    finally:
        workbook.close()
        formulas.close()
    return Table(file, kind, [n for n in names if n], rows, f"Excel sheet {title!r}", problems)


def read_table(path: Path, kind: str, options: ImportOptions | None = None) -> Table:
    """Read ``path`` (CSV or .xlsx, told apart by content) for ``kind``. Raises :class:`ImportFailed`
    for a file that cannot be read at all and for header problems; row problems are in ``problems``."""
    options = options or ImportOptions()
    path = Path(path)
    file = path.name
    try:
        size = path.stat().st_size
        limit = MAX_STREAMED_FILE_BYTES if kind in STREAMED else MAX_FILE_BYTES
        if size > limit:
            raise _fail(file, f"the file is larger than {limit} bytes; split it")
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(b"PK\x03\x04"):
            return _read_xlsx(path, file, kind, options)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise _fail(file, "an Excel 97-2003 workbook (.xls) or other OLE file; save it as .xlsx or CSV UTF-8")
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            raise _fail(file, "not an Excel .xlsx workbook (it is not a zip file); save it as .xlsx or CSV UTF-8")
        return _read_csv(path, file, kind, options)
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------- values

_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_LENIENT_NUMBER = re.compile(r"""
    (?P<open>\()?\s*(?P<s1>[+-])?\s*(?P<c1>[$€£¥])?\s*(?P<s2>[+-])?\s*
    (?P<num>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?|[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
    \s*(?P<c2>[$€£¥])?\s*(?P<s3>-)?\s*(?P<close>\))?""", re.ASCII | re.VERBOSE)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?", re.ASCII)
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]+)", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\t\r\n]")


def _lenient_number(raw: str) -> Decimal | None:
    """``raw`` read with currency symbols, thousands separators and accounting parentheses, or None."""
    m = _LENIENT_NUMBER.fullmatch(raw)
    if m is None:
        return None
    signs = [s for s in (m["s1"], m["s2"], m["s3"]) if s]
    if bool(m["open"]) != bool(m["close"]) or len(signs) > 1 or (m["c1"] and m["c2"]) \
            or (m["open"] and signs):
        return None
    value = Decimal(m["num"].replace(",", ""))
    return -value if m["open"] or signs == ["-"] else value


def _number(raw: str, mode: str, what: str) -> Decimal:
    """A number from ``raw`` per the amounts mode; raises ValueError(reason)."""
    if _PLAIN_NUMBER.fullmatch(raw):
        return Decimal(raw)
    lenient = _lenient_number(raw)
    if lenient is None:
        raise ValueError(f"{raw!r} is not {what}")
    if mode != "lenient":
        raise ValueError(f"{raw!r} is not a plain number; currency symbols and thousands separators are read "
                         "with --amounts lenient (import.amounts = \"lenient\")")
    return lenient


def parse_money(raw: str, mode: str = "strict") -> Decimal:
    """An amount with at most two decimals and 13 digits (QuickBooks' AMTTYPE), as a two-place Decimal.

    ``mode`` "strict" reads plain numbers ("1250", "-25.5", "1250.00"); "lenient" also reads "$1,250.00",
    "1,250", "-$25.00", "($25.00)". Raises ``ValueError`` with the reason."""
    value = _number(raw, mode, "an amount")
    problem = amount_problem(value)
    if problem:
        raise ValueError(f"{raw!r} {problem}")
    return value.quantize(CENT)


def parse_quantity(raw: str, mode: str = "strict") -> Decimal:
    """A quantity or rate: at most five decimals and ten digits (QUANTYPE, PRICETYPE). Whole numbers
    are kept without decimals ("325.00" -> 325). Raises ``ValueError`` with the reason."""
    value = _number(raw, mode, "a number")
    problem = quantity_problem(value)
    if problem:
        raise ValueError(f"{raw!r} {problem}")
    return _canonical_quantity(value)


def _canonical_quantity(value: Decimal) -> Decimal:
    # A plain form qbXML accepts: whole numbers without decimals, never an exponent, never -0.
    if value == value.to_integral_value():
        return value.quantize(Decimal(1)) + 0
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -5:
        value = value.normalize()
    return value + 0


def parse_date(raw: str, date_format: str = "iso") -> dt.date:
    """A date: YYYY-MM-DD always; MM/DD/YYYY (or M/D/YYYY) when ``date_format`` is "us".
    Raises ``ValueError`` with the reason (which says how to read other forms)."""
    m = _ISO_DATE.fullmatch(raw)
    if m is not None:
        year, month, day = (int(g) for g in m.groups())
    else:
        us = _US_DATE.fullmatch(raw)
        if us is None or date_format != "us":
            if us is not None or re.fullmatch(r"[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4}", raw):
                hint = ("; for MM/DD/YYYY dates use --date-format us (import.date_format = \"us\")"
                        if date_format == "iso" else "")
                raise ValueError(f"is not a date in the form {'YYYY-MM-DD' if date_format == 'iso' else 'MM/DD/YYYY'}"
                                 + hint)
            raise ValueError("is not a date in the form " + ("YYYY-MM-DD" if date_format == "iso"
                                                             else "MM/DD/YYYY or YYYY-MM-DD"))
        month, day = int(us[1]), int(us[2])
        if len(us[3]) != 4:
            raise ValueError("the year must have four digits (MM/DD/YYYY)")
        year = int(us[3])
    read_as = " (dates are read as MM/DD/YYYY)" if m is None else ""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"is not a plausible date: the year {year} is outside {FIRST_YEAR}-{LAST_YEAR}{read_as}")
    if not 1 <= month <= 12:
        raise ValueError(f"is not a date: there is no month {month}{read_as}")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"is not a date: there is no day {day} in month {month} of {year}{read_as}") from None


# ---------------------------------------------------------------------- checking rows


class _Reader:
    """Parses the values of a table's rows, reporting each problem at its row, column and cell."""

    def __init__(self, table: Table, options: ImportOptions) -> None:
        self.table = table
        self.options = options
        self.problems = table.problems
        self.specs = {c.name: c for c in SPECS[table.kind]}

    def problem(self, row: Row, column: str, value: str, reason: str) -> None:
        self.problems.add(row.line, column, value, reason, row.cells.get(column, ""))

    def warn(self, row: Row, column: str, value: str, reason: str) -> None:
        self.problems.warn(row.line, column, value, reason, row.cells.get(column, ""))

    def check_text(self, row: Row) -> bool:
        """Required values present, lengths within the store's, no control characters; False when not."""
        ok = True
        for name, value in row.values.items():
            spec = self.specs.get(name)
            if spec is None or not value:
                continue
            bad = _CONTROL.search(value) or (spec.type in ("id", "date", "money", "quantity", "choice")
                                            and _LINE_BREAK.search(value))
            if bad:
                self.problem(row, name, value, f"holds the control character U+{ord(bad.group()):04X}; if the "
                                               "file came from another program its encoding may be wrong "
                                               "(--encoding)")
                ok = False
            elif spec.length is not None and len(value) > spec.length:
                self.problem(row, name, value, f"is longer than {spec.length} characters (the most the billing "
                                               "store keeps)")
                ok = False
        for name in REQUIRED[self.table.kind]:
            if not row.get(name) and name not in row.bad:
                self.problem(row, name, "", "a value is required")
                ok = False
        return ok and not row.bad

    def value(self, row: Row, column: str, parse: Callable[[str], Any], default: Any = None) -> Any:
        raw = row.get(column)
        if raw == "":
            return default
        try:
            return parse(raw)
        except (ValueError, ArithmeticError) as exc:
            self.problem(row, column, raw, str(exc) or "cannot be read")
            return _BAD

    def money(self, row: Row, column: str, default: Any = None) -> Any:
        return self.value(row, column, lambda raw: parse_money(raw, self.options.amounts), default)

    def quantity(self, row: Row, column: str, default: Any = None) -> Any:
        return self.value(row, column, lambda raw: parse_quantity(raw, self.options.amounts), default)

    def date(self, row: Row, column: str) -> Any:
        return self.value(row, column, lambda raw: parse_date(raw, self.options.date_format))


class _Bad:
    """A value that could not be read (its problem is reported); never equal to anything."""

    def __repr__(self) -> str:
        return "<unreadable>"


_BAD: Any = _Bad()


def _ok(*values: Any) -> bool:
    return all(v is not _BAD for v in values)


# ---------------------------------------------------------------------- importing


def import_file(session: Session, kind: str, path: Path | str,
                options: ImportOptions | None = None) -> ImportResult:
    """Import ``path`` (CSV or .xlsx) as ``kind`` (one of :data:`KINDS`) in one transaction.

    Returns counts of added, updated and unchanged records, warnings, and how the file was read.
    Raises :class:`ImportFailed` with every problem found (file, row, column, value, reason); then
    nothing was written. Raises ``ValueError`` for an unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    options = options or ImportOptions()
    return _import_table(session, read_table(Path(path), kind, options), options)


def import_rows(session: Session, kind: str, rows: list[dict[str, str]], source: str,
                this: str = "this edit") -> ImportResult:
    """Import records given as rows of text, with exactly the checks of a file of ``kind``: what the editing
    commands (``booksync payments edit``) use, so that an edit is refused whenever the same change made by an
    import would be. ``rows``: column name → value as a file would hold it (every column of the kind given;
    dates ISO, amounts plain); ``source`` names them in problems, ``this`` in messages about balances.

    Returns what was added, updated or unchanged. Raises :class:`ImportFailed` (nothing written)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    columns = list(COLUMNS[kind])
    table = Table(source, kind, columns, [Row(n, {c: str(r.get(c) or "").strip() for c in columns})
                                          for n, r in enumerate(rows, 2)], "rows", _Problems(source), this)
    return _import_table(session, table, ImportOptions())


def _import_table(session: Session, table: Table, options: ImportOptions) -> ImportResult:
    kind = table.kind
    result = ImportResult(kind, table.file, read_as=table.read_as)
    importer = {"members": _members, "gl-accounts": _gl_accounts, "invoices": _sales(Invoice, InvoiceLine),
                "credit-memos": _sales(CreditMemo, CreditMemoLine), "payments": _payments}[kind]
    reader = _Reader(table, options)
    started = _now()
    try:
        importer(session, reader, result)
        if table.problems:
            raise table.problems.failure()
        session.flush()
        _restamp(session, started)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    result.warnings = table.problems.warnings
    return result


def _restamp(session: Session, started: dt.datetime) -> None:
    """Give every row this import wrote the time of its commit as ``updated_at``.

    Rows are stamped as they are read, but other sessions see them only at the commit. A sync that reads
    in between moves its change mark past those stamps (docs/architecture.md "Change marks"), and would
    never look at the rows once they appear; stamped just before the commit, they are after any mark a
    sync set while the import ran (less its margin)."""
    now = _now()
    for model in (Member, GLAccount, Invoice, CreditMemo, Payment):
        table = model.__table__
        session.execute(update(table).where(table.c.updated_at >= started).values(updated_at=now))


def _present(reader: _Reader, values: dict[str, Any], is_new: bool, **columns: str) -> dict[str, Any]:
    """``values`` without the fields whose column the file does not have: those keep the stored value
    (a new record gets them empty). ``columns`` maps a field to its column when the names differ."""
    if is_new:
        return values
    present = set(reader.table.columns)
    return {k: v for k, v in values.items() if columns.get(k, k) in present}


def _apply_fields(record: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


def _count(result: ImportResult, is_new: bool, changed: bool) -> None:
    if is_new:
        result.added += 1
    elif changed:
        result.updated += 1
    else:
        result.unchanged += 1


def _by_number(session: Session, model: Any, numbers: Iterable[str], *options: Any) -> dict[str, Any]:
    wanted = list({n for n in numbers if n})
    out: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        stmt = select(model).where(model.number.in_(chunk)).options(*options)
        out.update({r.number: r for r in session.scalars(stmt)})
    return out


def _duplicates(reader: _Reader, rows: list[Row]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        number = row.get("number")
        if number in seen:
            reader.problem(row, "number", number, f"the number appears again (first on row {seen[number]})")
        else:
            seen[number] = row.line


def _choice(value: str, choices: Iterable[str]) -> str | None:
    """The choice ``value`` names, compared without case, spaces, hyphens or underscores."""
    key = re.sub(r"[\s_\-/]+", "", value).casefold()
    for choice in choices:
        if choice.casefold() == key:
            return choice
    return None


MEMBER_BATCH = 2000
"""Members checked against the store and written per batch (an import holds one batch of records)."""


def _members(session: Session, reader: _Reader, result: ImportResult) -> None:
    """Members a batch at a time (memory bounded: the rows are read as they come, the records of a batch
    are flushed and let go). Writing stops at the first problem; the rest is still checked, and
    :func:`import_file` rolls the transaction back, so nothing of a refused file is written."""
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


def _member_batch(session: Session, reader: _Reader, batch: list[tuple[Row, dict[str, Any]]],
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
    existing = _by_number(session, Member, (row.get("number") for row, _ in batch))
    added = []
    for row, values in batch:
        member = existing.get(row.get("number"))
        if member is None:  # new members in one INSERT of many rows: no ORM object each (speed)
            added.append({"number": row.get("number"), "qb_customer": "", **values})
            _count(result, True, True)
        else:
            _count(result, False, _apply_fields(member, _present(reader, values, False)))
    if added:
        session.execute(insert(Member.__table__), added)  # Python-side defaults (created_at...) still apply
    session.flush()
    for member in existing.values():  # flushed: the session need not keep them
        session.expunge(member)


def _gl_accounts(session: Session, reader: _Reader, result: ImportResult) -> None:
    rows = [r for r in reader.table.rows if reader.check_text(r)]
    _duplicates(reader, rows)
    existing = _by_number(session, GLAccount, (r.get("number") for r in rows))
    planned = []
    for row in rows:
        gl_type = _choice(row.get("type"), GL_TYPES)
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
        _count(result, is_new, _apply_fields(account, _present(reader, values, is_new)))


def _group(reader: _Reader, rows: list[Row]) -> dict[str, list[Row]]:
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


@dataclass
class _Line:
    row: Row
    seq: int
    account: Any
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


def _line_amounts(reader: _Reader, row: Row) -> tuple[Any, Any, Any]:
    """(quantity, rate, amount) of a line, the missing one computed; _BAD when unreadable."""
    qty = reader.quantity(row, "quantity", Decimal(1))
    rate = reader.quantity(row, "rate")
    amount = reader.money(row, "amount")
    if not _ok(qty, rate, amount):
        return _BAD, _BAD, _BAD
    if amount is None and rate is None:
        reader.problem(row, "amount", "", "a line needs an amount or a rate")
        return _BAD, _BAD, _BAD
    if amount is None:
        amount = (qty * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        problem = amount_problem(amount)
        if problem:
            reader.problem(row, "rate", row.get("rate"), f"quantity × rate = {amount}, which {problem}")
            return _BAD, _BAD, _BAD
        return qty, rate, amount
    if rate is None:
        if qty == 0:
            if amount != 0:
                reader.problem(row, "quantity", row.get("quantity"), f"a line of quantity 0 cannot amount to "
                                                                     f"{amount}; give the rate, or quantity 1")
                return _BAD, _BAD, _BAD
            return qty, Decimal(0), amount
        with localcontext() as ctx:
            ctx.prec = 60
            rate = (amount / qty).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
        problem = quantity_problem(rate)
        if problem:
            reader.problem(row, "amount", row.get("amount"), f"amount ÷ quantity = {rate}, a rate which {problem}")
            return _BAD, _BAD, _BAD
        return qty, _canonical_quantity(rate), amount
    expected = (qty * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    if expected != amount:
        reader.problem(row, "amount", row.get("amount"), f"quantity × rate = {qty} × {rate} = {expected}, not the "
                                                         f"amount {amount}")
        return _BAD, _BAD, _BAD
    return qty, rate, amount


def _applied_in_store(session: Session, column: Any, ids: list[int], excluded: set[str],
                      credit_only: bool = False) -> dict[int, tuple[Decimal, list[str]]]:
    """What open payments in the store (except those numbered in ``excluded``) apply to each invoice or
    credit memo id: (amount, receipt numbers). ``credit_only`` counts only the credit of credit memos."""
    out: dict[int, tuple[Decimal, list[str]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
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


def _sales(model: Any, line_model: Any) -> Callable[[Session, _Reader, ImportResult], None]:
    label = "invoice" if model is Invoice else "credit memo"

    def run(session: Session, reader: _Reader, result: ImportResult) -> None:
        rows = [r for r in reader.table.rows if reader.check_text(r)]
        groups = _group(reader, rows)
        members = _by_number(session, Member, (g[0].get("member") for g in groups.values()))
        accounts = _by_number(session, GLAccount, (r.get("gl_account") for r in rows))
        existing = _by_number(session, model, groups, selectinload(model.lines))
        planned = []
        for number, group in groups.items():
            first = group[0]
            member = members.get(first.get("member"))
            if member is None:
                reader.problem(first, "member", first.get("member"), "no member has this number")
            date = reader.date(first, "date")
            due = reader.date(first, "due_date")
            given_total = reader.money(first, "total")
            if _ok(date, due) and date is not None and due is not None and due < date:
                reader.warn(first, "due_date", first.get("due_date"), f"the due date is before the {label}'s date")
            lines = []
            for seq, row in enumerate(group, 1):
                account = accounts.get(row.get("gl_account"))
                if account is None:
                    reader.problem(row, "gl_account", row.get("gl_account"), "no G/L account has this number")
                elif account.type in REFUSED_LINE_TYPES:
                    reader.problem(row, "gl_account", row.get("gl_account"),
                                   f"G/L account {account.number} {account.name} is the {account.type} account; "
                                   f"{label} lines post to income accounts (the {label} itself posts to "
                                   "Accounts Receivable)")
                elif account.type not in INCOME_TYPES:
                    reader.warn(row, "gl_account", row.get("gl_account"),
                                f"G/L account {account.number} {account.name} is of type {account.type}, not "
                                "Income or OtherIncome; the line will post to it")
                qty, rate, amount = _line_amounts(reader, row)
                lines.append(_Line(row, seq, account, row.get("description"), qty, rate, amount))
            amounts = [ln.amount for ln in lines]
            if _ok(*amounts, given_total):
                total = sum(amounts, ZERO)
                if given_total is not None and given_total != total:
                    reader.problem(first, "total", first.get("total"),
                                   f"the lines add up to {total}, not the total {given_total}")
                problem = sales_total_problem(label, total)
                if problem:
                    reader.problem(first, "amount", "", f"{label} {number}: {problem}")
                planned.append((number, first, member, date, due, lines, total))
        _check_applied_totals(session, reader, model, existing, planned)
        if reader.problems:
            return
        for number, first, member, date, due, lines, _total in planned:
            record = existing.get(number)
            is_new = record is None
            if is_new:
                record = model(number=number)
                session.add(record)
            new_lines = [(ln.account.id, ln.description, ln.quantity, ln.rate, ln.amount) for ln in lines]
            old_lines = [(ln.gl_account_id, ln.description, ln.quantity, ln.rate, ln.amount) for ln in record.lines]
            changed = _apply_fields(record, _present(reader, {"member": member, "date": date, "due_date": due,
                                                              "memo": first.get("memo")}, is_new))
            if new_lines != old_lines:
                record.lines.clear()
                session.flush()
                for ln in lines:
                    record.lines.append(line_model(seq=ln.seq, gl_account=ln.account, description=ln.description,
                                                   quantity=ln.quantity, rate=ln.rate, amount=ln.amount))
                changed = True
            if changed and not is_new:
                record.updated_at = _now()
            _count(result, is_new, changed)
    return run


def _check_applied_totals(session: Session, reader: _Reader, model: Any, existing: dict[str, Any],
                          planned: list[tuple]) -> None:
    """A re-imported invoice (credit memo) must stay at least as large as the payments (credits) applied
    to it: QuickBooks refuses to shrink it below that (status 3210)."""
    ids = [existing[p[0]].id for p in planned if p[0] in existing]
    if not ids:
        return
    is_invoice = model is Invoice
    column = Application.invoice_id if is_invoice else Application.credit_memo_id
    applied = _applied_in_store(session, column, ids, set(), credit_only=not is_invoice)
    for number, first, *_rest, total in planned:
        record = existing.get(number)
        if record is None or record.id not in applied:
            continue
        amount, receipts = applied[record.id]
        if total < amount:
            what = "apply" if is_invoice else "use"
            if len(receipts) == 1:
                what += "s"
            reader.problem(first, "amount", "", f"{_receipts(receipts)} {what} {amount} of "
                                                f"{'invoice' if is_invoice else 'credit memo'} {number}; its "
                                                f"new total {total} would be less (QuickBooks refuses that): "
                                                "reduce the payments' applications first")


@dataclass
class _App:
    row: Row
    seq: int
    invoice: Any
    cash: Any
    memo: Any
    credit: Any


def _payments(session: Session, reader: _Reader, result: ImportResult) -> None:
    rows = [r for r in reader.table.rows if reader.check_text(r)]
    groups = _group(reader, rows)
    members = _by_number(session, Member, (g[0].get("member") for g in groups.values()))
    accounts = _by_number(session, GLAccount, (g[0].get("deposit_account") for g in groups.values()))
    invoices = _by_number(session, Invoice, (r.get("apply_to") for r in rows), selectinload(Invoice.lines),
                          selectinload(Invoice.member))
    memos = _by_number(session, CreditMemo, (r.get("apply_credit_memo") for r in rows),
                       selectinload(CreditMemo.lines), selectinload(CreditMemo.member))
    existing = _by_number(session, Payment, groups, selectinload(Payment.applications))
    planned = []
    for number, group in groups.items():
        first = group[0]
        member = members.get(first.get("member"))
        if member is None:
            reader.problem(first, "member", first.get("member"), "no member has this number")
        account = accounts.get(first.get("deposit_account"))
        if account is None:
            reader.problem(first, "deposit_account", first.get("deposit_account"), "no G/L account has this number")
        elif account.type not in DEPOSIT_TYPES:
            reader.problem(first, "deposit_account", first.get("deposit_account"),
                           f"G/L account {account.number} {account.name} is of type {account.type}; a payment is "
                           "deposited to a Bank or OtherCurrentAsset account (normally Undeposited Funds)")
        date = reader.date(first, "date")
        amount = reader.money(first, "amount")
        apps = [app for seq, row in enumerate(group, 1)
                if (app := _application(reader, row, seq, member, invoices, memos)) is not None]
        if _ok(amount) and amount is not None and all(_ok(a.cash, a.credit) for a in apps):
            problem = payment_total_problem(amount, any(a.credit or a.row.get("apply_credit_memo") for a in apps))
            if problem:
                reader.problem(first, "amount", first.get("amount"), problem)
            cash = sum((a.cash for a in apps), ZERO)
            if cash > amount and not problem:
                reader.problem(first, "apply_amount", "", f"the amounts applied ({cash}) exceed the payment's "
                                                          f"amount {amount}")
        planned.append((number, first, member, account, date, amount, apps))
    _check_balances(session, reader, planned)
    if reader.problems:
        return
    for number, first, member, account, date, amount, apps in planned:
        record = existing.get(number)
        is_new = record is None
        if is_new:
            record = Payment(number=number)
            session.add(record)
        changed = _apply_fields(record, _present(reader, {
            "member": member, "date": date, "amount": amount, "method": first.get("method"),
            "reference": first.get("reference"), "deposit_account": account, "memo": first.get("memo")},
            is_new, deposit_account="deposit_account"))
        new_apps = [(a.invoice.id, a.cash, a.memo.id if a.memo else None, a.credit) for a in apps]
        old_apps = [(a.invoice_id, a.amount, a.credit_memo_id, a.credit_amount) for a in record.applications]
        if new_apps != old_apps:
            record.applications.clear()
            session.flush()
            for a in apps:
                record.applications.append(Application(seq=a.seq, invoice=a.invoice, amount=a.cash,
                                                       credit_memo=a.memo, credit_amount=a.credit))
            changed = True
        if changed and not is_new:
            record.updated_at = _now()
        _count(result, is_new, changed)


def _non_negative(reader: _Reader, row: Row, column: str) -> Any:
    value = reader.money(row, column, ZERO)
    if _ok(value) and value < 0:
        reader.problem(row, column, row.get(column), "an applied amount must not be negative")
        return _BAD
    return value


def _application(reader: _Reader, row: Row, seq: int, member: Any, invoices: dict[str, Any],
                 memos: dict[str, Any]) -> _App | None:
    """The application on ``row``, or None when the row applies nothing (a payment kept as credit)."""
    cash = _non_negative(reader, row, "apply_amount")
    credit = _non_negative(reader, row, "apply_credit_amount")
    if not row.get("apply_to"):
        if row.get("apply_amount") or row.get("apply_credit_memo") or row.get("apply_credit_amount"):
            reader.problem(row, "apply_to", "", "an application needs the invoice it applies to")
        return None
    invoice = invoices.get(row.get("apply_to"))
    if invoice is None:
        reader.problem(row, "apply_to", row.get("apply_to"), "no invoice has this number")
    elif member is not None and invoice.member_id != member.id:
        reader.problem(row, "apply_to", row.get("apply_to"),
                       f"the invoice belongs to member {invoice.member.number}, not {member.number}")
    elif invoice.status != "open":
        reader.problem(row, "apply_to", row.get("apply_to"), f"the invoice is {invoice.status}")
    memo = None
    if row.get("apply_credit_memo"):
        memo = memos.get(row.get("apply_credit_memo"))
        if memo is None:
            reader.problem(row, "apply_credit_memo", row.get("apply_credit_memo"), "no credit memo has this number")
        elif member is not None and memo.member_id != member.id:
            reader.problem(row, "apply_credit_memo", row.get("apply_credit_memo"),
                           f"the credit memo belongs to member {memo.member.number}, not {member.number}")
        elif memo.status != "open":
            reader.problem(row, "apply_credit_memo", row.get("apply_credit_memo"), f"the credit memo is {memo.status}")
        if _ok(credit) and not credit:
            reader.problem(row, "apply_credit_amount", row.get("apply_credit_amount"),
                           "applying a credit memo needs the credit applied (apply_credit_amount)")
    elif _ok(credit) and credit:
        reader.problem(row, "apply_credit_memo", "", "apply_credit_amount needs the credit memo it comes from")
    if _ok(cash, credit) and not cash and not credit and row.get("apply_credit_memo") == "":
        reader.problem(row, "apply_amount", row.get("apply_amount"),
                       f"the application to invoice {row.get('apply_to')} applies nothing (give apply_amount)")
    if invoice is None or (row.get("apply_credit_memo") and memo is None):
        return _App(row, seq, None, _BAD, None, _BAD)
    return _App(row, seq, invoice, cash, memo, credit)


def _check_balances(session: Session, reader: _Reader, planned: list[tuple]) -> None:
    """Applications must not exceed an invoice's balance, nor a credit memo's unused credit, counting the
    other open payments in the store (QuickBooks refuses both with 3210)."""
    numbers = {p[0] for p in planned}
    apps = [a for p in planned for a in p[6] if a.invoice is not None and _ok(a.cash, a.credit)]
    invoice_ids = sorted({a.invoice.id for a in apps})
    memo_ids = sorted({a.memo.id for a in apps if a.memo is not None})
    applied = _applied_in_store(session, Application.invoice_id, invoice_ids, numbers)
    used = _applied_in_store(session, Application.credit_memo_id, memo_ids, numbers, credit_only=True)
    running: dict[int, Decimal] = {}
    reported: set[int] = set()
    this = reader.table.this
    upto = " up to this row" if this == "this file" else ""
    for a in apps:
        invoice = a.invoice
        before, receipts = applied.get(invoice.id, (ZERO, []))
        running[invoice.id] = running.get(invoice.id, ZERO) + a.cash + a.credit
        if before + running[invoice.id] > invoice.total and invoice.id not in reported:
            reported.add(invoice.id)
            elsewhere = f", {before} applied by {_receipts(receipts)}" if receipts else ""
            reader.problem(a.row, "apply_amount", a.row.get("apply_amount"),
                           f"invoice {invoice.number} has {invoice.total - before} left to pay (total "
                           f"{invoice.total}{elsewhere}); {this} applies {running[invoice.id]} to it{upto}")
    running.clear()
    reported.clear()
    for a in apps:
        memo = a.memo
        if memo is None:
            continue
        before, receipts = used.get(memo.id, (ZERO, []))
        running[memo.id] = running.get(memo.id, ZERO) + a.credit
        if before + running[memo.id] > memo.total and memo.id not in reported:
            reported.add(memo.id)
            elsewhere = f", {before} used by {_receipts(receipts)}" if receipts else ""
            reader.problem(a.row, "apply_credit_amount", a.row.get("apply_credit_amount"),
                           f"credit memo {memo.number} has {memo.total - before} of credit left (total "
                           f"{memo.total}{elsewhere}); {this} uses {running[memo.id]} of it{upto}")


def _receipts(numbers: list[str]) -> str:
    return ("payment " if len(numbers) == 1 else "payments ") + ", ".join(sorted(numbers))
