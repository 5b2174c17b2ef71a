"""The per-kind checks of imported records, and their upsert: each kind's rows are checked (values, the
rows of one record against each other, the records against the store), then, when nothing is wrong, each
record is added or updated through the store's write path (:mod:`booksync.store.write`).

Every push source goes through them (:mod:`booksync.sources.port`); :data:`CHECKS` has one per import name.
"""
from __future__ import annotations

from booksync.kinds import IMPORT_KINDS
from booksync.sources.checks import accounts, members, payments, receipts, sales

CHECKS: dict[str, sales.Check] = {
    "members": members.members, "gl-accounts": accounts.gl_accounts, "invoices": sales.sales("invoices"),
    "credit-memos": sales.sales("credit-memos"), "sales-receipts": receipts.sales_receipts,
    "payments": payments.payments}
"""The check of each import name (:data:`booksync.kinds.IMPORT_KINDS`): ``check(session, reader, result)``
reports problems through ``reader`` and writes (does not commit) only while there is none."""

assert tuple(CHECKS) == IMPORT_KINDS, "a check per import kind"
