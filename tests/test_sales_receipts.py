"""Sales receipts (issue 21 item 1), end to end through the command line: imported, planned, sent to the simulated
QuickBooks Desktop company as SalesReceiptAdd, reconciled; a second sync sends nothing.

A sales receipt is paid on the spot: its lines post to income through the G/L accounts' items, its total is
deposited to the G/L account's QuickBooks account (Undeposited Funds or a bank account), and the member's balance
does not move.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from test_online_support import server  # noqa: F401 - fixture


HEADER = "number,member,date,memo,total,method,reference,deposit_account,gl_account,description,quantity,rate,amount"


def write_receipts(folder: Path, *rows: str) -> Path:
    path = folder / "sales_receipts.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_sales_receipts_are_synchronized_to_desktop_and_reconcile_agrees(demo_copy, cli, company_db, tmp_path):
    """Two sales receipts (an event ticket into Undeposited Funds by card, a two-line donation into the checking
    account by check) are imported, planned as "add sales receipt", sent as SalesReceiptAdd (every request
    validated against the schema by the test harness), and QuickBooks holds them with their lines, payment
    method, check number and deposit account; the member's balance does not move; reconcile agrees; a second
    sync sends nothing."""
    home = str(demo_copy.path)
    db = company_db(demo_copy.company)
    assert db.count_txns("SalesReceipt") == 45  # the demo's own (tools/gen_demo_chamber.py)
    csv_path = write_receipts(
        tmp_path,
        "SR39001,1150,2026-03-02,Gala ticket,95.00,Visa,x4242,1050,4100,Annual Gala ticket,1,95.00,95.00",
        "SR39002,1252,2026-03-03,,150.00,Check,1207,1000,4100,Luncheon seats,2,50.00,100.00",
        "SR39002,1252,2026-03-03,,150.00,Check,1207,1000,4200,Table sponsor,1,50.00,50.00")
    imported = cli("import", "sales-receipts", str(csv_path), "--home", home)
    assert imported.code == 0, imported
    before = cli("reconcile", "--json", "--home", home)
    assert json.loads(before.stdout)["not_synchronized"] == 2

    synced = cli("sync", "--yes", "--json", "--home", home)
    assert synced.code == 0, synced
    result = json.loads(synced.stdout)
    assert result["planned"].get("add sales_receipt") == result["applied"].get("add sales_receipt") == 2, result
    assert [w for w in synced.writes if w.startswith("SalesReceipt")] == ["SalesReceiptAddRq", "SalesReceiptAddRq"]

    receipts = {r["ref_number"]: r for r in db.rows(
        "SELECT t.*, a.full_name AS account, m.full_name AS method, c.account_number AS member FROM txns t "
        "JOIN lists a ON a.list_id=t.account_id LEFT JOIN lists m ON m.list_id=t.method_id "
        "JOIN lists c ON c.list_id=t.customer_id WHERE t.txn_type='SalesReceipt' AND t.ref_number LIKE 'SR39%'")}
    assert set(receipts) == {"SR39001", "SR39002"}
    gala, lunch = receipts["SR39001"], receipts["SR39002"]
    assert (gala["account"], gala["method"], gala["check_number"], gala["total"], gala["member"]) == \
        ("Undeposited Funds", "Visa", "x4242", 9500, "1150")
    assert (lunch["account"], lunch["method"], lunch["check_number"], lunch["total"], lunch["member"]) == \
        ("Checking", "Check", "1207", 15000, "1252")
    lines = db.rows("SELECT l.amount, i.name AS item, a.full_name AS account FROM lines l "
                    "JOIN lists i ON i.list_id=l.item_id JOIN lists a ON a.list_id=i.account_id "
                    "WHERE l.txn_id=? ORDER BY l.seq", lunch["txn_id"])
    assert [(r["amount"], r["account"]) for r in lines] == [(10000, "Events"), (5000, "Sponsorships")]
    # Paid on the spot: reconcile compares each member's balance (invoices - credit memos - payments) with the
    # customer's Balance in QuickBooks, so it agrees only if the sales receipts left the balances alone.
    agreed = cli("reconcile", "--json", "--home", home)
    assert agreed.code == 0, agreed
    report = json.loads(agreed.stdout)
    assert report["agrees"] and report["not_synchronized"] == 0, report

    again = cli("sync", "--yes", "--json", "--home", home)
    assert again.code == 0, again
    assert again.writes == []
    assert json.loads(again.stdout)["status"] == "nothing"


def test_sales_receipts_are_synchronized_to_quickbooks_online_and_reconcile_agrees(nosync_copy, cli, server,
                                                                                 tmp_path):  # noqa: F811
    """The same through QuickBooks Online (the double): each sales receipt is a SalesReceipt with its
    SalesItemLineDetail lines, DepositToAccountRef, PaymentMethodRef and PaymentRefNum; TotalAmt is computed
    from the lines; the customers' balances do not move; reconcile agrees; a second sync sends nothing."""
    from test_online_sync import connect_with_the_cli
    home = nosync_copy.path
    imported = cli("import", "sales-receipts", str(write_receipts(
        tmp_path,
        "SR39001,1150,2026-03-02,Gala ticket,95.00,Visa,x4242,1050,4100,Annual Gala ticket,1,95.00,95.00",
        "SR39002,1252,2026-03-03,,150.00,Check,1207,1000,4100,Luncheon seats,2,50.00,100.00",
        "SR39002,1252,2026-03-03,,150.00,Check,1207,1000,4200,Table sponsor,1,50.00,50.00")), "--home", str(home))
    assert imported.code == 0, imported
    connect_with_the_cli(cli, home, server)
    synced = cli("sync", "--yes", "--json", "--home", str(home))
    assert synced.code == 0, str(synced)
    assert json.loads(synced.stdout)["applied"]["add sales_receipt"] == 45 + 2  # the demo's and these two
    company = server.double.company
    receipts = {r["DocNumber"]: r for r in company.entities["SalesReceipt"].values()
                if r["DocNumber"].startswith("SR39")}
    assert set(receipts) == {"SR39001", "SR39002"}
    lunch = receipts["SR39002"]
    assert (lunch["TotalAmt"], lunch["DepositToAccountRef"]["name"], lunch["PaymentRefNum"]) == \
        (Decimal("150.00"), "Checking", "1207")
    assert company.entities["PaymentMethod"][lunch["PaymentMethodRef"]["value"]]["Name"] == "Check"
    assert [ln["Amount"] for ln in lunch["Line"] if ln["DetailType"] == "SalesItemLineDetail"] == \
        [Decimal("100.00"), Decimal("50.00")]
    assert receipts["SR39001"]["DepositToAccountRef"]["name"] == "Undeposited Funds"

    reconcile = cli("reconcile", "--json", "--home", str(home))
    assert reconcile.code == 0, str(reconcile)
    assert json.loads(reconcile.stdout)["agrees"]
    writes = server.double.writes()
    again = cli("sync", "--yes", "--json", "--home", str(home))
    assert again.code == 0 and json.loads(again.stdout)["status"] == "nothing", str(again)
    assert server.double.writes() == writes


