"""``booksync deposits suggest`` through the real command line on the demo chamber (issue 22 item 5): two waiting
payments' total is found, a payment a person deposited is not proposed again, and no match says so (exit 7)."""
from __future__ import annotations

import json
from decimal import Decimal

from booksync.exits import ExitCode
from booksync.money import CENT

from test_online_support import home, server  # noqa: F401 - fixtures

WAITING = ("SELECT t.txn_id, t.txn_date, t.total, t.memo, c.full_name FROM txns t "
           "JOIN lists a ON a.list_id=t.account_id JOIN lists c ON c.list_id=t.customer_id "
           "WHERE t.txn_type='ReceivePayment' AND a.special='UndepositedFunds' "
           "AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.payment_id=t.txn_id) ORDER BY t.txn_date, t.txn_number")
"""The payments waiting in Undeposited Funds, read from the simulated company's tables."""
WAITING_ALL = ("SELECT COUNT(*) FROM txns t JOIN lists a ON a.list_id=t.account_id "
               "WHERE t.txn_type IN ('ReceivePayment', 'SalesReceipt') AND a.special='UndepositedFunds' "
               "AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.payment_id=t.txn_id)")
"""How many transactions wait there: the payments and the demo's sales receipts (the helper proposes both)."""


def two_most_recent(rows, bank_date: str):
    """The two payments the search takes first for ``bank_date`` (most recent first, then larger), when no single
    payment as recent as the second adds up to their total alone (it would be preferred: fewer payments)."""
    on_time = sorted((r for r in rows if r["txn_date"] <= bank_date and r["total"] > 0),
                     key=lambda r: (r["txn_date"], r["total"]), reverse=True)
    first, second = on_time[:2]
    total = first["total"] + second["total"]
    if any(r["total"] == total for r in on_time if r["txn_date"] >= second["txn_date"]):
        return None
    return first, second


def test_two_demo_payments_total_is_found_and_a_deposited_one_is_not_proposed(demo_copy, cli, company_db):
    home_arg = ("--home", str(demo_copy.path))
    rows = company_db(demo_copy.company).rows(WAITING)
    waiting = company_db(demo_copy.company).value(WAITING_ALL)
    assert waiting > len(rows), "the demo's sales receipts wait in Undeposited Funds too"
    dates = sorted({r["txn_date"] for r in rows})
    bank_date, pair = next((d, p) for d in dates[len(dates) // 2:] if (p := two_most_recent(rows, d)))
    amount = (Decimal(pair[0]["total"] + pair[1]["total"]) / 100).quantize(CENT)
    receipts = [r["memo"].split(" - ")[0].removeprefix("Receipt ") for r in pair]

    done = cli("deposits", "suggest", "--amount", str(amount), "--date", bank_date, *home_arg, "--json")
    assert done.code == ExitCode.OK, done
    data = json.loads(done.stdout)
    assert data["status"] == "found" and data["total"] == str(amount) == data["amount"]
    assert [p["payment_id"] for p in data["payments"]] == [r["txn_id"] for r in pair]
    assert [p["receipt"] for p in data["payments"]] == receipts
    assert [p["member"] for p in data["payments"]] == [r["full_name"] for r in pair]
    assert data["waiting"] == waiting and "make a deposit" in data["next"]

    shown = cli("deposits", "suggest", "--amount", str(amount), "--date", bank_date, *home_arg)
    assert shown.code == 0, shown
    assert f"add up to {amount} (bank line of {bank_date})" in shown.stdout
    for r, receipt in zip(pair, receipts):
        assert r["full_name"] in shown.stdout and receipt in shown.stdout
    assert f"In QuickBooks, make a deposit of these 2 payment(s) dated {bank_date}" in shown.stdout

    # a person deposits the first one in QuickBooks: it is no longer waiting, so it is not proposed again
    deposited = cli("simulator", "deposit", "--payment", receipts[0], "--date", bank_date, *home_arg)
    assert deposited.code == 0, deposited
    again = json.loads(cli("deposits", "suggest", "--amount", str(amount), "--date", bank_date, *home_arg,
                           "--json").stdout)
    assert again["waiting"] == waiting - 1
    assert pair[0]["txn_id"] not in {p["payment_id"] for p in again["payments"]}


def test_no_set_adding_up_is_exit_7_with_the_nearest_totals(demo_copy, cli, company_db):
    rows = company_db(demo_copy.company).rows(WAITING)
    bank_date = rows[-1]["txn_date"]
    # the candidates: the 40 most recent payments of an amount (a payment of 0.00 deposits nothing)
    candidates = sorted((r for r in rows if r["total"] > 0), key=lambda r: (r["txn_date"], r["total"]),
                        reverse=True)[:40]
    smallest = (Decimal(min(r["total"] for r in candidates)) / 100).quantize(CENT)
    result = cli("deposits", "suggest", "--amount", "0.01", "--date", bank_date, "--home", str(demo_copy.path))
    assert result.code == ExitCode.DISAGREE == 7, result
    assert "No set of the payments waiting in Undeposited Funds adds up to 0.01." in result.stdout
    assert f"Nearest totals: none below, {smallest} above." in result.stdout
    assert "Check the amount and date against the bank statement" in result.stdout


def test_a_wrong_amount_is_a_usage_error(demo_copy, cli):
    result = cli("deposits", "suggest", "--amount", "12.345", "--date", "2025-03-10", "--home", str(demo_copy.path))
    assert result.code == 2 and "at most two decimals" in result.stderr, result


def test_quickbooks_online_is_not_built_yet_and_says_so(home, cli):  # noqa: F811
    result = cli("deposits", "suggest", "--amount", "10.00", "--date", "2025-03-10", "--home", str(home.path),
                 "--json")
    assert result.code == 2, result
    assert "for QuickBooks Online it is not built yet" in json.loads(result.stdout)["message"]
