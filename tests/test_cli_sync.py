"""End to end: `booksync sync` checks, asks, and writes nothing unless it should.

Each test runs the real command line on its own copy of a demo home, and proves what
was (not) written by the company file's rows, the run folders, and the trace of the
requests the simulator received.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from booksync.simulator import open_company

MEMBER_HEADER = ("number,name,company,contact_first,contact_last,address1,address2,city,state,postal_code,email,"
                 "phone,status")
INVOICE_HEADER = "number,member,date,due_date,memo,gl_account,description,quantity,rate,amount"


def write_csv(folder: Path, name: str, header: str, *rows: str) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run_folders(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "runs").iterdir())


def backups(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "backups").iterdir())


# ---------------------------------------------------------------------- check 1: account cross references


def test_unmapped_account_stops_the_sync_before_anything_is_written(nosync_copy, cli, company_db):
    """With G/L 4300's cross reference cleared, `sync --yes` exits 3 with the headline naming 4300, and writes
    nothing: no request, no customer, no run folder, no backup."""
    home = str(nosync_copy.path)
    cleared = cli("accounts", "xref", "--clear", "4300", "--home", home)
    assert cleared.code == 0, cleared
    assert "4300 -> (no cross reference)" in cleared.stdout
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 3, result
    assert "You have 1 account(s) which do not have a matching QuickBooks account specified." in result.stdout
    assert "G/L account 4300 Advertising" in result.stdout
    assert f"booksync accounts xref --home {home} --set 4300=" in result.stdout
    assert result.writes == []
    assert db.count_lists("Customer") == 0 and db.count_txns("Invoice") == 0
    assert db.fingerprint() == before
    assert run_folders(nosync_copy.path) == [] and backups(nosync_copy.path) == []
    # The stopped run is listed, and `runs show` says why.
    listed = cli("runs", "list", "--json", "--home", home)
    (run,) = json.loads(listed.stdout)["runs"]
    assert run["status"] == "stopped"
    shown = cli("runs", "show", run["run_id"], "--home", home)
    assert shown.code == 0 and "Run " + run["run_id"] + ": stopped" in shown.stdout
    assert "G/L account 4300 Advertising" in shown.stdout and f"accounts xref --home {home} --set 4300=" in shown.stdout, "pasteable, as the sync printed it"


# ---------------------------------------------------------------------- check 2: customers


def test_interactive_yes_to_customers_no_to_update_writes_nothing(nosync_copy, cli, company_db):
    """Answering 'y' (create customers) then 'n' (update now) exits 4: the plan is shown, nothing is written."""
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    result = cli("sync", "--home", str(nosync_copy.path), input="y\nn\n")
    assert result.code == 4, result
    assert "400 member(s) being billed have no QuickBooks customer" in result.stdout
    assert "Create QuickBooks customers for them now?" in result.stdout
    assert "Do you want to update QuickBooks with the synchronization changes now?" in result.stdout
    assert "QuickBooks was not updated" in result.stdout
    assert result.writes == []
    assert db.count_lists("Customer") == 0
    assert db.fingerprint() == before
    assert backups(nosync_copy.path) == []


def test_dry_run_stages_valid_requests_and_sends_nothing(nosync_copy, cli, company_db):
    """`sync --dry-run --yes` stages the plan and schema-valid request files, but sends no write and leaves the
    company untouched."""
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    result = cli("sync", "--dry-run", "--yes", "--home", str(nosync_copy.path))
    assert result.code == 0, result
    assert "Dry run" in result.stdout and "nothing was sent to QuickBooks" in result.stdout
    (run,) = run_folders(nosync_copy.path)
    files = sorted((nosync_copy.path / "runs" / run / "requests").glob("*.xml"))
    assert len(files) > 40  # validated against the XSD by the cli fixture
    assert (nosync_copy.path / "runs" / run / "plan.txt").read_text(encoding="utf-8").count(" add ") >= 2280
    assert result.writes == []
    assert db.fingerprint() == before
    assert db.count_lists("Customer") == 0 and db.count_txns("Invoice") == 0
    assert backups(nosync_copy.path) == []


def test_new_member_after_a_full_sync_is_asked_about_then_created(demo_copy, cli, company_db, tmp_path):
    """A new member billed after the demo sync: 'n' to the create question exits 4 writing nothing;
    then --create-customers --yes adds exactly that customer and its invoice."""
    home = str(demo_copy.path)
    members = write_csv(tmp_path, "new-member.csv", MEMBER_HEADER,
                        "1401,Zephyr Test Bakery,Zephyr Test Bakery,Ana,Lee,1 Test St,,Dayton,OH,45402,"
                        "ana@zephyr.example,(937) 555-0101,active")
    invoices = write_csv(tmp_path, "new-invoice.csv", INVOICE_HEADER,
                         "INV90001,1401,2026-01-15,2026-02-14,,4020,2026 Annual Membership Dues,1,325.00,325.00")
    assert "1 added" in cli("import", "members", str(members), "--home", home).stdout
    assert "1 added" in cli("import", "invoices", str(invoices), "--home", home).stdout

    db = company_db(demo_copy.company)
    before = db.fingerprint()
    declined = cli("sync", "--home", home, input="n\n")
    assert declined.code == 4, declined
    assert "1 member(s) being billed have no QuickBooks customer" in declined.stdout
    assert "member 1401 Zephyr Test Bakery" in declined.stdout
    assert "nothing was written" in declined.stdout
    assert declined.writes == []
    assert db.fingerprint() == before

    created = cli("sync", "--home", home, "--create-customers", "--yes")
    assert created.code == 0, created
    assert sorted(created.writes) == ["CustomerAddRq", "InvoiceAddRq"]
    assert db.count_lists("Customer") == 401 and db.count_txns("Invoice") == 1004
    assert db.count_txns("ReceivePayment") == 842 and db.count_txns("CreditMemo") == 25
    (customer,) = db.rows("SELECT * FROM lists WHERE kind='Customer' AND account_number='1401'")
    assert customer["name"] == "Zephyr Test Bakery" and customer["phone"] == "(937) 555-0101"
    (invoice,) = db.rows("SELECT * FROM txns WHERE ref_number='INV90001'")
    assert invoice["customer_id"] == customer["list_id"] and invoice["total"] == 32500
    assert invoice["txn_date"] == "2026-01-15"


# ---------------------------------------------------------------------- check 3: deposit accounts


def test_payments_into_an_income_account_stop_the_sync(nosync_copy, cli, company_db, tmp_path):
    """`accounts xref` refuses to map the deposit G/L account to an Income account; one mapped so before the rule
    (or by the gl-accounts import) stops the run (exit 3), nothing written."""
    home = str(nosync_copy.path)
    refused = cli("accounts", "xref", "--set", "1050=Advertising Income", "--home", home)
    assert refused.code == 3 and "by the deposit rule" in refused.stderr, refused
    accounts = write_csv(tmp_path, "gl.csv", "number,name,type,qb_account",
                         "1050,Undeposited Funds,OtherCurrentAsset,Advertising Income")
    assert cli("import", "gl-accounts", str(accounts), "--home", home).code == 0
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 3, result
    assert ('G/L account 1050 Undeposited Funds: is of type Other Current Asset and cannot post to QuickBooks '
            'account "Advertising Income" of type Income: by the deposit rule') in result.stdout
    assert f'booksync accounts xref --home {home} --set 1050="Undeposited Funds"' in result.stdout
    assert result.writes == []
    assert db.fingerprint() == before


# ---------------------------------------------------------------------- the company file


def test_company_in_use_by_another_process_exits_6_and_writes_nothing(nosync_copy, cli, company_db):
    """While this process holds the company open, `sync --yes` exits 6 with QuickBooks' 'being used by another
    process' message and touches nothing."""
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    with open_company(nosync_copy.company):
        result = cli("sync", "--yes", "--home", str(nosync_copy.path))
    assert result.code == 6, result
    assert "being used by another process" in result.stderr
    assert "Could not connect to QuickBooks" in result.stderr
    assert result.requests == []
    assert db.fingerprint() == before
    assert run_folders(nosync_copy.path) == [] and backups(nosync_copy.path) == []


