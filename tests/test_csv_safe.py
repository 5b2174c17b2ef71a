"""CSV exports neutralise formulas (OWASP CSV injection) but keep plain numbers numbers (issue 19 item 7)."""
from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from booksync.domain import Correction
from booksync.reports.corrections_log import LogHeader, write_log
from booksync.reports.csv_safe import safe_cell


@pytest.mark.parametrize("value, written", [
    ("=HYPERLINK(\"http://x.example\",\"click\")", "'=HYPERLINK(\"http://x.example\",\"click\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-", "'-"), ("+12", "'+12"),
    ("-12.50", "-12.50"), ("-3", "-3"), ("12.50", "12.50"), ("Main Street Dental", "Main Street Dental"),
    ("a=b", "a=b"), ("", ""), (None, ""), (Decimal("-12.50"), "-12.50"),
])
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_and_a_plain_number_does_not(value, written):
    assert safe_cell(value) == written


def test_the_corrections_log_csv_neutralises_formulas_in_member_names_and_notes(tmp_path):
    hostile = Correction("Invoice", "=1+1", "1302 =HYPERLINK(\"http://evil.example\")", dt.date(2026, 3, 1),
                         ["Memo: a -> @SUM(A1)"], "InvoiceMod", note="-2+3+cmd|' /C calc'!A0",
                         amount_before=Decimal("-12.50"), amount_after=Decimal("10.00"))
    hostile.member = "=HYPERLINK(\"http://evil.example\")"
    paths = write_log(tmp_path, [hostile], LogHeader("Company", "R1", dt.date(2026, 1, 2), "office", None,
                                                     dt.date(2026, 1, 1)))
    with paths["csv"].open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    row = dict(zip(rows[0], rows[1]))
    assert row["Number"] == "'=1+1"
    assert row["Member"] == "'=HYPERLINK(\"http://evil.example\")"
    assert row["What changed"] == "Memo: a -> @SUM(A1)"  # not at the start: harmless
    assert row["Note"] == "'-2+3+cmd|' /C calc'!A0"
    assert row["Amount before"] == "-12.50" and row["Amount after"] == "10.00"  # numbers stay numbers
    for value in rows[1]:
        assert not value.startswith(("=", "+", "@", "\t", "\r")) and (not value.startswith("-") or value == "-12.50")
