"""Build the Excel (.xlsx) and other binary cases of the bad-input corpus.

Workbooks are built at test time rather than committed: openpyxl stamps each file with the time it was
written, so committed copies would change on every rebuild. ``tests/test_bad_input.py`` calls
:func:`build` once per session; each case's expected message is in ``NAME.expected`` beside this file.

Run ``python tests/bad_input/make_xlsx.py DIR`` to write them into DIR and look at them in Excel.
"""
from __future__ import annotations

import datetime as dt
import sys
import zipfile
from pathlib import Path
from typing import Callable

from openpyxl import Workbook

INVOICE_HEADER = ["number", "member", "date", "due_date", "memo", "gl_account", "description", "quantity", "rate",
                  "amount"]
MEMBER_HEADER = ["number", "name", "company", "status"]


def _workbook(path: Path, rows: list[list[object]], title: str = "Sheet1") -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)


def date_in_member_column(path: Path) -> None:
    """Excel turned member number "1-2" into the date 2 January (of the year it was typed)."""
    _workbook(path, [INVOICE_HEADER,
                     ["INV10", dt.datetime(2025, 1, 2), dt.datetime(2025, 3, 1), None, None, 4020, "2026 Dues", 1,
                      325, 325]])


def error_cell(path: Path) -> None:
    """A formula that failed: the amount cell holds #DIV/0!."""
    _workbook(path, [INVOICE_HEADER, ["INV10", 1001, dt.datetime(2025, 3, 1), None, None, 4100, "Dinner", 0, None,
                                      "#DIV/0!"]])


def time_of_day(path: Path) -> None:
    """A date cell that carries a time of day."""
    _workbook(path, [INVOICE_HEADER, ["INV10", 1001, dt.datetime(2025, 3, 1, 14, 30), None, None, 4020, "2026 Dues",
                                      1, 325, 325]])


def member_problems(path: Path) -> None:
    """Two problems in a members sheet named "Members", reported with their cells."""
    _workbook(path, [MEMBER_HEADER, [2001, "Acme Widgets", "Acme Widgets", "active"],
                     [2002, "Bolt & Nut Supply", None, "gone"], [2001, "Acme Widgets Inc", None, "active"]],
              title="Members")


def three_decimals(path: Path) -> None:
    """An amount typed with three decimals (Excel shows 325.01 with two-decimal formatting)."""
    _workbook(path, [INVOICE_HEADER, ["INV10", 1001, dt.datetime(2025, 3, 1), None, None, 4020, "2026 Dues", 1, None,
                                      325.005]])


def missing_sheet(path: Path) -> None:
    """A workbook without the sheet --sheet names."""
    _workbook(path, [["number", "member", "date", "amount", "deposit_account"]], title="Receipts")


def empty_first_row(path: Path) -> None:
    """The header is on row 2 (a title row above it is empty)."""
    _workbook(path, [[None], INVOICE_HEADER, ["INV10", 1001, dt.datetime(2025, 3, 1), None, None, 4020, "Dues", 1,
                                              325, 325]])


def truncated(path: Path) -> None:
    """The first kilobyte of a real workbook: a zip cut short (a partial download)."""
    whole = path.with_suffix(".whole.xlsx")
    date_in_member_column(whole)
    path.write_bytes(whole.read_bytes()[:1024])
    whole.unlink()


def zip_not_workbook(path: Path) -> None:
    """A zip archive renamed .xlsx."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("invoices.csv", ",".join(INVOICE_HEADER) + "\n")


CASES: dict[str, Callable[[Path], None]] = {
    "invoices-excel-date-in-member-column.xlsx": date_in_member_column,
    "invoices-excel-error-cell.xlsx": error_cell,
    "invoices-excel-time-of-day.xlsx": time_of_day,
    "members-excel-problems.xlsx": member_problems,
    "invoices-excel-three-decimals.xlsx": three_decimals,
    "payments-excel-missing-sheet.xlsx": missing_sheet,
    "invoices-excel-empty-first-row.xlsx": empty_first_row,
    "invoices-excel-truncated.xlsx": truncated,
    "invoices-excel-zip-not-workbook.xlsx": zip_not_workbook,
}


def build(folder: Path) -> dict[str, Path]:
    """Write every case into ``folder``; return their paths by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in CASES.items():
        path = folder / name
        make(path)
        out[name] = path
    return out


if __name__ == "__main__":
    for built in build(Path(sys.argv[1] if len(sys.argv) > 1 else ".")).values():
        print(built)
