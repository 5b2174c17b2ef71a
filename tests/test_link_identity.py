"""Links follow the billing record's own identity (issue 17 item 11), through the real CLI.

A member row deleted outside booksync, whose id a new member then took, used to hand the new member the old
one's QuickBooks customer (renamed) and invoices (rewritten). The links are now keyed by member, invoice and
receipt numbers; a record gone from the billing store is reported by the sync, reconcile and the web, and
``booksync members delete`` forgets a member (refused while it has transactions in QuickBooks)."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
from html import unescape
from pathlib import Path

import pytest

from conftest import POSTGRES

pytestmark = pytest.mark.skipif(bool(POSTGRES), reason="deletes rows of the SQLite billing file behind booksync")


def replace_keystone(billing: Path) -> None:
    """Delete member 1002 Keystone Animal Hospital and its transactions outside booksync; a new member takes
    its row id, and a new invoice the row id of Keystone's invoice INV10132."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    db = sqlite3.connect(billing)
    with db:
        member_id, = db.execute("SELECT id FROM members WHERE number='1002'").fetchone()
        invoice_id, = db.execute("SELECT id FROM invoices WHERE number='INV10132'").fetchone()
        gl_id, = db.execute("SELECT gl_account_id FROM invoice_lines WHERE invoice_id=?", (invoice_id,)).fetchone()
        payments = [r[0] for r in db.execute("SELECT id FROM payments WHERE member_id=?", (member_id,))]
        invoices = [r[0] for r in db.execute("SELECT id FROM invoices WHERE member_id=?", (member_id,))]
        for pid in payments:
            db.execute("DELETE FROM applications WHERE payment_id=?", (pid,))
            db.execute("DELETE FROM payments WHERE id=?", (pid,))
        for iid in invoices:
            db.execute("DELETE FROM applications WHERE invoice_id=?", (iid,))
            db.execute("DELETE FROM invoice_lines WHERE invoice_id=?", (iid,))
            db.execute("DELETE FROM invoices WHERE id=?", (iid,))
        db.execute("DELETE FROM members WHERE id=?", (member_id,))
        db.execute("INSERT INTO members (id, number, name, company, contact_first, contact_last, address1, address2, "
                   "city, state, postal_code, email, phone, status, qb_customer, created_at, updated_at) VALUES "
                   "(?, '9002', 'Harbor Lights Bakery', 'Harbor Lights Bakery', '', '', '', '', '', '', '', '', '', "
                   "'active', '', ?, ?)", (member_id, now, now))
        db.execute("INSERT INTO invoices (id, number, member_id, date, due_date, memo, status, created_at, updated_at) "
                   "VALUES (?, 'INV99001', ?, '2025-06-02', NULL, '', 'open', ?, ?)",
                   (invoice_id, member_id, now, now))
        db.execute("INSERT INTO invoice_lines (invoice_id, seq, gl_account_id, description, quantity, rate, amount) "
                   "VALUES (?, 1, ?, 'Bread class', '1', '45.00', 4500)", (invoice_id, gl_id))
    db.close()


