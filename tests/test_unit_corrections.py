"""Corrections planning (CorrectionPlanner) called with literal billing rows: an invoice changed, voided or deleted,
a payment moved or deleted, a payment released around an invoice's correction, a deposited payment taken out and put
back, conflicts, closed periods, customers renamed. The "before" of every correction is what the planner itself
wrote for the original record (tests/unit_books.py ``written``), as the link table keeps it."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from unit_books import (ACME, BOLT, CustomerResolution, DAY, ITEMS, KEY, Work, build, check_applications, corrections,
                        invoice, linked, money, planner, snapshot, work, written)

from booksync.books.desktop.adapter import DESKTOP_LIMITS
from booksync.domain import (PLACEHOLDER_MEMO, Action, DepositLineData, Kind, QBDeposit, QBDepositLine, Ref)
from booksync.records import Application, Link, Member, Payment, SaleLine, Target

TODAY = dt.date(2025, 3, 20)
LATER = dt.datetime(2025, 3, 15, 10)
Remote = corrections.Remote


def policy(**kw) -> corrections.CorrectionPolicy:
    return corrections.CorrectionPolicy(today=kw.pop("today", TODAY), **kw)


def current(w: Work, **versions: str) -> dict[tuple[str, int], Remote]:
    """What QuickBooks has now of every linked record: the version booksync wrote, unless ``versions`` ("kind:id")
    says otherwise."""
    return {key: Remote(versions.get(f"{key[0]}:{key[1]}", link.edit_sequence)) for key, link in w.links.items()}


def correct(w: Work, snap=None, remote=None, deposits=None, **kw) -> corrections.CorrectionPlanner:
    builder = corrections.CorrectionPlanner(w, snap or snapshot(items=ITEMS), linked(ACME, BOLT), DESKTOP_LIMITS, KEY,
                                            remote=current(w) if remote is None else remote,
                                            policy=policy(**kw), deposits=deposits or {})
    builder.build(create_customers=False)
    return builder


def pay(id: int, number: str, amount: str, *apps: tuple[int, str, str], **kw) -> Payment:
    applications = tuple(Application(i, Decimal(a), Target(n)) for i, n, a in apps)
    return Payment(id, number, ACME.id, kw.pop("date", DAY), Decimal(amount), 5, applications, **kw)


def shape(builder: corrections.CorrectionPlanner) -> list[tuple[Action, Kind, str, str]]:
    return [(op.action, op.kind, op.number, op.link_mode) for op in builder.plan.operations]


INV1 = invoice(1, "INV1", "100.00")
INV1_LINK = written(Kind.INVOICE, INV1)


def changed_invoice(*amounts: str, status: str = "open", **kw) -> Work:
    return work(changed_invoices=[invoice(1, "INV1", *amounts, status=status, updated_at=LATER)],
                links={(Kind.INVOICE.value, 1): INV1_LINK}, **kw)


# ---------------------------------------------------------------------- invoices and credit memos


def test_an_invoice_whose_amount_changed_becomes_a_mod_at_the_version_booksync_wrote():
    builder = correct(changed_invoice("150.00"))
    (op,) = builder.plan.operations
    assert (op.action, op.kind, op.remote_id, op.edit_sequence, op.link_mode) == (
        Action.MOD, Kind.INVOICE, "TXN-INV1", "5", "full")
    assert op.payload.total == op.amount == money("150.00")
    (c,) = builder.plan.corrections
    assert (c.kind, c.number, c.member, c.date, c.action) == ("Invoice", "INV1", "1001 Acme Widgets", DAY, "changed")
    assert c.changes == ["lines: 4020 Dues 100.00 -> 4020 Dues 150.00"]
    assert (c.amount_before, c.amount_after, c.accounts) == (money("100.00"), money("150.00"), ("4020 Dues",))
    assert (c.past_period, c.closed, builder.problems) == (False, False, [])


def test_an_invoice_touched_without_a_change_plans_nothing():
    builder = correct(changed_invoice("100.00"))
    assert (builder.plan.operations, builder.plan.corrections, builder.problems) == ([], [], [])


@pytest.mark.parametrize("status, action, words", [("void", Action.VOID, "voided"),
                                                    ("deleted", Action.DELETE, "deleted")])
def test_a_voided_or_deleted_invoice_is_voided_or_deleted_in_quickbooks(status, action, words):
    builder = correct(changed_invoice("100.00", status=status))
    (op,) = builder.plan.operations
    assert (op.action, op.remote_id, op.payload, op.amount, op.link_mode, op.fingerprint) == (
        action, "TXN-INV1", None, money("0.00"), "void" if status == "void" else "deleted", action.value)
    (c,) = builder.plan.corrections
    assert c.action == words and c.changes == [f"status: open -> {status}", "amount: 100.00 -> 0.00"]


def test_a_correction_dated_in_a_past_period_is_flagged_for_the_accountant():
    builder = correct(changed_invoice("150.00"), today=dt.date(2025, 5, 2))
    assert builder.plan.corrections[0].past_period is True


def test_an_invoice_edited_in_quickbooks_is_a_conflict_the_policy_decides():
    """EditSequence 9 in QuickBooks, 5 when booksync wrote it: stop (default), overwrite at 9, or skip."""
    w = changed_invoice("150.00")
    remote = {(Kind.INVOICE.value, 1): Remote("9", money("120.00"), "2025-03-03")}
    stopped = correct(w, remote=remote)
    (problem,) = stopped.problems
    assert (problem.code, problem.record, stopped.plan.operations) == ("conflict", "invoice INV1", [])
    assert problem.message == ("was edited in QuickBooks after booksync wrote it (EditSequence 5 when written, 9 now; "
                               "QuickBooks now has amount 120.00, date 2025-03-03)")
    assert "--on-conflict=overwrite" in problem.fix and "--on-conflict" not in problem.fix_web
    overwritten = correct(w, remote=remote, on_conflict="overwrite")
    assert [op.edit_sequence for op in overwritten.plan.operations] == ["9"]
    assert overwritten.plan.corrections[0].note.startswith("Conflict: edited in QuickBooks")
    skipped = correct(w, remote=remote, on_conflict="skip")
    assert (skipped.plan.operations, skipped.problems, skipped.skipped) == ([], [], ["invoice INV1"])


def test_an_invoice_deleted_in_quickbooks_stops_the_run():
    builder = correct(changed_invoice("150.00"), remote={(Kind.INVOICE.value, 1): Remote("", exists=False)})
    (problem,) = builder.problems
    assert problem.code == "deleted-in-quickbooks" and "TxnID/ListID TXN-INV1" in problem.message
    assert builder.plan.operations == []


def test_a_closed_period_correction_stops_unless_adjusted_in_the_open_period():
    """With a closing date on or after the invoice's date, the default stops; "adjust" leaves the invoice alone and
    posts the difference today: a larger amount as an invoice "A...", a smaller one as a credit memo "C..."."""
    closed = snapshot(items=ITEMS, closing=dt.date(2025, 3, 31))
    stopped = correct(changed_invoice("150.00"), closed)
    assert [(p.code, p.record) for p in stopped.problems] == [("closed-period", "invoice INV1 for Acme Widgets, "
                                                                                 "dated 2025-03-03")]
    today = dt.date(2025, 4, 10)
    more = correct(changed_invoice("150.00"), closed, closed_period="adjust", today=today)
    (op,) = more.plan.operations
    assert (op.action, op.kind, op.number, op.amount, op.link_mode) == (
        Action.ADD, Kind.INVOICE, "AINV1", money("50.00"), "adjustment")
    assert op.payload.date == today and op.related[:2] == (Kind.INVOICE.value, 1)
    (c,) = more.plan.corrections
    assert c.action == "Adjustment in the open period: invoice AINV1 of 50.00 dated 2025-04-10"
    assert (c.closed, c.note) == (True, "The closed transaction was left unchanged in QuickBooks.")
    less = correct(changed_invoice("60.00"), closed, closed_period="adjust", today=today)
    assert shape(less) == [(Action.ADD, Kind.CREDIT_MEMO, "CINV1", "adjustment")]
    assert less.plan.operations[0].amount == money("40.00")


def test_an_adjustment_carries_only_the_g_l_accounts_whose_amounts_changed():
    """INV3 posts to Dues and Advertising; only Dues changed: one adjustment invoice with one line, for Dues."""
    inv3 = invoice(3, "INV3", "100.00")
    inv3 = dataclasses.replace(inv3, lines=inv3.lines + (SaleLine(2, money("20.00"), seq=2),))
    now = dataclasses.replace(inv3, lines=(SaleLine(1, money("150.00")), SaleLine(2, money("20.00"), seq=2)),
                              updated_at=LATER)
    w = work(changed_invoices=[now], links={(Kind.INVOICE.value, 3): written(Kind.INVOICE, inv3)})
    builder = correct(w, snapshot(items=ITEMS, closing=dt.date(2025, 3, 31)), closed_period="adjust",
                      today=dt.date(2025, 4, 10))
    (op,) = builder.plan.operations
    assert [(ln.item.name, ln.amount) for ln in op.payload.lines] == [("4020 Dues", money("50.00"))]
    assert op.payload.lines[0].description == "Adjustment of invoice INV3 (4020 Dues)"


def test_a_new_invoice_dated_on_the_closing_date_is_refused_before_anything_is_written():
    """QuickBooks refuses a transaction dated on or before the closing date (3171): the day itself included."""
    builder = correct(work(invoices=[invoice(2, "INV2", "10.00")]), snapshot(items=ITEMS, closing=DAY))
    (problem,) = builder.problems
    assert problem.code == "closed-period" and problem.record == "invoice INV2 for Acme Widgets, dated 2025-03-03"
    assert builder.plan.operations == []


# ---------------------------------------------------------------------- payments

INV_LINKS = {(Kind.INVOICE.value, 1): Link("TXN-INV1"), (Kind.INVOICE.value, 2): Link("TXN-INV2")}
R1 = pay(1, "R1", "50.00", (1, "INV1", "50.00"))
R1_LINK = written(Kind.PAYMENT, R1, INV_LINKS)


def test_a_payment_moved_to_another_invoice_is_applied_there():
    moved = dataclasses.replace(R1, applications=(Application(2, money("50.00"), Target("INV2")),), updated_at=LATER)
    w = work(changed_payments=[moved], links={**INV_LINKS, (Kind.PAYMENT.value, 1): R1_LINK})
    builder = correct(w)
    (op,) = builder.plan.operations
    assert (op.action, op.kind, op.remote_id, op.edit_sequence) == (Action.MOD, Kind.PAYMENT, "TXN-R1", "5")
    assert [a.invoice for a in op.payload.applications] == [Ref(Kind.INVOICE.value, 2, "TXN-INV2", "INV2")]
    (c,) = builder.plan.corrections
    assert (c.kind, c.action, c.changes) == ("Payment", "changed", ["applied to: INV1 50.00 -> INV2 50.00"])
    assert check_applications(w, planner.PlannedKeys()) == []


def test_a_deleted_payment_is_deleted_in_quickbooks():
    gone = dataclasses.replace(R1, status="deleted", updated_at=LATER)
    builder = correct(work(deleted_payments=[gone], links={**INV_LINKS, (Kind.PAYMENT.value, 1): R1_LINK}))
    assert shape(builder) == [(Action.DELETE, Kind.PAYMENT, "R1", "deleted")]
    (c,) = builder.plan.corrections
    assert c.changes == ["status: received -> deleted", "amount: 50.00 -> 0.00"] and c.amount_after == money("0.00")


def test_a_payment_on_a_corrected_invoice_is_released_first_and_applied_again_after():
    """QuickBooks never sees INV1 smaller than what is applied to it (3210): R1's application is cleared (0.00 on
    INV1), INV1 is corrected, then R1 is applied again as the billing store has it."""
    w = work(changed_invoices=[invoice(1, "INV1", "60.00", updated_at=LATER)], linked_payments_touching=[R1],
             links={(Kind.INVOICE.value, 1): INV1_LINK, (Kind.PAYMENT.value, 1): R1_LINK})
    builder = correct(w)
    assert shape(builder) == [(Action.MOD, Kind.PAYMENT, "R1", "version"), (Action.MOD, Kind.INVOICE, "INV1", "full"),
                              (Action.MOD, Kind.PAYMENT, "R1", "full")]
    release, _, final = builder.plan.operations
    assert [(a.invoice.remote_id, a.amount) for a in release.payload.applications] == [("TXN-INV1", money("0.00"))]
    assert [(a.invoice.remote_id, a.amount) for a in final.payload.applications] == [("TXN-INV1", money("50.00"))]
    assert release.edit_sequence == "5" and final.edit_sequence == ""  # the release's answer supplies it
    assert [c.kind for c in builder.plan.corrections] == ["Invoice"]  # the payment itself did not change


# ---------------------------------------------------------------------- deposited payments

DEPOSIT = QBDeposit("DEP-1", "3", "2025-03-10", "A-CHK", "Checking", money("80.00"), (
    QBDepositLine("L1", "TXN-R1", "C-Acme Widgets", "A-UF", money("50.00")),
    QBDepositLine("L2", "TXN-OTHER", "C-Other", "A-UF", money("30.00"))))


def deposited(payment: Payment, **kw) -> corrections.CorrectionPlanner:
    w = work(changed_payments=[payment], links={**INV_LINKS, (Kind.PAYMENT.value, 1): R1_LINK})
    return correct(w, deposits={"TXN-R1": DEPOSIT}, **kw)


def test_a_deposited_payment_is_taken_out_behind_a_placeholder_corrected_and_put_back_in_separate_steps():
    """The deposit keeps its total throughout: first R1's line is replaced by a line of the same amount (memo naming
    R1's TxnID), then R1 is corrected, then the placeholder is replaced by R1 again."""
    builder = deposited(dataclasses.replace(R1, memo="paid at the gala", updated_at=LATER))
    assert shape(builder) == [(Action.MOD, Kind.DEPOSIT, "deposit 2025-03-10", "deposit"),
                              (Action.MOD, Kind.PAYMENT, "R1", "full"),
                              (Action.MOD, Kind.DEPOSIT, "deposit 2025-03-10", "deposit")]
    take_out, _, put_back = builder.plan.operations
    assert (take_out.remote_id, take_out.edit_sequence) == ("DEP-1", "3")
    assert take_out.payload.lines == (
        DepositLineData("L2"),
        DepositLineData("-1", entity=Ref(Kind.CUSTOMER.value, 1, "C-Acme Widgets", "Acme Widgets"),
                        account=Ref("account", None, "A-UF"), amount=money("50.00"),
                        memo=PLACEHOLDER_MEMO.format(txn_id="TXN-R1")))
    assert put_back.payload.lines == (DepositLineData("L2"),
                                      DepositLineData("-1", payment=Ref(Kind.PAYMENT.value, 1, "TXN-R1", "R1")))
    assert "its total is then 80.00" in put_back.description
    (c,) = builder.plan.corrections
    assert c.action == "taken out of the deposit, changed, put back into the deposit"
    assert "the deposit's total and account are unchanged" in c.note
    assert builder.problems == []


