"""A full sync streams its plan (issue 10; docs/architecture.md "A plan is streamed, never held whole").

Records to add are read part by part (``BOOKSYNC_PLAN_PART``; conftest sets 7), operations are staged
message by message into ``runs/RUN_ID/plan.spill`` and applied from it. These tests run the real command
line and prove that:

* the plan does not depend on the part size (digest, plan.txt, plan.json and every request file);
* the run's scratch files (``plan.spill``, ``.plan-operations.*``) never outlive the run, whatever way it
  ends, and a run stopped by a check leaves no folder;
* a payment applying to an invoice of an earlier run and to invoices and a credit memo added in this run,
  in other parts, reaches QuickBooks applied to the right TxnIDs;
* a refusal in the middle of a long run leaves a journal row for every operation of the plan, and the next
  run finishes the job without duplicates.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import POSTGRES, CompanyDB, DemoHome, SqliteFile, copy_home, demo_csv

INVOICE_HEADER = "number,member,date,due_date,memo,gl_account,description,quantity,rate,amount"
PAYMENT_HEADER = ("number,member,date,amount,method,reference,deposit_account,memo,apply_to,apply_amount,"
                  "apply_credit_memo,apply_credit_amount")
DEMO_PLAN = {"add customer": 400, "add item": 9, "add payment_method": 2, "add invoice": 1003,
             "add credit_memo": 25, "add sales_receipt": 45, "add payment": 842}

needs_sqlite_billing = pytest.mark.sqlite_billing  # edits the SQLite billing file directly


# ---------------------------------------------------------------------- helpers


def write_csv(folder: Path, name: str, header: str, *rows: str) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def sync_json(cli, home: Path, *extra: str, input: str | None = None) -> tuple[dict, object]:
    result = cli("sync", "--json", "--home", str(home), *extra, input=input)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"sync --json printed no JSON:\n{result}") from None
    return data, result


def scratch_files(home: Path) -> list[str]:
    """What a run must remove when it ends: the spill and the partial operation lists."""
    runs = home / "runs"
    if not runs.exists():
        return []
    return sorted(str(p.relative_to(home)) for pattern in ("*/plan.spill", "*/.plan-operations.*")
                  for p in runs.glob(pattern))


def run_folders(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").exists() else []


def request_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "requests").iterdir())}


def cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def txn_ids(db: CompanyDB, txn_type: str, *refs: str) -> dict[str, str]:
    """Ref number -> TxnID, each ref number exactly once in the company."""
    out = {}
    for ref in refs:
        rows = db.rows("SELECT txn_id FROM txns WHERE txn_type=? AND ref_number=?", txn_type, ref)
        assert len(rows) == 1, f"{txn_type} {ref} is in the company {len(rows)} time(s)"
        out[ref] = rows[0]["txn_id"]
    return out


def open_balance(db: CompanyDB, txn_id: str) -> Decimal:
    total = db.value("SELECT total FROM txns WHERE txn_id=?", txn_id)
    applied = db.value("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE invoice_id=?", txn_id)
    return cents(total - applied)


def assert_no_duplicates(db: CompanyDB) -> None:
    assert db.value("SELECT COUNT(*) - COUNT(DISTINCT external_guid) FROM txns WHERE external_guid != ''") == 0
    assert db.value("SELECT COUNT(*) - COUNT(DISTINCT external_guid) FROM lists WHERE external_guid != '' "
                    "AND external_guid IS NOT NULL") == 0
    for txn_type in ("Invoice", "CreditMemo"):
        assert db.value("SELECT COUNT(*) - COUNT(DISTINCT ref_number) FROM txns WHERE txn_type=?", txn_type) == 0


def assert_reconciled(cli, home: Path) -> None:
    reconciled = cli("reconcile", "--home", str(home))
    assert reconciled.code == 0 and "zero differences" in reconciled.stdout, reconciled


# ---------------------------------------------------------------------- 1. the plan does not depend on the part size


def dry_run_at(cli, monkeypatch, home: DemoHome, part: str) -> tuple[dict, Path]:
    monkeypatch.setenv("BOOKSYNC_PLAN_PART", part)
    data, result = sync_json(cli, home.path, "--dry-run", "--yes")
    assert result.code == 0 and data["status"] == "dry-run", result
    assert scratch_files(home.path) == [], "a dry run leaves no scratch files"
    return data, Path(data["folder"])


def assert_same_staging(runs: dict[str, tuple[dict, Path]]) -> None:
    (first_part, (first, first_folder)), *others = runs.items()
    first_requests = request_files(first_folder)
    plan_json = json.loads((first_folder / "plan.json").read_text(encoding="utf-8"))
    assert len(plan_json["operations"]) == sum(first["planned"].values())
    assert [op["seq"] for op in plan_json["operations"]] == list(range(1, len(plan_json["operations"]) + 1))
    for part, (data, folder) in others:
        where = f"part size {part} vs {first_part}"
        assert data["digest"] == first["digest"], where
        assert data["planned"] == first["planned"], where
        assert list(data["planned"]) == list(first["planned"]), f"{where}: counts in another order"
        assert data["adjustments"] == first["adjustments"], where
        assert json.loads((folder / "plan.json").read_text(encoding="utf-8")) == plan_json, where
        assert (folder / "plan.txt").read_bytes() == (first_folder / "plan.txt").read_bytes(), where
        requests = request_files(folder)
        assert sorted(requests) == sorted(first_requests), where
        differing = [name for name in requests if requests[name] != first_requests[name]]
        assert differing == [], f"{where}: request files differ: {differing[:5]}"


def test_a_first_sync_plans_the_same_whatever_the_part_size(nosync_home, tmp_path, cli, monkeypatch):
    """`sync --dry-run` of the demo with parts of 1, 7 and 100,000 records: the same digest, counts,
    plan.txt, plan.json and byte-identical request files (2326 operations)."""
    runs = {}
    for part in ("7", "1", "100000"):
        home = copy_home(nosync_home, tmp_path / f"home-{part}")
        runs[part] = dry_run_at(cli, monkeypatch, home, part)
    assert runs["7"][0]["planned"] == DEMO_PLAN
    assert_same_staging(runs)


def mixed_home(demo_home: DemoHome, target: Path, cli) -> dict[str, object]:
    """A synchronized demo home to which new invoices, a credit memo and payments were imported (more than
    one part of each at 7, and several parts at 3), one payment applying to INV10009 (synchronized by the
    demo's run), to a new credit memo and to the first and last new invoices; and INV10012, unpaid and
    synchronized, changed (a correction planned among the adds)."""
    home = copy_home(demo_home, target)
    db = CompanyDB(home.company)
    (old,) = db.rows("SELECT txn_id, total FROM txns WHERE txn_type='Invoice' AND ref_number='INV10009'")
    balance = open_balance(db, old["txn_id"])
    assert balance > Decimal("50.00"), "INV10009 must be open for the payment to apply to it"
    folder = target.parent / f"{target.name}-csv"
    folder.mkdir()
    new_invoices = [f"INV950{n:02d}" for n in range(1, 11)]
    invoices = write_csv(folder, "invoices.csv", INVOICE_HEADER, *[
        f"{number},1230,2026-02-{n:02d},2026-03-{n:02d},,4020,Streaming test dues {n},1,100.00,100.00"
        for n, number in enumerate(new_invoices, 1)], *[
        # INV10012 (325.00, unpaid) goes up to 350.00: a correction in the same plan
        "INV10012,1329,2025-01-03,2025-02-02,,4020,2025 Annual Membership Dues - Small Business,1,350.00,350.00"])
    memos = write_csv(folder, "credit_memos.csv", INVOICE_HEADER,
                      "CM95001,1230,2026-02-11,2026-03-11,,4020,Streaming test credit,1,50.00,50.00")
    cash_old = balance - Decimal("50.00")
    big_total = cash_old + Decimal("100.00") + Decimal("10.00")
    big = f"R95009,1230,2026-02-20,{big_total},Check,STR9009,1050,Across parts"
    payments = write_csv(folder, "payments.csv", PAYMENT_HEADER, *[
        f"R9500{n},1230,2026-02-{11 + n:02d},100.00,Check,STR900{n},1050,,{new_invoices[n]},100.00,,"
        for n in range(1, 9)],
        f"{big},INV10009,{cash_old},CM95001,50.00",
        f"{big},INV95001,100.00,,",
        f"{big},INV95010,10.00,,")
    for kind, path in (("invoices", invoices), ("credit-memos", memos), ("payments", payments)):
        imported = cli("import", kind, str(path), "--home", str(home.path))
        assert imported.code == 0, imported
    return {"home": home, "old_txn": old["txn_id"], "cash_old": cash_old, "new_invoices": new_invoices}


def test_a_plan_of_adds_and_corrections_is_the_same_whatever_the_part_size(demo_home, tmp_path, cli, monkeypatch):
    """After the demo sync, a plan mixing a correction (INV10012 changed) with new invoices, a credit memo
    and payments spread over several parts: parts of 1, 3, 7 and 100,000 stage the same plan."""
    base = mixed_home(demo_home, tmp_path / "mixed", cli)["home"]
    runs = {}
    for part in ("7", "1", "3", "100000"):
        home = copy_home(base, tmp_path / f"home-{part}")
        runs[part] = dry_run_at(cli, monkeypatch, home, part)
    assert runs["7"][0]["planned"] == {"mod invoice": 1, "add invoice": 10, "add credit_memo": 1, "add payment": 9}
    assert_same_staging(runs)


# ---------------------------------------------------------------------- 2. no scratch file outlives its run


def test_no_scratch_file_survives_any_ending_and_a_stopped_run_leaves_no_folder(nosync_copy, demo_home, cli):
    """Dry run, declined run (plan shown, 'n'), run stopped by an unmapped G/L account, completed run and
    'nothing to do' run: no runs/*/plan.spill nor .plan-operations.* remains; the stopped and the empty
    runs leave no folder; the completed run keeps its plan and request files."""
    home = nosync_copy.path
    assert scratch_files(demo_home.path) == [] and run_folders(demo_home.path), "the demo's completed run"

    dry, result = sync_json(cli, home, "--dry-run", "--yes")
    assert result.code == 0 and dry["status"] == "dry-run", result
    assert scratch_files(home) == [] and run_folders(home) == [dry["run_id"]]

    declined = cli("sync", "--home", str(home), input="y\nn\n")
    assert declined.code == 4 and "QuickBooks was not updated" in declined.stdout, declined
    assert scratch_files(home) == [] and len(run_folders(home)) == 2
    assert declined.writes == []

    xref = {r["number"]: r["qb_account"] for r in demo_csv("gl_accounts.csv")}
    assert cli("accounts", "xref", "--clear", "4300", "--home", str(home)).code == 0
    folders = run_folders(home)
    stopped, result = sync_json(cli, home, "--yes")
    assert result.code == 3 and stopped["status"] == "stopped", result
    assert run_folders(home) == folders, "a run stopped by a check leaves no folder"
    assert scratch_files(home) == [] and stopped["folder"] == ""

    assert cli("accounts", "xref", "--set", f"4300={xref['4300']}", "--home", str(home)).code == 0
    done, result = sync_json(cli, home, "--yes")
    assert result.code == 0 and done["status"] == "completed", result
    assert done["applied"] == DEMO_PLAN
    assert scratch_files(home) == []
    folder = Path(done["folder"])
    assert (folder / "plan.txt").is_file() and (folder / "plan.json").is_file() and request_files(folder)

    folders = run_folders(home)
    nothing, result = sync_json(cli, home, "--yes")
    assert result.code == 0 and nothing["status"] == "nothing", result
    assert run_folders(home) == folders and scratch_files(home) == []


@needs_sqlite_billing
def test_a_run_stopped_by_the_plans_own_checks_leaves_no_folder(nosync_copy, cli, company_db):
    """A payment applying to an invoice that is void (checked part by part while the plan is staged): the
    run stops with exit 3 naming it, removes the folder it began (with its spill) and writes nothing."""
    billing = nosync_copy.path / "billing.db"
    with sqlite3.connect(billing) as db:
        (invoice_id, number), = db.execute(
            "SELECT i.id, i.number FROM invoices i JOIN applications a ON a.invoice_id=i.id "
            "JOIN payments p ON p.id=a.payment_id ORDER BY p.date DESC, p.number DESC LIMIT 1").fetchall()
        db.execute("UPDATE invoices SET status='void' WHERE id=?", (invoice_id,))
    before = company_db(nosync_copy.company).fingerprint()
    stopped, result = sync_json(cli, nosync_copy.path, "--yes")
    assert result.code == 3 and stopped["status"] == "stopped", result
    assert any(p["code"] == "application-target" and number in p["message"] for p in stopped["problems"]), stopped
    assert run_folders(nosync_copy.path) == [] and stopped["folder"] == ""
    assert result.writes == [] and company_db(nosync_copy.company).fingerprint() == before


def test_a_run_aborted_at_the_confirmation_leaves_no_spill(nosync_copy, cli):
    """Answering 'y' to the customers question, then closing the input at the update question (no answer,
    exit 2): nothing is written, the spill does not remain, and the run is recorded as cancelled."""
    aborted = cli("sync", "--home", str(nosync_copy.path), input="y\n")
    assert aborted.code == 2 and "No answer to \"Do you want to update QuickBooks" in aborted.stderr, aborted
    assert aborted.writes == []
    assert scratch_files(nosync_copy.path) == []
    listed = cli("runs", "list", "--json", "--home", str(nosync_copy.path))
    assert [r["status"] for r in json.loads(listed.output)["runs"]][:1] == ["cancelled"], listed


def killed_sync(home: Path, point: str) -> subprocess.CompletedProcess:
    """The real command line, killed (SIGKILL) at an engine fault point (booksync.faults.fault_point)."""
    env = {k: v for k, v in os.environ.items() if k != "BOOKSYNC_HOME"}
    env["BOOKSYNC_FAULT"] = point
    return subprocess.run([sys.executable, "-m", "booksync.cli.main", "sync", "--yes", "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tempfile.gettempdir())


def test_the_spill_of_a_killed_run_is_removed_once_the_next_run_finished_the_job(nosync_copy, cli, company_db):
    """A sync killed after its 5th message was sent; the next sync settles it and completes. The company
    then holds the demo exactly once, and no scratch file of either run remains."""
    killed = killed_sync(nosync_copy.path, "after-send:5")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    resumed = cli("sync", "--yes", "--home", str(nosync_copy.path))
    assert resumed.code == 0, resumed
    db = company_db(nosync_copy.company)
    assert (db.count_txns("Invoice"), db.count_txns("CreditMemo"), db.count_txns("ReceivePayment")) == (1003, 25, 842)
    assert_no_duplicates(db)
    assert scratch_files(nosync_copy.path) == []


# ---------------------------------------------------------------------- 3. a payment across runs and parts


def test_a_payment_across_an_earlier_run_and_parts_reaches_the_right_txnids(demo_home, tmp_path, cli, monkeypatch):
    """With parts of 3 records: a payment applying cash and a new credit memo to INV10009 (written by the
    demo's run), and cash to the first and last of 10 new invoices (in different parts), is applied in
    QuickBooks to exactly those TxnIDs; INV10009 keeps its TxnID; reconcile reports zero differences."""
    monkeypatch.setenv("BOOKSYNC_PLAN_PART", "3")
    setup = mixed_home(demo_home, tmp_path / "home", cli)
    home: DemoHome = setup["home"]
    db = CompanyDB(home.company)
    before = {t: db.count_txns(t) for t in ("Invoice", "CreditMemo", "ReceivePayment")}
    done, result = sync_json(cli, home.path, "--yes", "--corrections-log", str(tmp_path / "log.csv"))
    assert result.code == 0 and done["status"] == "completed", result
    assert done["applied"] == {"mod invoice": 1, "add invoice": 10, "add credit_memo": 1, "add payment": 9}
    assert scratch_files(home.path) == []

    new = setup["new_invoices"]
    invoices = txn_ids(db, "Invoice", "INV10009", *new)
    (memo,) = txn_ids(db, "CreditMemo", "CM95001").values()
    assert invoices["INV10009"] == setup["old_txn"], "the earlier run's invoice keeps its TxnID"
    payments = txn_ids(db, "ReceivePayment", *[f"STR900{n}" for n in range(1, 10)])
    apps = db.rows("SELECT invoice_id, credit_memo_id, amount FROM applications WHERE payment_id=?", payments["STR9009"])
    assert sorted((a["invoice_id"], a["credit_memo_id"] or "", cents(a["amount"])) for a in apps) == sorted([
        (invoices["INV10009"], "", setup["cash_old"]), (invoices["INV10009"], memo, Decimal("50.00")),
        (invoices["INV95001"], "", Decimal("100.00")), (invoices["INV95010"], "", Decimal("10.00"))])
    for n in range(1, 9):
        (app,) = db.rows("SELECT invoice_id, amount FROM applications WHERE payment_id=?", payments[f"STR900{n}"])
        assert (app["invoice_id"], cents(app["amount"])) == (invoices[new[n]], Decimal("100.00")), n
    assert open_balance(db, invoices["INV10009"]) == Decimal("0.00")
    assert open_balance(db, invoices["INV95010"]) == Decimal("90.00")
    after = {t: db.count_txns(t) for t in before}
    assert after == {"Invoice": before["Invoice"] + 10, "CreditMemo": before["CreditMemo"] + 1,
                     "ReceivePayment": before["ReceivePayment"] + 9}
    assert cents(db.value("SELECT total FROM txns WHERE txn_type='Invoice' AND ref_number='INV10012'")) == \
        Decimal("350.00")
    assert_no_duplicates(db)
    if not POSTGRES:  # the links name the same TxnIDs
        links = dict(SqliteFile(home.path / "billing.db").rows(
            "SELECT i.number, l.remote_id FROM links l JOIN invoices i ON i.id=l.local_id AND l.kind='invoice' "
            "WHERE i.number IN (%s)" % ",".join("?" * 11), "INV10009", *new))
        assert links == invoices
    assert_reconciled(cli, home.path)
    again = cli("sync", "--yes", "--home", str(home.path))
    assert again.code == 0 and "Nothing to synchronize" in again.stdout, again


# ---------------------------------------------------------------------- 4. a refusal in the middle of a long run


@needs_sqlite_billing
def test_a_refusal_mid_run_journals_every_operation_and_the_next_run_finishes(nosync_copy, cli, company_db):
    """The 421st payment of the plan applies 1,000.00 more than its invoice's total (QuickBooks: 3210) after
    ~1,800 operations went through. Exit 5; the journal has one row per operation of plan.json (same seq,
    action, kind, number): done before it, failed for it, pending after it; no scratch file remains. Once the
    billing is corrected, the next run sends exactly the rest: the company holds the demo once."""
    home = nosync_copy.path
    billing = home / "billing.db"
    with sqlite3.connect(billing) as db:
        ordered = db.execute("SELECT p.id, p.number FROM payments p WHERE (SELECT COUNT(*) FROM applications a "
                             "WHERE a.payment_id=p.id) = 1 AND NOT EXISTS (SELECT 1 FROM applications a WHERE "
                             "a.payment_id=p.id AND a.credit_memo_id IS NOT NULL) ORDER BY p.date, p.number, p.id"
                             ).fetchall()
        payment_id, receipt = ordered[420]
        db.execute("UPDATE payments SET amount=amount+100000 WHERE id=?", (payment_id,))
        db.execute("UPDATE applications SET amount=amount+100000 WHERE payment_id=?", (payment_id,))

    refused, result = sync_json(cli, home, "--yes")
    assert result.code == 5 and refused["status"] == "refused", result
    assert "status 3210" in refused["message"] and receipt in refused["message"], refused["message"]
    assert scratch_files(home) == []
    run_id = refused["run_id"]
    plan = json.loads((Path(refused["folder"]) / "plan.json").read_text(encoding="utf-8"))
    operations = plan["operations"]
    assert len(operations) == 2326 and refused["planned"] == DEMO_PLAN

    journal = SqliteFile(billing).rows("SELECT seq, action, kind, number, status FROM journal WHERE run_id=? "
                                       "ORDER BY seq", run_id)
    assert [(r["seq"], r["action"], r["kind"], r["number"]) for r in journal] == \
        [(op["seq"], op["action"], op["kind"], op["number"]) for op in operations]
    statuses = [r["status"] for r in journal]
    (failed,) = [r["seq"] for r in journal if r["status"] == "failed"]
    assert journal[failed - 1]["number"] == receipt and journal[failed - 1]["kind"] == "payment"
    assert set(statuses[:failed - 1]) == {"done"} and set(statuses[failed:]) == {"pending"}, \
        {s: statuses.count(s) for s in set(statuses)}
    assert sum(refused["applied"].values()) == failed - 1 > 1800
    db = company_db(nosync_copy.company)
    assert db.count_txns("ReceivePayment") == refused["applied"]["add payment"] == failed - 1 - 1484

    with sqlite3.connect(billing) as conn:  # the billing store is corrected
        conn.execute("UPDATE payments SET amount=amount-100000 WHERE id=?", (payment_id,))
        conn.execute("UPDATE applications SET amount=amount-100000 WHERE payment_id=?", (payment_id,))
    finished, result = sync_json(cli, home, "--yes")
    assert result.code == 0 and finished["status"] == "completed", result
    assert finished["planned"] == {"add payment": 2326 - (failed - 1)}, finished["planned"]
    assert scratch_files(home) == []
    assert db.count_lists("Customer") == 400
    assert (db.count_txns("Invoice"), db.count_txns("CreditMemo"), db.count_txns("ReceivePayment")) == (1003, 25, 842)
    assert_no_duplicates(db)
    assert_reconciled(cli, home)


# ---------------------------------------------------------------------- 5. checks that ask the database of all parts


@needs_sqlite_billing
def test_a_new_payment_overapplying_a_reduced_invoice_stops_the_run(demo_copy, tmp_path, cli, company_db):
    """After the demo sync, a new payment applies 325.00 to INV10012 (unpaid, 325.00), which the billing store
    (written by another system, not through the importer's check) then reduces to 100.00. The payment is among
    the records to add (read part by part; found for the check through the database), so the run stops with
    exit 3 ('overapplied'), leaves no folder and writes nothing."""
    home = demo_copy.path
    payments = write_csv(tmp_path, "p.csv", PAYMENT_HEADER,
                         "R96001,1329,2026-02-01,325.00,Check,OV1,1050,,INV10012,325.00,,")
    imported = cli("import", "payments", str(payments), "--home", str(home))
    assert imported.code == 0, imported
    later = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=1)).isoformat(" ")
    with sqlite3.connect(home / "billing.db") as db:
        (invoice_id,) = db.execute("SELECT id FROM invoices WHERE number='INV10012'").fetchone()
        assert db.execute("UPDATE invoice_lines SET rate='100', amount=10000 WHERE invoice_id=?",
                          (invoice_id,)).rowcount == 1
        db.execute("UPDATE invoices SET updated_at=? WHERE id=?", (later, invoice_id))
    folders = run_folders(home)
    before = company_db(demo_copy.company).fingerprint()
    stopped, result = sync_json(cli, home, "--yes", "--corrections-log", str(tmp_path / "log.csv"))
    assert result.code == 3 and stopped["status"] == "stopped", result
    assert any(p["code"] == "overapplied" and "INV10012" in p["record"] and "R96001" in p["message"]
               for p in stopped["problems"]), stopped["problems"]
    assert run_folders(home) == folders and scratch_files(home) == []
    assert result.writes == [] and company_db(demo_copy.company).fingerprint() == before


# ---------------------------------------------------------------------- 5. finding the records to add


def test_the_records_to_add_are_the_same_whichever_way_they_are_found(nosync_home, monkeypatch):
    """Among change candidates, the records to add are found by id and sorted in Python when the candidates
    are few, and by one ordered query filtered by the candidates when they are many (store/rows.py FEW):
    both give the same records in the same order (the plan's), and that order is the one of a run that
    looks at everything (no mark), restricted to the candidates. Candidates that are not records to add
    (ids of nothing) are ignored."""
    from booksync.config import Home
    from booksync.store import rows
    from booksync.store.db import open_store

    home = Home.load(nosync_home.path)
    sessions = open_store(home.database_url, migrate=False)
    with sessions() as session:
        every = rows.AddsSource(session, "any-company", None)
        assert all(len(every.ids[kind]) > 10 for kind in ("invoice", "credit_memo", "payment"))
        candidates = {kind: sorted(set(list(ids)[::3]) | {10**9}) for kind, ids in every.ids.items()}
        wanted = {kind: [i for i in ids if i in set(candidates[kind])] for kind, ids in every.ids.items()}
        monkeypatch.setattr(rows, "FEW", 0)
        many = rows.AddsSource(session, "any-company", candidates)
        monkeypatch.setattr(rows, "FEW", 10**9)
        few = rows.AddsSource(session, "any-company", candidates)
        for kind in wanted:
            assert list(many.ids[kind]) == wanted[kind] == list(few.ids[kind]), kind
        # And the order is the plan's: by date, then number.
        dates = {(kind, r.id): (r.date, r.number) for part in every.sales_parts() for kind, r in part}
        for kind in ("invoice", "credit_memo"):
            keys = [dates[(kind, i)] for i in every.ids[kind]]
            assert keys == sorted(keys) and len(keys) == len(every.ids[kind]), kind
