"""Moving a home's records to a company's stable key.

booksync keys what it records about a QuickBooks company (links, runs, journal, change marks) by the company's
FileID (:func:`booksync.books.desktop.adapter.company_key`). Before, against a company that reported no FileID to a
CompanyQuery without OwnerID (real QuickBooks: private data extensions are returned only to their OwnerID), the
key was "company:" and the company's name, so renaming the company in QuickBooks orphaned every link. A home
whose records are under such a key adopts the stable key once (issue 17, item 15).
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from booksync.store.models import JournalEntry, Link, Outstanding, SyncMark, SyncRun

log = logging.getLogger(__name__)

LEGACY_PREFIX = "company:"
_TABLES = (Link.__table__, SyncRun.__table__, JournalEntry.__table__, Outstanding.__table__, SyncMark.__table__)


def adopt_company_key(session: Session, key: str, legacy_key: str) -> str:
    """Move every record under the home's name-based key to ``key``, when ``key`` has no links yet.

    The name-based key is ``legacy_key`` ("company:" and the company's current name) when links are under it,
    else the only name-based key with links (the company was renamed before the upgrade). Returns the key
    adopted ("" when none). Does not commit."""
    if not key or key.startswith(LEGACY_PREFIX):
        return ""
    if session.scalar(select(func.count()).select_from(Link).where(Link.company_key == key)):
        return ""
    keys = list(session.scalars(select(Link.company_key).where(Link.company_key.startswith(LEGACY_PREFIX)).distinct()))
    old = legacy_key if legacy_key in keys else keys[0] if len(keys) == 1 else ""
    if not old:
        if keys:
            log.warning("links are under several company names (%s); none adopted for %s", ", ".join(keys), key)
        return ""
    for table in _TABLES:
        session.execute(update(table).where(table.c.company_key == old).values(company_key=key))
    log.info("records under %r adopted by the company key %s", old, key)
    return old
