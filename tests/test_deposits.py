"""Payments already deposited in QuickBooks, through the real CLI, after a first sync of the demo and a
deposit made in the simulated company (`booksync simulator deposit`, as a QuickBooks user would)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import demo_csv


def single_payments(n: int) -> list[dict[str, str]]:
    """N demo payments to Undeposited Funds with exactly one application that equals their amount."""
    rows = demo_csv("payments.csv")
    count: dict[str, int] = {}
    for r in rows:
        count[r["number"]] = count.get(r["number"], 0) + 1
    return [r for r in rows if count[r["number"]] == 1 and r["deposit_account"] == "1050" and r["apply_to"]
            and r["apply_amount"] == r["amount"] and not r["apply_credit_memo"]][:n]


def deposit(cli, home: str, *receipts: str) -> None:  # noqa: ANN001
    args = [a for r in receipts for a in ("--payment", r)]
    result = cli("simulator", "deposit", "--to", "Checking", "--date", "2026-01-15", *args, "--home", home)
    assert result.code == 0, str(result)


def deposit_total(db, receipt: str) -> int | None:  # noqa: ANN001
    return db.value("SELECT d.total FROM lines l JOIN txns d ON d.txn_id=l.txn_id JOIN txns p ON p.txn_id=l.payment_id "
                    "WHERE p.memo LIKE ?", f"Receipt {receipt}%")


def sync(cli, home: str, *extra: str):  # noqa: ANN001
    log = Path(home) / "log.csv"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", home, *extra)
    return result, (list(csv.DictReader(log.open())) if log.exists() else [])


def test_member_or_date_change_of_a_deposited_payment_is_corrected_automatically(demo_copy, cli, company_db):
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    db = company_db(demo_copy.company)
    total = db.value("SELECT total FROM txns WHERE txn_type='Deposit'")
    account = db.value("SELECT account_id FROM txns WHERE txn_type='Deposit'")
    assert cli("payments", "edit", a["number"], "--date", "2026-01-02", "--home", home).code == 0
    result, log = sync(cli, home)
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Action in QuickBooks"].startswith("taken out of the deposit, changed")
    assert "put back" in entry["Action in QuickBooks"] and "total and account are unchanged" in entry["Note"]
    assert db.value("SELECT total FROM txns WHERE txn_type='Deposit'") == total
    assert db.value("SELECT account_id FROM txns WHERE txn_type='Deposit'") == account
    assert deposit_total(db, a["number"]) == total  # the payment is back in the deposit
    assert db.value("SELECT COUNT(*) FROM lines WHERE descr LIKE 'booksync: holds the place%'") == 0
    assert cli("reconcile", "--home", home).code == 0


def test_amount_change_of_a_deposited_payment_stops_then_goes_through_when_allowed(demo_copy, cli, company_db):
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    db = company_db(demo_copy.company)
    before = db.fingerprint()
    total = db.value("SELECT total FROM txns WHERE txn_type='Deposit'")
    new = "5.00"
    assert cli("payments", "edit", a["number"], "--amount", new, "--apply", f"{a['apply_to']}={new}",
               "--home", home).code == 0
    stopped, _ = sync(cli, home)
    assert stopped.code == 3 and "the deposit of 2026-01-15 to Checking" in stopped.stdout
    assert "remove the payment from the deposit" in stopped.stdout and "no longer reconciled" in stopped.stdout
    assert stopped.writes == [] and db.fingerprint() == before
    allowed, log = sync(cli, home, "--allow-deposit-changes")
    assert allowed.code == 0, str(allowed)
    assert "re-reconcile this deposit" in log[0]["Note"]
    expected = total - int(float(a["amount"]) * 100) + 500
    assert db.value("SELECT total FROM txns WHERE txn_type='Deposit'") == expected
    assert cli("reconcile", "--home", home).code == 0


def test_deleting_the_only_payment_of_a_deposit(demo_copy, cli, company_db):
    (a,) = single_payments(1)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"])
    db = company_db(demo_copy.company)
    assert cli("payments", "delete", a["number"], "--home", home).code == 0
    stopped, _ = sync(cli, home)
    assert stopped.code == 3 and "delete the deposit (the payment is its only line)" in stopped.stdout
    allowed, log = sync(cli, home, "--allow-deposit-changes")
    assert allowed.code == 0, str(allowed)
    assert db.value("SELECT COUNT(*) FROM txns WHERE txn_type='Deposit'") == 0
    assert "was deleted" in log[0]["Note"]
    assert cli("reconcile", "--home", home).code == 0


def test_a_payment_recorded_to_an_income_account_stops_the_sync(nosync_copy, cli, company_db, tmp_path):
    """The importer refuses a deposit G/L account of an income type, and `accounts xref` a deposit account mapped
    to an income account; such a cross reference already in the store (the gl-accounts import cannot see
    QuickBooks) is caught by the sync's check, before anything is written."""
    home = str(nosync_copy.path)
    assert cli("accounts", "xref", "--set", "1000=Events", "--home", home).code == 3
    accounts = tmp_path / "gl.csv"
    accounts.write_text("number,name,type,qb_account\n1000,Operating Checking,Bank,Events\n")
    assert cli("import", "gl-accounts", str(accounts), "--home", home).code == 0
    before = company_db(nosync_copy.company).fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 3, str(result)
    assert ('G/L account 1000 Operating Checking: is of type Bank and cannot post to QuickBooks account "Events" of '
            'type Income: by the deposit rule a Bank G/L account maps only to a Bank or Other Current Asset account'
            ) in result.stdout
    assert f'booksync accounts xref --home {home} --set 1000="Checking"' in result.stdout
    assert result.writes == [] and company_db(nosync_copy.company).fingerprint() == before


