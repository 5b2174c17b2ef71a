"""Corrections and deposited payments against QuickBooks Online (the test double), through the real CLI.

The QuickBooks Online counterparts of tests/test_corrections.py and tests/test_deposits.py (which run against
the Desktop simulator). A small chamber is synchronized once; then the billing store changes as a user would
change it (a CSV row re-imported, `booksync invoices void`, `booksync payments edit` ...), `booksync sync --yes
--corrections-log PATH` runs as a subprocess, and each test asserts what the double's company holds afterwards
(amounts, SyncTokens, linked transactions), what the user is told, and the Corrections Log written.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from booksync.config import Home
from booksync.qbo_double import DoubleServer
from booksync.qbo_double.company import Company, Fault
from test_online_support import connect, point_home_at, server  # noqa: F401 - fixture
from test_online_sync import INVOICE_HEADER, MEMBER_HEADER, PAYMENT_HEADER, invoke, write_csv

MEMBERS = ("2001,Oak Street Bakery,Oak Street Bakery,Ann,Lee,1 Oak St,,Dayton,OH,45402,a@o.com,,active",
           "2002,Pine Hardware,Pine Hardware,Bo,Ng,2 Pine St,,Dayton,OH,45402,b@p.com,,active",
           "2003,Elm Florist,Elm Florist,Cy,Ho,3 Elm St,,Dayton,OH,45402,c@e.com,,active",
           "2004,Birch Books,Birch Books,Di,Yu,4 Birch St,,Dayton,OH,45402,d@b.com,,active",
           "2005,Cedar Cafe,Cedar Cafe,Ed,Oh,5 Cedar St,,Dayton,OH,45402,e@c.com,,active")
INVOICES = {"INV1": "INV1,2001,2025-01-15,,,4020,Dues,1,325.00,325.00",     # paid in full by R1
            "INV2": "INV2,2002,2025-01-16,,,4100,Gala,2,85.00,170.00",      # unpaid
            "INV3": "INV3,2003,2025-01-17,,,4100,Gala,1,85.00,85.00",       # paid in full by R3
            "INV4": "INV4,2004,2025-01-18,,,4020,Dues,1,200.00,200.00",     # paid by R4 (175) and CM1 (25)
            "INV5": "INV5,2005,2025-01-19,,,4200,Sponsor,1,500.00,500.00",  # unpaid
            "INV6": "INV6,2005,2025-01-20,,,4300,Ad,1,120.00,120.00"}       # unpaid
CREDIT_MEMOS = {"CM1": "CM1,2004,2025-01-18,,,4030,Tier change,1,25.00,25.00",  # applied to INV4 by R4
                "CM2": "CM2,2002,2025-01-21,,,4030,Tier change,1,40.00,40.00"}  # not applied
PAYMENTS = ("R1,2001,2025-01-20,325.00,Check,1001,1050,,INV1,325.00,,",
            "R3,2003,2025-01-21,85.00,Check,1003,1050,,INV3,85.00,,",
            "R4,2004,2025-01-22,175.00,Check,1004,1050,,INV4,175.00,CM1,25.00")


@dataclass
class Books:
    """A billing home synchronized once to the double's company."""

    home: Path
    srv: DoubleServer
    tmp: Path

    @property
    def company(self) -> Company:
        return self.srv.double.company

    def doc(self, entity: str, number: str) -> dict[str, Any] | None:
        """The invoice or credit memo with DocNumber ``number``, the payment with PaymentRefNum ``number``."""
        key = "PaymentRefNum" if entity == "Payment" else "DocNumber"
        return next((e for e in self.company.entities[entity].values() if e.get(key) == number), None)

    def payment(self, receipt: str) -> dict[str, Any]:
        """Payments carry the receipt's reference (check number) as PaymentRefNum: R1 → 1001."""
        found = self.doc("Payment", "100" + receipt[1:])
        assert found is not None, receipt
        return found

    def invoke(self, *args: str) -> str:
        return invoke(*args, "--home", str(self.home))

    def reimport(self, kind: str, row: str) -> None:
        header = INVOICE_HEADER  # credit memos have the invoices' layout
        path = write_csv(self.tmp, f"{kind}-{time.monotonic_ns()}.csv", header, row)
        assert "1 updated" in self.invoke("import", kind, str(path))

    def deposit(self, *receipts: str, date: str = "2025-01-31") -> dict[str, Any]:
        """A QuickBooks Online user deposits these payments into Checking."""
        company = self.company
        checking = next(a["Id"] for a in company.entities["Account"].values() if a["Name"] == "Checking")
        payments = [self.payment(r) for r in receipts]
        with self.srv.double.lock:
            return company.create("Deposit", {"TxnDate": date, "DepositToAccountRef": {"value": checking},
                                              "Line": [{"Amount": p["TotalAmt"], "LinkedTxn": [
                                                  {"TxnId": p["Id"], "TxnType": "Payment", "TxnLineId": "0"}]}
                                                  for p in payments]})

    def fee_deposit(self, *receipts: str) -> dict[str, Any]:
        """A deposit of these payments with a processor's fee of 5.00 on a direct line after them (reference §3.4)."""
        company = self.company
        checking = next(a["Id"] for a in company.entities["Account"].values() if a["Name"] == "Checking")
        expense = next(a["Id"] for a in company.entities["Account"].values() if a["AccountType"] == "Expense")
        payments = [self.payment(r) for r in receipts]
        lines: list[dict[str, Any]] = [{"Amount": p["TotalAmt"], "LinkedTxn": [
            {"TxnId": p["Id"], "TxnType": "Payment", "TxnLineId": "0"}]} for p in payments]
        lines.append({"Amount": Decimal("-5.00"), "DetailType": "DepositLineDetail", "Description": "Card fee",
                      "DepositLineDetail": {"AccountRef": {"value": expense}}})
        with self.srv.double.lock:
            return company.create("Deposit", {"TxnDate": "2025-01-31", "DepositToAccountRef": {"value": checking},
                                              "Line": lines})

    def sync(self, cli, *extra: str):  # noqa: ANN001, ANN201
        """`booksync sync --yes --corrections-log LOG`: (result, rows of the log's CSV, or [] when none)."""
        log = self.tmp / f"log-{time.monotonic_ns()}.csv"
        result = cli("sync", "--yes", "--corrections-log", str(log), "--home", str(self.home), *extra)
        rows = list(csv.DictReader(log.open(encoding="utf-8"))) if log.exists() else []
        return result, rows

    def reconciles(self, cli) -> None:  # noqa: ANN001
        result = cli("reconcile", "--home", str(self.home))
        assert result.code == 0 and "zero differences" in result.stdout, str(result)

    def state(self) -> str:
        """Everything the company holds (to prove that nothing was written)."""
        return repr(sorted((e, sorted(v.items())) for e, v in self.company.entities.items()))


