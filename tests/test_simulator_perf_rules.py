"""The simulator's speed-ups keep its rules (issue 10, docs/performance.md findings 4 and 6).

A message runs in one SQLite transaction with a savepoint per request; ``meta`` values
(counters, edit clock, closing date, busy writes), references and the A/R account are
cached for the length of one message; a page of CustomerRets gets its balances from one
grouped query; answers are built by ``build.aggregate`` (sorting the fields given). These tests check
that nothing QuickBooks-visible changed.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from booksync.qbxml import build
from booksync.errors import ConnectionFailure
from booksync.qbxml.parse import parse_response
from booksync.simulator import open_company
from booksync.simulator import processor as sim


@pytest.fixture
def dues(qb):
    return qb.add_item("Dues", "Membership Dues")


@pytest.fixture
def acme(qb):
    return qb.add_customer("Acme Widgets").findtext("ListID")


def invoice_rq(customer_id: str, amount: str, date: str = "2025-03-01", ref: str | None = None,
               request_id: int = 1) -> etree._Element:
    return build.request("InvoiceAdd", {"CustomerRef": {"ListID": customer_id}, "TxnDate": date, "RefNumber": ref,
                                        "InvoiceLineAdd": [{"ItemRef": {"FullName": "Dues"}, "Amount": amount}]},
                         request_id)


def outside(path: Path, sql: str, *args: object) -> list[tuple]:
    """Read the company file through another connection (what is committed)."""
    db = sqlite3.connect(str(path))
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def direct_balance(db: sqlite3.Connection, customer_id: str) -> Decimal:
    cents = db.execute("SELECT COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) FROM txns "
                       "WHERE customer_id=? AND txn_type IN ('Invoice','CreditMemo','ReceivePayment')",
                       (customer_id,)).fetchone()[0]
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


# ---------------------------------------------------------------------- transactions


def test_a_message_is_committed_when_it_returns_and_no_transaction_stays_open(qb, acme, dues, company_path):
    rss = qb.send(invoice_rq(acme, "10.00", ref="A1", request_id=1), invoice_rq(acme, "20.00", ref="A2", request_id=2))
    assert [rs.code for rs in rss] == [0, 0]
    assert not qb.company.db.in_transaction
    assert sorted(r[0] for r in outside(company_path, "SELECT ref_number FROM txns")) == ["A1", "A2"]


def test_stop_on_error_keeps_the_earlier_requests_and_the_refused_one_writes_nothing(qb, acme, dues, company_path):
    before = outside(company_path, "SELECT key, value FROM meta WHERE key IN ('next_txn', 'next_line')")
    rss = qb.send(invoice_rq(acme, "10.00", ref="OK1", request_id=1),
                  invoice_rq("80000999-1", "10.00", ref="BAD", request_id=2),   # no such customer: 3140
                  invoice_rq(acme, "30.00", ref="NOTSENT", request_id=3))
    assert [rs.code for rs in rss] == [0, 3140]
    assert [r[0] for r in outside(company_path, "SELECT ref_number FROM txns")] == ["OK1"]
    after = dict(outside(company_path, "SELECT key, value FROM meta WHERE key IN ('next_txn', 'next_line')"))
    assert int(after["next_txn"]) == int(dict(before).get("next_txn", "0")) + 1
    # the next add takes the number after OK1: the refused request's counters went with it
    first = qb.sales("Invoice", acme, "5.00").raise_for_status().rets[0]
    assert int(first.findtext("TxnNumber")) == int(after["next_txn"]) + 1


def test_a_refusal_after_the_transaction_was_written_rolls_back_its_counters(qb, acme, dues):
    inv = qb.sales("Invoice", acme, "50.00").raise_for_status().rets[0]
    number = int(inv.findtext("TxnNumber"))
    clock = int(qb.company.meta("edit_clock"))
    # paying more than the invoice's balance is refused (3210) after the payment row was inserted
    refused = qb.payment(acme, "80.00", [{"TxnID": inv.findtext("TxnID"), "PaymentAmount": "80.00"}])
    assert refused.code == 3210
    assert qb.count("SELECT COUNT(*) FROM txns WHERE txn_type='ReceivePayment'") == 0
    assert qb.count("SELECT COUNT(*) FROM applications") == 0
    assert int(qb.company.meta("edit_clock")) == clock
    paid = qb.payment(acme, "50.00", [{"TxnID": inv.findtext("TxnID"), "PaymentAmount": "50.00"}])
    assert int(paid.raise_for_status().rets[0].findtext("TxnNumber")) == number + 1


@pytest.mark.invalid_qbxml_request
def test_a_request_quickbooks_cannot_parse_keeps_the_earlier_requests(qb, acme, dues, company_path):
    """A ReceivePaymentAdd without IsAutoApply/AppliedToTxnAdd fails the message with HRESULT 0x80040400
    in the middle: the requests before it were written (QuickBooks has no rollback), as before."""
    bad = build.request("ReceivePaymentAdd", {"CustomerRef": {"ListID": acme}, "TotalAmount": "5.00"}, 2)
    with pytest.raises(ConnectionFailure):
        qb.company.process(build.message([invoice_rq(acme, "10.00", ref="BEFORE", request_id=1), bad]))
    assert not qb.company.db.in_transaction
    assert [r[0] for r in outside(company_path, "SELECT ref_number FROM txns")] == ["BEFORE"]
    assert qb.sales("Invoice", acme, "1.00").code == 0


def test_a_process_killed_in_the_middle_of_a_message_leaves_the_file_as_before_it(qb, acme, dues, company_path):
    qb.sales("Invoice", acme, "10.00", ref="EARLIER").raise_for_status()
    meta_before = dict(outside(company_path, "SELECT key, value FROM meta"))
    qb.company.close()
    script = textwrap.dedent(f"""
        import os
        from booksync.qbxml import build
        from booksync.simulator import open_company
        from booksync.simulator.processor import Processor
        calls = []
        original = Processor._one
        def one(self, kind, rq):
            if calls:
                os._exit(9)          # killed while the second request of the message runs
            calls.append(kind)
            return original(self, kind, rq)
        Processor._one = one
        line = {{"ItemRef": {{"FullName": "Dues"}}, "Amount": "1.00"}}
        rqs = [build.request("InvoiceAdd", {{"CustomerRef": {{"ListID": "{acme}"}}, "TxnDate": "2025-03-01",
                                             "RefNumber": f"K{{i}}", "InvoiceLineAdd": [line]}}, i) for i in (1, 2)]
        company = open_company({str(company_path)!r})
        company.process(build.message(rqs))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    with open_company(company_path) as company:
        assert company.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        refs = [r[0] for r in company.db.execute("SELECT ref_number FROM txns ORDER BY txn_number")]
        assert refs == ["EARLIER"]
        assert dict(company.db.execute("SELECT key, value FROM meta").fetchall()) == meta_before
        (rs,) = parse_response(company.process(build.message([invoice_rq(acme, "2.00", ref="AFTER")])))
        assert rs.code == 0 and int(rs.rets[0].findtext("TxnNumber")) == int(meta_before["next_txn"]) + 1


