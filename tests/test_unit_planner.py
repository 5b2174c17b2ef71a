"""The planner's pure functions called with literal billing rows (booksync.records): what a plan adds and in which
order, how customers are found, and the checks that stop a run. No database, no QuickBooks, no CLI."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from unit_books import (ACME, BOLT, CustomerResolution, DAY, GLS, ITEMS, KEY, MEMBERS, application_problems, build,
                        check_accounts, check_overapplied, customer_gone_problem, customers_gone, customers_needed,
                        deposit_gl_accounts, external_guid, hold_back, invoice, linked, money, planner,
                        resolve_customers, snapshot, work)

from booksync.books.desktop.adapter import DESKTOP_LIMITS
from booksync.domain import Action, Kind, QBListEntry, Ref
from booksync.records import Application, GLAccount, Link, Member, Payment, Target
from booksync.store.rows import LinkRow


def pay(id: int, number: str, amount: str, *apps: tuple[int, str, str], member: Member = ACME, deposit: int = 5,
        **kw) -> Payment:
    """A payment; each application is (invoice id, invoice number, amount)."""
    applications = tuple(Application(inv_id, Decimal(a), Target(inv_number)) for inv_id, inv_number, a in apps)
    return Payment(id, number, member.id, kw.pop("date", DAY), Decimal(amount), deposit, applications, **kw)


# ---------------------------------------------------------------------- what a first sync plans


def test_a_first_sync_plans_customers_items_methods_invoices_credit_memos_then_payments():
    """Everything a payment refers to is planned before it, each record once, in the order QuickBooks needs
    (DESIGN.md step 4): references to records of the same run are local Refs the port resolves when it sends."""
    w = work(invoices=[invoice(1, "INV1", "100.00", "20.00"), invoice(2, "INV2", "30.00", member=BOLT, gl=2)],
             credit_memos=[invoice(3, "CM1", "10.00")],
             payments=[pay(1, "R1", "50.00", (1, "INV1", "50.00"), method="Check")])
    builder = build(w, snapshot(), CustomerResolution(missing=[BOLT, ACME]))
    ops = builder.plan.operations
    assert [(op.action, op.kind, op.number) for op in ops] == [
        (Action.ADD, Kind.CUSTOMER, "1001"), (Action.ADD, Kind.CUSTOMER, "1002"),
        (Action.ADD, Kind.ITEM, "4020"), (Action.ADD, Kind.ITEM, "4300"),
        (Action.ADD, Kind.PAYMENT_METHOD, "Check"),
        (Action.ADD, Kind.INVOICE, "INV1"), (Action.ADD, Kind.INVOICE, "INV2"), (Action.ADD, Kind.CREDIT_MEMO, "CM1"),
        (Action.ADD, Kind.PAYMENT, "R1")]
    assert builder.problems == []
    item = ops[2].payload
    assert (item.name, item.account) == ("4020 Dues", Ref("account", None, "A-DUES", "Membership Dues"))
    inv1 = ops[5].payload
    assert inv1.customer == Ref(Kind.CUSTOMER.value, ACME.id, None, "Acme Widgets")
    assert [ln.item for ln in inv1.lines] == [Ref(Kind.ITEM.value, 1, None, "4020 Dues")] * 2
    assert (inv1.total, ops[5].amount) == (money("120.00"), money("120.00"))
    payment = ops[8].payload
    assert payment.applications[0].invoice == Ref(Kind.INVOICE.value, 1, None, "INV1")
    assert payment.deposit_to == Ref("account", None, "A-UF", "Undeposited Funds")
    assert payment.method == Ref(Kind.PAYMENT_METHOD.value, ops[4].local_id, None, "Check")
    assert payment.memo == "Receipt R1" and payment.ref_number == "R1"
    assert builder.plan.counts() == {"add customer": 2, "add item": 2, "add payment_method": 1, "add invoice": 2,
                                     "add credit_memo": 1, "add payment": 1}


def test_adds_carry_the_updated_at_they_were_planned_from():
    """Each add is stamped with its billing row's ``updated_at`` (the journal keeps it, the link records it)."""
    when = dt.datetime(2025, 2, 14, 9, 30)
    builder = build(work(invoices=[invoice(1, "INV1", "10.00", updated_at=when)]), create_customers=False)
    (op,) = builder.plan.operations
    assert op.stamp == when and op.fingerprint and op.written.startswith("{")