def test_sync_json_says_why_it_could_not_connect(nosync_copy, cli):
    """With --json a script gets one JSON object on standard output even when QuickBooks cannot be reached."""
    with open_company(nosync_copy.company):
        result = cli("sync", "--yes", "--json", "--home", str(nosync_copy.path))
    assert result.code == 6, result
    data = json.loads(result.stdout)
    assert data["status"] == "connection-failed" and data["exit_code"] == 6
    assert "being used by another process" in data["message"]


def test_unauthorized_application_exits_6(nosync_copy, cli):
    """A home configured with an application the company never authorized cannot connect: exit 6, QuickBooks'
    message."""
    config = nosync_copy.path / "booksync.toml"
    config.write_text(config.read_text().replace('app_name = "booksync"', 'app_name = "Stranger"'))
    assert "Stranger" in config.read_text()
    result = cli("sync", "--yes", "--home", str(nosync_copy.path))
    assert result.code == 6, result
    assert "has not accessed this QuickBooks company data file before" in result.stderr


def test_sync_on_a_folder_that_is_not_a_home_names_booksync_init(cli, tmp_path):
    """`sync` on a folder without booksync.toml fails, tells the user to run `booksync init`, and creates nothing."""
    folder = tmp_path / "not-a-home"
    folder.mkdir()
    result = cli("sync", "--yes", "--home", str(folder))
    assert result.code != 0
    assert "is not a booksync home" in result.stderr
    assert "booksync init" in result.stderr
    assert not (folder / "booksync.toml").exists()