# ---------------------------------------------------------------------- issue 17: deposits that always go back


def placeholders(db) -> int:  # noqa: ANN001
    return db.value("SELECT COUNT(*) FROM lines WHERE descr LIKE 'booksync: holds the place%'")


def test_an_edit_that_changes_nothing_quickbooks_holds_plans_nothing(demo_copy, cli, company_db):
    """Issue 17 item 1: a payment edited to a value it already had (or changed and changed back) is compared with
    what was written, not with its stamp: nothing is taken out of the deposit, now or on later runs."""
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    db = company_db(demo_copy.company)
    before = db.fingerprint()
    assert cli("payments", "edit", a["number"], "--memo", a["memo"], "--home", home).code == 0
    # A change made and changed back: the row's stamp moves, what QuickBooks holds does not.
    assert cli("payments", "edit", a["number"], "--memo", "Paid at the gala", "--home", home).code == 0
    assert cli("payments", "edit", a["number"], "--memo", a["memo"], "--home", home).code == 0
    for _ in range(2):
        result, log = sync(cli, home)
        assert result.code == 0 and "Nothing to synchronize" in result.stdout, str(result)
        assert result.writes == [] and log == []
    assert db.fingerprint() == before and placeholders(db) == 0
    assert deposit_total(db, a["number"]) == deposit_total(db, b["number"])
    assert cli("reconcile", "--home", home).code == 0


@pytest.mark.parametrize("point", ["after-record:1", "after-record:2"])
def test_a_run_killed_between_take_out_and_put_back_is_finished_by_the_next(point, demo_copy, cli, company_db,
                                                                             monkeypatch):
    """Issue 17 items 2 and 3: killed after the take-out (the payment still to correct) or after the payment's
    correction (nothing left to correct in the billing store), the next sync finds booksync's placeholder line by
    its memo and puts the payment back with the deposit's current EditSequence; later runs have nothing to do."""
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    db = company_db(demo_copy.company)
    total = db.value("SELECT total FROM txns WHERE txn_type='Deposit'")
    assert cli("payments", "edit", a["number"], "--date", "2025-01-02", "--home", home).code == 0
    monkeypatch.setenv("BOOKSYNC_FAULT", point)
    killed, _ = sync(cli, home)
    monkeypatch.delenv("BOOKSYNC_FAULT")
    assert killed.code != 0 and placeholders(db) == 1  # the payment is out of its deposit
    # Issue 17 item 4: reconcile sees it (the member balances and account totals alone agree).
    seen = cli("reconcile", "--json", "--home", home)
    report = json.loads(seen.stdout)
    assert seen.code == 7 and not report["member_differences"] and not report["account_differences"], str(seen)
    placeholder, funds = report["deposit_differences"]
    assert f"placeholder for payment {a['number']} is still there" in placeholder["what"]
    assert funds["what"].startswith("Undeposited Funds") and funds["difference"] == a["amount"]
    shown = cli("reconcile", "--home", home)  # for people: what to do, a command to paste, below the table
    assert shown.code == 7 and f"To put it back: " in shown.stdout and f"booksync sync --home {home}" in shown.stdout
    result, _ = sync(cli, home)
    assert result.code == 0 and "QuickBooks was updated" in result.stdout, str(result)
    assert placeholders(db) == 0 and deposit_total(db, a["number"]) == total
    assert db.value("SELECT total FROM txns WHERE txn_type='Deposit'") == total
    assert db.value("SELECT txn_date FROM txns WHERE memo LIKE ?", f"Receipt {a['number']}%") == "2025-01-02"
    again, _ = sync(cli, home)
    assert again.code == 0 and "Nothing to synchronize" in again.stdout and again.writes == []
    assert cli("reconcile", "--home", home).code == 0


