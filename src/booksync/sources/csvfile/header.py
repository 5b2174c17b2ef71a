"""The header row a file starts with: column names as the checks know them, and the refusal of a header
with a required column missing, an unknown column, or a column twice (docs/import.md).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from booksync.sources.layouts import COLUMNS, REQUIRED
from booksync.sources.report import ImportFailed, ImportProblem


def header_name(raw: Any) -> str:
    """A header cell as a column name: lower case, spaces and hyphens as underscores, no BOM."""
    name = str(raw if raw is not None else "").replace("\ufeff", "").replace("\u200b", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", name)


def check_header(file: str, kind: str, names: list[str], position: Callable[[int], str]) -> None:
    """Raise :class:`ImportFailed` for missing required, unknown or repeated columns. ``names`` are the
    header cells as :func:`header_name` reads them; ``position(i)`` names the i-th as the file shows it
    ("3" in a CSV file, "C" in a workbook)."""
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