@pytest.fixture
def books(tmp_path: Path, cli, server: DoubleServer) -> Books:  # noqa: ANN001, F811
    home = Home.load(tmp_path / "home", create=True)
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    files = {"gl-accounts": gl,
             "members": write_csv(tmp_path, "m.csv", MEMBER_HEADER, *MEMBERS),
             "invoices": write_csv(tmp_path, "i.csv", INVOICE_HEADER, *INVOICES.values()),
             "credit-memos": write_csv(tmp_path, "c.csv", INVOICE_HEADER, *CREDIT_MEMOS.values()),
             "payments": write_csv(tmp_path, "p.csv", PAYMENT_HEADER, *PAYMENTS)}
    for kind, path in files.items():
        invoke("import", kind, str(path), "--home", str(home.path))
    point_home_at(home, server)
    connect(home, server)
    first = cli("sync", "--yes", "--home", str(home.path))
    assert first.code == 0, str(first)
    b = Books(home.path, server, tmp_path)
    assert b.doc("Invoice", "INV4")["Balance"] == Decimal("0.00")  # R4 and CM1 pay it
    assert b.doc("CreditMemo", "CM1")["RemainingCredit"] == Decimal("0.00")
    return b


def actions(log: list[dict[str, str]]) -> set[tuple[str, str, str]]:
    return {(r["Type"], r["Number"], r["Action in QuickBooks"]) for r in log}


# ---------------------------------------------------------------------- invoices and credit memos


def test_unpaid_invoice_amount_changes(books: Books, cli) -> None:  # noqa: ANN001
    """A sparse Invoice update with the SyncToken booksync recorded; the log shows the amount before and after."""
    before = books.doc("Invoice", "INV2")
    assert before["SyncToken"] == "0"
    books.reimport("invoices", "INV2,2002,2025-01-16,,,4100,Gala,1,150.00,150.00")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert "QuickBooks was updated: 1 operation(s) applied" in result.stdout
    assert actions(log) == {("Invoice", "INV2", "changed")}
    assert log[0]["Amount before"] == "170.00" and log[0]["Amount after"] == "150.00"
    assert log[0]["What changed"] == "lines: 4100 Event Registrations 170.00 -> 4100 Event Registrations 150.00"
    inv = books.doc("Invoice", "INV2")
    assert inv["Id"] == before["Id"] and inv["SyncToken"] == "1"
    assert (inv["TotalAmt"], inv["Balance"]) == (Decimal("150.00"), Decimal("150.00"))
    assert [(ln["Amount"], ln["SalesItemLineDetail"]["Qty"]) for ln in inv["Line"]
            if ln["DetailType"] == "SalesItemLineDetail"] == [(Decimal("150.00"), Decimal("1"))]
    assert list(books.home.glob("runs/*/corrections_log.pdf")) and list(books.home.glob("runs/*/corrections_log.html"))
    books.reconciles(cli)
    assert "Nothing to synchronize" in cli("sync", "--yes", "--home", str(books.home)).stdout


