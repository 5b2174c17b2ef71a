"""The billing records one run looks at (:class:`Work`): what the load step (:mod:`booksync.sync.load`) reads from
the billing store, and what the checks (:mod:`booksync.sync.checks`, :mod:`booksync.sync.customers`) and the planners
(:mod:`booksync.sync.planner`, :mod:`booksync.sync.corrections`) read. No database access of its own: the records to
add come part by part from ``Work.source`` (:class:`booksync.store.rows.AddsSource`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from booksync.domain import Kind, QBDeposit
from booksync.records import (GLAccountRecord, LinkRecord, LinkRef, MemberRecord, PaymentRecord, ReceiptRecord,
                              SaleRecord)

if TYPE_CHECKING:
    from booksync.store.rows import AddsSource


@dataclass
class Work:
    """The billing records one run looks at.

    Attributes:
        invoices, credit_memos, receipts, payments: records not yet in QuickBooks (store rows), when held in
            memory; empty when ``source`` reads them part by part.
        source: the records not yet in QuickBooks, read from the store part by part
            (:class:`booksync.store.rows.AddsSource`), or None when the lists above hold them.
        gl_accounts: every G/L account, by id.
        members: every member these records bill, by id.
        links: the link table rows that matter, by (kind, local_id): customers of
            these members, and invoices/credit memos the changed payments apply to.
        part_links: links of the invoices and credit memos the current part of payments to add applies to.
    """

    invoices: list[SaleRecord] = field(default_factory=list)
    credit_memos: list[SaleRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    receipts: list[ReceiptRecord] = field(default_factory=list)
    """Sales receipts not yet in QuickBooks, when held in memory."""
    gl_accounts: dict[int, GLAccountRecord] = field(default_factory=dict)
    default_class: str = ""
    """The QuickBooks class of lines whose G/L account names none (``[sync] default_class``; issue 21 item 4)."""
    method_map: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Billing payment method (casefolded) → (the QuickBooks payment method to use, create it when missing): the
    explicit mappings of ``booksync payments methods`` (issue 21 item 6)."""
    members: dict[int, MemberRecord] = field(default_factory=dict)
    links: dict[tuple[str, int], LinkRecord] = field(default_factory=dict)
    changed_invoices: list[SaleRecord] = field(default_factory=list)
    """Invoices in QuickBooks that changed, were voided or deleted in the billing store."""
    changed_credit_memos: list[SaleRecord] = field(default_factory=list)
    changed_payments: list[PaymentRecord] = field(default_factory=list)
    """Payments in QuickBooks that changed (still open)."""
    changed_receipts: list[ReceiptRecord] = field(default_factory=list)
    """Sales receipts in QuickBooks that changed, were voided or deleted in the billing store."""
    deleted_payments: list[PaymentRecord] = field(default_factory=list)
    changed_members: list[MemberRecord] = field(default_factory=list)
    """Members with a customer in QuickBooks whose details changed."""
    linked_payments_touching: list[PaymentRecord] = field(default_factory=list)
    """Payments in QuickBooks applied to the changed invoices and credit memos."""
    source: AddsSource | None = None
    part_links: Mapping[tuple[str, int], LinkRef] = field(default_factory=dict)
    held_payments: list[PaymentRecord] = field(default_factory=list)
    """Payments booksync took out of a deposit behind a placeholder line and has not put back yet (an
    interrupted or refused run): the next run puts them back even when nothing else changed."""
    held_receipts: list[ReceiptRecord] = field(default_factory=list)
    """Sales receipts left out of their deposit the same way (issue 21 item 1)."""
    held_deposits: dict[str, QBDeposit] = field(default_factory=dict)
    """The deposits holding those placeholder lines (:class:`booksync.domain.QBDeposit`), by the TxnID of
    the payment each line stands for."""

    def stamps(self) -> dict[tuple[str, int], dt.datetime]:
        """``updated_at`` of every record loaded, as loaded, by (kind, id): the versions the plan is made of.
        (Records to add carry theirs on their operations: :attr:`booksync.domain.Operation.stamp`.)"""
        out = {(Kind.INVOICE.value, r.id): r.updated_at for r in self.invoices + self.changed_invoices}
        out.update({(Kind.CREDIT_MEMO.value, r.id): r.updated_at for r in self.credit_memos
                    + self.changed_credit_memos})
        out.update({(Kind.SALES_RECEIPT.value, r.id): r.updated_at for r in self.receipts + self.changed_receipts})
        out.update({(Kind.PAYMENT.value, p.id): p.updated_at for p in self.payments + self.changed_payments
                    + self.deleted_payments + self.linked_payments_touching})
        out.update({(Kind.CUSTOMER.value, m.id): m.updated_at for m in list(self.members.values())
                    + self.changed_members})
        return out

    def count(self, kind: Kind) -> int:
        """How many records of ``kind`` (invoice, credit memo, sales receipt, payment) are to be added."""
        if self.source is not None:
            return self.source.count(kind.value)
        return len({Kind.INVOICE: self.invoices, Kind.CREDIT_MEMO: self.credit_memos,
                    Kind.SALES_RECEIPT: self.receipts, Kind.PAYMENT: self.payments}[kind])

    def add_count(self) -> int:
        return sum(self.count(k) for k in (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.SALES_RECEIPT, Kind.PAYMENT))

    def is_empty(self) -> bool:
        return not (self.add_count() or self.changed_invoices or self.changed_credit_memos or self.changed_receipts
                    or self.changed_payments or self.deleted_payments or self.changed_members
                    or self.held_payments or self.held_receipts)

    def sales_to_add(self) -> Iterable[list[tuple[Kind, SaleRecord]]]:
        """Invoices, then credit memos, to add, by date and number, in parts."""
        if self.source is not None:
            for part in self.source.sales_parts():
                yield [(Kind(kind), record) for kind, record in part]
            return
        yield sorted([(Kind.INVOICE, i) for i in self.invoices] + [(Kind.CREDIT_MEMO, c) for c in self.credit_memos],
                     key=lambda kr: (kr[0] is Kind.CREDIT_MEMO, kr[1].date, kr[1].number))

    def receipts_to_add(self) -> Iterable[Sequence[ReceiptRecord]]:
        """Sales receipts to add, by date and number, in parts."""
        if self.source is not None:
            yield from self.source.receipt_parts()
            return
        yield sorted(self.receipts, key=lambda r: (r.date, r.number))

    def payments_to_add(self) -> Iterable[Sequence[PaymentRecord]]:
        """Payments to add, by date and number, in parts; :attr:`part_links` follows each part."""
        if self.source is not None:
            for part, links in self.source.payment_parts():
                self.part_links = links
                yield part
            self.part_links = {}
            return
        yield sorted(self.payments, key=lambda p: (p.date, p.number))

    def link(self, kind: str, local_id: int) -> LinkRef | None:
        """The link of a record in QuickBooks (a link row, or a :class:`~booksync.store.rows.LinkRow`), or None."""
        key = (kind, local_id)
        return self.links.get(key) or self.part_links.get(key)

    def open_sales(self) -> Iterable[tuple[Kind, SaleRecord]]:
        """Invoices and credit memos held in memory whose lines QuickBooks will receive: adds in the lists
        and open changed ones."""
        yield from ((Kind.INVOICE, i) for i in self.invoices)
        yield from ((Kind.CREDIT_MEMO, c) for c in self.credit_memos)
        yield from ((Kind.INVOICE, i) for i in self.changed_invoices if i.status == "open")
        yield from ((Kind.CREDIT_MEMO, c) for c in self.changed_credit_memos if c.status == "open")

    def open_payments(self) -> list[PaymentRecord]:
        """Payments held in memory that QuickBooks will receive: adds in the lists and changed ones."""
        return self.payments + self.changed_payments

    def open_receipts(self) -> list[ReceiptRecord]:
        """Sales receipts held in memory that QuickBooks will receive: adds in the list and open changed ones."""
        return self.receipts + [r for r in self.changed_receipts if r.status == "open"]

    def line_accounts(self) -> dict[int, int]:
        """G/L account id → lines using it, of every invoice, credit memo and sales receipt QuickBooks will
        receive."""
        used = dict(self.source.line_accounts()) if self.source is not None else {}
        records = [r for _, r in self.open_sales()] + list(self.open_receipts())
        for record in records:
            for line in record.lines:
                used[line.gl_account_id] = used.get(line.gl_account_id, 0) + 1
        return used

    def deposit_accounts(self) -> dict[int, int]:
        """G/L account id → payments and sales receipts QuickBooks will receive that deposit to it."""
        used = dict(self.source.deposit_accounts()) if self.source is not None else {}
        for record in [*self.open_payments(), *self.open_receipts()]:
            used[record.deposit_account_id] = used.get(record.deposit_account_id, 0) + 1
        return used

    def receipts_depositing_to(self, gl_ids: set[int]) -> list[ReceiptRecord]:
        """Sales receipts QuickBooks will receive that deposit to one of ``gl_ids``."""
        out = [r for r in self.open_receipts() if r.deposit_account_id in gl_ids]
        if self.source is not None and gl_ids:
            out += self.source.receipts_depositing_to(gl_ids)
        return out

    def payments_depositing_to(self, gl_ids: set[int]) -> list[PaymentRecord]:
        """Payments QuickBooks will receive that deposit to one of ``gl_ids``."""
        out = [p for p in self.open_payments() if p.deposit_account_id in gl_ids]
        if self.source is not None and gl_ids:
            out += self.source.payments_depositing_to(gl_ids)
        return out

    def payments_applying_to(self, invoice_ids: set[int]) -> list[PaymentRecord]:
        """Payments to add that apply to one of ``invoice_ids``."""
        out = [p for p in self.payments if any(a.invoice_id in invoice_ids for a in p.applications)]
        if self.source is not None and invoice_ids:
            out += self.source.payments_applying_to(invoice_ids)
        return out

    def line_class(self, gl_id: int) -> str:
        """The class (full name) the lines of G/L account ``gl_id`` are tracked under, "" for none."""
        return getattr(self.gl_accounts[gl_id], "qb_class", "") or self.default_class

    def methods_used(self) -> set[str]:
        """Payment methods of the payments and sales receipts QuickBooks will receive."""
        used = {p.method for p in [*self.open_payments(), *self.open_receipts()] if p.method}
        if self.source is not None:
            used |= {m for m in self.source.methods() if m}
        return used

    def billed_member_ids(self) -> set[int]:
        ids = {r.member_id for _, r in self.open_sales()} | {p.member_id for p in self.open_payments()}
        ids |= {r.member_id for r in self.open_receipts()}
        if self.source is not None:
            ids |= self.source.member_ids()
        return ids

    def billed_members(self) -> list[MemberRecord]:
        return sorted((self.members[i] for i in self.billed_member_ids()), key=lambda m: m.number)
