"""Checks and planning: from the billing records to synchronize, what QuickBooks holds,
and the link table, to the problems that stop a run and the ordered operations.

Pure functions over plain inputs (:class:`Work` and a :class:`~booksync.domain.QBSnapshot`);
nothing here reads a database or talks to QuickBooks. Checks run in the order
of DESIGN.md step 3: account cross references, customers, deposit accounts.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from booksync.account_rules import DEPOSIT_GL_TYPES, allowed_types, incompatibility, suggest
from booksync.domain import (Action, Address, ApplicationData, CreditData, CustomerData, ItemData, Kind, LineData,
                      PaymentData, PaymentMethodData, Plan, Problem, QBAccount, QBSnapshot, Ref, SalesData)
from booksync.fields import FieldFitter, Limits

GUID_NAMESPACE = uuid.UUID("6f1c3a52-9d1e-4f7b-8a2d-5b0c1e9a7d31")
METHOD_TYPES = {"cash": "Cash", "check": "Check", "ach": "ECheck", "e-check": "ECheck", "echeck": "ECheck",
                "credit card": "OtherCreditCard", "visa": "Visa", "mastercard": "MasterCard",
                "american express": "AmericanExpress", "discover": "Discover", "debit card": "DebitCard"}
UNMAPPED_HEADLINE = "You have {n} account(s) which do not have a matching QuickBooks account specified."


@dataclass
class Work:
    """The billing records one run looks at.

    Attributes:
        invoices, credit_memos, payments: records not yet in QuickBooks (store rows), when held in
            memory; empty when ``source`` reads them part by part.
        source: the records not yet in QuickBooks, read from the store part by part
            (:class:`booksync.store.rows.AddsSource`), or None when the lists above hold them.
        gl_accounts: every G/L account, by id.
        members: every member these records bill, by id.
        links: the link table rows that matter, by (kind, local_id): customers of
            these members, and invoices/credit memos the changed payments apply to.
        part_links: links of the invoices and credit memos the current part of payments to add applies to.
    """

    invoices: list[Any] = field(default_factory=list)
    credit_memos: list[Any] = field(default_factory=list)
    payments: list[Any] = field(default_factory=list)
    gl_accounts: dict[int, Any] = field(default_factory=dict)
    members: dict[int, Any] = field(default_factory=dict)
    links: dict[tuple[str, int], Any] = field(default_factory=dict)
    changed_invoices: list[Any] = field(default_factory=list)
    """Invoices in QuickBooks that changed, were voided or deleted in the billing store."""
    changed_credit_memos: list[Any] = field(default_factory=list)
    changed_payments: list[Any] = field(default_factory=list)
    """Payments in QuickBooks that changed (still open)."""
    deleted_payments: list[Any] = field(default_factory=list)
    changed_members: list[Any] = field(default_factory=list)
    """Members with a customer in QuickBooks whose details changed."""
    linked_payments_touching: list[Any] = field(default_factory=list)
    """Payments in QuickBooks applied to the changed invoices and credit memos."""
    source: Any = None
    part_links: dict[tuple[str, int], Any] = field(default_factory=dict)
    held_payments: list[Any] = field(default_factory=list)
    """Payments booksync took out of a deposit behind a placeholder line and has not put back yet (an
    interrupted or refused run): the next run puts them back even when nothing else changed."""
    held_deposits: dict[str, Any] = field(default_factory=dict)
    """The deposits holding those placeholder lines (:class:`booksync.domain.QBDeposit`), by the TxnID of
    the payment each line stands for."""

    def stamps(self) -> dict[tuple[str, int], dt.datetime]:
        """``updated_at`` of every record loaded, as loaded, by (kind, id): the versions the plan is made of.
        (Records to add carry theirs on their operations: :attr:`booksync.domain.Operation.stamp`.)"""
        out = {(Kind.INVOICE.value, r.id): r.updated_at for r in self.invoices + self.changed_invoices}
        out.update({(Kind.CREDIT_MEMO.value, r.id): r.updated_at for r in self.credit_memos
                    + self.changed_credit_memos})
        out.update({(Kind.PAYMENT.value, p.id): p.updated_at for p in self.payments + self.changed_payments
                    + self.deleted_payments + self.linked_payments_touching})
        out.update({(Kind.CUSTOMER.value, m.id): m.updated_at for m in list(self.members.values())
                    + self.changed_members})
        return out

    def count(self, kind: Kind) -> int:
        """How many records of ``kind`` (invoice, credit memo, payment) are to be added."""
        if self.source is not None:
            return self.source.count(kind.value)
        return len({Kind.INVOICE: self.invoices, Kind.CREDIT_MEMO: self.credit_memos,
                    Kind.PAYMENT: self.payments}[kind])

    def add_count(self) -> int:
        return sum(self.count(k) for k in (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.PAYMENT))

    def is_empty(self) -> bool:
        return not (self.add_count() or self.changed_invoices or self.changed_credit_memos
                    or self.changed_payments or self.deleted_payments or self.changed_members
                    or self.held_payments)

    def sales_to_add(self) -> Iterable[list[tuple[Kind, Any]]]:
        """Invoices, then credit memos, to add, by date and number, in parts."""
        if self.source is not None:
            for part in self.source.sales_parts():
                yield [(Kind(kind), record) for kind, record in part]
            return
        yield sorted([(Kind.INVOICE, i) for i in self.invoices] + [(Kind.CREDIT_MEMO, c) for c in self.credit_memos],
                     key=lambda kr: (kr[0] is Kind.CREDIT_MEMO, kr[1].date, kr[1].number))

    def payments_to_add(self) -> Iterable[list[Any]]:
        """Payments to add, by date and number, in parts; :attr:`part_links` follows each part."""
        if self.source is not None:
            for part, links in self.source.payment_parts():
                self.part_links = links
                yield part
            self.part_links = {}
            return
        yield sorted(self.payments, key=lambda p: (p.date, p.number))

    def link(self, kind: str, local_id: int) -> Any:
        """The link of a record in QuickBooks (a link row, or a :class:`~booksync.store.rows.LinkRow`), or None."""
        key = (kind, local_id)
        return self.links.get(key) or self.part_links.get(key)

    def open_sales(self) -> Iterable[tuple[Kind, Any]]:
        """Invoices and credit memos held in memory whose lines QuickBooks will receive: adds in the lists
        and open changed ones."""
        yield from ((Kind.INVOICE, i) for i in self.invoices)
        yield from ((Kind.CREDIT_MEMO, c) for c in self.credit_memos)
        yield from ((Kind.INVOICE, i) for i in self.changed_invoices if i.status == "open")
        yield from ((Kind.CREDIT_MEMO, c) for c in self.changed_credit_memos if c.status == "open")

    def open_payments(self) -> list[Any]:
        """Payments held in memory that QuickBooks will receive: adds in the lists and changed ones."""
        return self.payments + self.changed_payments

    def line_accounts(self) -> dict[int, int]:
        """G/L account id → lines using it, of every invoice and credit memo QuickBooks will receive."""
        used = dict(self.source.line_accounts()) if self.source is not None else {}
        for _, record in self.open_sales():
            for line in record.lines:
                used[line.gl_account_id] = used.get(line.gl_account_id, 0) + 1
        return used

    def deposit_accounts(self) -> dict[int, int]:
        """G/L account id → payments QuickBooks will receive that deposit to it."""
        used = dict(self.source.deposit_accounts()) if self.source is not None else {}
        for payment in self.open_payments():
            used[payment.deposit_account_id] = used.get(payment.deposit_account_id, 0) + 1
        return used

    def payments_depositing_to(self, gl_ids: set[int]) -> list[Any]:
        """Payments QuickBooks will receive that deposit to one of ``gl_ids``."""
        out = [p for p in self.open_payments() if p.deposit_account_id in gl_ids]
        if self.source is not None and gl_ids:
            out += self.source.payments_depositing_to(gl_ids)
        return out

    def payments_applying_to(self, invoice_ids: set[int]) -> list[Any]:
        """Payments to add that apply to one of ``invoice_ids``."""
        out = [p for p in self.payments if any(a.invoice_id in invoice_ids for a in p.applications)]
        if self.source is not None and invoice_ids:
            out += self.source.payments_applying_to(invoice_ids)
        return out

    def methods_used(self) -> set[str]:
        """Payment methods of the payments QuickBooks will receive."""
        used = {p.method for p in self.open_payments() if p.method}
        if self.source is not None:
            used |= {m for m in self.source.methods() if m}
        return used

    def billed_member_ids(self) -> set[int]:
        ids = {r.member_id for _, r in self.open_sales()} | {p.member_id for p in self.open_payments()}
        if self.source is not None:
            ids |= self.source.member_ids()
        return ids

    def billed_members(self) -> list[Any]:
        return sorted((self.members[i] for i in self.billed_member_ids()), key=lambda m: m.number)


def external_guid(company_key: str, kind: Kind, local_id: int) -> str:
    """A stable ExternalGUID for a record, so a lost response can be matched later: the name-based
    UUID (version 5, RFC 4122 §4.3) of "COMPANY/KIND/ID", in braces and upper case as QuickBooks writes it."""
    digest = bytearray(hashlib.sha1(_GUID_PREFIX + f"{company_key}/{kind.value}/{local_id}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex().upper()
    return f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"


_GUID_PREFIX = GUID_NAMESPACE.bytes


def member_label(member: Any) -> str:
    return f"member {member.number} {member.name}"


def customer_name(fit: FieldFitter, member: Any, limits: Limits) -> str:
    """The name a member's customer gets in QuickBooks (before any suffix that makes it unique): the member's
    name fitted to the limits, or "Member NUMBER" when nothing of it can be stored."""
    return fit.name(member_label(member), "customer name", member.name, limits.customer_name,
                    fallback=f"Member {member.number}")


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


def gl_label(account: Any) -> str:
    return f"G/L account {account.number} {account.name}"


# ---------------------------------------------------------------------- checks


def xref_advice(gl: Any, snapshot: QBSnapshot) -> str:
    """The command that maps ``gl`` to a QuickBooks account of a type it may post to: the suggestion when
    there is one (:func:`booksync.account_rules.suggest`), else a placeholder naming the types allowed."""
    hint = suggest(gl, snapshot.accounts)
    if hint is not None:
        return f"booksync accounts xref --set {gl.number}=\"{hint.full_name}\""
    return (f"map it to {allowed_types(gl.type)}: booksync accounts xref --set {gl.number}=\"QuickBooks account "
            "name\"")


def check_accounts(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Every G/L account used by the records must cross-reference an active QuickBooks account of a type it may
    post to (:func:`booksync.account_rules.incompatibility`: a cross reference set before that rule, or in the
    gl-accounts import, is caught here, before anything is written)."""
    used = work.line_accounts()
    for gl_id, n in work.deposit_accounts().items():
        used[gl_id] = used.get(gl_id, 0) + n
    by_name = snapshot.account_by_name()
    problems = []
    for gl_id in sorted(used, key=lambda i: work.gl_accounts[i].number):
        gl = work.gl_accounts[gl_id]
        target = by_name.get((gl.qb_account or "").casefold())
        if not gl.qb_account:
            reason = "has no QuickBooks account specified"
        elif target is None:
            reason = f"names QuickBooks account \"{gl.qb_account}\", which the company file does not have"
        elif not target.is_active:
            reason = f"names QuickBooks account \"{gl.qb_account}\", which is inactive"
        elif (refused := incompatibility(gl, target, named=False)) is not None:
            problems.append(Problem("incompatible-account", gl_label(gl), f"{refused} (used {used[gl_id]} time(s))",
                                    xref_advice(gl, snapshot),
                                    f"choose {allowed_types(gl.type)} for it on the Cross Reference Accounts page"))
            continue
        else:
            continue
        problems.append(Problem("unmapped-account", gl_label(gl), f"{reason} (used {used[gl_id]} time(s))",
                                f"booksync accounts xref --set {gl.number}=\"QuickBooks account name\"",
                                "choose its QuickBooks account on the Cross Reference Accounts page"))
    return problems