def test_invoice_voided_and_deleted_and_credit_memo_deleted(books: Books, cli) -> None:  # noqa: ANN001
    """Invoice void (kept, zeroed, "Voided" in PrivateNote), invoice delete and credit memo delete
    (``operation=delete`` with Id and SyncToken: gone from the company)."""
    voided_id = books.doc("Invoice", "INV5")["Id"]
    books.invoke("invoices", "void", "INV5")
    books.invoke("invoices", "delete", "INV6")
    books.invoke("credit-memos", "delete", "CM2")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert actions(log) == {("Invoice", "INV5", "voided"), ("Invoice", "INV6", "deleted"),
                            ("Credit memo", "CM2", "deleted")}
    inv5 = books.company.find("Invoice", voided_id)
    assert (inv5["TotalAmt"], inv5["Balance"], inv5["SyncToken"]) == (Decimal("0.00"), Decimal("0.00"), "1")
    assert inv5["PrivateNote"].startswith("Voided")
    assert books.doc("Invoice", "INV6") is None and books.doc("CreditMemo", "CM2") is None
    books.reconciles(cli)


def test_credit_memo_amount_changes(books: Books, cli) -> None:  # noqa: ANN001
    books.reimport("credit-memos", "CM2,2002,2025-01-21,,,4030,Tier change,1,55.00,55.00")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert actions(log) == {("Credit memo", "CM2", "changed")}
    cm = books.doc("CreditMemo", "CM2")
    assert (cm["TotalAmt"], cm["RemainingCredit"], cm["SyncToken"]) == (Decimal("55.00"), Decimal("55.00"), "1")
    books.reconciles(cli)


def test_credit_memo_voided(books: Books, cli) -> None:  # noqa: ANN001
    """QuickBooks Online's API has no void for a credit memo (reference §3.6): see docs/quickbooks-online.md."""
    cm_id = books.doc("CreditMemo", "CM2")["Id"]
    books.invoke("credit-memos", "void", "CM2")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert actions(log) == {("Credit memo", "CM2", "voided")}
    cm = books.company.find("CreditMemo", cm_id)
    assert cm is not None and cm["SyncToken"] == "1"  # kept, as QuickBooks Online's own void keeps it
    assert (cm["TotalAmt"], cm["RemainingCredit"]) == (Decimal("0.00"), Decimal("0.00"))
    assert cm["PrivateNote"].startswith("Voided")
    books.reconciles(cli)


def test_a_paid_invoice_shrinks_after_its_payment_is_reduced(books: Books, cli) -> None:  # noqa: ANN001
    """The payment is released (its line to the invoice removed), the invoice shrinks, the payment is applied
    again: QuickBooks Online never sees an invoice smaller than what is applied to it."""
    refused = cli("import", "invoices", str(write_csv(books.tmp, "x.csv", INVOICE_HEADER,
                                                      "INV1,2001,2025-01-15,,,4020,Dues,1,300.00,300.00")),
                  "--home", str(books.home))
    assert refused.code == 3 and "reduce the payments' applications first" in refused.output
    books.invoke("payments", "edit", "R1", "--apply", "INV1=300.00")
    books.reimport("invoices", "INV1,2001,2025-01-15,,,4020,Dues,1,300.00,300.00")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert {(r["Type"], r["Number"]) for r in log} == {("Invoice", "INV1"), ("Payment", "R1")}
    pay_action = next(r["Action in QuickBooks"] for r in log if r["Type"] == "Payment")
    assert "applications released first, then applied again" in pay_action
    inv, pay = books.doc("Invoice", "INV1"), books.payment("R1")
    # Every change to what is applied raises the invoice's SyncToken, as QuickBooks Online does: applied by
    # the first sync (1), released (2), updated (3), applied again (4).
    assert (inv["TotalAmt"], inv["Balance"], inv["SyncToken"]) == (Decimal("300.00"), Decimal("0.00"), "4")
    assert pay["SyncToken"] == "2"  # released, then applied again
    assert [(ln["Amount"], ln["LinkedTxn"][0]["TxnId"]) for ln in pay["Line"]] == [(Decimal("300.00"), inv["Id"])]
    assert (pay["TotalAmt"], pay["UnappliedAmt"]) == (Decimal("325.00"), Decimal("25.00"))
    books.reconciles(cli)


