"""End to end: the real `booksync` command line synchronizes to QuickBooks Online (the test double).

The home is connected with `booksync company connect online` (the OAuth flow against the double), then
`booksync sync`, `booksync reconcile` and a second `booksync sync` run as a person would run them.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import httpx

from booksync.config import Home
from booksync.qbo_double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from test_online_support import FAST, server  # noqa: F401 - fixture

GL_HEADER = "number,name,type,qb_account"
MEMBER_HEADER = ("number,name,company,contact_first,contact_last,address1,address2,city,state,postal_code,email,"
                 "phone,status")
INVOICE_HEADER = "number,member,date,due_date,memo,gl_account,description,quantity,rate,amount"
PAYMENT_HEADER = ("number,member,date,amount,method,reference,deposit_account,memo,apply_to,apply_amount,"
                  "apply_credit_memo,apply_credit_amount")


def connect_with_the_cli(cli, home: Path, srv) -> None:  # noqa: ANN001
    """`booksync company connect online` twice: print the URL (stdin has only the secret), then complete it with
    the URL the double's authorization page redirects to."""
    started = cli("company", "connect", "online", "--home", str(home), "--sandbox", "--client-id", DEFAULT_CLIENT_ID,
                  "--client-secret-stdin", "--api-base", srv.url,
                  "--discovery-url", f"{srv.url}/.well-known/openid_sandbox_configuration",
                  input=DEFAULT_CLIENT_SECRET + "\n")
    assert started.code == 0, str(started)
    assert "--redirect-url" in started.stdout and DEFAULT_CLIENT_SECRET not in started.output
    url = re.search(r"(http://127\.0\.0\.1:\d+/connect/oauth2\?\S+)", started.stdout).group(1)
    redirect = httpx.get(url, follow_redirects=False).headers["location"]
    done = cli("company", "connect", "online", "--home", str(home), "--redirect-url", redirect)
    assert done.code == 0, str(done)
    assert "Connected to QuickBooks Online company \"Riverside Regional Chamber of Commerce\"" in done.stdout
    h = Home.load(home)
    assert h.settings["company"]["kind"] == "online"
    h.settings["online"].update(FAST)  # pacing has its own tests and benchmark
    h.save()


def test_the_demo_synchronizes_completely_reconciles_and_a_second_sync_sends_nothing(nosync_copy, cli,
                                                                                       server) -> None:  # noqa: F811
    home = nosync_copy.path
    double = server.double
    connect_with_the_cli(cli, home, server)
    double.drop_responses(1, "batch")  # one batch's answer is lost after QuickBooks Online committed it
    result = cli("sync", "--yes", "--json", "--home", str(home))
    assert result.code == 0, str(result)
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    assert summary["applied"] == {"add customer": 400, "add item": 9, "add payment_method": 2, "add invoice": 1003,
                                  "add credit_memo": 25, "add sales_receipt": 45, "add payment": 842}
    company = double.company
    assert (len(company.entities["Customer"]), len(company.entities["Invoice"]), len(company.entities["CreditMemo"]),
            len(company.entities["Payment"])) == (400, 1003, 25, 842)  # the lost answer was not doubled
    assert double.stats.dropped == 1 and double.stats.replays == 1
    assert double.stats.minorversions == {"75"} and double.stats.max_batch_items == 30
    assert double.stats.throttled == 0
    names = {c["DisplayName"] for c in company.entities["Customer"].values()}
    assert {"Acme - The Widget Company", "Main Street Dental (1302)"} <= names
    files = sorted((home / "runs" / summary["run_id"] / "requests").iterdir())
    assert files and all(f.suffix == ".json" for f in files)
    assert json.loads(files[0].read_text())["batches"][0]["BatchItemRequest"][0]["operation"] == "create"
    export = json.loads((Path(summary["backup"]) / f"quickbooks-online-{double.realm_id}.json").read_text())
    assert len(export["Account"]) == 24 and export["transactions_written_by_booksync"] == {}

    reconcile = cli("reconcile", "--home", str(home))
    assert reconcile.code == 0, str(reconcile)
    assert "Compared 400 member balance(s)" in reconcile.stdout and "zero differences" in reconcile.stdout

    writes, requests = double.writes(), len(double.stats.log)
    again = cli("sync", "--yes", "--home", str(home))
    assert again.code == 0, str(again)
    assert "Nothing to synchronize" in again.stdout
    assert double.writes() == writes
    assert not any(r["path"] == "batch" for r in double.stats.log[requests:])