@dataclass
class CustomerResolution:
    """How each billed member reaches a QuickBooks customer."""

    linked: dict[int, str] = field(default_factory=dict)
    """member id → ListID, from the link table or the member's Bill Info."""
    new_links: dict[int, tuple[str, str]] = field(default_factory=dict)
    """member id → (ListID, name) found through Bill Info this run (recorded when the run applies)."""
    missing: list[Any] = field(default_factory=list)
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


def customers_gone(work: Work, snapshot: QBSnapshot) -> list[tuple[Any, Any]]:
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


def hold_back(work: Work, member_ids: set[int]) -> int:
    """Take every record of ``member_ids`` out of ``work``: the run plans nothing for them, and they stay
    outstanding (the change marks' table) for the next run. Returns how many records were held back."""
    held = 0

    def keep(records: list[Any]) -> list[Any]:
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


def customer_gone_problem(member: Any, link: Any, held: int) -> Problem:
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


def deposit_gl_accounts(gl_accounts: Iterable[Any], snapshot: QBSnapshot) -> list[Any]:
    """The G/L accounts a payment may deposit to: of a deposit type (:data:`DEPOSIT_GL_TYPES`) and mapped to a
    QuickBooks account that holds deposits; the one mapped to Undeposited Funds first, then by number."""
    by_name = snapshot.account_by_name()
    out = []
    for gl in gl_accounts:
        target = by_name.get((gl.qb_account or "").casefold())
        if gl.type in DEPOSIT_GL_TYPES and target is not None and target.is_active and target.holds_deposits:
            out.append((target.special != "UndepositedFunds", gl.number, gl))
    return [gl for *_, gl in sorted(out, key=lambda t: (t[0], t[1]))]


