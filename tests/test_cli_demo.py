"""End to end: `booksync demo` synchronizes the demo chamber, and the company then holds exactly the billing.

The synchronized demo home is built once per session (``demo_home``, by the real CLI);
tests that change it work on a copy.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from lxml import etree

from booksync.simulator import open_company

from conftest import QB, validate_run_files

NAMES_THAT_BREAK_SYNCS = {
    # member number: name QuickBooks must hold
    "1007": "Smith & Sons Hardware",
    "1023": "O'Malley's Irish Pub",
    "1042": "Café Olé Bakery",
    "1088": "Dvorák Music Studio",
    "1177": "Main Street Dental",
    "1302": "Main Street Dental (1302)",
    "1233": "Acme - The Widget Company",
    "1267": 'Bits <&> Bytes "Computer" Repair',
}
LONG_NAME = "The Greater Riverside Regional Economic Development Corporation"


def money(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def only_run(home: Path) -> Path:
    (run,) = sorted((home / "runs").iterdir())
    return run


def test_demo_exits_0_and_says_what_it_did(demo_home):
    """`booksync demo` (exit 0, checked by the fixture) sent QuickBooks exactly the plan's adds, and says so."""
    writes = Counter(demo_home.result.writes)
    assert writes == {"CustomerAddRq": 400, "ItemServiceAddRq": 9, "PaymentMethodAddRq": 2, "InvoiceAddRq": 1003,
                      "CreditMemoAddRq": 25, "SalesReceiptAddRq": 45, "ReceivePaymentAddRq": 842}
    assert "QuickBooks was updated: 2326 operation(s) applied." in demo_home.output
    assert "Backup taken before the update" in demo_home.output
    assert list((demo_home.path / "backups").iterdir()), "a backup was taken before the first write"


def test_a_customer_per_billed_member(demo_home, company_db, demo_data):
    """400 billed members, 400 customers, each carrying its member number as AccountNumber."""
    billed = {r["member"] for f in ("invoices.csv", "credit_memos.csv", "payments.csv") for r in demo_data(f)}
    db = company_db(demo_home.company)
    customers = db.customer_names()
    assert len(billed) == 400
    assert db.count_lists("Customer") == 400
    assert sorted(customers.values()) == sorted(billed)


def sales_by_number(rows: list[dict[str, str]]) -> dict[str, tuple[str, Decimal]]:
    out: dict[str, tuple[str, Decimal]] = {}
    for r in rows:
        member, total = out.get(r["number"], (r["member"], Decimal("0.00")))
        out[r["number"]] = (member, total + money(r["amount"]))
    return out


def company_sales(db, txn_type: str) -> dict[str, tuple[str, Decimal]]:
    rows = db.rows("SELECT t.ref_number, t.total, c.account_number FROM txns t JOIN lists c ON c.list_id=t.customer_id "
                   "WHERE t.txn_type=?", txn_type)
    return {r["ref_number"]: (r["account_number"], cents(r["total"])) for r in rows}


def test_every_invoice_and_credit_memo_with_its_member_and_total(demo_home, company_db, demo_data):
    """One invoice per billing invoice (1003) and one credit memo per credit memo (25), each for the right
    member's customer with the same total; the grand totals equal the CSVs'."""
    db = company_db(demo_home.company)
    for txn_type, file, count in (("Invoice", "invoices.csv", 1003), ("CreditMemo", "credit_memos.csv", 25)):
        expected = sales_by_number(demo_data(file))
        actual = company_sales(db, txn_type)
        assert len(expected) == count and db.count_txns(txn_type) == count
        assert actual == expected, txn_type
        assert db.total(txn_type) == sum(t for _, t in expected.values())
    assert db.total("Invoice") == Decimal("483940.00")
    assert db.total("CreditMemo") == Decimal("8110.00")


def test_sales_lines_post_to_the_cross_referenced_accounts(demo_home, company_db, demo_data):
    """Every CSV line is a QuickBooks line; per QuickBooks income account, line totals equal the CSVs'."""
    xref = {r["number"]: r["qb_account"] for r in demo_data("gl_accounts.csv")}
    db = company_db(demo_home.company)
    for txn_type, file in (("Invoice", "invoices.csv"), ("CreditMemo", "credit_memos.csv")):
        rows = demo_data(file)
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for r in rows:
            expected[xref[r["gl_account"]]] += money(r["amount"])
        lines = db.rows("SELECT a.full_name, SUM(l.amount) AS total, COUNT(*) AS n FROM lines l "
                        "JOIN txns t ON t.txn_id=l.txn_id JOIN lists i ON i.list_id=l.item_id "
                        "JOIN lists a ON a.list_id=i.account_id WHERE t.txn_type=? GROUP BY a.full_name", txn_type)
        assert {r["full_name"]: cents(r["total"]) for r in lines} == dict(expected), txn_type
        assert sum(r["n"] for r in lines) == len(rows)


