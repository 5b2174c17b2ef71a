"""The link table's identity rule (issue 17 item 11).

A link belongs to a billing record by that record's own identity, ``(kind, local_key)``: the member
number, the invoice or credit memo number, the receipt number. The billing row's id (``local_id``) is
only where that record is now: a row deleted outside booksync whose id a new record then took must not
hand the old record's QuickBooks customer or transaction to the new one. :func:`anchor_links` makes
``local_id`` follow ``local_key`` before a sync (and before ``reconcile`` compares), and marks the links
whose record is gone (``local_id`` below zero); :func:`gone_links` lists those without writing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, aliased

from booksync.domain import Kind
from booksync.kinds import BILLED_TRANSACTIONS, VOIDABLE, spec
from booksync.store.models import BILLING_MODELS, Link, Member

RECORDS: dict[str, Any] = {kind.value: model for kind, model in BILLING_MODELS.items()}
"""Link kinds whose records are billing rows, and their models (adjustment links are booksync's own), from
:data:`booksync.store.models.BILLING_MODELS`."""

LABELS = {"customer": "member", **{kind.value: spec(kind).label for kind in BILLED_TRANSACTIONS}}


def link_key(kind: str, local_id: int, number: str) -> str:
    """The ``local_key`` of a new link: the record's number, or an adjustment's own id."""
    return number if kind in RECORDS else str(local_id)


@dataclass
class GoneRecord:
    """A link whose billing record is no longer in the billing store.

    Attributes:
        kind: the link's kind ("customer", "invoice", "credit_memo", "payment").
        number: member number, invoice/credit memo number or receipt number.
        remote_id: its QuickBooks ListID or TxnID.
        qb_name: the customer's name in QuickBooks (customers), or the RefNumber written.
        state: "" for a record still in QuickBooks as written, "void" or "deleted" when booksync already
            voided or deleted it there.
    """

    kind: str
    number: str
    remote_id: str
    qb_name: str
    state: str = ""

    @property
    def label(self) -> str:
        return f"{LABELS.get(self.kind, self.kind)} {self.number}"

    def web_fix(self) -> str:
        """What to do, for the web interface (no command-line flags)."""
        if self.kind == "customer":
            return (f"at the command line, booksync members delete {self.number} (it can also make the customer "
                    "inactive); or import the member again with the same number")
        return self.advice()[1] if not self.state else "nothing to do"

    def advice(self) -> tuple[str, str]:
        """(what the user is told, what to do at the command line)."""
        if self.kind == "customer":
            return (f"is no longer in the billing store, but QuickBooks customer \"{self.qb_name}\" is linked to it; "
                    "booksync leaves that customer alone and will not give it to another member",
                    f"booksync members delete {self.number} (add --make-inactive-in-quickbooks to make the "
                    "customer inactive), or import the member again with the same number")
        if self.state in ("void", "deleted"):
            return ("is no longer in the billing store (booksync had already "
                    f"{'voided' if self.state == 'void' else 'deleted'} it in QuickBooks)", "nothing to do")
        command = spec(self.kind).import_name
        # One whole command per choice, so that each can be pasted (cli/common.copyable adds --home).
        take_out = (f"booksync {command} void {self.number} (or booksync {command} delete {self.number})"
                    if Kind(self.kind) in VOIDABLE else f"booksync {command} delete {self.number}")
        return ("is no longer in the billing store; booksync leaves it in QuickBooks as it was written",
                f"import it again with the same number, then {take_out} to take it out of QuickBooks too")


def _mismatched(session: Session, key: str, kind: str) -> list[Link]:
    """Links of ``kind`` whose row id holds no record or another record: ids first, from the covering index
    ``links_anchor`` alone (one pass over the company's links), then those few links whole."""
    model = RECORDS[kind]
    row = aliased(model)
    ids = list(session.scalars(select(Link.id).outerjoin(row, row.id == Link.local_id)
                               .where(Link.company_key == key, Link.kind == kind)
                               .where((row.id.is_(None)) | (row.number != Link.local_key))))
    return list(session.scalars(select(Link).where(Link.id.in_(ids)))) if ids else []


def gone_links(session: Session, key: str) -> list[GoneRecord]:
    """Links of company ``key`` whose billing record is gone (read only: a link whose record merely moved to
    another row id is not listed). One indexed pass over the company's links per kind."""
    out = []
    for kind, model in RECORDS.items():
        for link in _mismatched(session, key, kind):
            if session.scalar(select(model.id).where(model.number == link.local_key)) is None:
                out.append(_gone(link))
    return out


def _gone(link: Link) -> GoneRecord:
    state = link.fingerprint if link.fingerprint in ("void", "deleted") else ""
    return GoneRecord(link.kind, link.local_key, link.remote_id, link.qb_name, state)


def anchor_links(session: Session, key: str) -> list[GoneRecord]:
    """Make every link of company ``key`` point at the row that now holds its record (by ``local_key``);
    a link whose record is gone gets ``local_id = -(its last row id)`` so that no row joins to it. Returns
    the gone records. Flushes; the caller commits."""
    gone: list[GoneRecord] = []
    for kind, model in RECORDS.items():
        moves: list[tuple[Link, int | None]] = []
        for link in _mismatched(session, key, kind):
            now = session.scalar(select(model.id).where(model.number == link.local_key))
            if now is None:
                gone.append(_gone(link))
                if link.local_id > 0:
                    moves.append((link, None))
            elif now != link.local_id:
                moves.append((link, now))
        if not moves:
            continue
        taken = set(session.scalars(select(Link.local_id).where(Link.company_key == key, Link.kind == kind,
                                                                Link.local_id < 0)))
        for link, _ in moves:  # out of the way first: two records may swap rows
            parked = -abs(link.local_id) if link.local_id and -abs(link.local_id) not in taken else -(10**9 + link.id)
            taken.add(parked)
            session.execute(update(Link).where(Link.id == link.id).values(local_id=parked))
        for link, now in moves:
            if now is not None:
                session.execute(update(Link).where(Link.id == link.id).values(local_id=now))
        session.expire_all()
    return gone


def written_customer(link: Link) -> tuple[int | None, str]:
    """(member row id, customer name) a transaction link was written for, from its ``written`` JSON."""
    try:
        customer = json.loads(link.written).get("customer") or {}
    except (ValueError, AttributeError):
        return None, ""
    return customer.get("id"), customer.get("name", "")


def transactions_written_for(session: Session, key: str, member_id: int, customer_name: str) -> list[Link]:
    """Links of the invoices, credit memos and payments booksync wrote for the member whose row id was
    ``member_id`` and whose customer is named ``customer_name`` (compared without case), still in QuickBooks
    (not deleted there by booksync)."""
    out = []
    pattern = f'%"customer": {{"id": {member_id}, %'
    for link in session.scalars(select(Link).where(Link.company_key == key, Link.kind.in_(
            (*(k.value for k in BILLED_TRANSACTIONS), "adjustment_invoice", "adjustment_credit_memo")),
            Link.fingerprint != "deleted", Link.written.like(pattern)).order_by(Link.kind, Link.local_key)):
        written_id, name = written_customer(link)
        if written_id == member_id and name.casefold() == customer_name.casefold():
            out.append(link)
    return out


@dataclass
class MemberDeletion:
    """What ``booksync members delete NUMBER`` finds (:func:`member_deletion`).

    Attributes:
        number: the member number asked for.
        member: the member's row, or None when it is already gone from the billing store.
        link: the link to its QuickBooks customer in this company, or None.
        blockers: the member's transactions still in QuickBooks or still to synchronize, as
            "invoice INV10009 (in QuickBooks)"; deletion is refused while there are any.
        removable: rows of the member's transactions QuickBooks does not hold (voided or deleted in the
            billing store, never written or deleted in QuickBooks by booksync): deleted with the member.
    """

    number: str
    member: Member | None
    link: Link | None
    blockers: list[str]
    removable: list[Any]

    @property
    def name(self) -> str:
        if self.member is not None:
            return f"member {self.number} {self.member.name}"
        return f"member {self.number}" + (f" (QuickBooks customer \"{self.link.qb_name}\")" if self.link else "")


def member_deletion(session: Session, key: str, number: str) -> MemberDeletion:
    """Find member ``number``, its customer link in company ``key`` and what stands in the way of deleting
    it: its invoices, credit memos and payments that booksync wrote to QuickBooks (by the billing store, or by
    what the links say was written for its customer when the rows are gone) or that are still to synchronize."""
    anchor_links(session, key)
    member = session.scalar(select(Member).where(Member.number == number))
    link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == "customer",
                                             Link.local_key == number))
    blockers: list[str] = []
    removable: list[Any] = []
    seen: set[tuple[str, str]] = set()
    if member is not None:
        for kind, model in ((k.value, BILLING_MODELS[k]) for k in BILLED_TRANSACTIONS):
            for row in session.scalars(select(model).where(model.member_id == member.id).order_by(model.number)):
                written = session.scalar(select(Link).where(Link.company_key == key, Link.kind == kind,
                                                            Link.local_key == row.number))
                seen.add((kind, row.number))
                if written is not None and written.fingerprint != "deleted":
                    blockers.append(f"{LABELS[kind]} {row.number} (in QuickBooks"
                                    + (", voided)" if written.fingerprint == "void" else ")"))
                elif written is None and row.status == "open":
                    blockers.append(f"{LABELS[kind]} {row.number} (not yet synchronized)")
                else:
                    removable.append(row)
    if link is not None:
        for txn in transactions_written_for(session, key, abs(link.local_id), link.qb_name):
            if (txn.kind, txn.local_key) not in seen and txn.kind in LABELS:
                blockers.append(f"{LABELS[txn.kind]} {txn.local_key} (in QuickBooks; gone from the billing store)")
    return MemberDeletion(number, member, link, blockers, removable)


def delete_member(session: Session, found: MemberDeletion) -> None:
    """Delete the member's row, the rows in ``found.removable`` and its customer link (and their links).
    The caller has checked ``found.blockers`` is empty; commits."""
    for row in found.removable:
        kind = next(k.value for k, model in BILLING_MODELS.items() if type(row) is model)
        session.execute(delete(Link).where(Link.kind == kind, Link.local_key == row.number))
        session.delete(row)
    if found.link is not None:
        session.delete(found.link)
    if found.member is not None:
        session.execute(delete(Link).where(Link.kind == "customer", Link.local_key == found.number))
        session.delete(found.member)
    session.commit()