# ---------------------------------------------------------------------- meta values between messages


def test_a_closing_date_set_between_messages_is_honoured_by_the_open_company(qb, acme, dues):
    assert qb.sales("Invoice", acme, "10.00", date="2025-03-01").code == 0
    qb.company.set_meta("closing_date", "2025-06-30")          # as `booksync simulator closing-date` does
    assert qb.sales("Invoice", acme, "10.00", date="2025-03-02").code == 3171
    prefs = qb.ok("PreferencesQuery")
    assert prefs.findtext("AccountingPreferences/ClosingDate") == "2025-06-30"
    qb.company.db.execute("DELETE FROM meta WHERE key='closing_date'")   # `closing-date none`
    assert qb.sales("Invoice", acme, "10.00", date="2025-03-02").code == 0


def test_a_closing_date_set_through_the_command_line_is_honoured(tmp_path):
    from click.testing import CliRunner

    from booksync.cli.main import cli as main_cli
    from booksync.config import Home

    home = tmp_path / "home"
    runner = CliRunner()
    for args in (["init", "--home", str(home)], ["simulator", "init", "--home", str(home)]):
        done = runner.invoke(main_cli, args)
        assert done.exit_code == 0, done.output
    path = Home.load(home).company_path
    with open_company(path) as company:
        rss = parse_response(company.process(build.message([
            build.request("CustomerAdd", {"Name": "Acme"}, 1),
            build.request("ItemServiceAdd", {"Name": "Dues", "SalesOrPurchase": {
                "AccountRef": {"FullName": "Membership Dues"}}}, 2)])))
        acme = rss[0].raise_for_status().rets[0].findtext("ListID")
        (rs,) = parse_response(company.process(build.message([invoice_rq(acme, "1.00", date="2025-06-30")])))
        assert rs.code == 0
    done = runner.invoke(main_cli, ["simulator", "closing-date", "2025-06-30", "--home", str(home)])
    assert done.exit_code == 0, done.output
    with open_company(path) as company:
        (rs,) = parse_response(company.process(build.message([invoice_rq(acme, "1.00", date="2025-06-30")])))
        assert rs.code == 3171
    done = runner.invoke(main_cli, ["simulator", "closing-date", "none", "--home", str(home)])
    assert done.exit_code == 0, done.output
    with open_company(path) as company:
        (rs,) = parse_response(company.process(build.message([invoice_rq(acme, "1.00", date="2025-06-30")])))
        assert rs.code == 0