def test_take_out_and_put_back_go_in_separate_messages(demo_copy, cli, company_db):
    """Issue 17 item 3: the put-back needs the EditSequence the take-out returned, so the two DepositMods of one
    deposit are never in the same message."""
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    assert cli("payments", "edit", a["number"], "--date", "2025-01-02", "--home", home).code == 0
    assert cli("payments", "edit", b["number"], "--date", "2025-01-03", "--home", home).code == 0
    result, log = sync(cli, home)
    assert result.code == 0, str(result)
    deposit_messages = [m for m in result.requests if any("DepositMod" in tag for tag in m)]
    assert [sum("DepositMod" in tag for tag in m) for m in deposit_messages] == [1, 1]
    assert placeholders(company_db(demo_copy.company)) == 0 and len(log) == 2


def test_a_date_moved_after_the_deposit_is_still_corrected_around_it(demo_copy, cli, company_db):
    """The deposit is looked for from the date QuickBooks has (written), not only the billing store's new one."""
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    db = company_db(demo_copy.company)
    total = db.value("SELECT total FROM txns WHERE txn_type='Deposit'")
    assert cli("payments", "edit", a["number"], "--date", "2026-02-01", "--home", home).code == 0
    result, _ = sync(cli, home)
    assert result.code == 0, str(result)
    assert deposit_total(db, a["number"]) == total and placeholders(db) == 0


def test_a_date_only_correction_is_not_reported_as_changing_the_deposit(demo_copy, cli, company_db):
    """Issue 17 item 5: in a deposit where one payment's amount changes and another's date, only the first is
    reported as changing the deposit's total."""
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    db = company_db(demo_copy.company)
    before = db.fingerprint()
    assert cli("payments", "edit", a["number"], "--amount", "5.00", "--apply", f"{a['apply_to']}=5.00",
               "--home", home).code == 0
    assert cli("payments", "edit", b["number"], "--date", "2025-01-09", "--home", home).code == 0
    stopped, _ = sync(cli, home)
    assert stopped.code == 3, str(stopped)
    assert f"payment {a['number']}" in stopped.stdout and f"payment {b['number']}" not in stopped.stdout
    assert stopped.stdout.count("would change the deposit's total") == 1
    assert stopped.writes == [] and db.fingerprint() == before


def test_a_reference_shared_by_several_payments_deposits_none(demo_copy, cli, company_db):
    """A card's last four digits name many payments: `simulator deposit --payment x4242` deposited 160 of them."""
    db = company_db(demo_copy.company)
    shared = db.value("SELECT ref_number FROM txns WHERE txn_type='ReceivePayment' AND ref_number != '' "
                      "GROUP BY ref_number HAVING COUNT(*) > 1 LIMIT 1")
    before = db.fingerprint()
    result = cli("simulator", "deposit", "--to", "Checking", "--payment", shared, "--home", str(demo_copy.path))
    assert result.code == 2 and f"more than one undeposited payment has the reference {shared}" in result.stderr
    assert db.fingerprint() == before
