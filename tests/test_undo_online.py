"""`booksync runs undo RUN` on QuickBooks Online (the test double), through the real CLI (issue 20, item 12).

An undo deletes the transactions the run added, makes the customers, items and payment methods it added inactive
(QuickBooks Online cannot delete them), sets what the run changed back to its pre-image by a sparse update with the
current SyncToken, and leaves alone, naming it, a record whose SyncToken shows it was changed in QuickBooks since.
After a run and its undo the company's lists and transactions equal the state before the run: a digest of every
query's answers (SyncToken, MetaData and line Ids aside), the list entities made inactive excepted and named.
"""
from __future__ import annotations

import csv
import hashlib
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from booksync.config import Home
from booksync.qbo_double import DoubleServer
from booksync.qbo_double.company import Company, Fault
from test_online_corrections import CREDIT_MEMOS, INVOICES, MEMBERS, PAYMENTS, Books, books  # noqa: F401 - fixture
from test_online_support import connect, point_home_at, server  # noqa: F401 - fixture
from test_online_sync import INVOICE_HEADER, MEMBER_HEADER, PAYMENT_HEADER, invoke, write_csv

LISTS = ("Account", "Item", "PaymentMethod", "Customer", "Vendor", "Employee")
TRANSACTIONS = ("Invoice", "CreditMemo", "Payment", "Deposit")
VOLATILE = {"SyncToken", "MetaData"}


def every_query(srv: DoubleServer) -> dict[tuple[str, str], dict[str, Any]]:
    """What the Accounting API's queries answer for every list (active and inactive) and transaction, by entity
    and Id."""
    double = srv.double
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with double.lock:
        for entity in LISTS + TRANSACTIONS:
            where = " WHERE Active IN (true, false)" if entity in LISTS else ""
            _, answer = double.handle(double.realm_id, "GET", "query",
                                      {"query": f"SELECT * FROM {entity}{where} MAXRESULTS 1000"}, None)
            for row in answer["QueryResponse"].get(entity, []):
                out[(entity, str(row["Id"]))] = row
    return out


def digest(rows: dict[tuple[str, str], dict[str, Any]], leave_out: set[tuple[str, str]] = frozenset()) -> str:
    """The rows' digest, SyncToken, MetaData and line Ids left out (restored lines are new lines)."""
    h = hashlib.sha256()
    for key in sorted(rows):
        if key in leave_out:
            continue
        row = {k: v for k, v in rows[key].items() if k not in VOLATILE}
        if isinstance(row.get("Line"), list):
            row["Line"] = [{k: v for k, v in ln.items() if k not in ("Id", "LineNum")} for ln in row["Line"]]
        h.update(json.dumps([key, row], sort_keys=True, default=str).encode())
    return h.hexdigest()


def last_run(home: Path) -> str:
    return sorted(p.name for p in (home / "runs").iterdir() if p.is_dir())[-1]


@pytest.fixture
def unsynced(tmp_path: Path, server: DoubleServer) -> Books:  # noqa: F811
    """The small chamber of test_online_corrections, imported and connected to the double, not synchronized yet."""
    home = Home.load(tmp_path / "home", create=True)
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    files = {"gl-accounts": gl, "members": write_csv(tmp_path, "m.csv", MEMBER_HEADER, *MEMBERS),
             "invoices": write_csv(tmp_path, "i.csv", INVOICE_HEADER, *INVOICES.values()),
             "credit-memos": write_csv(tmp_path, "c.csv", INVOICE_HEADER, *CREDIT_MEMOS.values()),
             "payments": write_csv(tmp_path, "p.csv", PAYMENT_HEADER, *PAYMENTS)}
    for kind, path in files.items():
        invoke("import", kind, str(path), "--home", str(home.path))
    point_home_at(home, server)
    connect(home, server)
    return Books(home.path, server, tmp_path)


def undo_log(home: Path, run: str) -> list[dict[str, str]]:
    return list(csv.DictReader((home / "runs" / run / f"undo-{run}.csv").open(encoding="utf-8")))