def test_busy_writes_are_counted_down_across_messages_and_written_to_the_file(qb, acme, dues, company_path):
    qb.company.set_meta("busy_writes", "2")
    rss = qb.send(invoice_rq(acme, "1.00", request_id=1), invoice_rq(acme, "2.00", request_id=2),
                  on_error="continueOnError")
    assert [rs.code for rs in rss] == [3175, 3175]
    assert outside(company_path, "SELECT value FROM meta WHERE key='busy_writes'") == [("0",)]
    assert qb.count("SELECT COUNT(*) FROM txns") == 0
    assert qb.one("CustomerQuery", {"ListID": acme}).code == 0      # queries are never refused
    assert qb.sales("Invoice", acme, "3.00").code == 0
    qb.company.set_meta("busy_writes", "1")
    assert qb.sales("Invoice", acme, "3.00").code == 3175
    assert qb.sales("Invoice", acme, "3.00").code == 0


def test_counters_and_edit_sequences_survive_closing_and_reopening(company_path):
    ids, numbers, seqs = set(), [], []
    for _ in range(3):
        with open_company(company_path) as company:
            rss = parse_response(company.process(build.message([
                build.request("CustomerAdd", {"Name": f"Customer {len(numbers)}"}, 1),
                build.request("CustomerAdd", {"Name": f"Customer {len(numbers)} bis"}, 2)])))
            for rs in rss:
                ret = rs.raise_for_status().rets[0]
                ids.add(ret.findtext("ListID"))
                seqs.append(int(ret.findtext("EditSequence")))
            numbers.append(int(company.meta("next_list")))
    assert len(ids) == 6
    assert numbers == [numbers[0], numbers[0] + 2, numbers[0] + 4]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6


# ---------------------------------------------------------------------- cached references


def test_a_customer_renamed_in_a_message_is_answered_with_its_new_name_in_the_same_message(qb, acme, dues):
    cust = qb.customer(acme)
    rss = qb.send(invoice_rq(acme, "1.00", request_id=1),
                  build.request("CustomerMod", {"ListID": acme, "EditSequence": cust.findtext("EditSequence"),
                                                "Name": "Acme Renamed"}, 2),
                  invoice_rq(acme, "2.00", request_id=3))
    assert [rs.code for rs in rss] == [0, 0, 0]
    assert rss[0].rets[0].findtext("CustomerRef/FullName") == "Acme Widgets"
    assert rss[2].rets[0].findtext("CustomerRef/FullName") == "Acme Renamed"