def test_every_payment_with_member_date_amount_and_deposit_account(demo_home, company_db, demo_data):
    """842 payments; as a multiset of (member, date, amount, deposit account) they equal the CSV's."""
    xref = {r["number"]: r["qb_account"] for r in demo_data("gl_accounts.csv")}
    first_rows = {}
    for r in demo_data("payments.csv"):
        first_rows.setdefault(r["number"], r)
    expected = Counter((r["member"], r["date"], money(r["amount"]), xref[r["deposit_account"]])
                       for r in first_rows.values())
    db = company_db(demo_home.company)
    rows = db.rows("SELECT c.account_number, t.txn_date, t.total, a.full_name FROM txns t "
                   "JOIN lists c ON c.list_id=t.customer_id JOIN lists a ON a.list_id=t.account_id "
                   "WHERE t.txn_type='ReceivePayment'")
    actual = Counter((r["account_number"], r["txn_date"], cents(r["total"]), r["full_name"]) for r in rows)
    assert len(first_rows) == 842 == db.count_txns("ReceivePayment")
    assert actual == expected
    assert db.total("ReceivePayment") == Decimal("395709.00")


def test_payment_applications_and_credits_are_applied(demo_home, company_db, demo_data):
    """Cash applied per invoice, and credit memo credit applied per (invoice, credit memo), equal the CSV's."""
    cash: dict[str, Decimal] = defaultdict(Decimal)
    credit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in demo_data("payments.csv"):
        if r["apply_to"] and r["apply_amount"] and money(r["apply_amount"]):
            cash[r["apply_to"]] += money(r["apply_amount"])
        if r["apply_credit_memo"]:
            credit[(r["apply_to"], r["apply_credit_memo"])] += money(r["apply_credit_amount"])
    db = company_db(demo_home.company)
    rows = db.rows("SELECT i.ref_number AS invoice, cm.ref_number AS memo, SUM(a.amount) AS amount "
                   "FROM applications a JOIN txns i ON i.txn_id=a.invoice_id "
                   "LEFT JOIN txns cm ON cm.txn_id=a.credit_memo_id GROUP BY 1, 2")
    assert {r["invoice"]: cents(r["amount"]) for r in rows if r["memo"] is None} == dict(cash)
    assert {(r["invoice"], r["memo"]): cents(r["amount"]) for r in rows if r["memo"]} == dict(credit)
    assert len(credit) == 10


def test_customer_balances_follow_the_billing(demo_home, demo_data):
    """Through qbXML: each customer's Balance is its member's invoices - credit memos - payments."""
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for r in demo_data("invoices.csv"):
        balance[r["member"]] += money(r["amount"])
    for r in demo_data("credit_memos.csv"):
        balance[r["member"]] -= money(r["amount"])
    seen = set()
    for r in demo_data("payments.csv"):
        if r["number"] not in seen:
            seen.add(r["number"])
            balance[r["member"]] -= money(r["amount"])
    with open_company(demo_home.company) as company:
        qb = QB(company)
        rs = qb.one("CustomerQuery", {"ActiveStatus": "All"})
        got = {ret.findtext("AccountNumber"): money(ret.findtext("Balance")) for ret in rs.raise_for_status().rets}
    assert got == dict(balance)


def test_reconcile_reports_zero_differences(demo_home, cli):
    """`booksync reconcile` after the demo exits 0, compares all 400 members and prints 'zero differences'."""
    result = cli("reconcile", "--home", str(demo_home.path))
    assert result.code == 0, result
    assert "The books agree: zero differences." in result.stdout
    assert "Compared 400 member balance(s)" in result.stdout
    assert result.writes == []


def test_reconcile_before_any_sync_does_not_say_the_books_agree(nosync_home, cli):
    """Before: a home never synchronized printed "The books agree: zero differences." having compared nothing."""
    result = cli("reconcile", "--home", str(nosync_home.path))
    assert result.code == 0, result
    assert "The books agree" not in result.stdout
    assert "Nothing has been synchronized yet, so there is nothing to compare." in result.stdout
    assert "billing record(s) are not synchronized yet" in result.stdout


def test_reconcile_json_agrees(demo_home, cli):
    """`reconcile --json` prints JSON with agrees=true and no differences."""
    result = cli("reconcile", "--home", str(demo_home.path), "--json")
    assert result.code == 0, result
    data = json.loads(result.stdout)
    assert data["agrees"] is True
    assert data["members_compared"] == 400
    assert data["member_differences"] == [] and data["account_differences"] == []
    assert data["not_synchronized"] == 0


def test_every_staged_request_validates_and_covers_the_plan(demo_home, qbxml_schema):
    """Every .xml under runs/ validates against the XSD, and the staged requests are exactly the plan's
    operations, each once, in order of requestID."""
    files = sorted(demo_home.path.glob("runs/**/*.xml"))
    assert files and validate_run_files(demo_home.path) == len(files)
    for path in files:
        assert qbxml_schema.validate(etree.parse(str(path))), path
    plan = json.loads((only_run(demo_home.path) / "plan.json").read_text())
    request_ids = [int(rq.get("requestID")) for path in files
                   for rq in etree.parse(str(path)).getroot().find("QBXMLMsgsRq")]
    assert request_ids == list(range(1, len(plan["operations"]) + 1))
    assert sum(plan["counts"].values()) == len(plan["operations"]) == 2326


