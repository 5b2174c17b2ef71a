"""What a run remembers of QuickBooks while it applies its plan: the ListIDs/TxnIDs of the records its operations
refer to (:class:`References`), and the latest versions (EditSequence/SyncToken) of the records it changes
(:class:`Versions`). Records created earlier in the run are read back from the link table per message, not held."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.books.port import BooksPort
from booksync.domain import Operation, Ref
from booksync.store.models import Link
from booksync.sync.load import chunks


class References:
    """ListIDs/TxnIDs for :class:`~booksync.domain.Ref` s: ``resolved`` holds those known when the plan was made
    and the items and payment methods the run adds (no link rows); :meth:`fetch` reads, before each message, those
    of the customers, invoices and credit memos created earlier in the run."""

    def __init__(self) -> None:
        self.resolved: dict[tuple[str, int], str] = {}
        self._fetched: dict[tuple[str, int], str] = {}
        """ListIDs/TxnIDs of the records the current message refers to, read from the link table."""

    def resolve(self, ref: Ref) -> str | None:
        if ref.remote_id:
            return ref.remote_id
        if ref.local_id is None:
            return None
        key = (ref.kind, ref.local_id)
        return self.resolved.get(key) or self._fetched.get(key)

    def fetch(self, session: Session, key: str, batch: list[Operation]) -> None:
        """Read from the link table the ListIDs/TxnIDs of the customers, invoices and credit memos the message
        refers to that were created earlier in this run (a million-record run does not hold them all)."""
        wanted: dict[str, set[int]] = {}
        for op in batch:
            payload = op.payload
            refs = [getattr(payload, "customer", None)]
            for app in getattr(payload, "applications", None) or ():
                refs += [app.invoice, *(credit.credit_memo for credit in app.credits)]
            for ref in refs:
                if isinstance(ref, Ref) and not ref.remote_id and ref.local_id is not None \
                        and (ref.kind, ref.local_id) not in self.resolved:
                    wanted.setdefault(ref.kind, set()).add(ref.local_id)
        self._fetched = {}
        for kind, ids in wanted.items():
            for chunk in chunks(sorted(ids)):
                stmt = select(Link.local_id, Link.remote_id).where(Link.company_key == key, Link.kind == kind,
                                                                  Link.local_id.in_(chunk))
                self._fetched.update({(kind, local_id): remote_id for local_id, remote_id in session.execute(stmt)
                                      if remote_id})


class Versions:
    """Latest EditSequence by ListID/TxnID, from the answers of this run. Before the plan is made (settling an
    interrupted run) every version is kept; afterwards only those a later operation of the plan changes
    (``targets``, filled while staging)."""

    def __init__(self) -> None:
        self.latest: dict[str, str] = {}
        self.targets: set[str] = set()
        """ListIDs/TxnIDs this run's plan changes: the only versions :attr:`latest` must keep."""
        self.planned = False

    def keep(self, remote_id: str, edit_sequence: str) -> None:
        """Remember the version a record has after this run changed it, when a later operation of the plan
        needs it (before the plan is made, every version is kept)."""
        if not self.planned or remote_id in self.targets:
            self.latest[remote_id] = edit_sequence

    def follow(self, port: BooksPort, kind: str, links: list[Any]) -> None:
        """Read the current versions of these documents from QuickBooks into their links (and into the
        versions this run sends with later Mods). One query; nothing when ``links`` is empty."""
        if not links:
            return
        found = port.versions(kind, sorted({link.remote_id for link in links}))
        for link in links:
            version = found.get(link.remote_id)
            if version:
                link.edit_sequence = version
                self.keep(link.remote_id, version)
