"""Reading a CSV file: its encoding (UTF-8, UTF-16 with a byte order mark, Windows-1252 or ISO-8859-1 when
certain, or as declared: :mod:`booksync.store.encodings`), its delimiter, its header, then its rows one at a
time as they are read (a file is never held whole by the reader).
"""
from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any, Iterator

from booksync.sources.csvfile import bounds
from booksync.sources.csvfile.header import check_header, header_name
from booksync.sources.layouts import COLUMNS, Row, Table
from booksync.sources.report import Problems, fail
from booksync.sources.values import ImportOptions
from booksync.store.encodings import EncodingProblem, declared_encoding, detect


def sniff_delimiter(first_line: str, kind: str) -> str:
    """The delimiter that splits the header into the most known column names (comma on a tie)."""
    best, best_known = ",", -1
    for delimiter in (",", ";", "\t"):
        try:
            names = next(csv.reader([first_line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        known = sum(header_name(n) in COLUMNS[kind] for n in names)
        if known > best_known:
            best, best_known = delimiter, known
    return best




def read_csv(path: Path, file: str, kind: str, options: ImportOptions) -> Table:
    """The header now; the rows as they are read (``Table.rows`` is consumed once): a file is never held whole."""
    if options.sheet:
        raise fail(file, "--sheet applies to Excel workbooks (.xlsx) only")
    try:
        encoding = declared_encoding(path, options.encoding) if options.encoding else detect(path)
    except EncodingProblem as exc:
        raise fail(file, exc.reason, row=exc.row) from None
    # The csv module refuses a field over 128 KiB *before* counting its row; read any field the file size
    # allows, so that a too long value is reported on its row and column by the length checks.
    csv.field_size_limit(max(csv.field_size_limit(), bounds.MAX_FILE_BYTES))
    fh = open(path, encoding=encoding.codec, newline="")
    try:
        first_line = fh.readline()
        if not first_line:
            raise fail(file, "the file is empty", row=1)
        delimiter = sniff_delimiter(first_line.rstrip("\r\n"), kind)
        reader = csv.reader(itertools.chain([first_line], fh), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise fail(file, "the file is empty", row=1) from None
        except csv.Error as exc:
            raise fail(file, f"not a CSV file: {exc}", row=1) from None
        names = [header_name(h) for h in header]
        if not any(names):
            raise fail(file, "the first row must hold the column names", row=1)
        check_header(file, kind, names, lambda i: str(i + 1))
    except BaseException:
        fh.close()
        raise
    problems = Problems(file)
    separated = "" if delimiter == "," else \
        f", columns separated by {'tab' if delimiter == chr(9) else repr(delimiter)}"
    def again() -> Iterator[Row]:
        again_fh = open(path, encoding=encoding.codec, newline="")
        again_reader = csv.reader(again_fh, delimiter=delimiter)
        next(again_reader, None)  # the header, checked above
        return csv_rows(again_fh, again_reader, file, names, delimiter, Problems(file))

    return Table(file, kind, [n for n in names if n], csv_rows(fh, reader, file, names, delimiter, problems),
                 f"CSV, {encoding.read_as}{separated}", problems, again=again)


def csv_rows(fh: Any, reader: Any, file: str, names: list[str], delimiter: str,
              problems: Problems) -> Iterator[Row]:
    """The data rows of a CSV file, one at a time; closes ``fh`` at the end."""
    record = 1
    try:
        for cells in reader:
            record += 1
            if record - 1 > bounds.MAX_ROWS:  # record 1 is the header
                raise fail(file, f"the file has more than {bounds.MAX_ROWS} data rows (besides the header); split it")
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