def test_names_that_break_syncs_are_in_the_company(demo_home, company_db):
    """The awkward member names exist in QuickBooks with the names the rule gives them."""
    customers = company_db(demo_home.company).customer_names()
    by_number = {number: name for name, number in customers.items()}
    for number, name in NAMES_THAT_BREAK_SYNCS.items():
        assert by_number[number] == name, number
    cut = by_number["1150"]
    assert len(cut) <= 41 and LONG_NAME.startswith(cut) and len(cut) >= 30
    with open_company(demo_home.company) as company:
        rs = QB(company).one("CustomerQuery", {"FullName": list(NAMES_THAT_BREAK_SYNCS.values()) + [cut]})
        assert sorted(r.findtext("Name") for r in rs.raise_for_status().rets) == sorted(
            [*NAMES_THAT_BREAK_SYNCS.values(), cut])


def test_the_plan_lists_the_adjustments(demo_home, company_db):
    """plan.txt shows each changed name, original -> adjusted; plan.json carries the same adjustments."""
    run = only_run(demo_home.path)
    text = (run / "plan.txt").read_text(encoding="utf-8")
    cut = {v: k for k, v in company_db(demo_home.company).customer_names().items()}["1150"]
    for original, adjusted in (("Dvořák Music Studio", "Dvorák Music Studio"), (LONG_NAME, cut),
                               ("Acme: The Widget Company", "Acme - The Widget Company"),
                               ("Main Street Dental", "Main Street Dental (1302)")):
        assert f'customer name: "{original}" -> "{adjusted}"' in text, adjusted
    adjustments = json.loads((run / "plan.json").read_text())["adjustments"]
    names = {(a["record"].split()[1], a["adjusted"]) for a in adjustments if a["field"] == "customer name"}
    assert names == {("1088", "Dvorák Music Studio"), ("1150", cut), ("1233", "Acme - The Widget Company"),
                     ("1302", "Main Street Dental (1302)")}
    for unchanged in ("Smith & Sons Hardware", "O'Malley's Irish Pub", "Café Olé Bakery"):
        assert f'"{unchanged}" ->' not in text


def test_second_sync_has_nothing_to_send(demo_copy, cli, company_db, billing_db):
    """A second `sync --yes` prints 'Nothing to synchronize', sends no write request, and changes nothing:
    same company rows, same max TimeModified, no new run folder or request file."""
    db = company_db(demo_copy.company)
    before, modified = db.fingerprint(), db.max_modified()
    files = sorted(demo_copy.path.glob("runs/*/requests/*.xml"))
    runs = sorted(p.name for p in (demo_copy.path / "runs").iterdir())
    result = cli("sync", "--home", str(demo_copy.path), "--yes")
    assert result.code == 0, result
    assert "Nothing to synchronize" in result.stdout
    assert result.requests, "the run read QuickBooks"
    assert result.writes == []
    assert db.fingerprint() == before
    assert db.max_modified() == modified
    assert sorted(demo_copy.path.glob("runs/*/requests/*.xml")) == files
    assert sorted(p.name for p in (demo_copy.path / "runs").iterdir()) == runs


def test_demo_again_in_the_same_home_starts_afresh(demo_copy, cli):
    """The demo run again over a synchronized demo home empties its billing store (SQLite file or PostgreSQL
    database) and its company, imports everything again and synchronizes it again."""
    result = cli("demo", "--home", str(demo_copy.path))
    assert result.code == 0, result
    assert "Imported   400 members" in result.stdout
    assert "Imported  1003 invoices" in result.stdout
    assert "Some members cannot reach their QuickBooks customer" not in result.output
    assert len(list((demo_copy.path / "runs").iterdir())) == 1, "the old runs went with the old company"


def test_demo_refuses_a_database_no_demo_home_points_at(nosync_copy, cli):
    """A folder whose booksync.toml is gone still has a billing store where a new home would keep one (the
    SQLite file, or the PostgreSQL database named for the folder): the demo refuses it, changes nothing and
    says how to go on; with --reset-database it empties it and starts there."""
    import tomllib

    from sqlalchemy import make_url

    from booksync.config import Home
    from booksync.store.db import store_tables

    config = nosync_copy.path / "booksync.toml"
    url = Home(nosync_copy.path, tomllib.loads(config.read_text())).database_url
    config.unlink()
    tables = store_tables(url)
    assert "members" in tables

    refused = cli("demo", "--home", str(nosync_copy.path), "--no-sync")
    assert refused.code == 2, refused
    assert f"already holds {len(tables)} tables, and no demo home in {nosync_copy.path}" in refused.output
    assert f"demo --home {nosync_copy.path} --reset-database" in refused.output
    password = make_url(url).password
    assert password is None or f":{password}@" not in refused.output, "the password is hidden"
    assert not config.exists()
    assert store_tables(url) == tables

    reset = cli("demo", "--home", str(nosync_copy.path), "--no-sync", "--reset-database")
    assert reset.code == 0, reset
    assert "Imported   400 members" in reset.stdout
    assert Home(nosync_copy.path, tomllib.loads(config.read_text())).database_url == url
