"""Issue 17 items 8 and 9: an editing command applies the import's own checks (deposit account type, invoice
balances, ...), and the sync's advice never proposes a cross reference the account rules refuse."""
from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from conftest import demo_csv

PAYMENT_HEADER = ("number,member,date,amount,method,reference,deposit_account,memo,apply_to,apply_amount,"
                  "apply_credit_memo,apply_credit_amount")


def payment_row(number: str) -> dict[str, str]:
    (row,) = [r for r in demo_csv("payments.csv") if r["number"] == number]
    return row


def write(folder: Path, name: str, *lines: str) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_payments_edit_refuses_an_income_deposit_account_as_the_import_does(nosync_copy, cli, billing_db, tmp_path):
    """Before: `payments edit R20005 --deposit-account 4100` was accepted although the import refuses it."""
    home = str(nosync_copy.path)
    billing = billing_db(nosync_copy.path / "billing.db")
    before = billing.fingerprint()
    refused = cli("payments", "edit", "R20005", "--deposit-account", "4100", "--home", home)
    assert refused.code == 3, refused
    reason = ("G/L account 4100 Event Registrations is of type Income; a payment is deposited to a Bank or "
              "Other Current Asset account (normally Undeposited Funds)")
    assert f"Not changed: --deposit-account: {reason} (value '4100')." in refused.stderr
    assert billing.fingerprint() == before
    r = payment_row("R20005")
    imported = cli("import", "payments", str(write(tmp_path, "p.csv", PAYMENT_HEADER, ",".join(
        [r["number"], r["member"], r["date"], r["amount"], r["method"], r["reference"], "4100", r["memo"],
         r["apply_to"], r["apply_amount"], "", ""]))), "--home", home)
    assert imported.code == 3 and reason in imported.output, "the same rule, the same words"
    assert billing.fingerprint() == before


def test_payments_edit_checks_the_invoice_balance_as_the_import_does(nosync_copy, cli, billing_db):
    """Before: applying more than an invoice's balance was accepted by `payments edit`, and the sync stopped
    half way at QuickBooks' 3210."""
    home = str(nosync_copy.path)
    billing = billing_db(nosync_copy.path / "billing.db")
    r = payment_row("R20001")
    before = billing.fingerprint()
    over = str(Decimal(r["apply_amount"]) + Decimal("14.43"))
    refused = cli("payments", "edit", "R20001", "--amount", over, "--apply", f"{r['apply_to']}={over}",
                  "--home", home)
    assert refused.code == 3, refused
    assert (f"Not changed: --apply {r['apply_to']}={over}: invoice {r['apply_to']} has {r['apply_amount']} left to "
            f"pay (total {r['apply_amount']}); this edit applies {over} to it.") in refused.stderr
    other = payment_row("R20002")
    refused = cli("payments", "edit", "R20001", "--apply", f"{other['apply_to']}=5.00", "--home", home)
    assert refused.code == 3 and f"the invoice belongs to member {other['member']}, not {r['member']}" \
        in refused.stderr
    assert billing.fingerprint() == before
    same = cli("payments", "edit", "R20001", "--memo", r["memo"], "--amount", r["amount"], "--home", home)
    assert same.code == 0 and "already holds these values; nothing changed" in same.stdout
    assert billing.fingerprint() == before, "an edit that changes nothing keeps the payment's change time"
    changed = cli("payments", "edit", "R20001", "--memo", "paid at the desk", "--home", home)
    assert changed.code == 0 and "changed; the next sync carries it" in changed.stdout
    assert billing.value("SELECT memo FROM payments WHERE number='R20001'") == "paid at the desk"