def test_a_refused_rename_does_not_leak_into_later_answers(qb, acme, dues):
    qb.add_customer("Taken")
    cust = qb.customer(acme)
    rss = qb.send(invoice_rq(acme, "1.00", request_id=1),
                  build.request("CustomerMod", {"ListID": acme, "EditSequence": cust.findtext("EditSequence"),
                                                "Name": "Taken"}, 2),
                  invoice_rq(acme, "2.00", request_id=3), on_error="continueOnError")
    assert [rs.code for rs in rss] == [0, 3100, 0]
    assert rss[2].rets[0].findtext("CustomerRef/FullName") == "Acme Widgets"


# ---------------------------------------------------------------------- balances


def test_customer_balances_follow_every_change_and_match_the_transactions(qb, dues):
    customers = [qb.add_customer(f"Member {i:03d}").findtext("ListID") for i in range(7)]
    a, b, c = customers[:3]
    inv_a = qb.sales("Invoice", a, "100.00").raise_for_status().rets[0]
    inv_a2 = qb.sales("Invoice", a, "40.00").raise_for_status().rets[0]
    inv_b = qb.sales("Invoice", b, "60.00").raise_for_status().rets[0]
    cm_b = qb.sales("CreditMemo", b, "15.00").raise_for_status().rets[0]
    qb.sales("Invoice", c, "25.00").raise_for_status()
    pay = qb.payment(a, "70.00", [{"TxnID": inv_a.findtext("TxnID"), "PaymentAmount": "70.00"}]).raise_for_status()
    qb.payment(b, "45.00", [{"TxnID": inv_b.findtext("TxnID"), "PaymentAmount": "45.00", "SetCredit": [
        {"CreditTxnID": cm_b.findtext("TxnID"), "AppliedAmount": "15.00"}]}]).raise_for_status()
    # void an invoice, delete another's credit-free invoice, move a payment to another customer
    qb.one("TxnVoid", {"TxnVoidType": "Invoice", "TxnID": inv_a2.findtext("TxnID")}).raise_for_status()
    qb.ok("ReceivePaymentMod", {"TxnID": pay.rets[0].findtext("TxnID"),
                                "EditSequence": pay.rets[0].findtext("EditSequence"),
                                "CustomerRef": {"ListID": c}, "TotalAmount": "10.00"})
    extra = qb.sales("Invoice", customers[3], "9.99").raise_for_status().rets[0]
    qb.one("TxnDel", {"TxnDelType": "Invoice", "TxnID": extra.findtext("TxnID")}).raise_for_status()

    db = qb.company.db
    expected = {cid: direct_balance(db, cid) for cid in customers}
    assert expected[a] == Decimal("100.00") and expected[c] == Decimal("15.00")
    assert expected[customers[3]] == Decimal("0.00")
    # the whole list, in pages of 3 through an iterator, and one by one
    rs = qb.one("CustomerQuery", {"MaxReturned": 3}, iterator="Start").raise_for_status()
    seen = {ret.findtext("ListID"): Decimal(ret.findtext("Balance")) for ret in rs.rets}
    while rs.remaining:
        rs = qb.one("CustomerQuery", {"MaxReturned": 3}, iterator="Continue",
                    iteratorID=rs.iterator_id).raise_for_status()
        seen.update({ret.findtext("ListID"): Decimal(ret.findtext("Balance")) for ret in rs.rets})
    assert {k: seen[k] for k in customers} == expected
    listed = {ret.findtext("ListID"): Decimal(ret.findtext("TotalBalance"))
              for ret in qb.one("CustomerQuery", {"ActiveStatus": "All"}).raise_for_status().rets}
    assert {k: listed[k] for k in customers} == expected
    for cid in customers:
        assert Decimal(qb.customer(cid).findtext("Balance")) == expected[cid]
        assert qb.company.processor.customer_balance(cid) == expected[cid]


# ---------------------------------------------------------------------- answers


