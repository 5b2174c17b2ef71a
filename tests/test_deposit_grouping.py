"""The grouping helper's search (issue 22 item 5): which waiting payments add up to a bank line, with literal
payments, and a property test against every subset."""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booksync.money import MoneyError
from booksync.reports.deposit_grouping import group_payments, preference

BANK_DAY = dt.date(2025, 3, 10)


@dataclass(frozen=True)
class Pay:
    name: str
    date: dt.date
    amount: Decimal


def pay(name: str, days_before: int, amount: str) -> Pay:
    return Pay(name, BANK_DAY - dt.timedelta(days=days_before), Decimal(amount))


def names(grouping) -> list[str]:
    return [p.name for p in grouping.best or ()]


def test_one_payment_of_the_amount_is_the_proposal():
    found = group_payments([pay("a", 1, "100.00"), pay("b", 2, "1140.00"), pay("c", 3, "40.00")],
                           Decimal("1140.00"), BANK_DAY)
    assert names(found) == ["b"] and found.total == Decimal("1140.00")
    assert found.others == 0 and found.complete


def test_two_payments_that_add_up_are_found():
    found = group_payments([pay("a", 1, "325.00"), pay("b", 2, "815.00"), pay("c", 3, "100.00")],
                           Decimal("1140.00"), BANK_DAY)
    assert names(found) == ["a", "b"] and found.total == Decimal("1140.00") and found.others == 0


def test_of_several_sets_the_most_recent_then_fewest_is_preferred():
    payments = [pay("recent-1", 1, "500.00"), pay("recent-2", 2, "300.00"), pay("recent-3", 2, "200.00"),
                pay("old-pair", 20, "1000.00"), pay("recent-4", 3, "500.00")]
    found = group_payments(payments, Decimal("1000.00"), BANK_DAY)
    # {recent-1, recent-2, recent-3} reaches back 2 days; {recent-1, recent-4} and {recent-2, recent-3, recent-4}
    # 3 days, {old-pair} 20 days
    assert names(found) == ["recent-1", "recent-2", "recent-3"]
    assert found.others == 3
    # between sets reaching back as far, fewer payments win
    same_age = [pay("x", 5, "600.00"), pay("y", 5, "400.00"), pay("z1", 5, "300.00"), pay("z2", 5, "300.00"),
                pay("z3", 5, "400.00")]
    assert len(group_payments(same_age, Decimal("1000.00"), BANK_DAY).best) == 2


def test_payments_after_the_bank_date_are_left_out_and_counted():
    found = group_payments([pay("later", -1, "50.00"), pay("a", 0, "50.00")], Decimal("100.00"), BANK_DAY)
    assert found.best is None and found.later_left_out == 1 and found.candidates == 1
    assert found.nearest_below == Decimal("50.00") and found.nearest_above is None


def test_no_set_adds_up_says_the_nearest_totals_below_and_above():
    found = group_payments([pay("a", 1, "325.00"), pay("b", 2, "400.00"), pay("c", 3, "150.00")],
                           Decimal("600.00"), BANK_DAY)
    assert found.best is None and found.complete and found.total == Decimal("0.00")
    assert (found.nearest_below, found.nearest_above) == (Decimal("550.00"), Decimal("725.00"))


def test_the_step_bound_stops_the_search_and_says_so():
    # thirty payments of different amounts in even cents: no set reaches an odd cent, and few branches repeat
    payments = [Pay(f"p{i}", BANK_DAY - dt.timedelta(days=i), Decimal(1000 + 2 * i * i) / 100) for i in range(30)]
    found = group_payments(payments, Decimal("100.01"), BANK_DAY, max_steps=500)
    assert found.best is None and not found.complete and found.steps == 500
    # the same payments give the same answer: the bound is counted in steps, not seconds
    again = group_payments(payments, Decimal("100.01"), BANK_DAY, max_steps=500)
    assert (again.nearest_below, again.nearest_above, again.steps) == (found.nearest_below, found.nearest_above, 500)
    # given the steps it needs, the search completes and the nearest totals are exact
    whole = group_payments(payments, Decimal("100.01"), BANK_DAY, max_steps=1_000_000)
    assert whole.complete and (whole.nearest_below, whole.nearest_above) == (Decimal("100.00"), Decimal("100.02"))


def test_a_set_found_before_the_bound_is_kept_and_the_count_is_a_lower_bound():
    payments = [pay(f"p{i}", i, "100.00") for i in range(25)]
    found = group_payments(payments, Decimal("300.00"), BANK_DAY, max_steps=2_000)
    assert names(found) == ["p0", "p1", "p2"] and not found.complete and found.others >= 1


def test_the_candidate_bound_keeps_the_most_recent_payments():
    payments = [pay("old", 30, "70.00")] + [pay(f"p{i}", i, "10.00") for i in range(5)]
    found = group_payments(payments, Decimal("70.00"), BANK_DAY, max_candidates=5)
    assert found.best is None and found.older_left_out == 1 and found.candidates == 5


def test_amounts_are_checked():
    with pytest.raises(ValueError, match="must be positive"):
        group_payments([], Decimal("0.00"), BANK_DAY)
    with pytest.raises(MoneyError):
        group_payments([], Decimal("1.001"), BANK_DAY)
    assert group_payments([pay("zero", 1, "0.00")], Decimal("5.00"), BANK_DAY).candidates == 0