def test_a_paid_invoice_corrected_later_is_not_a_conflict(books: Books, cli) -> None:  # noqa: ANN001
    """R1 paid INV1 in the first sync, which raised INV1's SyncToken in QuickBooks Online. booksync recorded
    that version, so correcting INV1 later is not mistaken for an edit made in QuickBooks (a conflict that
    would stop the run)."""
    inv = books.doc("Invoice", "INV1")
    assert inv["SyncToken"] == "1"  # moved by R1's application, not by anyone's edit
    books.reimport("invoices", "INV1,2001,2025-01-15,,Renewal,4020,Dues,1,325.00,325.00")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert {(r["Type"], r["Number"]) for r in log} == {("Invoice", "INV1"), ("Payment", "R1")}
    assert not any("Conflict" in (r.get("Note") or "") for r in log)
    assert books.doc("Invoice", "INV1")["PrivateNote"].startswith("Renewal")
    books.reconciles(cli)


def test_an_invoice_edited_in_quickbooks_before_a_payment_stays_a_conflict(books: Books, cli) -> None:  # noqa: ANN001
    """A QuickBooks Online user edits INV2, then booksync applies a new payment to it: the version that payment
    gives INV2 is not taken as booksync's own, so a later correction of INV2 still stops as a conflict."""
    inv = books.doc("Invoice", "INV2")
    books.company.update("Invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"], "sparse": True,
                                     "PrivateNote": "edited by the bookkeeper"})
    path = write_csv(books.tmp, "r9.csv", PAYMENT_HEADER, "R9,2002,2025-02-01,10.00,Check,9009,1050,,INV2,10.00,,")
    assert "1 added" in books.invoke("import", "payments", str(path))
    first, _ = books.sync(cli)
    assert first.code == 0, str(first)
    books.reimport("invoices", INVOICES["INV2"].replace(",,,", ",,Changed,", 1))
    result, _ = books.sync(cli)
    assert result.code == 3 and "edited in QuickBooks after booksync wrote it" in result.output, str(result)


# ---------------------------------------------------------------------- payments


def test_payment_deleted(books: Books, cli) -> None:  # noqa: ANN001
    pay_id = books.payment("R3")["Id"]
    books.invoke("payments", "delete", "R3")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert actions(log) == {("Payment", "R3", "deleted")}
    assert books.company.find("Payment", pay_id) is None
    assert books.doc("Invoice", "INV3")["Balance"] == Decimal("85.00")  # open again
    books.reconciles(cli)


def test_payment_amount_edited_and_its_applications_applied_again(books: Books, cli) -> None:  # noqa: ANN001
    """R4 paid INV4 with 175 cash and CM1's 25 credit; the receipt is re-imported with 150 cash: the Payment's lines
    are sent whole (lines are all-or-none, reference §2): the invoice line (cash + credit) and the credit memo line."""
    path = write_csv(books.tmp, "r4.csv", PAYMENT_HEADER, "R4,2004,2025-01-22,150.00,Check,1004,1050,,INV4,150.00,"
                     "CM1,25.00")
    assert "1 updated" in books.invoke("import", "payments", str(path))
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert actions(log) == {("Payment", "R4", "changed")}
    assert log[0]["Amount before"] == "175.00" and log[0]["Amount after"] == "150.00"
    pay, inv, cm = books.payment("R4"), books.doc("Invoice", "INV4"), books.doc("CreditMemo", "CM1")
    assert (pay["TotalAmt"], pay["UnappliedAmt"], pay["SyncToken"]) == (Decimal("150.00"), Decimal("0.00"), "1")
    assert sorted((ln["LinkedTxn"][0]["TxnType"], ln["Amount"]) for ln in pay["Line"]) == [
        ("CreditMemo", Decimal("25.00")), ("Invoice", Decimal("175.00"))]  # 150 cash + 25 credit
    assert inv["Balance"] == Decimal("25.00") and cm["RemainingCredit"] == Decimal("0.00")
    books.reconciles(cli)


def test_payment_moves_to_another_member_and_its_applications_change(books: Books, cli) -> None:  # noqa: ANN001
    """CustomerRef and the lines change in one sparse Payment update; INV3 is open again, INV2 partly paid."""
    pay_id = books.payment("R3")["Id"]
    books.invoke("payments", "edit", "R3", "--member", "2002", "--apply", "INV2=5.00")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Number"] == "R3" and "member:" in entry["What changed"] and "applied to:" in entry["What changed"]
    pay = books.company.find("Payment", pay_id)
    pine = next(c for c in books.company.entities["Customer"].values() if c["DisplayName"] == "Pine Hardware")
    assert pay["CustomerRef"]["value"] == pine["Id"] and pay["SyncToken"] == "1"
    assert [(ln["Amount"], ln["LinkedTxn"][0]["TxnId"]) for ln in pay["Line"]] == [
        (Decimal("5.00"), books.doc("Invoice", "INV2")["Id"])]
    assert pay["UnappliedAmt"] == Decimal("80.00")
    assert books.doc("Invoice", "INV3")["Balance"] == Decimal("85.00")
    assert books.doc("Invoice", "INV2")["Balance"] == Decimal("165.00")
    books.reconciles(cli)


