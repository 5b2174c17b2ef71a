"""What an import reports: each problem with its file, row, column, value and reason; the counts of what
was written; and the refusal that says nothing was written. Shared by every push source
(:mod:`booksync.sources.port`): a file import, ``payments edit``, a future API source.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_PROBLEMS = 50
"""Problems shown for one file; the rest are counted ("... and N more")."""
SHOWN_VALUE = 80
"""How many characters of a value a problem shows."""


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


class Problems:
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


def fail(file: str, reason: str, row: int = 0, column: str = "", value: str = "") -> ImportFailed:
    """The refusal of ``file`` for one problem (``row`` 0: the file as a whole), to raise."""
    return ImportFailed([ImportProblem(file, row, column, value, reason)])