def write_csv(folder: Path, name: str, header: str, *rows: str) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def invoke(*args: str) -> str:
    """Run a quick booksync command in this process (imports, edits); the syncs themselves run as subprocesses."""
    from click.testing import CliRunner

    from booksync.cli.main import cli as booksync

    result = CliRunner().invoke(booksync, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_corrections_and_a_deposited_payment_reach_quickbooks_online(tmp_path, cli, server) -> None:  # noqa: F811
    """After a sync, a QuickBooks Online user deposits two payments. Then a paid and deposited invoice changes
    amount and an unpaid invoice is voided: the deposit gives up the payment behind a line of the same amount,
    the payment is released, the invoice updated with its SyncToken, the payment applied again and put back in
    the deposit (its total never moves); the void follows. The books still agree."""
    from test_online_support import connect, point_home_at

    home = Home.load(tmp_path / "home", create=True)
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    files = {
        "gl-accounts": gl,
        "members": write_csv(tmp_path, "m.csv", MEMBER_HEADER,
                             "2001,Oak Street Bakery,Oak Street Bakery,Ann,Lee,1 Oak St,,Dayton,OH,45402,a@o.com,,active",
                             "2002,Pine Hardware,Pine Hardware,Bo,Ng,2 Pine St,,Dayton,OH,45402,b@p.com,,active",
                             "2003,Elm Florist,Elm Florist,Cy,Ho,3 Elm St,,Dayton,OH,45402,c@e.com,,active"),
        "invoices": write_csv(tmp_path, "i.csv", INVOICE_HEADER, "INV1,2001,2025-01-15,,,4020,Dues,1,325.00,325.00",
                              "INV2,2002,2025-01-16,,,4100,Gala,2,85.00,170.00",
                              "INV3,2003,2025-01-17,,,4100,Gala,1,85.00,85.00"),
        "payments": write_csv(tmp_path, "p.csv", PAYMENT_HEADER,
                              "R1,2001,2025-01-20,325.00,Check,1001,1050,,INV1,325.00,,",
                              "R3,2003,2025-01-21,85.00,Check,1003,1050,,INV3,85.00,,"),
    }
    for kind, path in files.items():
        invoke("import", kind, str(path), "--home", str(home.path))
    point_home_at(home, server)
    connect(home, server)
    first = cli("sync", "--yes", "--home", str(home.path))
    assert first.code == 0, str(first)
    company, double = server.double.company, server.double
    payments = {p["PaymentRefNum"]: p for p in company.entities["Payment"].values()}
    checking = next(a["Id"] for a in company.entities["Account"].values() if a["Name"] == "Checking")
    with double.lock:  # a QuickBooks Online user records the bank deposit
        deposit = company.create("Deposit", {"TxnDate": "2025-01-22", "DepositToAccountRef": {"value": checking},
                                             "Line": [{"Amount": p["TotalAmt"], "LinkedTxn": [
                                                 {"TxnId": p["Id"], "TxnType": "Payment", "TxnLineId": "0"}]}
                                                 for p in payments.values()]})

    changed = write_csv(tmp_path, "i2.csv", INVOICE_HEADER, "INV1,2001,2025-01-15,,,4020,Dues,1,350.00,350.00",
                        "INV2,2002,2025-01-16,,,4100,Gala,2,85.00,170.00",
                        "INV3,2003,2025-01-17,,,4100,Gala,1,85.00,85.00")
    assert "1 updated" in invoke("import", "invoices", str(changed), "--home", str(home.path))
    invoke("invoices", "void", "INV2", "--home", str(home.path))
    log = tmp_path / "corrections.csv"
    second = cli("sync", "--yes", "--json", "--corrections-log", str(log), "--home", str(home.path))
    assert second.code == 0, str(second)
    assert json.loads(second.stdout)["applied"] == {"mod deposit": 2, "mod payment": 2, "mod invoice": 1,
                                                     "void invoice": 1}
    assert log.exists()
    invoices = {i["DocNumber"]: i for i in company.entities["Invoice"].values()}
    inv1, inv2 = invoices["INV1"], invoices["INV2"]
    payment = company.find("Payment", payments["1001"]["Id"])  # R1, check 1001
    # Applied by the first sync (1), released (2), updated (3), applied again (4): QuickBooks Online raises an
    # invoice's SyncToken with every change to what is applied to it, and the double does the same.
    assert (inv1["TotalAmt"], inv1["Balance"], inv1["SyncToken"]) == (Decimal("350.00"), Decimal("25.00"), "4")
    assert payment["Line"][0]["LinkedTxn"][0]["TxnId"] == inv1["Id"] and payment["SyncToken"] == "2"
    assert inv2["TotalAmt"] == Decimal("0.00") and inv2["PrivateNote"].startswith("Voided")
    after = company.find("Deposit", deposit["Id"])
    assert after["TotalAmt"] == Decimal("410.00") and after["SyncToken"] == "2"
    assert sorted(ln["LinkedTxn"][0]["TxnId"] for ln in after["Line"]) == sorted(p["Id"] for p in payments.values())
    assert double.company.deposited == {p["Id"]: deposit["Id"] for p in payments.values()}
    reconcile = cli("reconcile", "--home", str(home.path))
    assert reconcile.code == 0, str(reconcile)
    assert "Nothing to synchronize" in cli("sync", "--yes", "--home", str(home.path)).stdout


def test_a_run_cut_off_after_a_lost_answer_is_settled_by_the_next_without_duplicates(tmp_path, cli,
                                                                                   server) -> None:  # noqa: F811
    """The connection is lost after QuickBooks Online committed a batch and booksync gives up (no retries): the
    sync ends with exit 6; the next sync finds what had taken effect (find_added) and sends only the rest."""
    from test_online_support import connect, point_home_at

    home = Home.load(tmp_path / "home", create=True)
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    members = [f"{3000 + n},Member {n},Member {n},A,B,1 Main St,,Dayton,OH,45402,m{n}@x.com,,active" for n in range(6)]
    invoices = [f"INV{n},{3000 + n},2025-02-0{n + 1},,,4020,Dues,1,100.00,100.00" for n in range(6)]
    payments = [f"R{n},{3000 + n},2025-02-1{n},100.00,Check,{500 + n},1050,,INV{n},100.00,," for n in range(6)]
    for kind, path in (("gl-accounts", gl), ("members", write_csv(tmp_path, "m.csv", MEMBER_HEADER, *members)),
                       ("invoices", write_csv(tmp_path, "i.csv", INVOICE_HEADER, *invoices)),
                       ("payments", write_csv(tmp_path, "p.csv", PAYMENT_HEADER, *payments))):
        invoke("import", kind, str(path), "--home", str(home.path))
    point_home_at(home, server, max_retries=0, batch_size=4)
    connect(home, server)
    server.double.drop_responses(1, "batch")  # the first batch: 4 of the 6 customers
    cut = cli("sync", "--yes", "--home", str(home.path))
    assert cut.code == 6, str(cut)
    assert "could not be reached" in cut.output
    company = server.double.company
    assert len(company.entities["Customer"]) == 4  # the first batch of 4 took effect; its answer was lost
    again = cli("sync", "--yes", "--json", "--home", str(home.path))
    assert again.code == 0, str(again)
    summary = json.loads(again.stdout)
    assert summary["applied"]["add customer"] == 2 and summary["applied"]["add payment"] == 6
    assert (len(company.entities["Customer"]), len(company.entities["Invoice"]),
            len(company.entities["Payment"])) == (6, 6, 6)
    assert cli("reconcile", "--home", str(home.path)).code == 0