def test_invoices_are_planned_by_date_then_number_whatever_order_they_come_in():
    w = work(invoices=[invoice(1, "INV9", "1.00", date=dt.date(2025, 3, 2)),
                       invoice(2, "INV10", "1.00", date=dt.date(2025, 3, 1)),
                       invoice(3, "INV1", "1.00", date=dt.date(2025, 3, 2))])
    ops = build(w, create_customers=False).plan.operations
    assert [op.number for op in ops] == ["INV10", "INV1", "INV9"]


def test_items_and_payment_methods_quickbooks_has_are_used_not_added():
    """An item of the G/L account's name posting to its account, and a payment method QuickBooks has (compared without
    case), are referred to by their ListIDs."""
    w = work(invoices=[invoice(1, "INV1", "10.00")], payments=[pay(1, "R1", "10.00", (1, "INV1", "10.00"),
                                                                   method="check")])
    ops = build(w, snapshot(items=ITEMS, methods=("Check",)), create_customers=False).plan.operations
    assert [op.kind for op in ops] == [Kind.INVOICE, Kind.PAYMENT]
    assert ops[0].payload.lines[0].item == Ref(Kind.ITEM.value, 1, "I-DUES", "4020 Dues")
    assert ops[1].payload.method.remote_id == "M-Check"


def test_an_item_of_the_name_posting_elsewhere_stops_the_run():
    wrong = QBListEntry("I-X", "4020 Dues", "Item", account_list_id="A-ADS")
    builder = build(work(invoices=[invoice(1, "INV1", "10.00")]), snapshot(items=[wrong]), create_customers=False)
    (problem,) = builder.problems
    assert (problem.code, problem.record) == ("item-account", "G/L account 4020 Dues")
    assert "\"4020 Dues\" exists but does not post to \"Membership Dues\"" in problem.message


def test_a_linked_customer_and_a_synchronized_invoice_are_referred_to_by_their_quickbooks_ids():
    """A payment of a part applies to an invoice already in QuickBooks through the part's links."""
    w = work(payments=[pay(1, "R1", "25.00", (9, "INV9", "25.00"))])
    w.part_links = {(Kind.INVOICE.value, 9): LinkRow("TXN-INV9")}
    builder = build(w, customers=linked(ACME), create_customers=False)
    (op,) = builder.plan.operations
    assert op.payload.customer == Ref(Kind.CUSTOMER.value, ACME.id, "C-Acme Widgets", "Acme Widgets")
    assert op.payload.applications[0].invoice == Ref(Kind.INVOICE.value, 9, "TXN-INV9", "INV9")
    assert builder.problems == []


def test_a_reference_longer_than_quickbooks_holds_is_cut_and_reported():
    """A check number over 20 characters (ReceivePayment RefNumber) is cut, and the plan lists the change."""
    builder = build(work(payments=[pay(1, "R1", "5.00", reference="CONFIRMATION-0123456789-XYZ")]),
                    create_customers=False)
    (op,) = builder.plan.operations
    assert len(op.payload.ref_number) == DESKTOP_LIMITS.payment_ref_number
    (adjustment,) = builder.plan.adjustments
    assert adjustment.record == "payment R1" and adjustment.original == "CONFIRMATION-0123456789-XYZ"


# ---------------------------------------------------------------------- checks that stop a run