# ---------------------------------------------------------------------- import through the CLI


def test_import_of_a_bad_file_names_file_row_column_and_writes_nothing(nosync_copy, cli, billing_db, tmp_path):
    """A CSV with bad rows is refused (exit 3): every problem is printed with file, row, column and reason, and the
    billing store is unchanged."""
    bad = write_csv(tmp_path, "march.csv", INVOICE_HEADER,
                    "INV90001,1001,2026-03-01,,,4020,Dues,1,325.00,325.00",
                    "INV90002,1001,2026-03-32,,,4020,Dues,1,325.00,325.00",
                    "INV90003,9999,2026-03-02,,,4020,Dues,1,325.00,325.00")
    db = billing_db(nosync_copy.billing)
    before = db.fingerprint()
    result = cli("import", "invoices", str(bad), "--home", str(nosync_copy.path))
    assert result.code == 3, result
    assert "march.csv was not imported" in result.stderr
    assert "nothing from this file was written" in result.stderr
    assert "march.csv, row 3, column date:" in result.stderr and "(value '2026-03-32')" in result.stderr
    assert "march.csv, row 4, column member: no member has this number (value '9999')" in result.stderr
    assert db.fingerprint() == before
    assert db.value("SELECT COUNT(*) FROM invoices WHERE number LIKE 'INV9%'") == 0


def test_reimporting_the_demo_invoices_is_unchanged_and_one_amount_is_one_update(nosync_copy, cli, tmp_path,
                                                                                  billing_db):
    """Re-importing the demo invoices reports 1003 unchanged; changing one amount reports exactly 1 updated and
    stores it."""
    text = (resources.files("booksync.demo") / "data" / "invoices.csv").read_text(encoding="utf-8")
    same = tmp_path / "invoices.csv"
    same.write_text(text, encoding="utf-8")
    result = cli("import", "invoices", str(same), "--home", str(nosync_copy.path))
    assert result.code == 0, result
    assert "0 added, 0 updated, 1003 unchanged" in result.stdout
    line = "INV10001,1058,2025-01-02,2025-02-01,,4020,2025 Annual Membership Dues - Small Business,1,325.00,325.00"
    assert text.count(line) == 1
    changed = tmp_path / "invoices2.csv"
    changed.write_text(text.replace(line, line.replace("1,325.00,325.00", "1,350.00,350.00")), encoding="utf-8")
    result = cli("import", "invoices", str(changed), "--home", str(nosync_copy.path))
    assert result.code == 0, result
    assert "0 added, 1 updated, 1002 unchanged" in result.stdout
    db = billing_db(nosync_copy.billing)
    assert db.value("SELECT l.amount FROM invoice_lines l JOIN invoices i ON i.id=l.invoice_id "
                    "WHERE i.number='INV10001'") == 35000