def sync_with_log(cli, home: str):  # noqa: ANN001
    log = Path(home) / "log.csv"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", home)
    rows = list(csv.DictReader(log.open())) if log.exists() else []
    return result, rows


def test_a_changed_a_voided_and_a_deleted_sales_receipt_are_corrected_in_quickbooks(demo_copy, cli, company_db,
                                                                                     tmp_path):
    """Sales receipts already in QuickBooks: one re-imported with another amount and deposit account becomes a
    SalesReceiptMod, one voided in the billing store a TxnVoid (QuickBooks keeps it at 0.00), one deleted a TxnDel;
    the Corrections Log says each in words from the table of kinds ("Sales receipt", "changed", "voided",
    "deleted") with before and after; reconcile agrees; the next sync sends nothing."""
    home = str(demo_copy.path)
    rows = ("SR40001,1150,2026-03-02,,95.00,Visa,x4242,1050,4100,Gala ticket,1,95.00,95.00",
            "SR40002,1252,2026-03-03,,50.00,Cash,,1050,4100,Luncheon seat,1,50.00,50.00",
            "SR40003,1252,2026-03-04,,20.00,Cash,,1050,4100,Raffle,1,20.00,20.00")
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, *rows)), "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0
    changed = "SR40001,1150,2026-03-02,,190.00,Visa,x4242,1000,4100,Gala tickets,2,95.00,190.00"
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, changed)), "--home", home).code == 0
    voided = cli("sales-receipts", "void", "SR40002", "--home", home)
    assert voided.code == 0 and "voided" in voided.stdout, voided
    assert cli("sales-receipts", "delete", "SR40003", "--home", home).code == 0

    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert sorted((r["Type"], r["Number"], r["Action in QuickBooks"]) for r in log) == [
        ("Sales receipt", "SR40001", "changed"), ("Sales receipt", "SR40002", "voided"),
        ("Sales receipt", "SR40003", "deleted")]
    first = next(r for r in log if r["Number"] == "SR40001")
    assert "deposit account: Undeposited Funds -> Checking" in first["What changed"]
    assert (first["Amount before"], first["Amount after"]) == ("95.00", "190.00")
    assert [w for w in result.writes if w.startswith(("SalesReceipt", "Txn"))] == \
        ["SalesReceiptModRq", "TxnVoidRq", "TxnDelRq"]
    db = company_db(demo_copy.company)
    gala = db.rows("SELECT t.total, a.full_name FROM txns t JOIN lists a ON a.list_id=t.account_id "
                   "WHERE t.ref_number='SR40001' AND t.txn_type='SalesReceipt'")
    assert [(r["total"], r["full_name"]) for r in gala] == [(19000, "Checking")]
    assert db.rows("SELECT total, is_voided FROM txns WHERE ref_number='SR40002'")[0][:] == (0, 1)
    assert db.rows("SELECT * FROM txns WHERE ref_number='SR40003'") == []
    agreed = cli("reconcile", "--home", home)
    assert agreed.code == 0 and "zero differences" in agreed.stdout, str(agreed)
    again = cli("sync", "--yes", "--home", home)
    assert again.code == 0 and again.writes == [], str(again)