def test_cancel_at_the_log_or_no_at_the_confirmation_writes_nothing(books: Books, cli) -> None:  # noqa: ANN001
    books.invoke("invoices", "void", "INV5")
    state, writes = books.state(), books.srv.double.writes()
    cancelled = cli("sync", "--home", str(books.home), input="c\n")
    assert cancelled.code == 4 and "Cancelled at the Corrections Log" in cancelled.stdout, str(cancelled)
    declined = cli("sync", "--home", str(books.home), input="p\nn\n")
    assert declined.code == 4 and "QuickBooks Corrections Log" in declined.stdout and "INV5" in declined.stdout
    unattended = cli("sync", "--yes", "--home", str(books.home))
    assert unattended.code == 2 and "--corrections-log" in unattended.output  # usage, nobody declined
    assert books.state() == state and books.srv.double.writes() == writes


# ---------------------------------------------------------------------- customers


def _rename(books: Books, name: str) -> None:
    row = MEMBERS[1].replace("Pine Hardware,Pine Hardware", f"{name},{name}")
    path = write_csv(books.tmp, f"m-{time.monotonic_ns()}.csv", MEMBER_HEADER, row)
    assert "1 updated" in books.invoke("import", "members", str(path))


def test_member_renamed(books: Books, cli) -> None:  # noqa: ANN001
    """A sparse Customer update with every field booksync manages; the Id (and so the history) stays."""
    before = next(c for c in books.company.entities["Customer"].values() if c["DisplayName"] == "Pine Hardware")
    _rename(books, "Pine Hardware & Garden")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    assert actions(log) == {("Customer", "2002", "customer details changed")}
    assert "Pine Hardware -> Pine Hardware & Garden" in log[0]["What changed"]
    after = books.company.find("Customer", before["Id"])
    assert (after["DisplayName"], after["CompanyName"], after["SyncToken"]) == (
        "Pine Hardware & Garden", "Pine Hardware & Garden", "1")
    assert books.doc("Invoice", "INV2")["CustomerRef"]["value"] == before["Id"]
    books.reconciles(cli)


def test_member_renamed_to_a_vendors_name_is_stopped(books: Books, cli) -> None:  # noqa: ANN001
    """DisplayName is unique across customers, vendors and employees (6240): the planner stops first."""
    vendor = next(iter(books.company.entities["Vendor"].values()))["DisplayName"]
    state = books.state()
    _rename(books, vendor)
    result, log = books.sync(cli)
    assert result.code == 3 and "already uses" in result.stdout and vendor in result.stdout, str(result)
    assert log == [] and books.state() == state


# ---------------------------------------------------------------------- edited in QuickBooks Online (SyncToken)


def _edit_in_qbo(books: Books, entity: str, number: str) -> dict[str, Any]:
    """A QuickBooks Online user edits the document's private note: its SyncToken moves on."""
    doc = books.doc(entity, number)
    with books.srv.double.lock:
        return books.company.update(entity, {"Id": doc["Id"], "SyncToken": doc["SyncToken"], "sparse": True,
                                             "PrivateNote": "Edited by the bookkeeper"})


@pytest.mark.parametrize("choice", ["stop", "overwrite", "skip"])
def test_an_invoice_edited_in_quickbooks_online_then_changed_in_billing(choice, books: Books,
                                                                         cli) -> None:  # noqa: ANN001
    edited = _edit_in_qbo(books, "Invoice", "INV2")
    assert edited["SyncToken"] == "1"
    books.reimport("invoices", "INV2,2002,2025-01-16,,,4100,Gala,1,77.00,77.00")
    state = books.state()
    result, log = books.sync(cli, *(() if choice == "stop" else ("--on-conflict", choice)))
    inv = books.doc("Invoice", "INV2")
    if choice == "stop":
        assert result.code == 3, str(result)
        assert "edited in QuickBooks after booksync wrote it (EditSequence 0 when written, 1 now" in result.stdout
        assert "--on-conflict" in result.stdout
        assert log == [] and books.state() == state
    elif choice == "skip":
        assert result.code == 0 and "1 conflict(s) skipped" in result.stdout, str(result)
        assert books.state() == state and inv["TotalAmt"] == Decimal("170.00")
    else:
        assert result.code == 0, str(result)
        assert "Conflict" in log[0]["Note"] and "overwritten" in log[0]["Note"]
        assert (inv["TotalAmt"], inv["SyncToken"]) == (Decimal("77.00"), "2")
        assert "Edited by the bookkeeper" not in inv["PrivateNote"]  # the billing store's version wins
        books.reconciles(cli)