def test_applications_to_void_or_unsynchronized_invoices_stop_the_run():
    """A payment may apply only to open invoices that QuickBooks has or this plan adds (INV1 is in QuickBooks, but
    void in the billing store)."""
    w = work(links={(Kind.INVOICE.value, 1): Link("TXN-INV1"), (Kind.INVOICE.value, 3): Link("TXN-INV3")})
    payments = [Payment(1, "R1", ACME.id, DAY, money("30.00"), 5, (
        Application(1, money("10.00"), Target("INV1", "void")), Application(2, money("10.00"), Target("INV2")),
        Application(3, money("10.00"), Target("INV3"))))]
    problems = application_problems(w, payments, planned=set())
    assert [(p.code, p.record, p.message) for p in problems] == [
        ("application-target", "payment R1", "applies to invoice INV1, which is void"),
        ("application-target", "payment R1", "applies to invoice INV2, which is not synchronized")]
    assert "booksync payments edit R1 --apply" in problems[0].fix
    assert application_problems(w, payments[:0], planned=set()) == []
    planned = planner.PlannedKeys()
    planned.add(Kind.INVOICE.value, 2)
    planned.freeze()
    assert len(application_problems(w, payments, planned)) == 1  # INV2 is in the plan: only INV1 is left


def test_a_credit_memo_applied_through_a_payment_must_be_synchronized_too():
    w = work(links={(Kind.INVOICE.value, 1): Link("TXN-INV1")})
    p = Payment(1, "R1", 1, DAY, money("0.00"), 5, (Application(1, money("0.00"), Target("INV1"), 4, money("5.00"),
                                                                Target("CM4")),))
    (problem,) = application_problems(w, [p], planned=set())
    assert problem.message == "applies to credit memo CM4, which is not synchronized"


def test_planned_keys_find_what_was_added_by_kind_and_id():
    keys = planner.PlannedKeys()
    for local_id in (30, 10, 20):
        keys.add(Kind.INVOICE.value, local_id)
    keys.freeze()
    assert (Kind.INVOICE.value, 20) in keys and (Kind.INVOICE.value, 25) not in keys
    assert (Kind.CREDIT_MEMO.value, 20) not in keys


def test_a_changed_invoice_smaller_than_what_payments_apply_to_it_stops_the_run():
    """QuickBooks refuses an invoice below what is applied to it (3210): the run stops before writing, naming the
    receipts and the new total."""
    w = work(changed_invoices=[invoice(1, "INV1", "40.00")],
             linked_payments_touching=[pay(1, "R1", "30.00", (1, "INV1", "30.00")),
                                       pay(2, "R2", "20.00", (1, "INV1", "20.00"))])
    (problem,) = check_overapplied(w)
    assert (problem.code, problem.record) == ("overapplied", "invoice INV1")
    assert problem.message == "payments R1, R2 apply 50.00 to it, but its total is now 40.00"
    w.changed_invoices = [invoice(1, "INV1", "50.00")]
    assert check_overapplied(w) == []


def test_an_income_account_mapped_to_a_bank_account_stops_the_run_with_a_suggestion():
    """The cross reference names an active account of a type the G/L account may not post to."""
    gls = {**GLS, 1: GLAccount(1, "4020", "Dues", "Income", "Checking")}
    (problem,) = check_accounts(work(invoices=[invoice(1, "INV1", "10.00")], gl_accounts=gls), snapshot())
    assert (problem.code, problem.record) == ("incompatible-account", "G/L account 4020 Dues")
    assert "(used 1 time(s))" in problem.message
    assert problem.fix.startswith("booksync accounts xref --set 4020=")


def test_deposit_accounts_are_offered_undeposited_funds_first():
    gls = list(GLS.values()) + [GLAccount(8, "0900", "Petty cash", "Bank", "Checking")]
    assert [g.number for g in deposit_gl_accounts(gls, snapshot())] == ["1050", "0900", "1000"]


# ---------------------------------------------------------------------- customers