def test_a_new_member_in_a_deleted_members_row_gets_its_own_customer(demo_copy, cli, company_db):
    home = str(demo_copy.path)
    db = company_db(demo_copy.company)
    old_invoice = db.rows("SELECT * FROM txns WHERE ref_number='INV10132' AND txn_type='Invoice'")[0]
    replace_keystone(demo_copy.billing)

    result = cli("sync", "--yes", "--home", home)
    assert result.code == 0, str(result)
    assert "CustomerMod" not in result.writes and "InvoiceMod" not in result.writes
    names = db.customer_names()
    assert names["Keystone Animal Hospital"] == "1002" and names["Harbor Lights Bakery"] == "9002"
    invoice = db.rows("SELECT * FROM txns WHERE ref_number='INV10132' AND txn_type='Invoice'")[0]
    assert (invoice["customer_id"], invoice["total"], invoice["edit_seq"]) == (
        old_invoice["customer_id"], old_invoice["total"], old_invoice["edit_seq"])
    new = db.rows("SELECT t.total, l.name FROM txns t JOIN lists l ON l.list_id=t.customer_id "
                  "WHERE t.ref_number='INV99001'")
    assert [(r["total"], r["name"]) for r in new] == [(4500, "Harbor Lights Bakery")]
    # The plan said what it found, and what to do.
    out = " ".join(result.output.split())
    assert "no longer in the billing store" in out and "member 1002" in out and "invoice INV10132" in out
    assert f"booksync members delete --home {home} 1002" in out  # pasteable (cli/common.copyable)
    assert f"booksync invoices void --home {home} INV10132 (or " in out
    assert f"booksync invoices delete --home {home} INV10132)" in out

    quiet = cli("sync", "--yes", "--home", home)
    assert quiet.code == 0 and not quiet.writes and "member 1002" in quiet.output, str(quiet)

    rec = cli("reconcile", "--home", home)
    text = " ".join(rec.stdout.split())
    assert rec.code == 7 and "member 1002" in text and "invoice INV10132" in text, str(rec)
    assert f"booksync members delete --home {home} 1002" in text and "gone from the billing store" in text

    # The web's dashboard warns the same way.
    from starlette.testclient import TestClient

    from booksync.config import Home
    from booksync.web.app import create_app
    from booksync.services.users import set_user
    from test_web import PASSWORD, USER, Browser

    set_user(demo_copy.path, USER, PASSWORD)
    with TestClient(create_app(Home.load(demo_copy.path)), base_url="http://127.0.0.1") as client:
        browser = Browser(client)
        assert browser.sign_in().status_code == 303
        page = " ".join(unescape(re.sub(r"<[^>]+>", " ", client.get("/").text)).split())
    assert "5 record(s) linked to QuickBooks are no longer in the billing store" in page
    assert "member 1002" in page and "booksync members delete 1002" in page and "invoice INV10132" in page

    before = db.fingerprint()
    refused = cli("members", "delete", "1002", "--make-inactive-in-quickbooks", "--home", home)
    assert refused.code == 3 and "INV10132" in refused.stderr and "INV10642" in refused.stderr, str(refused)
    assert "INV99001" not in refused.stderr and db.fingerprint() == before


def member_row(number: str, name: str) -> str:
    return ("number,name,company,contact_first,contact_last,address1,address2,city,state,postal_code,email,phone,"
            f"status,qb_customer\n{number},{name},{name},,,,,,,,,,active,\n")