def test_a_deposited_sales_receipt_is_taken_out_corrected_and_put_back_with_the_deposit_intact(demo_copy, cli,
                                                                                               company_db, tmp_path):
    """A sales receipt received into Undeposited Funds and deposited in QuickBooks with a payment (as a user
    does), then changed in the billing store (its date and memo, not its amount): booksync takes it out of the
    deposit behind a line of the same amount, sends the SalesReceiptMod and puts it back, as it does for payments
    (sync/correct_deposits.py); the deposit's total and account never move, no placeholder is left, the
    Corrections Log says so, reconcile agrees. Voiding it would change the deposit's total: the run stops with
    what to do, writing nothing."""
    home = str(demo_copy.path)
    row = "SR50001,1150,2026-01-10,,95.00,Visa,x4242,1050,4100,Gala ticket,1,95.00,95.00"
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, row)), "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0
    db = company_db(demo_copy.company)
    payment = db.value("SELECT ref_number FROM txns t JOIN lists a ON a.list_id=t.account_id WHERE "
                       "t.txn_type='ReceivePayment' AND a.special='UndepositedFunds' AND NOT EXISTS "
                       "(SELECT 1 FROM lines l WHERE l.payment_id=t.txn_id) AND t.ref_number NOT LIKE 'x%' "
                       "ORDER BY t.txn_number LIMIT 1")
    deposited = cli("simulator", "deposit", "--to", "Checking", "--date", "2026-01-15", "--payment", "SR50001",
                    "--payment", payment, "--home", home)
    assert deposited.code == 0 and "Deposited 2 payment(s)" in deposited.stdout, str(deposited)
    total, account = db.rows("SELECT total, account_id FROM txns WHERE txn_type='Deposit'")[0][:]
    changed = "SR50001,1150,2026-01-11,Gala ticket (table 4),95.00,Visa,x4242,1050,4100,Gala ticket,1,95.00,95.00"
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, changed)), "--home", home).code == 0

    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Type"] == "Sales receipt"
    assert entry["Action in QuickBooks"] == "taken out of the deposit, changed, put back into the deposit"
    assert "total and account are unchanged" in entry["Note"]
    assert [w for w in result.writes if w in ("DepositModRq", "SalesReceiptModRq")] == \
        ["DepositModRq", "SalesReceiptModRq", "DepositModRq"]
    assert db.rows("SELECT total, account_id FROM txns WHERE txn_type='Deposit'")[0][:] == (total, account)
    receipt = db.rows("SELECT txn_id, txn_date FROM txns WHERE ref_number='SR50001' AND txn_type='SalesReceipt'")[0]
    assert receipt["txn_date"] == "2026-01-11"
    assert db.value("SELECT COUNT(*) FROM lines WHERE payment_id=?", receipt["txn_id"]) == 1  # back in the deposit
    assert db.value("SELECT COUNT(*) FROM lines WHERE descr LIKE 'booksync: holds the place%'") == 0
    agreed = cli("reconcile", "--home", home)
    assert agreed.code == 0 and "zero differences" in agreed.stdout, str(agreed)

    before = db.fingerprint()
    assert cli("sales-receipts", "void", "SR50001", "--home", home).code == 0
    stopped, _ = sync_with_log(cli, home)
    assert stopped.code == 3, str(stopped)
    assert "sales receipt SR50001" in stopped.stdout and "voiding it would change the deposit's total" in stopped.stdout
    assert "remove the sales receipt from the deposit" in stopped.stdout
    assert stopped.writes == [] and db.fingerprint() == before


@pytest.mark.parametrize("point", ["before-sent:1", "after-send:1", "before-send:2", "after-send:2", "after-send:3",
                                   "after-record:3"])
