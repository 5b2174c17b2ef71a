"""SQLAlchemy models of the billing store, the link table and the run journal.

Money columns hold integer cents (:class:`Money`) so that SQLite and
PostgreSQL both sum exactly; Python sees two-place ``Decimal``.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        TypeDecorator, UniqueConstraint, func)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from booksync.domain import Kind
from booksync.kinds import KINDS


class Money(TypeDecorator):
    """A two-place ``Decimal`` stored as integer cents."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        return int((Decimal(value) * 100).to_integral_value())

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(Decimal("0.01"))


class DecimalText(TypeDecorator):
    """An exact ``Decimal`` (quantity, rate) stored as text."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        return None if value is None else str(value)

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return None if value is None else Decimal(value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Timestamps:
    """``created_at``/``updated_at`` in UTC; ``updated_at`` changes with every change of the row."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, onupdate=_now, index=True)


class Member(Timestamps, Base):
    """A member business or person billed by the organisation.

    ``qb_customer`` is the member's Bill Info: the full name of the QuickBooks
    customer the member maps to ("" until mapped or created).
    """

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    contact_first: Mapped[str] = mapped_column(String(100), default="")
    contact_last: Mapped[str] = mapped_column(String(100), default="")
    address1: Mapped[str] = mapped_column(String(200), default="")
    address2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(50), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
    qb_customer: Mapped[str] = mapped_column(String(209), default="")


class GLAccount(Timestamps, Base):
    """A G/L account of the membership system; ``qb_account`` is its cross reference:
    the full name of the QuickBooks account it posts to ("" when not mapped). ``qb_item`` is the full name of
    an item the company already has that its billing lines use ("": booksync creates its own service item;
    ``booksync accounts items``)."""

    __tablename__ = "gl_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    qb_account: Mapped[str] = mapped_column(String(159), default="")
    qb_item: Mapped[str] = mapped_column(String(159), default="", server_default="")
    qb_class: Mapped[str] = mapped_column(String(159), default="", server_default="")
    """The QuickBooks class (full name) its lines are tracked under; "" = the home's ``[sync] default_class``."""


class PaymentMethodMap(Base):
    """How a payment method of the billing system (``name``, as the payments carry it: "Credit Card", "ACH")
    reaches QuickBooks (issue 21 item 6): ``qb_method``, the name of the company's payment method to use; with
    ``create_missing``, booksync creates it when QuickBooks does not have it. A billing method without a row keeps what
    booksync did before (the QuickBooks method of the same name, created when missing unless the home's
    ``[sync] create_payment_methods`` is false). Set by ``booksync payments methods`` and the web's Payment
    Methods page."""

    __tablename__ = "payment_method_map"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    qb_method: Mapped[str] = mapped_column(String(100), default="")
    create_missing: Mapped[bool] = mapped_column(Boolean, default=False)