def _sync_interactively(home: Path, between) -> tuple[int, str]:  # noqa: ANN001
    """`booksync sync` at a terminal: preview the Corrections Log, then — while the confirmation question waits —
    call ``between()``, then answer yes. Returns (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if k != "BOOKSYNC_HOME"}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "booksync.cli.main", "sync", "--home", str(home)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            cwd=tempfile.gettempdir())
    out = b""
    deadline = time.monotonic() + 120
    try:
        assert proc.stdin is not None and proc.stdout is not None
        answered = set()
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                out += chunk
            text = out.decode("utf-8", "replace")
            if "[c]ancel" in text and "log" not in answered:
                answered.add("log")
                proc.stdin.write(b"p\n")
                proc.stdin.flush()
            if "update QuickBooks with the synchronization changes now?" in text and "yes" not in answered:
                answered.add("yes")
                between()
                proc.stdin.write(b"y\n")
                proc.stdin.flush()
        out += proc.stdout.read() or b""
        return proc.wait(timeout=30), out.decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_an_invoice_edited_in_quickbooks_online_while_the_confirmation_waits(books: Books) -> None:
    """The edit lands between booksync's reading and its writing: QuickBooks Online refuses the stale SyncToken
    (5010); booksync reports it, writes nothing over the bookkeeper's edit, and the next sync sees the conflict."""
    books.reimport("invoices", "INV2,2002,2025-01-16,,,4100,Gala,1,150.00,150.00")
    code, output = _sync_interactively(books.home, lambda: _edit_in_qbo(books, "Invoice", "INV2"))
    assert code == 5, output
    assert "Stale Object Error" in output and "INV2" in output
    inv = books.doc("Invoice", "INV2")
    assert (inv["TotalAmt"], inv["SyncToken"], inv["PrivateNote"]) == (Decimal("170.00"), "1",
                                                                       "Edited by the bookkeeper")
    again = subprocess.run([sys.executable, "-m", "booksync.cli.main", "sync", "--yes", "--corrections-log",
                            str(books.tmp / "again.csv"), "--home", str(books.home)], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}, cwd=tempfile.gettempdir())
    assert again.returncode == 3 and "edited in QuickBooks after booksync wrote it" in again.stdout, again.stdout


# ---------------------------------------------------------------------- closed books (BookCloseDate)


@pytest.mark.parametrize("policy", ["stop", "adjust"])
def test_a_closed_invoice_changes(policy, books: Books, cli) -> None:  # noqa: ANN001
    """Dated on or before Preferences.AccountingInfoPrefs.BookCloseDate: stop lists it; adjust leaves it and posts
    the difference today as a credit memo (QuickBooks Online refuses changes in a closed period: 6210)."""
    books.company.book_close_date = "2025-06-30"
    books.reimport("invoices", "INV2,2002,2025-01-16,,,4100,Gala,1,150.00,150.00")
    state = books.state()
    result, log = books.sync(cli, *(() if policy == "stop" else ("--closed-period-policy", "adjust")))
    if policy == "stop":
        assert result.code == 3 and "closing date (2025-06-30)" in result.stdout and "INV2" in result.stdout
        assert log == [] and books.state() == state
        return
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Closed"] == "yes" and "credit memo" in entry["Action in QuickBooks"]
    inv = books.doc("Invoice", "INV2")
    assert (inv["TotalAmt"], inv["SyncToken"]) == (Decimal("170.00"), "0")  # the closed invoice is untouched
    (adjustment,) = [c for c in books.company.entities["CreditMemo"].values()
                     if c["TxnDate"] > "2025-06-30"]
    assert adjustment["TotalAmt"] == Decimal("20.00") and adjustment["TxnDate"] == dt.date.today().isoformat()
    assert adjustment["CustomerRef"]["value"] == inv["CustomerRef"]["value"]
    books.reconciles(cli)


def test_the_double_refuses_changes_in_a_closed_period() -> None:
    """The rule the planner avoids, as QuickBooks Online applies it (6210, reference §6 "Closed books")."""
    from booksync.qbo_double import QboDouble

    double = QboDouble()
    company = double.company
    customer = company.create("Customer", {"DisplayName": "A"})
    income = next(a["Id"] for a in company.entities["Account"].values() if a["AccountType"] == "Income")
    item = company.create("Item", {"Name": "Dues", "IncomeAccountRef": {"value": income}})
    line = {"DetailType": "SalesItemLineDetail", "Amount": Decimal("10.00"),
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}
    inv = company.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2025-01-15",
                                     "Line": [line]})
    company.book_close_date = "2025-06-30"
    for attempt in (lambda: company.update("Invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True,
                                                       "PrivateNote": "x"}),
                    lambda: company.void("Invoice", {"Id": inv["Id"], "SyncToken": "0"}),
                    lambda: company.delete("Invoice", {"Id": inv["Id"], "SyncToken": "0"})):
        with pytest.raises(Fault) as refused:
            attempt()
        assert refused.value.errors[0]["code"] == "6210"
    assert company.find("Invoice", inv["Id"])["SyncToken"] == "0"


# ---------------------------------------------------------------------- deposited payments (6540)


