"""The Corrections Log as the user meets it: through the real CLI, read back from the files written.

Issue 17 item 10: a correction too long for one page (a 200-line invoice, a long memo) used to crash every
sync, dry runs included (fpdf2 cannot break a table row across pages)."""
from __future__ import annotations

import csv
from pathlib import Path

from pypdf import PdfReader

from conftest import demo_csv
from test_corrections import paid_and_unpaid, txn


def pdf_text(path: Path) -> tuple[int, str]:
    pages = PdfReader(str(path)).pages
    return len(pages), " ".join(" ".join(page.extract_text() for page in pages).split())


def write_long_invoice(tmp_path: Path, number: str, lines: int, memo: str = "") -> Path:
    """The demo invoice NUMBER re-imported with LINES lines (and MEMO): line i is 1000.00 + i, so that the log's
    text shows which lines it holds."""
    (row,) = [r for r in demo_csv("invoices.csv") if r["number"] == number]
    path = tmp_path / f"{number}-long.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        for i in range(1, lines + 1):
            writer.writerow({**row, "memo": memo, "description": f"Event ticket number {i:03d}", "quantity": "1",
                             "rate": f"{1000 + i}.00", "amount": f"{1000 + i}.00"})
    return path


def test_a_200_line_invoice_correction_is_logged_over_several_pages(demo_copy, cli, company_db, tmp_path):
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    memo = "Corrected after the board meeting " * 4
    assert cli("import", "invoices", str(write_long_invoice(tmp_path, unpaid, 200, memo)), "--home", home).code == 0

    dry = cli("sync", "--dry-run", "--home", home)
    assert dry.code == 0 and "Dry run" in dry.stdout, str(dry)
    (staged,) = Path(home, "runs").glob("*/corrections_log.pdf")
    pages, text = pdf_text(staged)
    assert pages > 1 and f"page {pages} of {pages}" in text
    assert "1001.00" in text and "1200.00" in text and "(continued)" in text

    log = tmp_path / "log.pdf"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", home)
    assert result.code == 0, str(result)
    pages, text = pdf_text(log)
    assert pages > 1 and unpaid in text and "1001.00" in text and "1200.00" in text
    assert "220100.00" in text and "Corrected after the board meeting" in text
    assert txn(company_db(demo_copy.company), unpaid)["total"] == 22010000


def test_the_gate_reads_in_80_columns_and_the_log_speaks_plainly(demo_copy, cli, tmp_path):
    """Issue 20 item 2: one correction per block at the terminal (nothing cut with an ellipsis in 80 columns);
    the PDF has plain words for what happens in QuickBooks, the G/L accounts and period affected, who prepared
    it, the run, page numbers, and totals per kind of record."""
    (invoice, receipt, _), unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("invoices", "void", unpaid, "--home", home).code == 0
    assert cli("payments", "edit", receipt, "--date", "2025-12-30", "--home", home).code == 0

    gate = cli("sync", "--home", home, input="p\nn\n", env={"COLUMNS": "80"})
    assert gate.code == 4, str(gate)
    blocks = gate.stdout[gate.stdout.index("QuickBooks Corrections Log:"):gate.stdout.index("Synchronization plan")]
    assert "…" not in gate.stdout and max(len(line) for line in blocks.splitlines()) <= 80
    text = " ".join(gate.stdout.split())
    assert f"Invoice {unpaid}" in text and f"Payment {receipt}" in text and "voided" in text
    assert "TxnVoid" not in text and "ReceivePaymentMod" not in text
    assert "date: 20" in text and "2025-12-30" in text

    pdf = tmp_path / "log.pdf"
    result = cli("sync", "--yes", "--corrections-log", str(pdf), "--home", home,
                 env={"BOOKSYNC_PREPARED_BY": "Dana Whitfield"})
    assert result.code == 0, str(result)
    pages, text = pdf_text(pdf)
    assert f"page 1 of {pages}" in text and "Prepared by: Dana Whitfield" in text
    run_dir = sorted(p for p in Path(home, "runs").iterdir() if (p / "corrections_log.pdf").exists())[-1]
    assert f"Run: {run_dir.name}" in text
    for qbxml in ("TxnVoid", "TxnDel", "InvoiceMod", "ReceivePaymentMod", "DepositMod", "CustomerMod"):
        assert qbxml not in text
    assert "voided" in text and "G/L account" in text and "Period" in text
    assert "Totals of invoices" in text and "Totals of payments" in text and "Totals " not in text.replace(
        "Totals of", "")
    with (Path(run_dir) / "corrections_log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["Action in QuickBooks"] for r in rows} == {"voided", "changed"}
    assert all(r["G/L accounts"] and r["Period"] for r in rows)