# ---------------------------------------------------------------------- bugs found end to end (now fixed)


def test_changing_a_member_whose_name_was_made_unique_updates_its_customer(demo_copy, cli, company_db, tmp_path):
    """Member 1302 (customer 'Main Street Dental (1302)') gets a new phone: the sync updates that customer."""
    update = write_csv(tmp_path, "m1302.csv", MEMBER_HEADER,
                       "1302,Main Street Dental,Main Street Dental,Marcus,Okafor,36 S Main St,,Miamisburg,OH,45342,"
                       "info@mainstreetdentalmiamisburg.com,(937) 555-0000,active")
    assert "1 updated" in cli("import", "members", str(update), "--home", str(demo_copy.path)).stdout
    log = tmp_path / "corrections.csv"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", str(demo_copy.path))
    assert result.code == 0, result
    assert result.writes == ["CustomerModRq"]
    assert log.exists()
    db = company_db(demo_copy.company)
    (customer,) = db.rows("SELECT name, phone FROM lists WHERE kind='Customer' AND account_number='1302'")
    assert (customer["name"], customer["phone"]) == ("Main Street Dental (1302)", "(937) 555-0000")


def tiny_home(tmp_path: Path, member_row: str) -> str:
    """A home (as `booksync init` and `simulator init` make it) with the demo G/L accounts, one member
    (``member_row``, number 2001) and one invoice INV1 for it. Built in process, to keep the suite fast."""
    from booksync.config import Home
    from booksync.simulator import create_company
    from booksync.store.db import open_store
    from booksync.sources.csvfile.importer import import_file

    home = Home.load(tmp_path / "home", create=True)
    create_company(home.company_path, "Tiny Chamber")
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    members = write_csv(tmp_path, "members.csv", MEMBER_HEADER, member_row)
    invoices = write_csv(tmp_path, "invoices.csv", INVOICE_HEADER, "INV1,2001,2026-01-15,,,4020,Dues,1,325.00,325.00")
    sessions = open_store(home.database_url)
    with sessions() as session:
        for kind, path in (("gl-accounts", gl), ("members", members), ("invoices", invoices)):
            import_file(session, kind, path)
    return str(home.path)


def test_a_control_character_in_a_member_name_is_refused_at_import(cli, tmp_path, billing_db):
    """Billing text with a control character XML cannot carry is refused at import (exit 3) with its row and
    column, and nothing of the file is written (found in this session: it used to crash the sync, exit 1)."""
    home = tiny_home(tmp_path, "2001,Plain Name Co,,,,,,,,,,,active")
    db = billing_db(Path(home) / "billing.db")
    before = db.fingerprint()
    bad = write_csv(tmp_path, "rename.csv", MEMBER_HEADER, "2001,Bad\x01Name Co,,,,,,,,,,,active")
    result = cli("import", "members", str(bad), "--home", home)
    assert result.code == 3, result
    assert "rename.csv, row 2, column name:" in result.stderr
    assert db.fingerprint() == before


def test_a_member_named_with_an_emoji_is_synchronized(cli, tmp_path, company_db):
    """A one-member home: the member's name holds an emoji; the sync creates a customer QuickBooks accepts."""
    home = tiny_home(tmp_path, "2001,Joe's Pizza 🍕,Joe's Pizza,Joe,Rossi,1 Main St,,Dayton,OH,45402,"
                               "joe@pizza.example,(937) 555-0199,active")
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 0, result
    (name,) = company_db(Path(home) / "company.qbsim").customer_names()
    assert ":" not in name and name.startswith("Joe's Pizza")


def test_reimporting_the_same_members_file_after_a_sync_is_a_no_op(demo_copy, cli, billing_db, company_db):
    """Re-importing the identical members.csv after the sync changes nothing: all unchanged, Bill Info kept, next
    sync has nothing to do."""
    home = str(demo_copy.path)
    with resources.as_file(resources.files("booksync.demo") / "data" / "members.csv") as members:
        result = cli("import", "members", str(members), "--home", home)
    assert result.code == 0, result
    assert "0 added, 0 updated, 400 unchanged" in result.stdout
    assert billing_db(demo_copy.billing).value("SELECT COUNT(*) FROM members WHERE qb_customer = ''") == 0
    before = company_db(demo_copy.company).fingerprint()
    again = cli("sync", "--yes", "--home", home)
    assert again.code == 0, again
    assert "Nothing to synchronize" in again.stdout
    assert company_db(demo_copy.company).fingerprint() == before


