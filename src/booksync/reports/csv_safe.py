"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV Injection").

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken by Excel, LibreOffice
and Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, DDE ``-2+3+cmd|...``). OWASP's advice
(https://owasp.org/www-community/attacks/CSV_Injection) is to prefix such a cell with a single quote, which
the spreadsheet shows as text. booksync's decision: a plain number (``-12.50``, ``-3``: an optional minus,
digits, an optional decimal part; what ``str(Decimal)`` writes for money) is left as it is, so that a
spreadsheet still reads amounts as numbers; anything else beginning with those characters gets the quote,
including ``+12`` or ``-1+2`` (not how booksync writes a number). Values the quote was added to read back
with it: a CSV meant for another program rather than a spreadsheet should not be one of booksync's exports.
"""
from __future__ import annotations

import csv
import re
from typing import IO, Any, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: Any) -> str:
    """``value`` as text, with a leading ``'`` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose every cell passes through :func:`safe_cell` (``fh`` opened with ``newline=""``)."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
