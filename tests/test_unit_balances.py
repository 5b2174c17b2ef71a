"""The open-balance check before anything is written (booksync.sync.balances): the plan's payments must fit what
QuickBooks holds open on the invoices they apply to, read from a fake port."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from unit_books import ACME, DAY, balances, build, linked, work

from booksync.books.port import RemoteTxn
from booksync.domain import Action, ApplicationData, Kind, LineData, PaymentData, Plan, Ref, SalesData
from booksync.records import Application, Payment, Target
from booksync.store.rows import LinkRow

D = Decimal


class FakePort:
    def __init__(self, *txns: RemoteTxn) -> None:
        self.txns = {t.remote_id: t for t in txns}

    def transactions(self, kind: str, remote_ids: list[str]) -> dict[str, RemoteTxn]:
        return {i: self.txns[i] for i in remote_ids if i in self.txns and self.txns[i].kind == kind}


def inv1(balance: str, *linked_txns: tuple) -> RemoteTxn:
    """INV1 in QuickBooks: total 100.00, ``balance`` left to pay."""
    return RemoteTxn("TXN-INV1", "invoice", "3", "C-1", "2025-03-03", D("100.00"), "INV1", balance=D(balance),
                     linked=list(linked_txns))


def planned_new_payment(amount: str) -> balances.PlannedApplications:
    """A payment to add, R1, applying ``amount`` to INV1 (already in QuickBooks), as the planner plans it."""
    w = work(payments=[Payment(1, "R1", ACME.id, DAY, D(amount), 5, (Application(1, D(amount), Target("INV1")),))])
    w.part_links = {(Kind.INVOICE.value, 1): LinkRow("TXN-INV1")}
    planned = balances.PlannedApplications()
    planned.observe(build(w, customers=linked(ACME), create_customers=False).plan.operations)
    return planned


def test_a_payment_larger_than_what_quickbooks_holds_open_stops_the_run_naming_the_other_payment():
    port = FakePort(inv1("30.00", ("TXN-X", "ReceivePayment", "5501", D("70.00"))))
    (problem,) = balances.check_open_balances(planned_new_payment("60.00"), port)
    assert (problem.code, problem.record) == ("invoice-balance", "invoice INV1")
    assert problem.message == ("payment R1 would apply 60.00 to it, but QuickBooks holds only 30.00 of it open (total "
                               "100.00; 70.00 of it is paid in QuickBooks by a payment booksync did not write: payment "
                               "5501 (TxnID TXN-X) applies 70.00)")
    assert problem.fix.endswith("booksync payments edit R1 --apply INV1=AMOUNT")


def test_a_payment_that_fits_the_open_balance_passes():
    assert balances.check_open_balances(planned_new_payment("30.00"), FakePort(inv1("30.00"))) == []


def payment_mod(amount: str, invoice_total: str | None = None, void: bool = False) -> balances.PlannedApplications:
    """R1, in QuickBooks as TXN-R1, re-applied with ``amount`` on INV1; INV1 changed to ``invoice_total`` or voided
    first when asked."""
    plan = Plan()
    if invoice_total is not None:
        line = LineData(Ref("item", 1, "I-DUES"), "", D(1), D(invoice_total), D(invoice_total))
        plan.add(action=Action.MOD, kind=Kind.INVOICE, local_id=1, number="INV1", description="", remote_id="TXN-INV1",
                 payload=SalesData(Ref("customer", 1, "C-1"), DAY, "INV1", (line,)))
    if void:
        plan.add(action=Action.VOID, kind=Kind.INVOICE, local_id=1, number="INV1", description="", remote_id="TXN-INV1")
    plan.add(action=Action.MOD, kind=Kind.PAYMENT, local_id=1, number="R1", description="", remote_id="TXN-R1",
             payload=PaymentData(Ref("customer", 1, "C-1"), dt.date(2025, 3, 5), "R1", D(amount), None,
                                 Ref("account", None, "A-UF"),
                                 applications=(ApplicationData(Ref("invoice", 1, "TXN-INV1", "INV1"), D(amount)),)))
    planned = balances.PlannedApplications()
    planned.observe(plan.operations)
    return planned


R1_IN_QB = RemoteTxn("TXN-R1", "payment", "2", "C-1", "2025-03-05", D("60.00"), applied=[("TXN-INV1", D("60.00"))])


def test_what_booksyncs_own_payment_applies_in_quickbooks_counts_as_open_for_it():
    """INV1 shows 40.00 open, but 60.00 of what is paid is R1 itself: R1 may apply up to 100.00."""
    assert balances.check_open_balances(payment_mod("100.00"), FakePort(inv1("40.00"), R1_IN_QB)) == []
    own = ("TXN-R1", "ReceivePayment", "R1", D("60.00"))  # QuickBooks lists R1 among INV1's linked transactions
    (problem,) = balances.check_open_balances(payment_mod("100.01"), FakePort(inv1("40.00", own), R1_IN_QB))
    assert problem.message.endswith("holds only 100.00 of it open (total 100.00; 0.00 of it is paid in QuickBooks by "
                                    "payments or credits booksync did not write)")


def test_the_invoices_new_total_from_the_plan_is_what_counts():
    """INV1 is raised to 150.00 in the same plan: R1 may apply 150.00; an invoice the plan voids is not checked."""
    port = FakePort(inv1("40.00"), R1_IN_QB)
    assert balances.check_open_balances(payment_mod("150.00", invoice_total="150.00"), port) == []
    assert len(balances.check_open_balances(payment_mod("150.00", invoice_total="120.00"), port)) == 1
    assert balances.check_open_balances(payment_mod("500.00", void=True), port) == []