def test_undo_of_a_first_sync_leaves_the_online_company_as_it_was_but_for_inactive_lists(unsynced: Books, cli):
    home = str(unsynced.home)
    before = every_query(unsynced.srv)
    first = cli("sync", "--yes", "--home", home)
    assert first.code == 0, str(first)
    run = last_run(unsynced.home)
    assert digest(every_query(unsynced.srv)) != digest(before)

    writes = unsynced.srv.double.writes()
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, str(dry)
    said = " ".join(dry.stdout.split())
    assert "3 delete payment" in said and "6 delete invoice" in said and "5 make inactive customer" in said, said
    assert "QuickBooks Online cannot delete customers, items or payment methods: the undo makes the" in said
    assert unsynced.srv.double.writes() == writes
    assert {r["Action in QuickBooks"] for r in undo_log(unsynced.home, run)} >= {
        "deleted (the run added it)", "made inactive (the run added it; QuickBooks Online cannot delete it)"}
    declined = cli("runs", "undo", run, "--home", home, input="n\n")
    assert declined.code == 4 and "Nothing was changed" in declined.stdout and unsynced.srv.double.writes() == writes

    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 0, str(undone)
    said = " ".join(undone.stdout.split())
    assert "Backup taken before the undo:" in said and "booksync cannot copy a QuickBooks Online company" in said
    assert "pre-images.jsonl" in said and f"Run {run} was undone" in said
    assert said.count("Corrections Log of the undo:") == 1, said
    backups = list((unsynced.home / "backups").glob(f"*-undo-{run}"))  # booksync's database, which the undo changes
    assert len(backups) == 1 and ((backups[0] / "billing.db").exists() or (backups[0] / "billing").is_dir()), backups
    assert any(backups[0].glob("quickbooks-online-*.json"))
    listed = json.loads(cli("backups", "list", "--json", "--home", home).stdout)["backups"]
    assert any(b["run_id"] == backups[0].name for b in listed), listed
    after = every_query(unsynced.srv)
    extra = {key for key in after if key not in before}
    inactive = {key for key in extra if key[0] == "Customer"}
    assert all(after[key]["Active"] is False for key in inactive)
    names = {after[key]["DisplayName"] for key in inactive}
    assert names == {"Oak Street Bakery", "Pine Hardware", "Elm Florist", "Birch Books", "Cedar Cafe"}
    kept = extra - inactive  # items and payment methods stay active, named in the plan
    assert kept and {key[0] for key in kept} <= {"Item", "PaymentMethod"}
    assert all(after[key]["Active"] is True for key in kept)
    assert said.count("QuickBooks Online cannot delete an item, and the undo leaves it active") == sum(
        1 for key in kept if key[0] == "Item")
    assert digest(after, extra) == digest(before)
    assert json.loads(cli("runs", "show", run, "--json", "--home", home).stdout)["status"] == "undone"
    assert cli("runs", "undo", run, "--yes", "--home", home).code == 3  # undone already

    resync, log = unsynced.sync(cli)  # the billing store still holds everything: written again
    assert resync.code == 0, str(resync)
    assert {(r["Type"], r["Action in QuickBooks"]) for r in log} == {("Customer", "customer details changed")}  # made active again
    customers = unsynced.company.entities["Customer"]
    assert all(customers[key[1]]["Active"] for key in inactive) and len(customers) == 5  # the same customers
    unsynced.reconciles(cli)


