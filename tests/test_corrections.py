"""Corrections through the real CLI, on the demo after a first full sync: the company ends in the right
state, the Corrections Log lists exactly the corrections with before and after, reconcile agrees, and
cancelling at the log or answering no writes nothing."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import demo_csv

INVOICE_HEADER = "number,member,date,due_date,memo,gl_account,description,quantity,rate,amount\n"


def invoice_rows(number: str) -> list[dict[str, str]]:
    return [r for r in demo_csv("invoices.csv") if r["number"] == number]


def write_invoice(tmp_path: Path, number: str, amount: str) -> Path:
    """The demo invoice NUMBER with its (single) line re-priced to AMOUNT, as a CSV to re-import."""
    (row,) = invoice_rows(number)
    path = tmp_path / f"{number}.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({**row, "quantity": "1", "rate": amount, "amount": amount})
    return path


def paid_and_unpaid() -> tuple[tuple[str, str, str], str]:
    """(a single-line invoice paid in full by a single-application payment: invoice, payment, amount), and an
    unpaid single-line invoice."""
    payments = demo_csv("payments.csv")
    apps_per_payment: dict[str, int] = {}
    apps_per_invoice: dict[str, int] = {}
    for p in payments:
        apps_per_payment[p["number"]] = apps_per_payment.get(p["number"], 0) + 1
        if p["apply_to"]:
            apps_per_invoice[p["apply_to"]] = apps_per_invoice.get(p["apply_to"], 0) + 1
    lines: dict[str, int] = {}
    for r in demo_csv("invoices.csv"):
        lines[r["number"]] = lines.get(r["number"], 0) + 1
    paid = next((p["apply_to"], p["number"], p["apply_amount"]) for p in payments
                if p["apply_to"] and apps_per_payment[p["number"]] == 1 and apps_per_invoice[p["apply_to"]] == 1
                and lines[p["apply_to"]] == 1 and p["apply_amount"] == p["amount"] and not p["apply_credit_memo"])
    unpaid = next(n for n in lines if lines[n] == 1 and n not in apps_per_invoice)
    return paid, unpaid


def txn(db, number: str, txn_type: str = "Invoice"):  # noqa: ANN001
    rows = db.rows("SELECT * FROM txns WHERE ref_number=? AND txn_type=?", number, txn_type)
    return rows[0] if rows else None


def sync_with_log(cli, home: str, *extra: str):  # noqa: ANN001
    log = Path(home) / "log.csv"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", home, *extra)
    rows = list(csv.DictReader(log.open())) if log.exists() else []
    return result, rows


def agrees(cli, home: str) -> None:  # noqa: ANN001
    result = cli("reconcile", "--home", home)
    assert result.code == 0 and "zero differences" in result.stdout, str(result)


def test_unpaid_invoice_amount_changes(demo_copy, cli, company_db, tmp_path):
    """The invoice changed in QuickBooks (InvoiceMod) with the new amount; the log shows the line before -> after."""
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("import", "invoices", str(write_invoice(tmp_path, unpaid, "12.34")), "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert [(r["Type"], r["Number"], r["Action in QuickBooks"]) for r in log] == [("Invoice", unpaid, "changed")]
    assert "12.34" in log[0]["What changed"] and log[0]["Amount after"] == "12.34"
    assert txn(company_db(demo_copy.company), unpaid)["total"] == 1234
    agrees(cli, home)


def test_paid_invoice_shrinks_after_its_payment_is_reduced(demo_copy, cli, company_db, tmp_path):
    """The payment's application is released before the invoice shrinks and applied again after."""
    (invoice, receipt, amount), _ = paid_and_unpaid()
    home = str(demo_copy.path)
    new = str((Decimal(amount) - Decimal("10.00")).quantize(Decimal("0.01")))
    refused = cli("import", "invoices", str(write_invoice(tmp_path, invoice, new)), "--home", home)
    assert refused.code == 3 and "reduce the payments' applications first" in refused.output
    assert cli("payments", "edit", receipt, "--apply", f"{invoice}={new}", "--home", home).code == 0
    assert cli("import", "invoices", str(write_invoice(tmp_path, invoice, new)), "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert {(r["Type"], r["Number"]) for r in log} == {("Invoice", invoice), ("Payment", receipt)}
    db = company_db(demo_copy.company)
    inv = txn(db, invoice)
    assert inv["total"] == int(Decimal(new) * 100)
    assert db.value("SELECT SUM(amount) FROM applications WHERE invoice_id=?", inv["txn_id"]) == inv["total"]
    agrees(cli, home)


def test_payment_deleted(demo_copy, cli, company_db):
    (invoice, receipt, _), _ = paid_and_unpaid()
    home = str(demo_copy.path)
    db = company_db(demo_copy.company)
    memo_before = db.value("SELECT COUNT(*) FROM txns WHERE txn_type='ReceivePayment'")
    assert cli("payments", "delete", receipt, "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert [(r["Number"], r["Action in QuickBooks"]) for r in log] == [(receipt, "deleted")]
    assert db.value("SELECT COUNT(*) FROM txns WHERE txn_type='ReceivePayment'") == memo_before - 1
    assert db.value("SELECT COUNT(*) FROM applications a JOIN txns t ON t.txn_id=a.invoice_id WHERE t.ref_number=?",
                    invoice) == 0
    agrees(cli, home)


def test_payment_moves_to_another_member_and_applications_change(demo_copy, cli, company_db):
    (_, receipt, _), unpaid = paid_and_unpaid()
    (row,) = invoice_rows(unpaid)
    home = str(demo_copy.path)
    assert cli("payments", "edit", receipt, "--member", row["member"], "--apply", f"{unpaid}=5.00",
               "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Number"] == receipt and "member:" in entry["What changed"] and "applied to:" in entry["What changed"]
    db = company_db(demo_copy.company)
    pay = txn(db, receipt, "ReceivePayment") or db.rows("SELECT * FROM txns WHERE memo LIKE ?", f"Receipt {receipt}%")[0]
    assert db.value("SELECT account_number FROM lists WHERE list_id=?", pay["customer_id"]) == row["member"]
    assert db.value("SELECT SUM(amount) FROM applications WHERE payment_id=?", pay["txn_id"]) == 500
    agrees(cli, home)


def test_invoice_and_credit_memo_voided_and_invoice_deleted(demo_copy, cli, company_db):
    _, unpaid = paid_and_unpaid()
    applied_memos = {p["apply_credit_memo"] for p in demo_csv("payments.csv") if p["apply_credit_memo"]}
    memo = next(r["number"] for r in demo_csv("credit_memos.csv") if r["number"] not in applied_memos)
    lines: dict[str, int] = {}
    paid_invoices = {p["apply_to"] for p in demo_csv("payments.csv")}
    for r in demo_csv("invoices.csv"):
        lines[r["number"]] = lines.get(r["number"], 0) + 1
    other = next(n for n in lines if n not in paid_invoices and n != unpaid)
    home = str(demo_copy.path)
    for args in (("invoices", "void", unpaid), ("credit-memos", "void", memo), ("invoices", "delete", other)):
        assert cli(*args, "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert {(r["Number"], r["Action in QuickBooks"]) for r in log} == {
        (unpaid, "voided"), (memo, "voided"), (other, "deleted")}
    db = company_db(demo_copy.company)
    assert txn(db, unpaid)["is_voided"] == 1 and txn(db, unpaid)["total"] == 0
    assert txn(db, memo, "CreditMemo")["total"] == 0
    assert txn(db, other) is None
    agrees(cli, home)


def test_member_renamed(demo_copy, cli, company_db, tmp_path):
    row = next(r for r in demo_csv("members.csv") if r["number"] == "1007")
    path = tmp_path / "members.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({**row, "name": "Smith and Daughters Hardware"})
    home = str(demo_copy.path)
    assert cli("import", "members", str(path), "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert [(r["Type"], r["Action in QuickBooks"]) for r in log] == [("Customer", "customer details changed")]
    assert "Smith & Sons Hardware -> Smith and Daughters Hardware" in log[0]["What changed"]
    assert company_db(demo_copy.company).customer_names()["Smith and Daughters Hardware"] == "1007"
    agrees(cli, home)


def test_member_renamed_to_nothing_storable_gets_the_stand_in_name(demo_copy, cli, company_db, tmp_path):
    """A new name of characters QuickBooks Desktop cannot store (private use, no transliteration) gives the
    customer the stand-in name the add path uses, never an empty CustomerMod Name."""
    row = next(r for r in demo_csv("members.csv") if r["number"] == "1007")
    path = tmp_path / "members.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({**row, "name": "\ue000\ue001\ue002"})
    home = str(demo_copy.path)
    assert cli("import", "members", str(path), "--home", home).code == 0
    result, log = sync_with_log(cli, home)
    assert result.code == 0, str(result)
    assert [(r["Type"], r["Action in QuickBooks"]) for r in log] == [("Customer", "customer details changed")]
    assert company_db(demo_copy.company).customer_names()["Member 1007"] == "1007"
    agrees(cli, home)


def test_member_renamed_to_a_name_quickbooks_uses_is_stopped(demo_copy, cli, company_db, tmp_path):
    row = next(r for r in demo_csv("members.csv") if r["number"] == "1007")
    path = tmp_path / "members.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({**row, "name": "Riverside Office Supply"})  # a vendor of the simulated company
    home = str(demo_copy.path)
    before = company_db(demo_copy.company).fingerprint()
    assert cli("import", "members", str(path), "--home", home).code == 0
    result, _ = sync_with_log(cli, home)
    assert result.code == 3 and "already uses" in result.stdout
    assert company_db(demo_copy.company).fingerprint() == before


@pytest.mark.parametrize("policy", ["stop", "adjust"])
def test_a_closed_transaction_changes(policy, demo_copy, cli, company_db, tmp_path):
    """Dated before the closing date: stop lists it; adjust leaves it and posts the difference today."""
    _, unpaid = paid_and_unpaid()
    (row,) = invoice_rows(unpaid)
    home = str(demo_copy.path)
    assert cli("simulator", "closing-date", "2025-12-31", "--home", home).code == 0
    new = str((Decimal(row["amount"]) - Decimal("20.00")).quantize(Decimal("0.01")))
    assert cli("import", "invoices", str(write_invoice(tmp_path, unpaid, new)), "--home", home).code == 0
    db = company_db(demo_copy.company)
    before = db.fingerprint()
    args = () if policy == "stop" else ("--closed-period-policy", "adjust")
    result, log = sync_with_log(cli, home, *args)
    if policy == "stop":
        assert result.code == 3 and "closing date (2025-12-31)" in result.stdout and unpaid in result.stdout
        assert db.fingerprint() == before
        return
    assert result.code == 0, str(result)
    (entry,) = log
    assert entry["Closed"] == "yes" and entry["Past period"] == "yes" and "credit memo" in entry["Action in QuickBooks"]
    assert txn(db, unpaid)["total"] == int(Decimal(row["amount"]) * 100)  # the closed invoice is untouched
    adjustment = db.rows("SELECT * FROM txns WHERE txn_type='CreditMemo' AND memo LIKE ?", f"%{unpaid}%")
    assert len(adjustment) == 1 and adjustment[0]["total"] == 2000
    agrees(cli, home)


@pytest.mark.parametrize("choice", ["stop", "overwrite", "skip"])
def test_an_invoice_edited_in_quickbooks_then_changed_in_billing(choice, demo_copy, cli, company_db, tmp_path):
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    db = company_db(demo_copy.company)
    inv = txn(db, unpaid)
    edit = tmp_path / "edit.xml"
    edit.write_text('<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
                    f'<InvoiceModRq requestID="1"><InvoiceMod><TxnID>{inv["txn_id"]}</TxnID>'
                    f'<EditSequence>{inv["edit_seq"]}</EditSequence><Memo>Edited by the bookkeeper</Memo>'
                    '</InvoiceMod></InvoiceModRq></QBXMLMsgsRq></QBXML>')
    assert 'statusCode="0"' in cli("simulator", "request", str(edit), "--home", home).stdout
    assert cli("import", "invoices", str(write_invoice(tmp_path, unpaid, "77.00")), "--home", home).code == 0
    before = db.fingerprint()
    args = () if choice == "stop" else ("--on-conflict", choice)
    result, log = sync_with_log(cli, home, *args)
    if choice == "stop":
        assert result.code == 3 and "edited in QuickBooks" in result.stdout and "--on-conflict" in result.stdout
        assert db.fingerprint() == before
    elif choice == "skip":
        assert result.code == 0 and "conflict(s) skipped" in result.stdout
        assert db.fingerprint() == before
    else:
        assert result.code == 0, str(result)
        assert "Conflict" in log[0]["Note"] and txn(db, unpaid)["total"] == 7700


def test_cancel_at_the_log_or_no_at_the_confirmation_writes_nothing(demo_copy, cli, company_db):
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("invoices", "void", unpaid, "--home", home).code == 0
    db = company_db(demo_copy.company)
    before = db.fingerprint()
    cancelled = cli("sync", "--home", home, input="c\n")
    assert cancelled.code == 4 and "Cancelled at the Corrections Log" in cancelled.stdout
    declined = cli("sync", "--home", home, input="p\nn\n")
    assert declined.code == 4 and "QuickBooks Corrections Log" in declined.stdout and unpaid in declined.stdout
    unattended = cli("sync", "--yes", "--home", home)
    # Nobody declined: the unattended run lacks --corrections-log, a usage error (booksync/exits.py).
    assert unattended.code == 2 and "--corrections-log" in unattended.stdout + unattended.stderr
    assert db.fingerprint() == before


def test_the_pdf_log_reads_back(demo_copy, cli):
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("invoices", "void", unpaid, "--home", home).code == 0
    pdf = Path(home) / "log.pdf"
    result = cli("sync", "--yes", "--corrections-log", str(pdf), "--home", home)
    assert result.code == 0, str(result)
    text = " ".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    assert "QuickBooks Corrections Log" in text and unpaid in text and "voided" in text and "Totals of invoices" in text
    for fmt in ("pdf", "html", "csv"):
        assert list(Path(home, "runs").glob(f"*/corrections_log.{fmt}"))