def test_a_deposited_payment_cannot_be_changed_in_quickbooks_online(books: Books) -> None:
    """What makes the deposit steps necessary: the double refuses a change, void or delete of a deposited payment
    with 6540 (reference §3.4)."""
    books.deposit("R1")
    pay = books.payment("R1")
    company = books.company
    for attempt in (lambda: company.update("Payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"],
                                                       "sparse": True, "TxnDate": "2025-01-25"}),
                    lambda: company.void("Payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"]}),
                    lambda: company.delete("Payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"]})):
        with pytest.raises(Fault) as refused:
            attempt()
        assert refused.value.errors[0]["code"] == "6540"


def test_date_change_of_a_deposited_payment_is_corrected_around_its_deposit(books: Books, cli) -> None:  # noqa: ANN001
    """The payment is taken out of the deposit behind a DepositLineDetail line of the same amount (Undeposited
    Funds, the placeholder memo), corrected, and linked again: the deposit's total and account never move."""
    deposit = books.deposit("R1", "R3")
    pay_id = books.payment("R1")["Id"]
    books.invoke("payments", "edit", "R1", "--date", "2025-01-25")
    result, log = books.sync(cli)
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Action in QuickBooks"].startswith("taken out of the deposit, changed")
    assert "put back" in entry["Action in QuickBooks"] and "total and account are unchanged" in entry["Note"]
    after = books.company.find("Deposit", deposit["Id"])
    assert (after["TotalAmt"], after["SyncToken"]) == (Decimal("410.00"), "2")
    assert after["DepositToAccountRef"] == deposit["DepositToAccountRef"]
    assert sorted(ln["LinkedTxn"][0]["TxnId"] for ln in after["Line"]) == sorted(
        ln["LinkedTxn"][0]["TxnId"] for ln in deposit["Line"])  # no placeholder line left
    pay = books.company.find("Payment", pay_id)
    assert (pay["TxnDate"], pay["SyncToken"]) == ("2025-01-25", "1")
    assert books.company.deposited[pay_id] == deposit["Id"]
    books.reconciles(cli)


def test_the_double_returns_linked_deposit_lines_without_an_id(books: Books) -> None:
    """As QuickBooks Online does (ruckus/quickbooks-ruby spec/fixtures/deposit.xml): a linked payment line has no
    Id; the direct line after it is Id 1."""
    deposit = books.fee_deposit("R1")
    assert "Id" not in deposit["Line"][0] and deposit["Line"][1]["Id"] == "1"


def test_a_deposit_with_lines_without_id_keeps_every_line_when_a_payment_is_corrected(books: Books,
                                                                                       cli) -> None:  # noqa: ANN001
    """Issue 17 item 17: linked lines have no Id and a direct line (a processor fee) has Id 1; correcting one
    payment keeps the other linked line and the fee line as they were, none dropped or doubled."""
    deposit = books.fee_deposit("R1", "R3")
    books.invoke("payments", "edit", "R3", "--date", "2025-01-26")
    result, _ = books.sync(cli)
    assert result.code == 0, str(result)
    after = books.company.find("Deposit", deposit["Id"])
    assert after["TotalAmt"] == deposit["TotalAmt"] == Decimal("405.00")
    linked = sorted(ln["LinkedTxn"][0]["TxnId"] for ln in after["Line"] if ln.get("LinkedTxn"))
    assert linked == sorted([books.payment("R1")["Id"], books.payment("R3")["Id"]])
    direct = [ln for ln in after["Line"] if not ln.get("LinkedTxn")]
    assert [(ln["Id"], ln["Amount"], ln.get("Description")) for ln in direct] == [("1", Decimal("-5.00"), "Card fee")]
    assert books.payment("R3")["TxnDate"] == "2025-01-26"
    books.reconciles(cli)


def test_a_throttle_answered_with_403_is_waited_out_not_reported_as_lost_rights(books: Books,
                                                                               cli) -> None:  # noqa: ANN001
    """Issue 17 item 17: Intuit has answered throttled calls with HTTP 403 and fault 3001, in XML
    (ruckus/quickbooks-ruby#338, routablehq/python-quickbooks#43). The sync pauses and retries them and completes;
    a 403 used to stop the run saying the user may have lost admin rights."""
    books.invoke("payments", "edit", "R3", "--date", "2025-01-26")
    books.srv.double.throttle_next(2, status=403)
    result, log = books.sync(cli)
    assert result.code == 0 and "QuickBooks was updated" in result.stdout, str(result)
    assert "admin rights" not in result.output and "reconnect" not in result.output.lower()
    assert books.srv.double.stats.throttled == 2
    assert books.payment("R3")["TxnDate"] == "2025-01-26" and len(log) == 1
    books.reconciles(cli)


