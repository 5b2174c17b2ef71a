"""The layout of each kind of record as a source hands it to the checks: its columns (names, types, which
are required, the most characters the billing store keeps) and rows of text by column name.

A file's header names these columns (docs/import.md lists them); a push source that is not a file (``payments
edit``, an API) builds the same :class:`Row` values. Kinds are the import names of
:data:`booksync.kinds.IMPORT_KINDS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from booksync.kinds import IMPORT_KINDS
from booksync.sources.report import Problems
from booksync.store.models import CreditMemo, GLAccount, Invoice, Member, Payment, SalesReceipt

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
    "sales-receipts": (Column("number", "id", True, length=_len(SalesReceipt, "number")),
                       Column("member", "id", True, length=_len(Member, "number")),
                       Column("date", "date", True), Column("memo"), Column("total", "money"),
                       Column("method", length=_len(SalesReceipt, "method")),
                       Column("reference", length=_len(SalesReceipt, "reference")),
                       Column("deposit_account", "id", True, length=_len(GLAccount, "number")),
                       Column("gl_account", "id", True, record=False, length=_len(GLAccount, "number")),
                       Column("description", record=False), Column("quantity", "quantity", record=False),
                       Column("rate", "quantity", record=False), Column("amount", "money", record=False)),
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

assert tuple(SPECS) == IMPORT_KINDS, "a layout per import kind, in the table of kinds' order"


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
    problems: Problems
    this: str = "this file"
    """How messages name what is imported ("this file"; "this edit" for an editing command)."""
    again: Callable[[], Iterable[Row]] | None = None
    """The rows read once more from the start (a second pass, whose problems are not reported again), for the
    checks that must know the whole file before they judge a row (payments: which receipts the file holds);
    None when the rows cannot be read again."""