def test_a_deposited_payment_whose_amount_changes_stops_the_run_unless_deposit_changes_are_allowed():
    bigger = dataclasses.replace(R1, amount=money("60.00"), updated_at=LATER)
    stopped = deposited(bigger)
    (problem,) = stopped.problems
    assert (problem.code, problem.record) == ("deposit-change", "payment R1 from Acme Widgets, 2025-03-03")
    assert "would change the deposit's total to 90.00" in problem.message
    assert "--allow-deposit-changes" in problem.fix
    assert Kind.DEPOSIT not in {op.kind for op in stopped.plan.operations}
    allowed = deposited(bigger, allow_deposit_changes=True)
    assert [op.kind for op in allowed.plan.operations] == [Kind.DEPOSIT, Kind.PAYMENT, Kind.DEPOSIT]
    placeholder = allowed.plan.operations[0].payload.lines[-1]
    assert placeholder.amount == money("50.00")  # what the deposit held, not the payment's new amount
    assert "its total is then 90.00" in allowed.plan.operations[-1].description
    assert "changed from 80.00 to 90.00; re-reconcile this deposit" in allowed.plan.corrections[0].note


def test_a_payment_left_out_of_its_deposit_by_an_interrupted_run_is_put_back():
    """A placeholder line found in a deposit (the run that took the payment out stopped) puts the payment back even
    though nothing else changed."""
    held = QBDeposit("DEP-1", "4", "2025-03-10", "A-CHK", "Checking", money("80.00"), (
        QBDepositLine("L3", "", "C-Acme Widgets", "A-UF", money("50.00"), PLACEHOLDER_MEMO.format(txn_id="TXN-R1")),
        QBDepositLine("L2", "TXN-OTHER", "C-Other", "A-UF", money("30.00"))))
    w = work(held_payments=[R1], links={**INV_LINKS, (Kind.PAYMENT.value, 1): R1_LINK})
    builder = correct(w, deposits={"TXN-R1": held})
    (op,) = builder.plan.operations
    assert (op.action, op.kind, op.edit_sequence) == (Action.MOD, Kind.DEPOSIT, "4")
    assert op.payload.lines == (DepositLineData("L2"),
                                DepositLineData("-1", payment=Ref(Kind.PAYMENT.value, 1, "TXN-R1", "R1")))