def check_deposit_accounts(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Every payment must deposit to a G/L account of a deposit type that maps to a Bank or Other Current Asset
    account (QuickBooks status 3140). The advice never proposes a mapping the account rules refuse: a payment
    recorded to an income G/L account is moved to a deposit account (``payments edit --deposit-account``)."""
    by_name = snapshot.account_by_name()

    def refused(gl: Any) -> bool:
        target = by_name.get((gl.qb_account or "").casefold())
        return gl.type not in DEPOSIT_GL_TYPES or (target is not None and not target.holds_deposits)

    wrong = {gl_id for gl_id in work.deposit_accounts() if refused(work.gl_accounts[gl_id])}
    choices = deposit_gl_accounts(work.gl_accounts.values(), snapshot)
    problems = []
    for payment in sorted(work.payments_depositing_to(wrong), key=lambda p: p.number):
        gl = work.gl_accounts[payment.deposit_account_id]
        target = by_name.get((gl.qb_account or "").casefold())
        member = work.members[payment.member_id]
        mapped = (f", which maps to QuickBooks account \"{target.full_name}\" of type {target.account_type}"
                  if target is not None else "")
        if gl.type in DEPOSIT_GL_TYPES:
            fix = ("correct the account's cross reference: " + xref_advice(gl, snapshot))
            fix_web = "choose a Bank or Other Current Asset account for it on the Cross Reference Accounts page"
        else:
            fix_web = ("deposit the payment to a Bank or Other Current Asset G/L account (normally Undeposited Funds) "
                       "in the billing system")
            into = choices[0].number if choices else "NUMBER"
            fix = (f"deposit the payment to a Bank or Other Current Asset G/L account (normally Undeposited Funds): "
                   f"booksync payments edit {payment.number} --deposit-account {into}")
        problems.append(Problem(
            "deposit-account", f"payment {payment.number} from {member.name}, {payment.date}, {payment.amount}",
            f"deposits to {gl_label(gl)} of type {gl.type}{mapped}; QuickBooks accepts payments only into a Bank "
            "or Other Current Asset account", fix, fix_web))
    return problems


# ---------------------------------------------------------------------- planning


_FIELDS: dict[type, tuple[str, ...]] = {}


def _encode_default(value: Any) -> Any:
    """What the JSON encoder cannot write itself: Decimals and dates as text, a Ref as {ref, id, name}, a
    payload dataclass as its fields but ``external_guid``."""
    t = type(value)
    if t is Decimal:
        return str(value)
    if t is Ref:
        return {"ref": value.kind, "id": value.local_id if value.local_id is not None else value.remote_id,
                "name": value.name}
    if t is dt.date or t is dt.datetime:
        return value.isoformat()
    names = _FIELDS.get(t)
    if names is None:
        if not hasattr(value, "__dataclass_fields__"):
            raise TypeError(f"cannot write {t.__name__} as JSON")
        names = _FIELDS[t] = tuple(k for k in value.__dataclass_fields__ if k != "external_guid")
    return {k: getattr(value, k) for k in names}


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=_encode_default)


def written_json(payload: Any) -> str:
    """The payload as canonical JSON: what the link table keeps as "written".

    Keys sorted, no ASCII escaping, written by the C encoder with a hook for the payload classes; invoices,
    credit memos and payments (nearly every operation of a large plan) by :func:`_fast_json`, which writes the
    same characters without the hook's dictionaries. Fingerprints in the link table depend on it never
    changing: tests/test_fields_planner.py pins one and compares both writers with the first
    implementation's recursive encoding."""
    writer = _FAST.get(type(payload))
    if writer is not None:
        try:
            return writer(payload)
        except _NotPlain:
            pass
    return _ENCODER.encode(payload)


class _NotPlain(Exception):
    """A value the fast writer does not handle exactly as the encoder would (the encoder then writes it)."""


def _s(value: Any) -> str:
    if type(value) is not str:
        raise _NotPlain
    return _quote(value)


def _dec(value: Any) -> str:
    if type(value) is not Decimal:
        raise _NotPlain
    return f'"{value}"'


def _day(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is not dt.date:
        raise _NotPlain
    return f'"{value.isoformat()}"'


def _ref(ref: Any) -> str:
    if ref is None:
        return "null"
    if type(ref) is not Ref:
        raise _NotPlain
    key = ref.local_id if ref.local_id is not None else ref.remote_id
    if key is None:
        key_json = "null"
    elif type(key) is int:
        key_json = str(key)
    else:
        key_json = _s(key)
    return f'{{"id": {key_json}, "name": {_s(ref.name)}, "ref": {_s(ref.kind)}}}'


def _of(kind: type, values: Any) -> Any:
    if type(values) is not tuple or any(type(v) is not kind for v in values):
        raise _NotPlain
    return values


def _sales_json(d: SalesData) -> str:
    lines = ", ".join(f'{{"amount": {_dec(x.amount)}, "description": {_s(x.description)}, "item": {_ref(x.item)}, '
                      f'"quantity": {_dec(x.quantity)}, "rate": {_dec(x.rate)}}}' for x in _of(LineData, d.lines))
    if type(d.date) is not dt.date:
        raise _NotPlain
    return (f'{{"customer": {_ref(d.customer)}, "date": {_day(d.date)}, "due_date": {_day(d.due_date)}, '
            f'"lines": [{lines}], "memo": {_s(d.memo)}, "ref_number": {_s(d.ref_number)}}}')


def _credit_json(c: CreditData) -> str:
    return f'{{"amount": {_dec(c.amount)}, "credit_memo": {_ref(c.credit_memo)}}}'


def _application_json(a: ApplicationData) -> str:
    credits = ", ".join(_credit_json(c) for c in _of(CreditData, a.credits))
    return f'{{"amount": {_dec(a.amount)}, "credits": [{credits}], "invoice": {_ref(a.invoice)}}}'


def _payment_json(d: PaymentData) -> str:
    apps = ", ".join(_application_json(a) for a in _of(ApplicationData, d.applications))
    if type(d.date) is not dt.date:
        raise _NotPlain
    return (f'{{"applications": [{apps}], "customer": {_ref(d.customer)}, "date": {_day(d.date)}, '
            f'"deposit_to": {_ref(d.deposit_to)}, "memo": {_s(d.memo)}, "method": {_ref(d.method)}, '
            f'"ref_number": {_s(d.ref_number)}, "total": {_dec(d.total)}}}')


_quote = json.encoder.encode_basestring  # the encoder's own string writer (ensure_ascii=False)
_FAST: dict[type, Any] = {SalesData: _sales_json, PaymentData: _payment_json}


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(written_json(payload).encode()).hexdigest()


def stamp(payload: Any) -> dict[str, str]:
    """``fingerprint`` and ``written`` of an operation carrying ``payload``, computed once (the journal
    reuses ``written``; docs/performance.md finding 2)."""
    written = written_json(payload)
    return {"fingerprint": hashlib.sha256(written.encode()).hexdigest(), "written": written}


@dataclass
class Planner:
    """Builds the plan of one run (adds). Create with the run's inputs, then call :meth:`build`."""

    work: Work
    snapshot: QBSnapshot
    customers: CustomerResolution
    limits: Limits
    company_key: str
    plan: Plan = field(default_factory=Plan)
    problems: list[Problem] = field(default_factory=list)
    progress: Any = None
    """Called as ``progress(done, total)`` every 5,000 invoices, credit memos and payments planned."""
    sink: Any = None
    """Called as ``sink(plan)`` between records once ``sink_every`` operations are waiting, to :meth:`Plan.take`
    them (the engine writes them to the run's folder: a large plan is never held whole)."""
    sink_every: int = 1000

    def __post_init__(self) -> None:
        self.fit = FieldFitter(self.limits, self.plan.adjustments)
        self._accounts: dict[str, QBAccount] = self.snapshot.account_by_name()
        self._items: dict[int, Ref] = {}
        self._methods: dict[str, Ref] = {}
        self._customer_refs: dict[int, Ref] = {}
        self.planned = PlannedKeys()
        """The invoices and credit memos this plan adds: payments may apply to them."""

    def build(self, create_customers: bool) -> Plan:
        if create_customers:
            self._plan_customers()
        self._plan_items()
        self._plan_methods()
        self.plan_sales_adds()
        self.plan_payment_adds()
        return self.plan

    def plan_sales_adds(self) -> None:
        """The invoices and credit memos to add, part by part."""
        for part in self.work.sales_to_add():
            for kind, record in part:
                self._plan_sales(kind, record)
                self._checkpoint()
        self.planned.freeze()

    def plan_payment_adds(self) -> None:
        """The payments to add, part by part, each part's applications checked against what QuickBooks
        holds or this plan adds (the sales are planned first)."""
        for part in self.work.payments_to_add():
            self.problems += application_problems(self.work, part, self.planned)
            for payment in part:
                self._plan_payment(payment)
                self._checkpoint()

    def _checkpoint(self) -> None:
        if self.sink is not None and len(self.plan.operations) >= self.sink_every:
            self.sink(self.plan)

    # -- customers

    def _plan_customers(self) -> None:
        in_use = self.snapshot.names_in_use()
        planned: dict[str, str] = {}
        lim = self.limits
        for member in sorted(self.customers.missing, key=lambda m: m.number):
            label = member_label(member)
            name = customer_name(self.fit, member, lim)
            holder = in_use.get(name.casefold())
            if holder is not None or name.casefold() in planned:
                who = (f"member {planned[name.casefold()]} in this run" if holder is None
                       else "a customer, vendor or other name in QuickBooks")
                name = self.fit.unique(label, "customer name", name, member.number, lim.customer_name, who)
            planned[name.casefold()] = member.number
            data = self.customer_data(member, name)
            self.plan.add(action=Action.ADD, kind=Kind.CUSTOMER, local_id=member.id, number=member.number,
                          description=f"Customer \"{name}\" for {label}", payload=data, **stamp(data),
                          stamp=member.updated_at)
            self._checkpoint()

    def customer_data(self, member: Any, name: str) -> CustomerData:
        """The customer QuickBooks holds for ``member`` under ``name``, every field fitted to the limits."""
        lim, label = self.limits, member_label(member)
        fields = dict(
            name=name,
            company_name=self.fit.text(label, "company name", member.company, lim.company_name),
            first_name=self.fit.text(label, "contact first name", member.contact_first, lim.first_name),
            last_name=self.fit.text(label, "contact last name", member.contact_last, lim.last_name),
            address=Address(self.fit.text(label, "address line 1", member.address1, lim.address_line),
                            self.fit.text(label, "address line 2", member.address2, lim.address_line),
                            self.fit.text(label, "city", member.city, lim.city),
                            self.fit.text(label, "state", member.state, lim.state),
                            self.fit.text(label, "postal code", member.postal_code, lim.postal_code)),
            phone=self.fit.text(label, "phone", member.phone, lim.phone),
            email=self.fit.text(label, "email", member.email, lim.email),
            account_number=self.fit.text(label, "account number", member.number, lim.account_number),
            # Created active even for lapsed members: QuickBooks refuses transactions for
            # inactive customers (3140), and their history still has to be written.
            is_active=True,
            external_guid=external_guid(self.company_key, Kind.CUSTOMER, member.id))
        return CustomerData(**fields, notes=self.fit.notes(label, lim.customer_notes))

    def customer_ref(self, member_id: int) -> Ref:
        ref = self._customer_refs.get(member_id)
        if ref is None:  # one Ref per member, shared by its transactions (finding 3: memory of a full plan)
            member = self.work.members[member_id]
            ref = Ref(Kind.CUSTOMER.value, member_id, self.customers.linked.get(member_id), member.name)
            self._customer_refs[member_id] = ref
        return ref

    # -- items and payment methods

    def _income_accounts(self) -> list[Any]:
        ids = self.work.line_accounts()
        return sorted((self.work.gl_accounts[i] for i in ids), key=lambda g: g.number)

    def _plan_items(self) -> None:
        items = {i.name.casefold(): i for i in self.snapshot.items}
        for gl in self._income_accounts():
            label = gl_label(gl)
            account = self._accounts[gl.qb_account.casefold()]
            name = self.fit.name(label, "item name", f"{gl.number} {gl.name}", self.limits.item_name)
            existing = items.get(name.casefold())
            if existing is not None:
                if existing.account_list_id != account.list_id:
                    self.problems.append(Problem(
                        "item-account", label,
                        f"QuickBooks item \"{existing.name}\" exists but does not post to \"{account.full_name}\"",
                        "correct the item's account in QuickBooks, or rename the item so booksync can create its own",
                        "correct the item's account in QuickBooks, or rename the item so booksync can create its own"))
                self._items[gl.id] = Ref(Kind.ITEM.value, gl.id, existing.list_id, existing.name)
                continue
            data = ItemData(name=name, description=self.fit.text(label, "item description", gl.name,
                                                                 self.limits.item_description),
                            account=Ref("account", None, account.list_id, account.full_name))
            self.plan.add(action=Action.ADD, kind=Kind.ITEM, local_id=gl.id, number=gl.number,
                          description=f"Service item \"{name}\" posting to \"{account.full_name}\"", payload=data,
                          **stamp(data))
            self._items[gl.id] = Ref(Kind.ITEM.value, gl.id, None, name)

    def _plan_methods(self) -> None:
        existing = {m.name.casefold(): m for m in self.snapshot.payment_methods}
        for method in sorted(self.work.methods_used()):
            name = self.fit.name("payment method", "name", method, self.limits.payment_method_name,
                                 fallback="Other")
            key = name.casefold()
            local_id = int(hashlib.sha256(key.encode()).hexdigest()[:7], 16)
            if key in existing:
                self._methods[method] = Ref(Kind.PAYMENT_METHOD.value, local_id, existing[key].list_id, name)
                continue
            data = PaymentMethodData(name, METHOD_TYPES.get(key, "Other"))
            self.plan.add(action=Action.ADD, kind=Kind.PAYMENT_METHOD, local_id=local_id, number=name,
                          description=f"Payment method \"{name}\"", payload=data, **stamp(data))
            self._methods[method] = Ref(Kind.PAYMENT_METHOD.value, local_id, None, name)

    # -- transactions

    def sales_data(self, kind: Kind, record: Any) -> SalesData:
        label = f"{kind.label} {record.number}"
        lines = tuple(LineData(item=self._items[line.gl_account_id],
                               description=self.fit.text(label, f"line {line.seq} description", line.description,
                                                         self.limits.line_description),
                               quantity=line.quantity, rate=line.rate, amount=line.amount)
                      for line in record.lines)
        return SalesData(customer=self.customer_ref(record.member_id), date=record.date,
                         ref_number=self.fit.ref_number(label, "number", record.number,
                                                        self.limits.invoice_ref_number),
                         lines=lines, due_date=record.due_date,
                         memo=self.fit.text(label, "memo", record.memo, self.limits.memo),
                         external_guid=external_guid(self.company_key, kind, record.id))

    def _tick(self) -> None:
        self._planned = getattr(self, "_planned", 0) + 1
        if self.progress is not None and self._planned % 5000 == 0:
            work = self.work
            self.progress(self._planned, work.add_count())

    def _plan_sales(self, kind: Kind, record: Any) -> None:
        self._tick()
        data = self.sales_data(kind, record)
        member = self.work.members[record.member_id]
        self.plan.add(action=Action.ADD, kind=kind, local_id=record.id, number=record.number,
                      description=f"{kind.label.capitalize()} {record.number} for {member.name}, {record.date}, "
                                  f"{data.total}",
                      payload=data, **stamp(data), amount=data.total, stamp=record.updated_at)
        self.planned.add(kind.value, record.id)

    def _txn_ref(self, kind: Kind, local_id: int, number: str) -> Ref:
        link = self.work.link(kind.value, local_id)
        return Ref(kind.value, local_id, link.remote_id if link is not None else None, number)

    def payment_data(self, payment: Any) -> PaymentData:
        label = f"payment {payment.number}"
        gl = self.work.gl_accounts[payment.deposit_account_id]
        account = self._accounts[gl.qb_account.casefold()]
        apps = []
        for app in payment.applications:
            credits: tuple[CreditData, ...] = ()
            if app.credit_memo_id is not None and app.credit_amount:
                credits = (CreditData(self._txn_ref(Kind.CREDIT_MEMO, app.credit_memo_id, app.credit_memo.number),
                                      app.credit_amount),)
            apps.append(ApplicationData(self._txn_ref(Kind.INVOICE, app.invoice_id, app.invoice.number),
                                        app.amount, credits))
        ref = payment.reference or payment.number
        memo = f"Receipt {payment.number}" + (f" - {payment.memo}" if payment.memo else "")
        return PaymentData(
            customer=self.customer_ref(payment.member_id), date=payment.date,
            ref_number=self.fit.ref_number(label, "reference", ref, self.limits.payment_ref_number),
            total=payment.amount, method=self._methods.get(payment.method) if payment.method else None,
            deposit_to=Ref("account", None, account.list_id, account.full_name),
            memo=self.fit.text(label, "memo", memo, self.limits.memo), applications=tuple(apps),
            external_guid=external_guid(self.company_key, Kind.PAYMENT, payment.id))

    def _plan_payment(self, payment: Any) -> None:
        self._tick()
        data = self.payment_data(payment)
        member = self.work.members[payment.member_id]
        self.plan.add(action=Action.ADD, kind=Kind.PAYMENT, local_id=payment.id, number=payment.number,
                      description=f"Payment {payment.number} from {member.name}, {payment.date}, {payment.amount}",
                      payload=data, **stamp(data), amount=payment.amount, stamp=payment.updated_at)


class PlannedKeys:
    """The invoices and credit memos a plan adds, by (kind, local id): ids in compact arrays (8 bytes each,
    for a million-record plan), searched by bisection once :meth:`freeze` sorted them."""

    def __init__(self) -> None:
        self._ids: dict[str, array] = {}

    def add(self, kind: str, local_id: int) -> None:
        self._ids.setdefault(kind, array("q")).append(local_id)

    def freeze(self) -> None:
        self._ids = {kind: array("q", sorted(ids)) for kind, ids in self._ids.items()}

    def __contains__(self, key: tuple[str, int]) -> bool:
        ids = self._ids.get(key[0])
        if not ids:
            return False
        i = bisect_left(ids, key[1])
        return i < len(ids) and ids[i] == key[1]


def application_problems(work: Work, payments: Iterable[Any], planned: Any) -> list[Problem]:
    """Every invoice or credit memo these payments apply to must be open and in QuickBooks or in the plan
    (``planned``: (kind, local id) pairs)."""
    problems = []
    for payment in payments:
        for app in payment.applications:
            targets = [(Kind.INVOICE, app.invoice_id, app.invoice)]
            if app.credit_memo_id is not None:
                targets.append((Kind.CREDIT_MEMO, app.credit_memo_id, app.credit_memo))
            for kind, local_id, record in targets:
                key = (kind.value, local_id)
                if (work.link(*key) is not None or key in planned) and record.status == "open":
                    continue
                state = "is " + record.status if record.status != "open" else "is not synchronized"
                problems.append(Problem(
                    "application-target", f"payment {payment.number}",
                    f"applies to {kind.label} {record.number}, which {state}",
                    f"correct the payment's applications: booksync payments edit {payment.number} --apply ...",
                    "correct the payment's applications in the billing system, then synchronize again"))
    return problems


def check_applications(work: Work, planned: Any) -> list[Problem]:
    """The applications of the changed payments (those of the payments to add are checked as they are
    planned: :meth:`Planner.plan_payment_adds`), and what the payments apply to changed invoices."""
    return application_problems(work, work.changed_payments, planned) + check_overapplied(work)


def check_overapplied(work: Work) -> list[Problem]:
    """A changed invoice must stay at least as large as what payments apply to it (QuickBooks 3210)."""
    changed = {i.id for i in work.changed_invoices if i.status == "open"}
    touching = work.changed_payments + work.linked_payments_touching + work.payments_applying_to(changed)
    payments = {p.id: p for p in touching if p.status == "open"}
    applied: dict[int, Decimal] = {}
    receipts: dict[int, list[str]] = {}
    for payment in payments.values():
        for app in payment.applications:
            applied[app.invoice_id] = applied.get(app.invoice_id, Decimal("0.00")) + app.amount + app.credit_amount
            receipts.setdefault(app.invoice_id, []).append(payment.number)
    problems = []
    for invoice in work.changed_invoices:
        if invoice.status == "open" and applied.get(invoice.id, Decimal("0.00")) > invoice.total:
            problems.append(Problem(
                "overapplied", f"invoice {invoice.number}",
                f"payments {', '.join(sorted(receipts[invoice.id]))} apply {applied[invoice.id]} to it, but its "
                f"total is now {invoice.total}",
                "reduce the payments' applications first: booksync payments edit RECEIPT --apply "
                f"{invoice.number}=AMOUNT",
                f"reduce what the payments apply to invoice {invoice.number} in the billing system first, then "
                "synchronize again"))
    return problems
