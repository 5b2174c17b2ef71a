"""How much a file may hold: bytes, unpacked bytes of a workbook, data rows. A file beyond them is refused
before its rows are read (issue 19 items 9 and 10: an import's memory and time stay bounded).

The readers read these through the module (``bounds.MAX_ROWS``), so that a test may lower one.
"""
from __future__ import annotations

MAX_FILE_BYTES = 50 * 1024 * 1024
"""The largest file of a kind whose rows are held whole (every kind not in :data:`STREAMED`)."""
STREAMED = frozenset({"members"})
"""Kinds imported a batch at a time (memory bounded whatever the file's size, issue 19 item 10); the others
still hold the file's rows (their checks relate rows to each other: lines of a document, applications)."""
MAX_STREAMED_FILE_BYTES = 1024 * 1024 * 1024
"""The largest file of a kind in :data:`STREAMED`; also the longest CSV field read (then refused by length)."""
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024
"""A workbook is a zip; refuse one that unpacks to more than this (a zip bomb, or far beyond billing data)."""
MAX_ROWS = 1_000_000
"""The most data rows (besides the header) a file may hold."""
