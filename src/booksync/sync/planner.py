"""Planning the adds of a run: from the billing records to synchronize (:class:`~booksync.sync.work.Work`), what
QuickBooks holds and the customers resolved, to the ordered operations (:class:`Planner`): customers, items,
payment methods, invoices and credit memos, sales receipts, payments. Corrections extend it (:mod:`booksync.sync.corrections`).

Pure over plain inputs; nothing here reads a database or talks to QuickBooks. The checks that stop a run are in
:mod:`booksync.sync.checks` and :mod:`booksync.sync.customers`; payloads as written in :mod:`booksync.sync.written`.
"""
from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable, Sequence

from booksync.domain import (Action, Address, ApplicationData, CreditData, CustomerData, ItemData, Kind, LineData,
                             PaymentData, PaymentMethodData, Plan, Problem, QBAccount, QBSnapshot, Ref, SalesData,
                             SalesReceiptData)
from booksync.fields import FieldFitter, Limits
from booksync.records import GLAccountRecord, MemberRecord, PaymentRecord, ReceiptRecord, SaleLineRecord, SaleRecord
from booksync.sync.checks import application_problems
from booksync.sync.customers import CustomerResolution
from booksync.sync.labels import customer_name, gl_label, member_label
from booksync.sync.work import Work
from booksync.sync.written import external_guid, stamp

