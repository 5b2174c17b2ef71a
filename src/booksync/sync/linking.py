"""The link table follows every operation QuickBooks carried out (:class:`LinkRecorder`): a record added gets its
link row, a changed one its new version and what was written, a voided or deleted one says so, an adjustment
records the closed original as handled; a customer's name goes to its member's Bill Info. The change marks follow
(records written completely leave ``sync_outstanding``; :func:`booksync.sync.marks.mark_outstanding`).

Used by the apply step (:mod:`booksync.sync.apply`) and by settling interrupted runs (:mod:`booksync.sync.settle`).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from booksync.domain import Action, Kind, Operation
from booksync.store.links import link_key
from booksync.store.models import BILLING_MODELS, JournalEntry, Link, Member, _now
from booksync.sync.marks import mark_outstanding
from booksync.sync.references import References, Versions


class LinkRecorder:
    """Makes the link table follow the done operations of one run (see the module docstring)."""

    def __init__(self, run_id: str, refs: References, versions: Versions) -> None:
        self.run_id = run_id
        self.refs = refs
        self.versions = versions
        self._cache: dict[tuple[str, int], Link] | None = None
        self._new_links: dict[tuple[str, int], dict[str, Any]] = {}
        """Links the current message creates, inserted together by :meth:`insert_new`."""
        self.marks_pending: set[tuple[str, int]] = set()
        self.marks_settled: set[tuple[str, int]] = set()

    def flush_marks(self, session: Session, key: str) -> None:
        """Records left half done stay outstanding; those written completely leave the outstanding set."""
        mark_outstanding(session, key, self.marks_pending, self.marks_settled)
        self.marks_pending, self.marks_settled = set(), set()

    def begin_message(self, session: Session, key: str, batch: list[Operation]) -> None:
        """One query for the message's links, and no flush per operation (the benchmark's finding 4)."""
        self._cache = self._links_of(session, key, batch)

    def end_message(self, session: Session, key: str) -> None:
        """Insert the message's new links and update the change marks (not committed)."""
        self._cache = None
        self.insert_new(session)
        self.flush_marks(session, key)

    def record_bill_info(self, session: Session, key: str, links: dict[int, tuple[str, str]]) -> None:
        """Link the members whose customer was found through their Bill Info this run, and commit."""
        for member_id, (list_id, name) in links.items():
            member = session.get(Member, member_id)
            session.add(Link(company_key=key, kind=Kind.CUSTOMER.value, local_id=member_id, remote_id=list_id,
                             local_key=member.number if member is not None else str(member_id),
                             qb_name=name, run_id=self.run_id,
                             source_updated_at=member.updated_at if member is not None else None))
        session.commit()

    @staticmethod
    def _links_of(session: Session, key: str, batch: list[Operation]) -> dict[tuple[str, int], Link]:
        kinds: dict[str, list[int]] = {}
        for op in batch:
            kind = f"adjustment_{op.kind.value}" if op.link_mode == "adjustment" else op.kind.value
            kinds.setdefault(kind, []).append(op.local_id)
        out: dict[tuple[str, int], Link] = {}
        for kind, ids in kinds.items():
            stmt = select(Link).where(Link.company_key == key, Link.kind == kind, Link.local_id.in_(ids))
            out.update({(link.kind, link.local_id): link for link in session.scalars(stmt)})
        return out

    def record(self, session: Session, key: str, entry: JournalEntry, remote_id: str, edit_sequence: str,
                     name: str = "") -> None:
        """Make the link table follow a done operation, described by its journal entry."""
        if edit_sequence:
            self.versions.keep(remote_id, edit_sequence)
        kind = Kind(entry.kind)
        if entry.action == Action.ADD.value and kind in (Kind.ITEM, Kind.PAYMENT_METHOD):
            self.refs.resolved[(entry.kind, entry.local_id)] = remote_id  # no link rows: few, kept for the run
        if kind in (Kind.ITEM, Kind.PAYMENT_METHOD, Kind.DEPOSIT):
            return
        link_kind = f"adjustment_{entry.kind}" if entry.link_mode == "adjustment" else entry.kind
        cache = self._cache
        if (link_kind, entry.local_id) in self._new_links:  # a second operation on it in one message
            self.insert_new(session)
            cache = None
        if cache is not None:
            link = cache.get((link_kind, entry.local_id))
            if link is None and entry.link_mode == "full":
                self._new_link(session, key, kind, link_kind, entry, remote_id, edit_sequence, name)
                return
        else:
            link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == link_kind,
                                                     Link.local_id == entry.local_id))
            if link is not None and self._cache is not None:  # a later operation finds it there
                self._cache[(link_kind, entry.local_id)] = link
        if link is None:
            link = Link(company_key=key, kind=link_kind, local_id=entry.local_id,
                        local_key=link_key(link_kind, entry.local_id, entry.number))
            session.add(link)
            if cache is not None:
                cache[(link_kind, entry.local_id)] = link
        marked = (link_kind, entry.local_id)
        if entry.link_mode == "version":
            self.marks_pending.add(marked)
            # Applications released for a moment: until the payment's final ReceivePaymentMod is recorded,
            # the link says "released", so a run that stops in between plans the payment again.
            link.edit_sequence, link.fingerprint = edit_sequence, "released"
            link.source_updated_at = dt.datetime(1970, 1, 1)
            return
        self.marks_settled.add(marked)
        link.remote_id = remote_id or link.remote_id
        link.edit_sequence = edit_sequence
        link.run_id = entry.run_id
        if entry.link_mode in ("void", "deleted"):
            link.fingerprint, link.written = entry.link_mode, ""
            link.source_updated_at = planned_stamp(session, kind, entry)
            return
        if entry.link_mode == "adjustment":
            data = json.loads(entry.written)
            link.fingerprint, link.written = entry.fingerprint, data["payload"]
            link.qb_name, link.source_updated_at = entry.number, _now()
            self.marks_settled.add((data["related"][0], data["related"][1]))
            self._follow_original(session, key, data["related"], entry.source_updated_at)
            return
        for attr, value in self._full_link(session, kind, entry, link.remote_id, edit_sequence, name).items():
            setattr(link, attr, value)

    def _full_link(self, session: Session, kind: Kind, entry: Any, remote_id: str, edit_sequence: str,
                   name: str) -> dict[str, Any]:
        """What the link of a record written by a "full" operation records (the member's Bill Info follows a
        customer's name)."""
        planned = planned_stamp(session, kind, entry)
        if kind is Kind.CUSTOMER and name:
            planned = self._follow_bill_info(session, entry.local_id, name, planned)
        return dict(remote_id=remote_id, edit_sequence=edit_sequence, run_id=entry.run_id,
                    qb_name=name or entry.number, fingerprint=entry.fingerprint, written=entry.written,
                    source_updated_at=planned)

    def _new_link(self, session: Session, key: str, kind: Kind, link_kind: str, entry: Any, remote_id: str,
                  edit_sequence: str, name: str) -> None:
        """A record added by a "full" operation gets its link row (:meth:`_full_link`), inserted with the
        message's other new links by one Core statement: ORM objects and their flush were a sixth of a first
        sync (benchmarks/scale.py, phase ``sync``, profiled at 10k)."""
        self.marks_settled.add((link_kind, entry.local_id))
        self._new_links[(link_kind, entry.local_id)] = dict(
            company_key=key, kind=link_kind, local_id=entry.local_id, synced_at=_now(),
            local_key=link_key(link_kind, entry.local_id, entry.number),
            **self._full_link(session, kind, entry, remote_id, edit_sequence, name))

    def insert_new(self, session: Session) -> None:
        if self._new_links:
            session.execute(insert(Link.__table__), list(self._new_links.values()))
            self._new_links = {}

    @staticmethod
    def _follow_bill_info(session: Session, member_id: int, name: str, planned: dt.datetime | None) -> Any:
        """The member's Bill Info follows its customer's name; returns the ``updated_at`` the link records.

        When the member is as planned, Bill Info and both timestamps move together, so the member is not
        seen as changed. When it changed since (renamed while the run waited), Bill Info is set without
        touching ``updated_at``: the change stays visible to the next run."""
        now = _now()
        moved = session.execute(_BILL_INFO_AS_PLANNED, {"mid": member_id, "planned": planned, "bill_to": name,
                                                        "now": now}).rowcount
        if moved:
            stamp = now
        else:
            session.execute(_BILL_INFO_ONLY, {"mid": member_id, "bill_to": name})
            stamp = planned
        cached = session.identity_map.get(identity_key(Member, member_id))
        if cached is not None:
            session.expire(cached, ["qb_customer", "updated_at"])
        return stamp

    @staticmethod
    def _follow_original(session: Session, key: str, related: list, planned: dt.datetime | None) -> None:
        """After an adjustment, the closed original's link records the billing version as handled: the one
        planned (``planned``; the row as it is now for journal rows from before migration 0004)."""
        kind, local_id, fp, written = related
        link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == kind,
                                                 Link.local_id == local_id))
        if planned is None:
            model = BILLING_MODELS[Kind(kind)]
            record = session.get(model, local_id)
            planned = record.updated_at if record is not None else None
        if link is not None and planned is not None:
            link.fingerprint, link.written = fp, written or link.written
            link.source_updated_at = planned


_members = Member.__table__
# Built once: a first sync runs them for every customer it creates.
_BILL_INFO_AS_PLANNED = (update(_members).where(_members.c.id == bindparam("mid"),
                                                _members.c.updated_at == bindparam("planned"),
                                                _members.c.qb_customer != bindparam("bill_to"))
                         .values(qb_customer=bindparam("bill_to"), updated_at=bindparam("now")))
_BILL_INFO_ONLY = (update(_members).where(_members.c.id == bindparam("mid"),
                                          _members.c.qb_customer != bindparam("bill_to"))
                   .values(qb_customer=bindparam("bill_to"), updated_at=_members.c.updated_at))


def planned_stamp(session: Session, kind: Kind, entry: Any) -> dt.datetime | None:
    """The billing row's ``updated_at`` the operation of journal ``entry`` was planned from. The version written
    is the one planned: a change made to the billing row since (while the run waited for its confirmation, or
    before an interrupted run was settled) is still a change."""
    if entry.source_updated_at is not None:
        return entry.source_updated_at
    # journal rows from before migration 0004: the row as it is now
    model = BILLING_MODELS[kind]
    record = session.get(model, entry.local_id)
    return record.updated_at if record is not None else None