# ---------------------------------------------------------------------- customers


def customer_link(member: Member) -> Link:
    builder = build(work(members={member.id: member}), snapshot(),
                    CustomerResolution(missing=[member]))
    (op,) = builder.plan.operations
    return Link(f"C-{member.name}", edit_sequence="5", qb_name=op.payload.name, fingerprint=op.fingerprint,
                written=op.written)


def test_a_renamed_member_updates_its_customer_unless_quickbooks_uses_the_name():
    renamed = dataclasses.replace(ACME, name="Acme Widgets Inc", city="Dayton", updated_at=LATER)
    w = work(changed_members=[renamed], links={(Kind.CUSTOMER.value, 1): customer_link(ACME)})
    builder = correct(w)
    (op,) = builder.plan.operations
    assert (op.action, op.kind, op.remote_id, op.payload.name) == (Action.MOD, Kind.CUSTOMER, "C-Acme Widgets",
                                                                   "Acme Widgets Inc")
    (c,) = builder.plan.corrections
    assert (c.kind, c.action) == ("Customer", "customer details changed")
    assert c.changes == ["address: (none) -> Dayton", "name: Acme Widgets -> Acme Widgets Inc"]
    taken = correct(w, snapshot(items=ITEMS, other_names=("Acme Widgets Inc",)))
    assert [p.code for p in taken.problems] == ["rename-taken"] and taken.plan.operations == []