METHOD_TYPES = {"cash": "Cash", "check": "Check", "ach": "ECheck", "e-check": "ECheck", "echeck": "ECheck",
                "credit card": "OtherCreditCard", "visa": "Visa", "mastercard": "MasterCard",
                "american express": "AmericanExpress", "discover": "Discover", "debit card": "DebitCard"}


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
    progress: Callable[[int, int], None] | None = None
    """Called as ``progress(done, total)`` every 5,000 invoices, credit memos and payments planned."""
    sink: Callable[[Plan], None] | None = None
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
        self.plan_receipt_adds()
        self.plan_payment_adds()
        return self.plan

    def plan_receipt_adds(self) -> None:
        """The sales receipts to add, part by part."""
        for part in self.work.receipts_to_add():
            for receipt in part:
                self._plan_receipt(receipt)
                self._checkpoint()

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

    def customer_data(self, member: MemberRecord, name: str) -> CustomerData:
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

    def _income_accounts(self) -> list[GLAccountRecord]:
        ids = self.work.line_accounts()
        return sorted((self.work.gl_accounts[i] for i in ids), key=lambda g: g.number)

    def _plan_items(self) -> None:
        """The item each G/L account's lines use: the existing item it is mapped to (``qb_item``, checked before
        planning by :func:`booksync.sync.checks.check_items`), else booksync's own service item "NUMBER NAME",
        added when QuickBooks does not have it yet."""
        items = {i.name.casefold(): i for i in self.snapshot.items}
        for gl in self._income_accounts():
            label = gl_label(gl)
            wanted = getattr(gl, "qb_item", "")  # literal records in older tests have no item mapping
            mapped = items.get(wanted.casefold()) if wanted else None
            if mapped is not None:
                self._items[gl.id] = Ref(Kind.ITEM.value, gl.id, mapped.list_id, mapped.name)
                continue
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
        """The QuickBooks payment method of each billing payment method: the one it is mapped to (``booksync
        payments methods``; checked by :func:`booksync.sync.checks.check_payment_methods`), else the one of its
        name; added when QuickBooks does not have it (and the check allowed it)."""
        existing = {m.name.casefold(): m for m in self.snapshot.payment_methods}
        for method in sorted(self.work.methods_used()):
            wanted = self.work.method_map.get(method.casefold(), (method, True))[0]
            name = self.fit.name("payment method", "name", wanted, self.limits.payment_method_name,
                                 fallback="Other")
            key = name.casefold()
            local_id = int(hashlib.sha256(key.encode()).hexdigest()[:7], 16)
            if key in existing:
                self._methods[method] = Ref(Kind.PAYMENT_METHOD.value, local_id, existing[key].list_id, name)
                continue
            added = next((r for r in self._methods.values() if r.remote_id is None and r.name.casefold() == key), None)
            if added is not None:  # two billing methods mapped to one method this run creates: one add
                self._methods[method] = added
                continue
            data = PaymentMethodData(name, METHOD_TYPES.get(key, "Other"))
            self.plan.add(action=Action.ADD, kind=Kind.PAYMENT_METHOD, local_id=local_id, number=name,
                          description=f"Payment method \"{name}\"", payload=data, **stamp(data))
            self._methods[method] = Ref(Kind.PAYMENT_METHOD.value, local_id, None, name)

    # -- transactions

    def lines_data(self, label: str, lines: Sequence[SaleLineRecord]) -> tuple[LineData, ...]:
        """The lines of an invoice, credit memo or sales receipt (``label``: "invoice INV1"): each G/L account's
        item and class, the description fitted to the limits. The one place a line is planned, for every kind with
        lines."""
        return tuple(LineData(item=self._items[line.gl_account_id],
                              description=self.fit.text(label, f"line {line.seq} description", line.description,
                                                        self.limits.line_description),
                              quantity=line.quantity, rate=line.rate, amount=line.amount,
                              class_ref=self.class_ref(line.gl_account_id))
                     for line in lines)

    def sales_data(self, kind: Kind, record: SaleRecord) -> SalesData:
        label = f"{kind.label} {record.number}"
        lines = self.lines_data(label, record.lines)
        return SalesData(customer=self.customer_ref(record.member_id), date=record.date,
                         ref_number=self.fit.ref_number(label, "number", record.number,
                                                        self.limits.invoice_ref_number),
                         lines=lines, due_date=record.due_date,
                         memo=self.fit.text(label, "memo", record.memo, self.limits.memo),
                         external_guid=external_guid(self.company_key, kind, record.id))

    def class_ref(self, gl_id: int) -> Ref | None:
        """The ClassRef of G/L account ``gl_id``'s lines (checked by :func:`booksync.sync.checks.check_classes`),
        None when they have no class."""
        name = self.work.line_class(gl_id)
        if not name:
            return None
        found = next((c for c in self.snapshot.classes if c.name.casefold() == name.casefold()), None)
        return Ref("class", None, found.list_id if found else None, found.name if found else name)

    def _tick(self) -> None:
        self._planned = getattr(self, "_planned", 0) + 1
        if self.progress is not None and self._planned % 5000 == 0:
            work = self.work
            self.progress(self._planned, work.add_count())

    def _plan_sales(self, kind: Kind, record: SaleRecord) -> None:
        self._tick()
        data = self.sales_data(kind, record)
        member = self.work.members[record.member_id]
        self.plan.add(action=Action.ADD, kind=kind, local_id=record.id, number=record.number,
                      description=f"{kind.label.capitalize()} {record.number} for {member.name}, {record.date}, "
                                  f"{data.total}",
                      payload=data, **stamp(data), amount=data.total, stamp=record.updated_at)
        self.planned.add(kind.value, record.id)

    def _deposit_ref(self, gl_id: int) -> Ref:
        account = self._accounts[self.work.gl_accounts[gl_id].qb_account.casefold()]
        return Ref("account", None, account.list_id, account.full_name)

    def receipt_data(self, receipt: ReceiptRecord) -> SalesReceiptData:
        """The sales receipt QuickBooks holds for ``receipt``: lines as an invoice's (:meth:`sales_data`), the
        deposit account from the G/L cross reference, the payment method, the reference as CheckNumber."""
        label = f"sales receipt {receipt.number}"
        lines = self.lines_data(label, receipt.lines)
        return SalesReceiptData(
            customer=self.customer_ref(receipt.member_id), date=receipt.date,
            ref_number=self.fit.ref_number(label, "number", receipt.number, self.limits.invoice_ref_number),
            lines=lines, deposit_to=self._deposit_ref(receipt.deposit_account_id),
            method=self._methods.get(receipt.method) if receipt.method else None,
            check_number=self.fit.text(label, "reference", receipt.reference, self.limits.check_number),
            memo=self.fit.text(label, "memo", receipt.memo, self.limits.memo),
            external_guid=external_guid(self.company_key, Kind.SALES_RECEIPT, receipt.id))

    def _plan_receipt(self, receipt: ReceiptRecord) -> None:
        self._tick()
        data = self.receipt_data(receipt)
        member = self.work.members[receipt.member_id]
        self.plan.add(action=Action.ADD, kind=Kind.SALES_RECEIPT, local_id=receipt.id, number=receipt.number,
                      description=f"Sales receipt {receipt.number} from {member.name}, {receipt.date}, {data.total}",
                      payload=data, **stamp(data), amount=data.total, stamp=receipt.updated_at)

    def _txn_ref(self, kind: Kind, local_id: int, number: str) -> Ref:
        link = self.work.link(kind.value, local_id)
        return Ref(kind.value, local_id, link.remote_id if link is not None else None, number)

    def payment_data(self, payment: PaymentRecord) -> PaymentData:
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

    def _plan_payment(self, payment: PaymentRecord) -> None:
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