def test_an_edit_that_changes_nothing_leaves_the_deposit_alone_in_quickbooks_online(books: Books,
                                                                                     cli) -> None:  # noqa: ANN001
    """Issue 17 item 1 on QuickBooks Online: a memo set to the value it had plans nothing (it used to end
    "0 operation(s) applied" with a placeholder line left in the deposit)."""
    books.deposit("R1", "R3")
    before = books.state()
    books.invoke("payments", "edit", "R1", "--memo", "")
    books.invoke("payments", "edit", "R1", "--memo", "Paid at the gala")  # changed, then changed back
    books.invoke("payments", "edit", "R1", "--memo", "")
    for _ in range(2):
        result, log = books.sync(cli)
        assert result.code == 0 and "Nothing to synchronize" in result.stdout, str(result)
        assert log == [] and books.state() == before
    books.reconciles(cli)


def test_amount_change_of_a_deposited_payment_stops_then_goes_through_when_allowed(books: Books,
                                                                                   cli) -> None:  # noqa: ANN001
    deposit = books.deposit("R1", "R3")
    books.invoke("payments", "edit", "R1", "--amount", "300.00", "--apply", "INV1=300.00")
    state = books.state()
    stopped, log = books.sync(cli)
    assert stopped.code == 3, str(stopped)
    assert "the deposit of 2025-01-31 to Checking" in stopped.stdout
    assert "remove the payment from the deposit" in stopped.stdout and "no longer reconciled" in stopped.stdout
    assert "--allow-deposit-changes" in stopped.stdout
    assert log == [] and books.state() == state
    allowed, log = books.sync(cli, "--allow-deposit-changes")
    assert allowed.code == 0, str(allowed)
    (entry,) = log
    assert "re-reconcile this deposit" in entry["Note"] and "410.00 to 385.00" in entry["Note"]
    after = books.company.find("Deposit", deposit["Id"])
    assert after["TotalAmt"] == Decimal("385.00")
    pay = books.payment("R1")
    assert pay["TotalAmt"] == Decimal("300.00") and books.company.deposited[pay["Id"]] == deposit["Id"]
    assert books.doc("Invoice", "INV1")["Balance"] == Decimal("25.00")
    books.reconciles(cli)


def test_deleting_the_only_payment_of_a_deposit(books: Books, cli) -> None:  # noqa: ANN001
    deposit = books.deposit("R3")
    pay_id = books.payment("R3")["Id"]
    books.invoke("payments", "delete", "R3")
    state = books.state()
    stopped, _ = books.sync(cli)
    assert stopped.code == 3 and "delete the deposit (the payment is its only line)" in stopped.stdout, str(stopped)
    assert books.state() == state
    allowed, log = books.sync(cli, "--allow-deposit-changes")
    assert allowed.code == 0, str(allowed)
    (entry,) = log
    assert "was deleted" in entry["Note"]
    assert books.company.find("Deposit", deposit["Id"]) is None and books.company.find("Payment", pay_id) is None
    assert books.company.deposited == {}
    books.reconciles(cli)


def test_the_zeroing_void_of_a_credit_memo_keeps_its_marker_and_the_4000_limit() -> None:
    """void_credit_memo_body: every SalesItemLine back with its Id, 0.00 and Qty 0; "Voided - " before the memo,
    booksync's marker kept on its own line, PrivateNote ≤ 4000 (reference §4) even after a 3950-character memo."""
    from booksync.books.online.bodies import marker, private_note, void_credit_memo_body
    from booksync.domain import Action, Kind, Operation

    guid = "{6F1A2B3C-0000-4000-8000-000000000001}"
    row = {"Id": "7", "SyncToken": "3", "PrivateNote": private_note("m" * 3950, guid),
           "Line": [{"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": Decimal("40.00"), "Description": "Tier",
                     "SalesItemLineDetail": {"ItemRef": {"value": "5"}, "Qty": Decimal("1"),
                                             "UnitPrice": Decimal("40.00")}},
                    {"DetailType": "SubTotalLineDetail", "Amount": Decimal("40.00"), "SubTotalLineDetail": {}}]}
    op = Operation(seq=1, action=Action.VOID, kind=Kind.CREDIT_MEMO, local_id=1, number="CM2", description="void",
                   payload=None, remote_id="7", edit_sequence="3")
    body = void_credit_memo_body(op, {"credit_memos": {"7": row}})
    assert body["Line"] == [{"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": Decimal("0.00"),
                             "Description": "Tier", "SalesItemLineDetail": {"ItemRef": {"value": "5"},
                                                                            "Qty": Decimal("0"),
                                                                            "UnitPrice": Decimal("40.00")}}]
    note = body["PrivateNote"]
    assert note.startswith("Voided - mmm") and note.endswith("\n" + marker(guid)) and len(note) == 4000
    assert void_credit_memo_body(op, {"credit_memos": {"7": {**row, "PrivateNote": note}}})["PrivateNote"] == note
