"""How much a file may hold: bytes, unpacked bytes of a workbook, data rows. A file beyond them is refused
before its rows are read (issue 19 items 9 and 10: an import's memory and time stay bounded).

Every kind streams: a CSV file's rows are read as they come, and the checks hold a batch of records
(:data:`booksync.sources.checks.common.BATCH`), so the file's size bounds time, not memory.

The readers read these through the module (``bounds.MAX_ROWS``), so that a test may lower one.
"""
from __future__ import annotations

MAX_FILE_BYTES = 1024 * 1024 * 1024
"""The largest file read; also the longest CSV field read (then refused by the length checks)."""
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024
"""A workbook is a zip; refuse one that unpacks to more than this (a zip bomb, or far beyond billing data).
A workbook's rows are held while it is read (openpyxl reads a sheet once), so this bounds its memory."""
MAX_ROWS = 1_000_000
"""The most data rows (besides the header) a file may hold."""
