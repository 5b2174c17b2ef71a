"""How billed members reach their QuickBooks customers: which customers a run must read
(:func:`customers_needed`), the link table or Bill Info name of each (:func:`resolve_customers`), and members whose
customer is gone in QuickBooks, held back with a problem (:func:`customers_gone`, :func:`hold_back`,
:func:`customer_gone_problem`). Pure functions over :class:`~booksync.sync.work.Work` and a
:class:`~booksync.domain.QBSnapshot`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar

from booksync.domain import Kind, Problem, QBSnapshot
from booksync.records import LinkRecord, MemberRecord, PaymentRecord, SaleRecord
from booksync.fields import FieldFitter, Limits
from booksync.sync.labels import customer_name, member_label
from booksync.sync.work import Work


def customers_needed(work: Work, limits: Limits) -> tuple[set[str], set[str]]:
    """What a run must read of QuickBooks' customers and names, as (ListIDs, names): the customers linked to
    the members it bills or changes; for a member without a link its Bill Info name and the name its new
    customer would get; for a changed member the name it may be renamed to (whether another customer, vendor or
    employee holds it). Follows the size of the run, not of the company (docs/performance.md, fifth session)."""
    fit = FieldFitter(limits)  # thrown away: the planner records the adjustments
    ids: set[str] = set()
    names: set[str] = set()
    for member in work.billed_members():
        link = work.links.get((Kind.CUSTOMER.value, member.id))
        if link is not None:
            ids.add(link.remote_id)
            continue
        if member.qb_customer:
            names.add(member.qb_customer)
        names.add(customer_name(fit, member, limits))
    for member in work.changed_members:
        link = work.links.get((Kind.CUSTOMER.value, member.id))
        name = customer_name(fit, member, limits)
        if link is not None:
            ids.add(link.remote_id)
            written = json.loads(link.written).get("name") if link.written else None
            if {name.casefold()} == {(n or "").casefold() for n in (link.qb_name, written or link.qb_name)}:
                continue  # not renamed (the check of corrections._plan_customer_mods is not reached)
        names.add(name)
    return ids, names

@dataclass
class CustomerResolution:
    """How each billed member reaches a QuickBooks customer."""

    linked: dict[int, str] = field(default_factory=dict)
    """member id → ListID, from the link table or the member's Bill Info."""
    new_links: dict[int, tuple[str, str]] = field(default_factory=dict)
    """member id → (ListID, name) found through Bill Info this run (recorded when the run applies)."""
    missing: list[MemberRecord] = field(default_factory=list)
    """Members with no customer: the question is whether to create them."""
    problems: list[Problem] = field(default_factory=list)


def resolve_customers(work: Work, snapshot: QBSnapshot) -> CustomerResolution:
    """Find the customer of every billed member: the link table first, then the Bill Info name."""
    result = CustomerResolution()
    by_id = {c.list_id: c for c in snapshot.customers}
    by_name = {c.full_name.casefold(): c for c in snapshot.customers}
    taken = {link.remote_id: local for (kind, local), link in work.links.items() if kind == Kind.CUSTOMER.value}
    for member in work.billed_members():
        link = work.links.get((Kind.CUSTOMER.value, member.id))
        if link is not None and link.remote_id in by_id:
            result.linked[member.id] = link.remote_id
            continue
        if link is not None:
            result.problems.append(Problem(
                "customer-gone", member_label(member),
                f"was synchronized to a QuickBooks customer (ListID {link.remote_id}) that no longer exists",
                f"link the member again: booksync members map {member.number} \"Customer name\"",
                "link the member again on its Bill Info tab"))
            continue
        if member.qb_customer:
            customer = by_name.get(member.qb_customer.casefold())
            if customer is None:
                result.problems.append(Problem(
                    "bill-info-unknown", member_label(member),
                    f"Bill Info names QuickBooks customer \"{member.qb_customer}\", which does not exist",
                    f"correct it: booksync members map {member.number} \"Customer name\"",
                    "choose its customer on the member's Bill Info tab"))
            elif customer.list_id in taken and taken[customer.list_id] != member.id:
                result.problems.append(Problem(
                    "customer-taken", member_label(member),
                    f"Bill Info names QuickBooks customer \"{customer.full_name}\", already linked to another member",
                    "give each member its own customer; deduplicate the members first",
                    "give each member its own customer on its Bill Info tab; deduplicate the members first"))
            else:
                result.linked[member.id] = customer.list_id
                result.new_links[member.id] = (customer.list_id, customer.full_name)
            continue
        result.missing.append(member)
    return result


def customers_gone(work: Work, snapshot: QBSnapshot) -> list[tuple[MemberRecord, LinkRecord]]:
    """(member, link) of each member this run bills or changes whose linked QuickBooks customer QuickBooks no
    longer has (deleted, or merged into another customer, there). ``snapshot`` holds the customers the run
    read (:func:`customers_needed`)."""
    present = {c.list_id for c in snapshot.customers}
    members = {m.id: m for m in work.billed_members()}
    members.update({m.id: m for m in work.changed_members})
    out = []
    for member in sorted(members.values(), key=lambda m: m.number):
        link = work.links.get((Kind.CUSTOMER.value, member.id))
        if link is not None and link.remote_id and link.remote_id not in present:
            out.append((member, link))
    return out


_Billed = TypeVar("_Billed", SaleRecord, PaymentRecord)


def hold_back(work: Work, member_ids: set[int]) -> int:
    """Take every record of ``member_ids`` out of ``work``: the run plans nothing for them, and they stay
    outstanding (the change marks' table) for the next run. Returns how many records were held back."""
    held = 0

    def keep(records: list[_Billed]) -> list[_Billed]:
        nonlocal held
        kept = [r for r in records if r.member_id not in member_ids]
        held += len(records) - len(kept)
        return kept

    for name in ("invoices", "credit_memos", "payments", "changed_invoices", "changed_credit_memos",
                 "changed_payments", "deleted_payments", "linked_payments_touching"):
        setattr(work, name, keep(getattr(work, name)))
    before = len(work.changed_members)
    work.changed_members = [m for m in work.changed_members if m.id not in member_ids]
    held += before - len(work.changed_members)
    if work.source is not None:
        held += work.source.drop_members(member_ids)
    return held


def customer_gone_problem(member: MemberRecord, link: LinkRecord, held: int) -> Problem:
    """The problem a run reports for a member whose QuickBooks customer is gone: which member, which customer,
    what to do."""
    name = f"\"{link.qb_name}\" " if link.qb_name else ""
    return Problem(
        "customer-gone", member_label(member),
        f"its QuickBooks customer {name}(ListID {link.remote_id}) was deleted or merged into another customer in "
        f"QuickBooks; its changes ({held} record(s)) were held back, the rest of the run went ahead",
        f"link the member to the customer that now holds its transactions: booksync members map {member.number} "
        "\"Customer name\" (or restore the customer in QuickBooks), then synchronize again",
        "choose the customer that now holds its transactions on the member's Bill Info tab (or restore the "
        "customer in QuickBooks), then synchronize again")