# ---------------------------------------------------------------------- pure helpers


def test_describe_changes_names_fields_in_words_and_references_by_name():
    before = {"customer": {"ref": "customer", "id": 1, "name": "Acme"}, "date": "2025-03-03", "memo": "",
              "total": "50.00", "external_field": "x"}
    after = {"customer": {"ref": "customer", "id": 2, "name": "Bolt"}, "date": "2025-03-04", "memo": "gala",
             "total": "50.00", "external_field": "y"}
    assert corrections.describe_changes(before, after) == [
        "member: Acme -> Bolt", "date: 2025-03-03 -> 2025-03-04", "memo: (none) -> gala"]


@pytest.mark.parametrize("period, start, today, expected", [
    ("month", 1, dt.date(2025, 3, 20), dt.date(2025, 3, 1)),
    ("quarter", 1, dt.date(2025, 3, 20), dt.date(2025, 1, 1)),
    ("quarter", 7, dt.date(2025, 3, 20), dt.date(2025, 1, 1)),
    ("quarter", 2, dt.date(2025, 1, 20), dt.date(2024, 11, 1)),
    ("year", 7, dt.date(2025, 3, 20), dt.date(2024, 7, 1)),
    ("year", 7, dt.date(2025, 7, 1), dt.date(2025, 7, 1)),
])
def test_the_current_period_starts_where_the_fiscal_year_says(period, start, today, expected):
    assert policy(period=period, fiscal_year_start=start, today=today).period_start() == expected


def test_the_policy_takes_the_callers_choices_over_the_homes_settings(monkeypatch):
    monkeypatch.setenv("BOOKSYNC_TODAY", "2025-06-30")
    monkeypatch.setenv("BOOKSYNC_PREPARED_BY", "Pat")
    settings = {"corrections": {"on_conflict": "skip", "closed_period": "adjust", "period": "quarter",
                                "fiscal_year_start": "4"}}
    chosen = corrections.correction_policy(settings, on_conflict="overwrite", allow_deposit_changes=True)
    assert (chosen.on_conflict, chosen.closed_period, chosen.period, chosen.fiscal_year_start) == (
        "overwrite", "adjust", "quarter", 4)
    assert (chosen.today, chosen.prepared_by, chosen.allow_deposit_changes) == (dt.date(2025, 6, 30), "Pat", True)
    assert corrections.correction_policy({}).on_conflict == "stop"
    monkeypatch.setenv("BOOKSYNC_TODAY", "30/06/2025")
    with pytest.raises(ValueError):
        corrections.correction_policy({})

