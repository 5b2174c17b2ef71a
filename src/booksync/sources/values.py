"""Parsing the values of imported rows: amounts, quantities and dates per the home's settings
(``[import]`` of booksync.toml, or the ``import`` command's options), and the reader that reports each value
it cannot read at its row, column and cell.

The QuickBooks rules a value must meet (amount digits and decimals) come from :mod:`booksync.fields`, where
all QuickBooks field rules live.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from booksync.fields import amount_problem, quantity_problem
from booksync.sources.layouts import REQUIRED, SPECS, Row, Table

DATE_FORMATS = ("iso", "us")
AMOUNT_MODES = ("strict", "lenient")
FIRST_YEAR, LAST_YEAR = 1900, 2100
"""Dates outside these years are refused: a typing slip (2205, 0225), not billing data."""
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


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
    return canonical_quantity(value)


def canonical_quantity(value: Decimal) -> Decimal:
    # A plain form qbXML accepts: whole numbers without decimals, never an exponent, never -0.
    if value == value.to_integral_value():
        return value.quantize(Decimal(1)) + 0
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -5:
        value = value.normalize()
    return value + 0


IMPORT_DATE_HINT = "; for MM/DD/YYYY dates use --date-format us (import.date_format = \"us\")"
"""How an import reads MM/DD/YYYY dates (added to the reason a date in that form is refused)."""


def parse_date(raw: str, date_format: str = "iso", us_hint: str = IMPORT_DATE_HINT) -> dt.date:
    """A date: YYYY-MM-DD always; MM/DD/YYYY (or M/D/YYYY) when ``date_format`` is "us".
    Raises ``ValueError`` with the reason; ``us_hint`` is added when an ISO date was expected and the value looks
    like MM/DD/YYYY (the import's options by default; "" where no option reads other forms)."""
    m = _ISO_DATE.fullmatch(raw)
    if m is not None:
        year, month, day = (int(g) for g in m.groups())
    else:
        us = _US_DATE.fullmatch(raw)
        if us is None or date_format != "us":
            if us is not None or re.fullmatch(r"[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4}", raw):
                hint = us_hint if date_format == "iso" else ""
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


class Reader:
    """Parses the values of a table's rows, reporting each problem at its row, column and cell.

    ``money``, ``quantity`` and ``date`` return the value, ``default`` for an empty cell, or :data:`BAD`
    after reporting why the cell cannot be read."""

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
            return BAD

    def money(self, row: Row, column: str, default: Any = None) -> Any:
        return self.value(row, column, lambda raw: parse_money(raw, self.options.amounts), default)

    def quantity(self, row: Row, column: str, default: Any = None) -> Any:
        return self.value(row, column, lambda raw: parse_quantity(raw, self.options.amounts), default)

    def date(self, row: Row, column: str) -> Any:
        return self.value(row, column, lambda raw: parse_date(raw, self.options.date_format))


class Bad:
    """A value that could not be read (its problem is reported); never equal to anything."""

    def __repr__(self) -> str:
        return "<unreadable>"


BAD: Any = Bad()


def ok(*values: Any) -> bool:
    """True when none of ``values`` is :data:`BAD` (each unreadable one is already reported)."""
    return all(v is not BAD for v in values)