def test_members_delete_after_its_invoice_is_deleted(demo_copy, cli, company_db, tmp_path):
    home = str(demo_copy.path)
    db = company_db(demo_copy.company)
    (tmp_path / "m.csv").write_text(member_row("9003", "Quarry Road Florist"))
    (tmp_path / "i.csv").write_text("number,member,date,due_date,memo,gl_account,description,quantity,rate,amount\n"
                                    "INV99003,9003,2025-06-03,,,4020,Dues,1,80.00,80.00\n")
    assert cli("import", "members", str(tmp_path / "m.csv"), "--home", home).code == 0
    assert cli("import", "invoices", str(tmp_path / "i.csv"), "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0

    refused = cli("members", "delete", "9003", "--home", home)
    assert refused.code == 3 and "invoice INV99003 (in QuickBooks)" in refused.stderr, str(refused)
    assert cli("invoices", "delete", "INV99003", "--home", home).code == 0
    log = tmp_path / "log.csv"
    assert cli("sync", "--yes", "--corrections-log", str(log), "--home", home).code == 0
    assert not db.rows("SELECT * FROM txns WHERE ref_number='INV99003'")

    done = cli("members", "delete", "9003", "--make-inactive-in-quickbooks", "--home", home)
    assert done.code == 0 and "Quarry Road Florist" in done.stdout and "now inactive" in done.stdout, str(done)
    (customer,) = db.rows("SELECT * FROM lists WHERE kind='Customer' AND name='Quarry Road Florist'")
    assert customer["is_active"] == 0
    billing = sqlite3.connect(demo_copy.billing)
    assert billing.execute("SELECT COUNT(*) FROM members WHERE number='9003'").fetchone() == (0,)
    assert billing.execute("SELECT COUNT(*) FROM links WHERE local_key IN ('9003', 'INV99003')").fetchone() == (0,)
    again = cli("sync", "--yes", "--home", home)
    assert again.code == 0 and "Nothing to synchronize" in again.stdout and "no longer" not in again.output
    assert cli("reconcile", "--home", home).code == 0


def test_an_old_home_keeps_working_after_the_migration(nosync_copy, cli):
    """A store from before migration 0005 (links without local_key): its links take the numbers of their rows,
    and the next sync finds nothing to do and nothing gone. A home that old had no sales receipts (migration 0010,
    whose downgrade drops them), so the demo's are left out before its first sync."""
    from alembic import command

    from booksync.store.db import alembic_config, make_engine

    demo_copy = nosync_copy
    with sqlite3.connect(demo_copy.billing) as db:
        db.execute("DELETE FROM sales_receipt_lines")
        db.execute("DELETE FROM sales_receipts")
    first = cli("sync", "--yes", "--home", str(demo_copy.path))
    assert first.code == 0, first
    url = f"sqlite:///{demo_copy.billing}"
    cfg = alembic_config(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    engine.dispose()
    db = sqlite3.connect(demo_copy.billing)
    assert "local_key" not in [r[1] for r in db.execute("PRAGMA table_info(links)")]
    db.close()

    result = cli("sync", "--yes", "--home", str(demo_copy.path))
    assert result.code == 0 and "Nothing to synchronize" in result.stdout and "no longer" not in result.output
    db = sqlite3.connect(demo_copy.billing)
    wrong = db.execute("SELECT COUNT(*) FROM links l LEFT JOIN members m ON m.id = l.local_id WHERE l.kind='customer' "
                       "AND (m.number IS NULL OR m.number != l.local_key)").fetchone()
    keys = db.execute("SELECT l.local_key, i.number FROM links l JOIN invoices i ON i.id = l.local_id "
                      "WHERE l.kind='invoice' LIMIT 3").fetchall()
    db.close()
    assert wrong == (0,) and keys and all(k == n for k, n in keys)
    assert cli("reconcile", "--home", str(demo_copy.path)).code == 0


def test_members_delete_makes_a_customer_inactive_only_at_a_zero_balance(demo_copy, cli, company_db, tmp_path):
    """Issue 17 item 11: `--make-inactive-in-quickbooks` only when the customer's balance is zero. Here an invoice
    entered directly in QuickBooks keeps a balance: refused (exit 3), the member kept, the customer left active;
    without the flag the member is deleted and the customer stays as it is."""
    from booksync.qbxml import build

    home = str(demo_copy.path)
    db = company_db(demo_copy.company)
    (tmp_path / "m.csv").write_text(member_row("9004", "Quarry Road Florist"))
    (tmp_path / "i.csv").write_text("number,member,date,due_date,memo,gl_account,description,quantity,rate,amount\n"
                                    "INV99004,9004,2025-06-03,,,4020,Dues,1,80.00,80.00\n")
    assert cli("import", "members", str(tmp_path / "m.csv"), "--home", home).code == 0
    assert cli("import", "invoices", str(tmp_path / "i.csv"), "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0
    (customer,) = db.rows("SELECT * FROM lists WHERE kind='Customer' AND name='Quarry Road Florist'")
    (item,) = db.rows("SELECT name FROM lists WHERE kind='ItemService' AND name LIKE '4100 %'")
    (tmp_path / "q.xml").write_bytes(build.message([build.request("InvoiceAdd", {
        "CustomerRef": {"ListID": customer["list_id"]}, "RefNumber": "Q1",
        "InvoiceLineAdd": [{"ItemRef": {"FullName": item["name"]}, "Amount": "50.00"}]}, 1)]))
    entered = cli("simulator", "request", str(tmp_path / "q.xml"), "--home", home)
    assert entered.code == 0 and 'statusCode="0"' in entered.stdout, str(entered)
    assert cli("invoices", "delete", "INV99004", "--home", home).code == 0
    assert cli("sync", "--yes", "--corrections-log", str(tmp_path / "log.csv"), "--home", home).code == 0

    before = db.fingerprint()
    refused = cli("members", "delete", "9004", "--make-inactive-in-quickbooks", "--home", home)
    assert refused.code == 3, str(refused)
    assert ('QuickBooks customer "Quarry Road Florist" has a balance of 50.00; a customer is made inactive only at '
            'zero') in " ".join(refused.stderr.split()) and "Nothing was changed." in refused.stderr
    assert db.fingerprint() == before
    billing = sqlite3.connect(demo_copy.billing)
    assert billing.execute("SELECT COUNT(*) FROM members WHERE number='9004'").fetchone() == (1,)
    billing.close()

    kept = cli("members", "delete", "9004", "--home", home)
    assert kept.code == 0 and 'QuickBooks customer "Quarry Road Florist" stays in QuickBooks as it is' in kept.stdout
    assert db.rows("SELECT is_active FROM lists WHERE list_id=?", customer["list_id"])[0]["is_active"] == 1