def test_members_reach_their_customers_by_link_first_then_bill_info():
    carol, dan, erin, fay = (Member(3, "1003", "Carol", qb_customer="Carol's Cafe"), Member(4, "1004", "Dan"),
                             Member(5, "1005", "Erin", qb_customer="Nobody"),
                             Member(6, "1006", "Fay", qb_customer="Acme Widgets"))
    members = {**MEMBERS, **{m.id: m for m in (carol, dan, erin, fay)}}
    w = work(members=members, invoices=[invoice(i, f"INV{i}", "1.00", member=m) for i, m in enumerate(members.values())],
             links={(Kind.CUSTOMER.value, 1): Link("C-Acme Widgets"), (Kind.CUSTOMER.value, 2): Link("C-Gone")})
    result = resolve_customers(w, snapshot(customers=("Acme Widgets", "Carol's Cafe")))
    assert result.linked == {1: "C-Acme Widgets", 3: "C-Carol's Cafe"}
    assert result.new_links == {3: ("C-Carol's Cafe", "Carol's Cafe")}
    assert [m.number for m in result.missing] == ["1004"]
    assert [(p.code, p.record) for p in result.problems] == [
        ("customer-gone", "member 1002 Bolt Bakery"), ("bill-info-unknown", "member 1005 Erin"),
        ("customer-taken", "member 1006 Fay")]


def test_a_member_whose_customer_is_gone_is_held_back_and_the_rest_goes_ahead():
    """customers_gone names the member; hold_back takes every record of it out of the run and counts them."""
    w = work(invoices=[invoice(1, "INV1", "1.00"), invoice(2, "INV2", "1.00", member=BOLT)],
             changed_payments=[pay(1, "R1", "1.00")], changed_members=[ACME],
             links={(Kind.CUSTOMER.value, 1): Link("C-Old", qb_name="Acme Old"),
                    (Kind.CUSTOMER.value, 2): Link("C-Bolt Bakery")})
    gone = customers_gone(w, snapshot(customers=("Bolt Bakery",)))
    assert [(m.number, link.remote_id) for m, link in gone] == [("1001", "C-Old")]
    held = hold_back(w, {ACME.id})
    assert held == 3
    assert [i.number for i in w.invoices] == ["INV2"] and w.changed_payments == [] and w.changed_members == []
    problem = customer_gone_problem(ACME, gone[0][1], held)
    assert "\"Acme Old\" (ListID C-Old)" in problem.message and "(3 record(s)) were held back" in problem.message
    assert "booksync members map 1001" in problem.fix


def test_a_run_reads_only_the_customers_and_names_its_members_need():
    """Linked members by ListID; an unlinked one by its Bill Info and the name its customer would get."""
    carol = Member(3, "1003", "Carol: Cafe", qb_customer="Carol's")
    w = work(members={**MEMBERS, 3: carol}, invoices=[invoice(1, "INV1", "1.00"), invoice(2, "INV2", "1.00",
                                                                                        member=carol)],
             links={(Kind.CUSTOMER.value, 1): Link("C-1")})
    assert customers_needed(w, DESKTOP_LIMITS) == ({"C-1"}, {"Carol's", "Carol - Cafe"})


def test_work_stamps_name_the_version_of_every_record_loaded():
    when = dt.datetime(2025, 4, 1, 12)
    w = work(invoices=[invoice(1, "INV1", "1.00", updated_at=when)],
             changed_payments=[pay(2, "R2", "1.00", updated_at=when)])
    stamps = w.stamps()
    assert stamps[(Kind.INVOICE.value, 1)] == when and stamps[(Kind.PAYMENT.value, 2)] == when
    assert stamps[(Kind.CUSTOMER.value, ACME.id)] == ACME.updated_at
    assert (w.count(Kind.INVOICE), w.add_count(), w.is_empty()) == (1, 1, False)
    assert work().is_empty()