amounts = st.lists(st.integers(min_value=1, max_value=500_000), min_size=1, max_size=10)


@settings(max_examples=150, deadline=None)
@given(amounts=amounts, ages=st.lists(st.integers(0, 40), min_size=10, max_size=10), data=st.data())
def test_any_subset_s_total_is_found_when_the_candidates_are_within_the_bound(amounts, ages, data):
    """Any subset's total is found, the choice is the preferred of every exact subset, and the others are counted."""
    payments = [Pay(str(i), BANK_DAY - dt.timedelta(days=ages[i]), Decimal(c) / 100) for i, c in enumerate(amounts)]
    chosen = data.draw(st.sets(st.sampled_from(range(len(payments))), min_size=1))
    target = sum(payments[i].amount for i in chosen)
    found = group_payments(payments, target, BANK_DAY, max_candidates=10, max_steps=10_000)
    assert found.complete and found.best is not None and found.total == target
    order = sorted(payments, key=lambda p: (BANK_DAY - p.date, -p.amount))  # the search's order
    order_ages = [(BANK_DAY - p.date).days for p in order]
    exact = [s for n in range(1, len(order) + 1) for s in itertools.combinations(range(len(order)), n)
             if sum(order[i].amount for i in s) == target]
    best = min(exact, key=lambda s: preference(s, order_ages))
    assert list(found.best) == [order[i] for i in best]
    assert found.others == len(exact) - 1


@settings(max_examples=100, deadline=None)
@given(amounts=amounts, target=st.integers(min_value=1, max_value=2_000_000))
def test_when_nothing_adds_up_the_nearest_totals_are_exact(amounts, target):
    payments = [Pay(str(i), BANK_DAY, Decimal(c) / 100) for i, c in enumerate(amounts)]
    sums = {sum(s) for n in range(1, len(amounts) + 1) for s in itertools.combinations(amounts, n)}
    found = group_payments(payments, Decimal(target) / 100, BANK_DAY, max_steps=10_000)
    assert found.complete
    if target in sums:
        assert found.total * 100 == target
        return
    below, above = [s for s in sums if s < target], [s for s in sums if s > target]
    assert found.nearest_below == (Decimal(max(below)) / 100 if below else None)
    assert found.nearest_above == (Decimal(min(above)) / 100 if above else None)


# ---------------------------------------------------------------------- reading what waits in Undeposited Funds


def answer(*rets: tuple[str, str, str, str]) -> bytes:
    """A ReceivePaymentToDepositQuery answer holding ``rets`` of (TxnID, TxnType, TxnDate, Amount)."""
    body = "".join(f"<ReceivePaymentToDepositRet><TxnID>{i}</TxnID><TxnType>{t}</TxnType><CustomerRef>"
                   f"<ListID>80-1</ListID><FullName>Gem City University</FullName></CustomerRef><TxnDate>{d}</TxnDate>"
                   f"<RefNumber>1042</RefNumber><Amount>{a}</Amount></ReceivePaymentToDepositRet>"
                   for i, t, d, a in rets)
    return ('<?xml version="1.0"?><QBXML><QBXMLMsgsRs><ReceivePaymentToDepositQueryRs requestID="1" statusCode="0" '
            f'statusSeverity="Info" statusMessage="Status OK">{body}</ReceivePaymentToDepositQueryRs></QBXMLMsgsRs>'
            "</QBXML>").encode()


class Canned:
    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def process(self, message: bytes) -> bytes:
        return self.reply


def test_payments_sales_receipts_and_other_transactions_waiting_are_read():
    from booksync.books.desktop.adapter import DesktopBooks
    from booksync.books.desktop.to_deposit import payments_to_deposit
    from booksync.domain import Kind
    from booksync.qbxml.parse import MalformedResponse

    read = payments_to_deposit(DesktopBooks(Canned(answer(("1-1", "ReceivePayment", "2025-03-03", "400.00"),
                                                          ("2-1", "SalesReceipt", "2025-03-04", "25.00")))))
    assert [(p.payment_id, p.kind, p.customer, p.ref_number, p.date, p.amount) for p in read] == [
        ("1-1", Kind.PAYMENT, "Gem City University", "1042", dt.date(2025, 3, 3), Decimal("400.00")),
        ("2-1", Kind.SALES_RECEIPT, "Gem City University", "1042", dt.date(2025, 3, 4), Decimal("25.00"))]
    # a real company answers any transaction that put money in Undeposited Funds (27 types in the schema)
    (entry,) = payments_to_deposit(DesktopBooks(Canned(answer(("3-1", "JournalEntry", "2025-03-04", "25.00")))))
    assert (entry.kind, entry.label, entry.amount) == (None, "journal entry", Decimal("25.00"))
    assert [p.label for p in read] == ["payment", "sales receipt"]
    with pytest.raises(MalformedResponse, match="has the date '03/04/2025'"):
        payments_to_deposit(DesktopBooks(Canned(answer(("3-1", "ReceivePayment", "03/04/2025", "25.00")))))
