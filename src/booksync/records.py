"""The billing rows planning reads, as types (issue 18 item 7).

The planner (:mod:`booksync.sync.planner`) and the corrections planner read members, G/L accounts,
invoices and credit memos with their lines, payments with their applications, and link rows. The billing
store hands over different objects for the same rows: ORM models for changed records
(:mod:`booksync.store.models`), light slotted rows for records to add (:mod:`booksync.store.rows`). The
protocols below (``*Record``) name the attributes planning reads, read-only, and both satisfy them
structurally (``tests/test_unit_records.py`` checks every attribute against both).

The frozen dataclasses below them satisfy the same protocols with defaults for everything a test does not care
about, so a planning test is a handful of literal rows (as beancount tests its plugins)::

    gl = GLAccount(1, "4020", "Dues", "Income", qb_account="Membership Dues")
    inv = Sale(7, "INV7", member_id=1, date=dt.date(2025, 1, 2), lines=(SaleLine(1, Decimal("100.00")),))

They are never written to the store. Amounts are two-place ``Decimal``; dates ``datetime.date``; ``updated_at``
naive UTC ``datetime.datetime``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, Sequence

EPOCH = dt.datetime(2025, 1, 1)
"""``updated_at`` of a literal row that does not give one."""


# --------------------------------------------------------------------------- what planning reads


class MemberRecord(Protocol):
    """A member (store ``members``): becomes a QuickBooks customer. ``qb_customer`` is its Bill Info, the full
    name of the customer it maps to, or ""."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def company(self) -> str: ...
    @property
    def contact_first(self) -> str: ...
    @property
    def contact_last(self) -> str: ...
    @property
    def address1(self) -> str: ...
    @property
    def address2(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def postal_code(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def qb_customer(self) -> str: ...
    @property
    def updated_at(self) -> dt.datetime: ...


class GLAccountRecord(Protocol):
    """A G/L account of the billing system. ``type`` is one of :data:`booksync.account_rules.GL_TYPES`;
    ``qb_account`` its cross reference, the full name of a QuickBooks account, or "" when not mapped; ``qb_item``
    the full name of an existing QuickBooks item its lines use, or "" (booksync's own service item)."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def qb_account(self) -> str: ...
    @property
    def qb_item(self) -> str: ...
    @property
    def qb_class(self) -> str: ...


class SaleLineRecord(Protocol):
    """A line of an invoice or credit memo: ``amount`` = ``quantity`` × ``rate``, posting to a G/L account."""

    @property
    def seq(self) -> int: ...
    @property
    def gl_account_id(self) -> int: ...
    @property
    def description(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def rate(self) -> Decimal: ...
    @property
    def amount(self) -> Decimal: ...


class SaleRecord(Protocol):
    """An invoice or a credit memo (the same shape). ``status``: "open", "void" or "deleted"."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def member_id(self) -> int: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def due_date(self) -> dt.date | None: ...
    @property
    def memo(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def lines(self) -> Sequence[SaleLineRecord]: ...
    @property
    def total(self) -> Decimal: ...


class TargetRecord(Protocol):
    """What a payment's application reads of the invoice or credit memo it names."""

    @property
    def number(self) -> str: ...
    @property
    def status(self) -> str: ...


class ApplicationRecord(Protocol):
    """A payment applied to an invoice: ``amount`` of cash, and ``credit_amount`` of the credit of credit memo
    ``credit_memo_id`` (None when no credit is applied)."""

    @property
    def invoice_id(self) -> int: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def credit_memo_id(self) -> int | None: ...
    @property
    def credit_amount(self) -> Decimal: ...
    @property
    def invoice(self) -> TargetRecord: ...
    @property
    def credit_memo(self) -> TargetRecord | None: ...


class PaymentRecord(Protocol):
    """A payment received from a member. ``number`` is the receipt number, ``reference`` the check number or
    confirmation, ``deposit_account_id`` the G/L account it is deposited to; ``status``: "open" or "deleted"."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def member_id(self) -> int: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def method(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def deposit_account_id(self) -> int: ...
    @property
    def memo(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def applications(self) -> Sequence[ApplicationRecord]: ...


class ReceiptRecord(Protocol):
    """A sales receipt: a sale paid on the spot, lines like an invoice's (:class:`SaleLineRecord`), deposited to
    G/L account ``deposit_account_id``; ``method`` its payment method, ``reference`` the check number or
    confirmation; ``status``: "open", "void" or "deleted"."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def member_id(self) -> int: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def method(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def deposit_account_id(self) -> int: ...
    @property
    def memo(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def lines(self) -> Sequence[SaleLineRecord]: ...
    @property
    def total(self) -> Decimal: ...


class LinkRef(Protocol):
    """The least of a link: the ListID/TxnID of the record in QuickBooks (:class:`booksync.store.rows.LinkRow`)."""

    @property
    def remote_id(self) -> str: ...


class LinkRecord(LinkRef, Protocol):
    """A link row as corrections read it: the version booksync last wrote (``edit_sequence``), the customer's
    name then (``qb_name``), and what was written (``written``: canonical JSON; ``fingerprint``: its SHA-256, or
    "void"/"deleted"/"released")."""

    @property
    def edit_sequence(self) -> str: ...
    @property
    def qb_name(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def written(self) -> str: ...


# --------------------------------------------------------------------------- literal rows


@dataclass(frozen=True)
class Member:
    """A :class:`MemberRecord` built literally: ``Member(1, "1001", "Acme Widgets")``."""

    id: int
    number: str
    name: str
    company: str = ""
    contact_first: str = ""
    contact_last: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    email: str = ""
    phone: str = ""
    qb_customer: str = ""
    updated_at: dt.datetime = EPOCH


@dataclass(frozen=True)
class GLAccount:
    """A :class:`GLAccountRecord` built literally: ``GLAccount(1, "4020", "Dues", "Income", "Membership Dues")``."""

    id: int
    number: str
    name: str
    type: str
    qb_account: str = ""
    qb_item: str = ""
    qb_class: str = ""


@dataclass(frozen=True)
class SaleLine:
    """A :class:`SaleLineRecord` built literally: ``SaleLine(gl_account_id, amount)``; ``rate`` defaults to the
    amount (quantity 1)."""

    gl_account_id: int
    amount: Decimal
    description: str = ""
    quantity: Decimal = Decimal("1")
    rate: Decimal = None  # type: ignore[assignment]  # None: the amount (set by __post_init__)
    seq: int = 1

    def __post_init__(self) -> None:
        if self.rate is None:
            object.__setattr__(self, "rate", self.amount)


@dataclass(frozen=True)
class Sale:
    """A :class:`SaleRecord` (invoice or credit memo) built literally; lines are numbered as given."""

    id: int
    number: str
    member_id: int
    date: dt.date
    lines: tuple[SaleLine, ...] = ()
    due_date: dt.date | None = None
    memo: str = ""
    status: str = "open"
    updated_at: dt.datetime = EPOCH

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Receipt:
    """A :class:`ReceiptRecord` (sales receipt) built literally; lines are numbered as given."""

    id: int
    number: str
    member_id: int
    date: dt.date
    deposit_account_id: int
    lines: tuple[SaleLine, ...] = ()
    method: str = ""
    reference: str = ""
    memo: str = ""
    status: str = "open"
    updated_at: dt.datetime = EPOCH

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Target:
    """A :class:`TargetRecord` built literally."""

    number: str
    status: str = "open"


@dataclass(frozen=True)
class Application:
    """An :class:`ApplicationRecord` built literally: ``Application(invoice.id, Decimal("50.00"),
    Target(invoice.number))``."""

    invoice_id: int
    amount: Decimal
    invoice: Target
    credit_memo_id: int | None = None
    credit_amount: Decimal = Decimal("0.00")
    credit_memo: Target | None = None


@dataclass(frozen=True)
class Payment:
    """A :class:`PaymentRecord` built literally."""

    id: int
    number: str
    member_id: int
    date: dt.date
    amount: Decimal
    deposit_account_id: int
    applications: tuple[Application, ...] = ()
    method: str = ""
    reference: str = ""
    memo: str = ""
    status: str = "open"
    updated_at: dt.datetime = EPOCH


@dataclass(frozen=True)
class Link:
    """A :class:`LinkRecord` built literally: what booksync wrote of a record, as a link row holds it."""

    remote_id: str
    edit_sequence: str = ""
    qb_name: str = ""
    fingerprint: str = ""
    written: str = ""


__all__ = ["MemberRecord", "GLAccountRecord", "SaleLineRecord", "SaleRecord", "TargetRecord", "ApplicationRecord",
           "PaymentRecord", "ReceiptRecord", "LinkRef", "LinkRecord", "Member", "GLAccount", "SaleLine", "Sale",
           "Receipt", "Target",
           "Application", "Payment", "Link", "EPOCH"]