def test_a_payment_in_an_income_account_is_advised_to_move_never_to_remap_the_account(nosync_copy, cli, company_db):
    """A payment recorded to an income G/L account before the check (the old `payments edit`): the sync stops
    before writing and advises moving the payment to a deposit account; before, it advised cross-referencing
    the income account to Undeposited Funds, which the account rules refuse."""
    home = str(nosync_copy.path)
    db = sqlite3.connect(str(nosync_copy.path / "billing.db"))
    try:
        db.execute("UPDATE payments SET deposit_account_id=(SELECT id FROM gl_accounts WHERE number='4100') "
                   "WHERE number='R20005'")
        db.commit()
    finally:
        db.close()
    company = company_db(nosync_copy.company)
    before = company.fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 3, result
    assert "payment R20005" in result.stdout
    assert "deposits to G/L account 4100 Event Registrations of type Income" in result.stdout
    assert f"booksync payments edit --home {home} R20005 --deposit-account 1050" in result.stdout
    assert "--set 4100" not in result.stdout
    assert result.writes == [] and company.fingerprint() == before


def test_a_payment_entered_in_quickbooks_stops_the_sync_before_anything_is_written(demo_copy, cli, company_db,
                                                                                   tmp_path):
    """Item 9: the billing store's checks cannot see a payment entered directly in QuickBooks. Before, the sync
    sent its plan and stopped half way at QuickBooks' 3210; now it reads the invoices' open balances first and
    stops (exit 3, nothing written), naming the invoice, the amounts and both payments."""
    from booksync.qbxml import build
    from booksync.qbxml.parse import parse_response
    from booksync.simulator import open_company

    from test_corrections import paid_and_unpaid

    _, unpaid = paid_and_unpaid()
    lines = [r for r in demo_csv("invoices.csv") if r["number"] == unpaid]
    member, total = lines[0]["member"], lines[0]["amount"]
    company = company_db(demo_copy.company)
    (invoice,) = company.rows("SELECT txn_id, customer_id FROM txns WHERE txn_type='Invoice' AND ref_number=?",
                              unpaid)
    with open_company(demo_copy.company) as qb:
        (answer,) = parse_response(qb.process(build.message([build.request("ReceivePaymentAdd", {
            "CustomerRef": {"ListID": invoice["customer_id"]}, "TxnDate": "2026-02-02", "RefNumber": "5501",
            "TotalAmount": total, "DepositToAccountRef": {"FullName": "Undeposited Funds"},
            "AppliedToTxnAdd": [{"TxnID": invoice["txn_id"], "PaymentAmount": total}]}, 1)])))
        answer.raise_for_status()
        entered = answer.rets[0].findtext("TxnID")
    home = str(demo_copy.path)
    payment = write(tmp_path, "p.csv", PAYMENT_HEADER,
                    f"R99001,{member},2026-02-03,{total},Check,5501,1050,,{unpaid},{total},,")
    assert cli("import", "payments", str(payment), "--home", home).code == 0, "the store knows of no other payment"
    before = company.fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 3, result
    assert (f"invoice {unpaid}: payment R99001 would apply {total} to it, but QuickBooks holds only 0.00 of it "
            f"open (total {total}; {total} of it is paid in QuickBooks by a payment booksync did not write: "
            f"payment 5501 (TxnID {entered}) applies {total})") in " ".join(result.stdout.split())
    assert f"booksync payments edit --home {home} R99001 --apply {unpaid}=AMOUNT" in result.stdout
    assert result.writes == [] and company.fingerprint() == before
    assert cli("payments", "delete", "R99001", "--home", home).code == 0
    assert cli("sync", "--yes", "--home", home).code == 0


def test_payments_edit_names_only_its_own_date_form(nosync_copy, cli, billing_db):
    """Before: a US date given to `payments edit --date` advised "--date-format us", an option of the import
    that `payments edit` does not have."""
    home = str(nosync_copy.path)
    billing = billing_db(nosync_copy.path / "billing.db")
    before = billing.fingerprint()
    refused = cli("payments", "edit", "R20001", "--date", "01/15/2025", "--home", home)
    assert refused.code == 3, refused
    assert "Not changed: --date: is not a date in the form YYYY-MM-DD (value '01/15/2025')." in refused.stderr
    assert "--date-format" not in refused.output
    assert billing.fingerprint() == before
