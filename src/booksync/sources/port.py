"""The source port: what the sync engine needs from a billing source, and how a source delivers it.

It mirrors the books port (:mod:`booksync.books.port`), which says what the engine needs from an accounting
system. A billing source is where members and money records come from: a membership system's export files,
later its API (issue 23: Wild Apricot), a payment processor.

Two ways a source can serve the engine, one Protocol each:

* :class:`BillingSource` (pull): the engine asks it for members, G/L accounts, transactions by kind, what
  changed since a mark, and each record's stable identity. **Today the only implementation is the billing
  store itself, and the engine reads it directly, not through this Protocol** (``store/rows.py`` for the
  records to plan, ``sync/marks.py`` ``change_candidates`` for the change marks, ``store/links.py`` for
  identities); the Protocol records that contract in one place, so that a source the engine reads without
  a copy in the store is an addition, not surgery.
* :class:`PushSource` (push): a source that writes its records into the billing store, through the per-kind
  checks (``sources/checks/``: validate and upsert) and the store's write path (``store/write.py``, which
  keeps the ``updated_at`` invariant the change marks rely on). The engine then reads the store as above and
  never knows where a record came from. **The CSV/XLSX importer is a push source**
  (:class:`booksync.sources.csvfile.importer.CsvFileSource`); so is ``booksync payments edit``, which hands
  one payment to the same checks (:func:`booksync.sources.run.import_rows`).

Stable identities: a record is known by its kind and its own number (member number, invoice or credit memo
number, payment receipt number, G/L account number), never by a row id: links are keyed by that number
(``Link.local_key``; docs/architecture.md "Identity of a link"). A source must give each record the same
number every time it delivers it; delivering a number again updates the record.

Adding a source (issue 23): a folder beside ``csvfile/`` (``sources/wildapricot/``). As a push source it
fetches records, turns each into a text row of the kind's layout (:mod:`booksync.sources.layouts`: column
name → text as a file would hold it) and calls :func:`booksync.sources.run.import_rows`: the checks, the
all-or-nothing transaction, the report and the ``updated_at`` invariant come with it. Nothing else changes.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from booksync.domain import Kind
from booksync.records import GLAccountRecord, MemberRecord, PaymentRecord, SaleRecord


class BillingSource(Protocol):
    """What the sync engine needs to read from a billing source (the pull side).

    Records have the shapes planning reads (:mod:`booksync.records`: the billing store hands over its ORM
    models and the light rows of :mod:`booksync.store.rows`, tests literal rows). A record is known by its
    kind and ``number``; its ``id`` is the source's handle for it within the source (the billing store's row
    id), which other records use to name it (``member_id``, ``gl_account_id``, ``invoice_id``...). Money is
    ``Decimal`` with two places, dates ``datetime.date``, ``updated_at`` naive UTC ``datetime``.
    """

    def members(self, ids: Iterable[int] | None = None) -> Iterator[MemberRecord]:
        """Members, every one or those with these ids. ``qb_customer`` is the Bill Info (the QuickBooks
        customer's full name, "" when none)."""

    def gl_accounts(self) -> Iterator[GLAccountRecord]:
        """Every G/L account; ``type`` is one of :data:`booksync.account_rules.GL_TYPES`, ``qb_account`` its
        cross reference ("" when none)."""

    def transactions(self, kind: Kind, ids: Iterable[int] | None = None) -> Iterator[SaleRecord | PaymentRecord]:
        """Transactions of ``kind``, every one or those with these ids, in plan order (date, number, id):
        :class:`~booksync.records.SaleRecord` (with its lines) for ``Kind.INVOICE`` and ``Kind.CREDIT_MEMO``,
        :class:`~booksync.records.PaymentRecord` (with its applications) for ``Kind.PAYMENT`` (the kinds of
        :data:`booksync.kinds.BILLED_TRANSACTIONS`). ``status`` "void" or "deleted" records are included (the
        engine carries them as corrections). Raises ``KeyError`` for another kind."""

    def changed_since(self, mark: dt.datetime | None) -> dict[Kind, list[int]]:
        """The ids of the records of each kind (``Kind.CUSTOMER`` for members, and each billed transaction kind)
        whose ``updated_at`` is after ``mark`` (naive UTC), sorted; every record when ``mark`` is None. A record
        changed in any way (its lines or applications included) must be named; one written again unchanged must
        not (docs/architecture.md "Change marks"; the billing store keeps this through
        :mod:`booksync.store.write`)."""


class PushSource(Protocol):
    """A source that writes its records into the billing store (the push side); the engine reads the store.

    The CSV/XLSX importer implements it (:class:`booksync.sources.csvfile.importer.CsvFileSource`).
    """

    kinds: tuple[str, ...]
    """The import names it delivers, from :data:`booksync.kinds.IMPORT_KINDS` ("members", "gl-accounts",
    "invoices", "credit-memos", "payments")."""

    def deliver(self, session: Any, kind: str, where: Path | str) -> Any:
        """Write the records of ``kind`` found at ``where`` (a file, an address) into the billing store of
        ``session`` (a SQLAlchemy session), whole or not at all, through the per-kind checks.

        Returns an :class:`booksync.sources.report.ImportResult` (added, updated, unchanged, warnings).
        Raises :class:`booksync.sources.report.ImportFailed` with every problem (record, column, value,
        reason) when anything is refused; nothing was written then. Raises ``ValueError`` for a kind not in
        :attr:`kinds`."""