# ---------------------------------------------------------------------- refusals and re-runs


def test_new_transactions_in_a_closed_period_stop_before_anything_is_written(nosync_copy, cli, company_db):
    """With a closing date after the first invoices, the plan names each new transaction QuickBooks would refuse
    (3171) and stops with exit 3 before writing; once the closing date is cleared, everything goes through."""
    home = str(nosync_copy.path)
    assert cli("simulator", "closing-date", "2025-03-31", "--home", home).code == 0
    stopped = cli("sync", "--yes", "--home", home)
    assert stopped.code == 3, stopped
    assert "invoice INV10001" in stopped.stdout and "closing date (2025-03-31)" in stopped.stdout
    assert stopped.writes == []
    db = company_db(nosync_copy.company)
    assert db.count_lists("Customer") == 0 and db.count_txns("Invoice") == 0
    assert cli("simulator", "closing-date", "none", "--home", home).code == 0
    rerun = cli("sync", "--yes", "--home", home)
    assert rerun.code == 0, rerun
    assert (db.count_txns("Invoice"), db.count_txns("CreditMemo"), db.count_txns("ReceivePayment")) == (1003, 25, 842)


def test_refusal_stops_with_exit_5_and_a_rerun_completes_without_duplicates(nosync_copy, cli, company_db):
    """Another QuickBooks user holding records longer than booksync retries: exit 5, the refusal explained
    (status 3175, who to ask), what was applied kept. The next run adds the rest and nothing twice."""
    home = str(nosync_copy.path)
    assert cli("simulator", "busy", "5", "--home", home).code == 0  # one more than booksync retries
    refused = cli("sync", "--yes", "--home", home)
    assert refused.code == 5, refused
    assert "status 3175" in refused.stdout and "Another QuickBooks user holds the record" in refused.stdout
    assert "retrying" in refused.stderr
    db = company_db(nosync_copy.company)
    assert db.count_lists("Customer") == 0
    rerun = cli("sync", "--yes", "--home", home)
    assert rerun.code == 0, rerun
    assert db.count_lists("Customer") == 400
    assert (db.count_txns("Invoice"), db.count_txns("CreditMemo"), db.count_txns("ReceivePayment")) == (1003, 25, 842)
    assert db.value("SELECT COUNT(*) - COUNT(DISTINCT ref_number) FROM txns WHERE txn_type='Invoice'") == 0
    reconciled = cli("reconcile", "--home", home)
    assert reconciled.code == 0 and "zero differences" in reconciled.stdout, reconciled


# ---------------------------------------------------------------------- the suite's own guard


def test_the_subprocess_guard_catches_an_invalid_request(nosync_copy, cli, tmp_path, qbxml_schema):
    """The schema guard in CLI subprocesses is live: an out-of-order request sent through
    `booksync simulator request` is reported as a violation."""
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
                    b"<CustomerAddRq><CustomerAdd><IsActive>true</IsActive><Name>x</Name></CustomerAdd>"
                    b"</CustomerAddRq></QBXMLMsgsRq></QBXML>")
    result = cli("simulator", "request", str(bad), "--home", str(nosync_copy.path), allow_violations=True)
    assert result.code != 0
    assert result.violations and result.violations[0].startswith("request:")
    good = tmp_path / "good.xml"
    good.write_bytes(b'<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
                     b'<CustomerQueryRq requestID="1"><MaxReturned>2</MaxReturned></CustomerQueryRq>'
                     b"</QBXMLMsgsRq></QBXML>")
    ok = cli("simulator", "request", str(good), "--home", str(nosync_copy.path))
    assert ok.code == 0 and ok.violations == [] and ok.requests == [["CustomerQueryRq"]]
    assert 'statusCode="1"' in ok.stdout  # no customers yet