def test_a_payments_external_guid_is_the_same_whenever_it_is_planned():
    """The same payment planned twice gets the same ExternalGUID (a lost answer is matched by it later)."""
    first = build(work(payments=[pay(1, "R1", "1.00")]), create_customers=False).plan.operations[0]
    again = planner.Planner(work(payments=[pay(1, "R1", "1.00")]), snapshot(items=ITEMS), linked(ACME),
                            DESKTOP_LIMITS, KEY).build(create_customers=False).operations[0]
    assert first.payload.external_guid == again.payload.external_guid == external_guid(KEY, Kind.PAYMENT, 1)


# ---------------------------------------------------------------------- sales receipts (issue 21 item 1)


def receipt(id: int, number: str, *amounts: str, deposit: int = 5, gl: int = 1, member: Member = ACME,
            **kw) -> "Receipt":
    from booksync.records import Receipt, SaleLine
    lines = tuple(SaleLine(gl, Decimal(a), description=f"line {i}", seq=i) for i, a in enumerate(amounts, 1))
    return Receipt(id, number, member.id, kw.pop("date", DAY), deposit, lines=lines, **kw)


def test_a_sales_receipt_is_planned_after_credit_memos_before_payments_with_its_deposit_account_and_method():
    """A sales receipt's lines reach income through the G/L accounts' items (added in the same run), its money
    the deposit account's QuickBooks account, its method a payment method of the run; planned after the invoices
    and credit memos and before the payments (plan order of kinds.py)."""
    w = work(invoices=[invoice(1, "INV1", "100.00")], receipts=[receipt(4, "SR2", "40.00", deposit=7, gl=2,
                                                                          method="Visa", reference="x4242"),
                                                                  receipt(3, "SR1", "25.00", "5.00")],
             payments=[pay(1, "R1", "100.00", (1, "INV1", "100.00"), method="Check")])
    builder = build(w, snapshot())
    ops = builder.plan.operations
    assert [(op.kind, op.number) for op in ops if op.kind not in (Kind.ITEM, Kind.PAYMENT_METHOD)] == [
        (Kind.INVOICE, "INV1"), (Kind.SALES_RECEIPT, "SR1"), (Kind.SALES_RECEIPT, "SR2"), (Kind.PAYMENT, "R1")]
    assert {op.number for op in ops if op.kind is Kind.ITEM} == {"4020", "4300"}
    assert {op.number for op in ops if op.kind is Kind.PAYMENT_METHOD} == {"Check", "Visa"}
    sr1, sr2 = (op for op in ops if op.kind is Kind.SALES_RECEIPT)
    assert (sr1.payload.total, sr1.amount, sr1.payload.deposit_to, sr1.payload.method) == (
        money("30.00"), money("30.00"), Ref("account", None, "A-UF", "Undeposited Funds"), None)
    assert sr2.payload.deposit_to == Ref("account", None, "A-CHK", "Checking")
    assert sr2.payload.method.name == "Visa" and sr2.payload.check_number == "x4242"
    assert [ln.item.name for ln in sr2.payload.lines] == ["4300 Advertising"]
    assert sr2.payload.external_guid == external_guid(KEY, Kind.SALES_RECEIPT, 4)
    assert builder.problems == []


def test_a_sales_receipt_deposited_to_an_income_account_stops_the_run_with_what_to_do():
    """The deposit check covers sales receipts: an income G/L account is where the lines post, never where the
    money goes (account_rules' deposit rule; QuickBooks 3140)."""
    from unit_books import check_deposit_accounts
    w = work(receipts=[receipt(3, "SR1", "25.00", deposit=1)])
    (problem,) = check_deposit_accounts(w, snapshot())
    assert problem.code == "deposit-account"
    assert problem.record == "sales receipt SR1 from Acme Widgets, 2025-03-03, 25.00"
    assert "deposits to G/L account 4020 Dues of type Income" in problem.message
    assert "QuickBooks accepts sales receipts only into a Bank or Other Current Asset account" in problem.message
    assert "booksync import sales-receipts FILE" in problem.fix and "1050" in problem.fix
    assert "booksync" not in problem.fix_web