def test_a_record_edited_in_quickbooks_online_since_the_run_is_left_alone_and_named(unsynced: Books, cli):
    home = str(unsynced.home)
    assert cli("sync", "--yes", "--home", home).code == 0
    run = last_run(unsynced.home)
    inv2 = unsynced.doc("Invoice", "INV2")
    with unsynced.srv.double.lock:  # a QuickBooks Online user edits the invoice's note
        unsynced.company.update("Invoice", {"Id": inv2["Id"], "SyncToken": inv2["SyncToken"], "sparse": True,
                                            "PrivateNote": "edited in QuickBooks Online"})
    result = cli("runs", "undo", run, "--yes", "--home", home)
    assert result.code == 5, str(result)
    said = " ".join(result.stdout.split())
    assert ("invoice INV2: changed in QuickBooks since the run (SyncToken 0 when the run left it, 1 now)"
            in said), said
    assert "will be refused: invoice INV2 of this customer stays in QuickBooks Online" in said
    kept = unsynced.doc("Invoice", "INV2")
    assert kept["PrivateNote"] == "edited in QuickBooks Online" and kept["SyncToken"] == "1"
    assert [e["DocNumber"] for e in unsynced.company.entities["Invoice"].values()] == ["INV2"]
    assert not unsynced.company.entities["Payment"] and not unsynced.company.entities["CreditMemo"]
    active = {c["DisplayName"] for c in unsynced.company.entities["Customer"].values() if c["Active"]}
    assert active == {"Pine Hardware"}
    assert json.loads(cli("runs", "show", run, "--json", "--home", home).stdout)["status"] == "partly undone"


def test_undo_sets_a_changed_invoice_and_payment_back_on_quickbooks_online(books: Books, cli):  # noqa: F811
    home = str(books.home)
    before = every_query(books.srv)
    books.reimport("invoices", "INV2,2002,2025-01-16,,,4100,Gala,1,150.00,150.00")
    assert "changed" in books.invoke("payments", "edit", "R1", "--date", "2025-01-25")
    result, _ = books.sync(cli)
    assert result.code == 0, str(result)
    run = last_run(books.home)
    assert books.doc("Invoice", "INV2")["TotalAmt"] == Decimal("150.00")
    assert books.payment("R1")["TxnDate"] == "2025-01-25"

    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0 and "1 restore invoice" in dry.stdout and "1 restore payment" in dry.stdout, str(dry)
    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 0, str(undone)
    assert f"Run {run} was undone: 2 record(s) deleted or set back" in undone.stdout
    assert digest(every_query(books.srv)) == digest(before)
    inv1 = books.doc("Invoice", "INV1")
    assert inv1["Balance"] == Decimal("0.00")  # R1 pays it again, as before the run
    again, _ = books.sync(cli)  # the billing store still holds the corrections: written again
    assert again.code == 0 and "2 operation(s) applied" in again.stdout, str(again)


def test_a_payment_deposited_since_the_run_is_refused_up_front_on_quickbooks_online(books: Books, cli):  # noqa: F811
    home = str(books.home)
    assert "changed" in books.invoke("payments", "edit", "R3", "--date", "2025-01-25")
    result, _ = books.sync(cli)
    assert result.code == 0, str(result)
    run = last_run(books.home)
    books.deposit("R3")
    state = books.state()
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    said = " ".join(dry.stdout.split())
    assert dry.code == 0 and "payment R3: will be refused: it is in the deposit of 2025-01-31 to Checking" in said, said
    assert "in QuickBooks Online (find the deposit with Search or in the bank account's register" in said, said
    assert "Make Deposits" not in said  # QuickBooks Desktop's menu
    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 5 and "Nothing was undone: QuickBooks would refuse all 1 record(s)" in undone.stdout
    assert books.state() == state


def test_the_double_refuses_to_make_a_customer_with_an_open_balance_inactive() -> None:
    company = Company("1", "Test", lambda: 1_700_000_000.0)
    customer = company.create("Customer", {"DisplayName": "Oak Street Bakery"})
    income = next(a for a in company.entities["Account"].values() if a["AccountType"] == "Income")
    item = company.create("Item", {"Name": "Dues", "Type": "Service", "IncomeAccountRef": {"value": income["Id"]}})
    company.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2025-01-15", "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": Decimal("10.00"),
         "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]})
    with pytest.raises(Fault) as refused:
        company.update("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert refused.value.errors[0]["Message"] == "Delete List Has Balance Error"
    assert company.find("Customer", customer["Id"])["Active"] is True