def test_a_deposited_sales_receipt_correction_killed_at_any_point_is_finished_by_the_next(point, demo_copy, cli,
                                                                                          company_db, tmp_path):
    """The correction of a deposited sales receipt is three messages (take it out of the deposit, SalesReceiptMod,
    put it back). Killed at each fault point (BOOKSYNC_FAULT, booksync.faults) of that run, the next sync settles
    what QuickBooks did, puts the receipt back into its deposit when the kill left it out (the placeholder line
    names it: sync/load.py find_held_payments), and ends with the company as an uninterrupted run leaves it: one
    sales receipt, changed, in its deposit, whose total and account never moved; reconcile agrees."""
    home = str(demo_copy.path)
    row = "SR50001,1150,2026-01-10,,95.00,Visa,x4242,1050,4100,Gala ticket,1,95.00,95.00"
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, row)), "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0
    deposited = cli("simulator", "deposit", "--to", "Checking", "--date", "2026-01-15", "--payment", "SR50001",
                    "--home", home)
    assert deposited.code == 0, str(deposited)
    db = company_db(demo_copy.company)
    total, account = db.rows("SELECT total, account_id FROM txns WHERE txn_type='Deposit'")[0][:]
    changed = "SR50001,1150,2026-01-11,Gala ticket (table 4),95.00,Visa,x4242,1050,4100,Gala ticket,1,95.00,95.00"
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, changed)), "--home", home).code == 0

    env = {k: v for k, v in os.environ.items() if k != "BOOKSYNC_HOME"}
    env["BOOKSYNC_FAULT"] = point
    killed = subprocess.run([sys.executable, "-m", "booksync.cli.main", "sync", "--yes", "--corrections-log",
                             str(tmp_path / "killed.csv"), "--home", home], capture_output=True, text=True, env=env,
                            timeout=300, cwd=tempfile.gettempdir())
    assert killed.returncode == -9, f"the fault point {point} was not reached:\n{killed.stdout}\n{killed.stderr}"
    resumed, _ = sync_with_log(cli, home)
    assert resumed.code == 0, str(resumed)
    receipts = db.rows("SELECT txn_id, txn_date, memo FROM txns WHERE ref_number='SR50001' AND txn_type='SalesReceipt'")
    assert [(r["txn_date"], r["memo"]) for r in receipts] == [("2026-01-11", "Gala ticket (table 4)")]
    assert db.rows("SELECT total, account_id FROM txns WHERE txn_type='Deposit'")[0][:] == (total, account)
    assert db.value("SELECT COUNT(*) FROM lines WHERE payment_id=?", receipts[0]["txn_id"]) == 1
    assert db.value("SELECT COUNT(*) FROM lines WHERE descr LIKE 'booksync: holds the place%'") == 0
    agreed = cli("reconcile", "--home", home)
    assert agreed.code == 0 and "zero differences" in agreed.stdout, str(agreed)
    again = cli("sync", "--yes", "--home", home)
    assert again.code == 0 and again.writes == [], str(again)


@pytest.mark.parametrize("point", ["before-sent:1", "before-send:1", "after-send:1", "after-record:1"])
def test_a_sales_receipt_add_killed_at_any_point_is_finished_by_the_next_without_a_duplicate(point, demo_copy, cli,
                                                                                              company_db, tmp_path):
    """The sync that adds two sales receipts (one message) killed at each fault point: the next sync settles the
    journal by asking QuickBooks (a SalesReceiptQuery by RefNumber, matched by booksync's ExternalGUID) and adds
    only what is missing: each receipt is in QuickBooks once; reconcile agrees; a third sync sends nothing."""
    home = str(demo_copy.path)
    rows = ("SR60001,1150,2026-03-02,,95.00,Visa,x4242,1050,4100,Gala ticket,1,95.00,95.00",
            "SR60002,1252,2026-03-03,,50.00,Check,2210,1000,4100,Luncheon seat,1,50.00,50.00")
    assert cli("import", "sales-receipts", str(write_receipts(tmp_path, *rows)), "--home", home).code == 0
    env = {k: v for k, v in os.environ.items() if k != "BOOKSYNC_HOME"}
    env["BOOKSYNC_FAULT"] = point
    killed = subprocess.run([sys.executable, "-m", "booksync.cli.main", "sync", "--yes", "--home", home],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tempfile.gettempdir())
    assert killed.returncode == -9, f"the fault point {point} was not reached:\n{killed.stdout}\n{killed.stderr}"
    resumed = cli("sync", "--yes", "--home", home)
    assert resumed.code == 0, str(resumed)
    db = company_db(demo_copy.company)
    assert sorted(r[0] for r in db.rows("SELECT ref_number FROM txns WHERE txn_type='SalesReceipt' "
                                        "AND ref_number LIKE 'SR6%'")) == ["SR60001", "SR60002"]
    agreed = cli("reconcile", "--home", home)
    assert agreed.code == 0 and "zero differences" in agreed.stdout, str(agreed)
    again = cli("sync", "--yes", "--home", home)
    assert again.code == 0 and again.writes == [], str(again)