@pytest.mark.parametrize("name, fields", [
    ("InvoiceRet", {"TxnID": "1-1", "TimeCreated": "2025-01-01T00:00:00", "TimeModified": "2025-01-01T00:00:00",
                    "EditSequence": "17", "TxnNumber": 3, "CustomerRef": {"ListID": "8-1", "FullName": "A & B"},
                    "TxnDate": "2025-01-01", "Subtotal": Decimal("10.00"), "Memo": None, "IsPaid": False,
                    "InvoiceLineRet": [{"TxnLineID": "2-1", "ItemRef": {"ListID": "9-1", "FullName": "Dues"},
                                        "Amount": "10.00"}, {"TxnLineID": "3-1", "Amount": "0.00"}],
                    "ExternalGUID": "{G}"}),
    ("CustomerRet", {"Name": "x", "ListID": "1", "IsActive": True, "BillAddress": {"City": "c", "Addr1": "a"},
                     "DataExtRet": []}),
])
def test_answers_are_built_exactly_as_build_aggregate_builds_them(name, fields):
    assert etree.tostring(sim._aggregate(name, fields)) == etree.tostring(build.aggregate(name, fields))


def test_an_unknown_child_is_still_an_error():
    with pytest.raises(KeyError):
        sim._aggregate("CustomerRet", {"ListID": "1", "NoSuchChild": None})
    with pytest.raises(KeyError):
        sim._aggregate("NoSuchRet", {})


def test_full_name_lookups_still_find_entries_of_the_right_kind_ignoring_case(qb, acme, dues):
    """FullName references are looked up through the name-space index: same answers as before."""
    assert qb.ok("CustomerQuery", {"FullName": "ACME widgets"}).findtext("ListID") == acme
    # a vendor, not a customer: a FullName lookup that finds nothing warns 500 (issue 17, item 13)
    assert qb.one("CustomerQuery", {"FullName": "Riverside Office Supply"}).code == 500
    assert qb.ok("VendorQuery", {"FullName": "riverside office supply"}).findtext("Name") == "Riverside Office Supply"
    assert qb.ok("ItemQuery", {"FullName": "dues"}).findtext("FullName") == "Dues"
    assert qb.ok("AccountQuery", {"FullName": "membership dues:individual"}).findtext("FullName") == \
        "Membership Dues:Individual"
    ok = qb.one("InvoiceAdd", {"CustomerRef": {"FullName": "acme WIDGETS"}, "TxnDate": "2025-03-01",
                               "InvoiceLineAdd": [{"ItemRef": {"FullName": "DUES"}, "Amount": "1.00"}]})
    assert ok.code == 0 and ok.rets[0].findtext("CustomerRef/FullName") == "Acme Widgets"
    wrong = qb.one("InvoiceAdd", {"CustomerRef": {"FullName": "Acme Widgets"}, "TxnDate": "2025-03-01",
                                  "InvoiceLineAdd": [{"ItemRef": {"FullName": "Acme Widgets"}, "Amount": "1.00"}]})
    assert wrong.code == 3140


# ---------------------------------------------------------------------- reading transactions by TxnID


def test_a_query_by_txn_ids_reads_those_rows_not_every_transaction_of_the_type(qb, acme, dues):
    """Given more than a few TxnIDs, SQLite preferred txns_type and read every invoice of the company for
    each query (at a million transactions this was most of a first sync); the query now goes through the
    primary key whatever the number of ids."""
    ids = [qb.sales("Invoice", acme, f"{n}.00", ref=f"I{n}").raise_for_status().rets[0].findtext("TxnID")
           for n in range(1, 41)]
    statements: list[str] = []
    qb.company.db.set_trace_callback(statements.append)
    try:
        rs = qb.one("InvoiceQuery", {"TxnID": ids})
    finally:
        qb.company.db.set_trace_callback(None)
    assert [r.findtext("RefNumber") for r in rs.rets] == [f"I{n}" for n in range(1, 41)]
    (select,) = [s for s in statements if s.startswith("SELECT * FROM txns WHERE")]
    plan = " ".join(row[3] for row in qb.company.db.execute("EXPLAIN QUERY PLAN " + select))
    assert "sqlite_autoindex_txns_1 (txn_id=?)" in plan and "txns_type" not in plan, plan