class Invoice(Timestamps, Base):
    """An invoice. ``status`` is "open", "void" or "deleted" (a deleted invoice is kept
    so that the next sync can delete it in QuickBooks)."""

    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    member: Mapped[Member] = relationship()
    lines: Mapped[list["InvoiceLine"]] = relationship(order_by="InvoiceLine.seq", cascade="all, delete-orphan")

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    gl_account_id: Mapped[int] = mapped_column(ForeignKey("gl_accounts.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(1))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    amount: Mapped[Decimal] = mapped_column(Money)
    gl_account: Mapped[GLAccount] = relationship()


class CreditMemo(Timestamps, Base):
    """A credit memo; same shape as an invoice. ``status``: "open", "void" or "deleted"."""

    __tablename__ = "credit_memos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    member: Mapped[Member] = relationship()
    lines: Mapped[list["CreditMemoLine"]] = relationship(order_by="CreditMemoLine.seq",
                                                         cascade="all, delete-orphan")

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


class CreditMemoLine(Base):
    __tablename__ = "credit_memo_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_memo_id: Mapped[int] = mapped_column(ForeignKey("credit_memos.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    gl_account_id: Mapped[int] = mapped_column(ForeignKey("gl_accounts.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(1))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    amount: Mapped[Decimal] = mapped_column(Money)
    gl_account: Mapped[GLAccount] = relationship()


class SalesReceipt(Timestamps, Base):
    """A sale paid on the spot (an event ticket, a donation): lines like an invoice's, paid at once and deposited
    to ``deposit_account`` (a G/L account of a deposit type: Undeposited Funds or a bank account). ``method`` is
    the payment method, ``reference`` the check number or confirmation; ``status`` "open", "void" or "deleted"."""

    __tablename__ = "sales_receipts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(40), default="")
    reference: Mapped[str] = mapped_column(String(40), default="")
    deposit_account_id: Mapped[int] = mapped_column(ForeignKey("gl_accounts.id"))
    memo: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    member: Mapped[Member] = relationship()
    deposit_account: Mapped[GLAccount] = relationship()
    lines: Mapped[list["SalesReceiptLine"]] = relationship(order_by="SalesReceiptLine.seq",
                                                           cascade="all, delete-orphan")

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


class SalesReceiptLine(Base):
    __tablename__ = "sales_receipt_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sales_receipt_id: Mapped[int] = mapped_column(ForeignKey("sales_receipts.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    gl_account_id: Mapped[int] = mapped_column(ForeignKey("gl_accounts.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(1))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    amount: Mapped[Decimal] = mapped_column(Money)
    gl_account: Mapped[GLAccount] = relationship()


class Payment(Timestamps, Base):
    """A payment received from a member. ``number`` is the receipt number;
    ``reference`` the check number or confirmation; ``status`` "open" or "deleted"."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(40), default="")
    reference: Mapped[str] = mapped_column(String(40), default="")
    deposit_account_id: Mapped[int] = mapped_column(ForeignKey("gl_accounts.id"))
    memo: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    member: Mapped[Member] = relationship()
    deposit_account: Mapped[GLAccount] = relationship()
    applications: Mapped[list["Application"]] = relationship(order_by="Application.seq",
                                                             cascade="all, delete-orphan")


class Application(Base):
    """A payment applied to an invoice: ``amount`` of cash, and optionally
    ``credit_amount`` of a credit memo's credit applied to the same invoice."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    credit_memo_id: Mapped[int | None] = mapped_column(ForeignKey("credit_memos.id"), nullable=True)
    credit_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    invoice: Mapped[Invoice] = relationship()
    credit_memo: Mapped[CreditMemo | None] = relationship()


class Link(Base):
    """The link table: what booksync wrote to a company, as what, at which version.

    One row per (company, kind, local record). The record is known by its own identity, ``local_key``:
    the member number, invoice or credit memo number, or receipt number (an adjustment's own id);
    ``local_id`` is the billing row where that record is now, re-derived from ``local_key`` before every
    sync (:func:`booksync.store.links.anchor_links`), and negative once the record is gone from the
    billing store (minus its last row id). ``remote_id`` is the ListID or
    TxnID; ``edit_sequence`` the EditSequence QuickBooks returned after
    booksync's last write; ``fingerprint`` a digest of the billing record as
    written; ``written`` the neutral payload as JSON (for the Corrections Log's
    "before"); ``source_updated_at`` the billing row's ``updated_at`` then.
    """

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("company_key", "kind", "local_id"),
                      UniqueConstraint("company_key", "kind", "remote_id"),
                      Index("links_identity", "company_key", "kind", "local_key", unique=True),
                      Index("links_anchor", "company_key", "kind", "local_id", "local_key"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    local_id: Mapped[int] = mapped_column(Integer)
    local_key: Mapped[str] = mapped_column(String(40), default="")
    remote_id: Mapped[str] = mapped_column(String(40))
    edit_sequence: Mapped[str] = mapped_column(String(20), default="")
    qb_name: Mapped[str] = mapped_column(String(209), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    written: Mapped[str] = mapped_column(Text, default="")
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    run_id: Mapped[str] = mapped_column(String(40), default="")
    synced_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, onupdate=_now)


class SyncMark(Base):
    """How far a company's change detection has looked: every billing record with ``updated_at`` at or
    before ``checked_through`` either needed nothing or is in :class:`Outstanding` (migration 0003)."""

    __tablename__ = "sync_marks"
    company_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    checked_through: Mapped[dt.datetime] = mapped_column(DateTime)
    run_id: Mapped[str] = mapped_column(String(40), default="")


class Outstanding(Base):
    """A billing record that needed synchronizing when the mark was set (kind as in :class:`Link`)."""

    __tablename__ = "sync_outstanding"
    company_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    local_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class SyncRun(Base):
    """One sync run. ``status``: planned, cancelled, nothing, applying, completed, failed, stopped."""

    __tablename__ = "sync_runs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    company_key: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    dry_run: Mapped[bool] = mapped_column(default=False)
    summary: Mapped[str] = mapped_column(Text, default="")
    folder: Mapped[str] = mapped_column(Text, default="")


class JournalEntry(Base):
    """One operation of a confirmed plan: recorded before it is sent, completed after.

    ``status``: pending (not sent), sent (outcome unknown until QuickBooks answers),
    done, failed, skipped.
    """

    __tablename__ = "journal"
    __table_args__ = (Index("journal_run_seq", "run_id", "seq", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("sync_runs.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    local_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40), default="")
    request_id: Mapped[str] = mapped_column(String(50), default="")
    external_guid: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    remote_id: Mapped[str] = mapped_column(String(40), default="")
    edit_sequence: Mapped[str] = mapped_column(String(20), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, onupdate=_now)
    company_key: Mapped[str] = mapped_column(String(64), default="")
    target_id: Mapped[str] = mapped_column(String(40), default="")
    """ListID/TxnID the operation acts on (mod, void, delete)."""
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    written: Mapped[str] = mapped_column(Text, default="")
    """The operation's payload as canonical JSON, so a run that stopped can be settled later."""
    link_mode: Mapped[str] = mapped_column(String(12), default="full")
    ref_number: Mapped[str] = mapped_column(String(40), default="")
    """RefNumber (transactions) or Name (lists) sent, to find the record again in QuickBooks."""
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    """The billing row's ``updated_at`` when planned (for an adjustment: the original's); the link records
    it, so a change made after planning is still seen as a change (migration 0004)."""


__all__ = ["Base", "Member", "GLAccount", "Invoice", "InvoiceLine", "CreditMemo", "CreditMemoLine", "SalesReceipt",
           "SalesReceiptLine", "Payment", "Application", "PaymentMethodMap", "Link", "SyncMark", "Outstanding", "SyncRun",
           "JournalEntry", "BILLING_MODELS", "func"]


BILLING_MODELS: dict[Kind, type[Timestamps]] = {
    spec.kind: {"Member": Member, "Invoice": Invoice, "CreditMemo": CreditMemo, "SalesReceipt": SalesReceipt,
                "Payment": Payment}[spec.billing_model]
    for spec in KINDS if spec.billing_model}
"""The model class of each kind's billing rows, by :class:`~booksync.domain.Kind` (the ``billing_model`` column of
:data:`booksync.kinds.KINDS`): customers → Member, invoices → Invoice, credit memos → CreditMemo, sales receipts → SalesReceipt, payments → Payment."""