def test_include_ret_element_returns_only_the_elements_asked_for(qb, acme, dues):
    """IncludeRetElement (reference/quickbooks-desktop.md §1, "Query options") limits a Ret to the named
    top-level elements; without it the whole Ret comes back."""
    txn_id = qb.sales("Invoice", acme, "25.00", ref="I1").raise_for_status().rets[0].findtext("TxnID")
    qb.payment(acme, "10.00", [{"TxnID": txn_id, "PaymentAmount": "10.00"}]).raise_for_status()
    full = qb.ok("InvoiceQuery", {"TxnID": [txn_id], "IncludeLineItems": True})
    assert full.find("InvoiceLineRet") is not None and full.findtext("BalanceRemaining") == "15.00"

    light = qb.ok("InvoiceQuery", {"TxnID": [txn_id], "IncludeLineItems": True,
                                   "IncludeRetElement": ["TxnID", "EditSequence"]})
    assert [child.tag for child in light] == ["TxnID", "EditSequence"]
    assert light.findtext("EditSequence") == full.findtext("EditSequence")

    mixed = qb.ok("InvoiceQuery", {"TxnID": [txn_id], "IncludeRetElement": ["TxnID", "BalanceRemaining"]})
    assert [(child.tag, child.text) for child in mixed] == [("TxnID", txn_id), ("BalanceRemaining", "15.00")]


def test_desktop_versions_are_the_edit_sequences_a_full_read_returns(qb, acme, dues):
    from booksync.books.desktop.adapter import DesktopBooks

    ids = [qb.sales("Invoice", acme, f"{n}.00").raise_for_status().rets[0].findtext("TxnID") for n in (1, 2, 3)]
    qb.payment(acme, "1.00", [{"TxnID": ids[0], "PaymentAmount": "1.00"}]).raise_for_status()
    port = DesktopBooks(qb.company)
    full = port.transactions("invoice", ids + ["FFFF-1"])
    assert port.versions("invoice", ids + ["FFFF-1"]) == {i: full[i].edit_sequence for i in ids}


@pytest.mark.parametrize("page", [500, 1])
def test_a_sync_reads_customers_without_their_balances_and_the_rest_alike(qb, acme, dues, page, monkeypatch):
    """A sync's snapshot asks for the customer fields it uses (IncludeRetElement) and no Balance, which
    QuickBooks computes from every transaction of each customer; reports and the web still read balances."""
    from booksync.books.desktop import adapter as desktop
    from booksync.books.desktop.adapter import DesktopBooks

    monkeypatch.setattr(desktop, "PAGE", page)  # 1: the second customer comes on an iterator's Continue page
    qb.sales("Invoice", acme, "25.00").raise_for_status()
    qb.add_customer("Zeta Bakery", AccountNumber="1002", IsActive=False)
    port = DesktopBooks(qb.company)
    full, light = port.snapshot(), port.snapshot(balances=False)
    assert [c.balance for c in full.customers] == [Decimal("25.00"), Decimal("0.00")]
    assert [c.balance for c in light.customers] == [None, None]
    assert [(c.list_id, c.name, c.full_name, c.edit_sequence, c.is_active, c.account_number) for c in light.customers] \
        == [(c.list_id, c.name, c.full_name, c.edit_sequence, c.is_active, c.account_number) for c in full.customers]
    assert [c.is_active for c in light.customers] == [True, False]
    # Accounts alike, without the balances the simulator sums from every transaction posting to them.
    assert {a.full_name: a.balance for a in full.accounts}["Accounts Receivable"] == Decimal("25.00")
    assert {a.balance for a in light.accounts} == {None}
    assert [(a.list_id, a.full_name, a.account_type, a.number, a.special, a.is_active) for a in light.accounts] \
        == [(a.list_id, a.full_name, a.account_type, a.number, a.special, a.is_active) for a in full.accounts]
    ar = qb.ok("AccountQuery", {"FullName": ["Accounts Receivable"], "IncludeRetElement": ["ListID", "Balance"]})
    assert [(child.tag, child.text) for child in ar][1] == ("Balance", "25.00")
    assert [child.tag for child in ar] == ["ListID", "Balance"]

    only = qb.ok("CustomerQuery", {"ListID": [acme], "IncludeRetElement": ["ListID", "EditSequence", "Balance"]})
    assert [(child.tag, child.text) for child in only][2] == ("Balance", "25.00")
    assert [child.tag for child in only] == ["ListID", "EditSequence", "Balance"]
