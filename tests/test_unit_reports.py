"""Reports as pure functions: the Corrections Log (periods, totals, the CSV, HTML and PDF it writes) and
reconciliation against a fake books port over a small in-memory billing store."""
from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pytest
from fpdf import FPDF
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.books.port import RemoteTxn
from booksync.domain import (PLACEHOLDER_MEMO, Correction, QBAccount, QBCompany, QBCustomer, QBDeposit, QBDepositLine,
                             QBListEntry, QBSnapshot)
from booksync.reports import corrections_log as log
from booksync.reports import reconcile as rec
from booksync.store.db import make_engine
from booksync.store.models import Base, CreditMemo, CreditMemoLine, GLAccount, Invoice, InvoiceLine, Link, Member, Payment

D = Decimal
HEADER = log.LogHeader("Café Co", "20250320-1", dt.date(2025, 3, 20), "Pat", dt.date(2025, 1, 31),
                       dt.date(2025, 3, 1))


def correction(kind: str = "Invoice", number: str = "INV1", before: str | None = "100.00",
               after: str | None = "150.00", **kw) -> Correction:
    fields = dict(member="1001 Acme Widgets", date=dt.date(2025, 2, 3), changes=["lines: a 100.00 -> a 150.00"],
                  action="changed")
    fields.update(kw)
    return Correction(kind, number, amount_before=None if before is None else D(before),
                      amount_after=None if after is None else D(after), **fields)


# ---------------------------------------------------------------------- Corrections Log


@pytest.mark.parametrize("date, length, start, expected", [
    (dt.date(2025, 3, 3), "month", 1, "Mar 2025"),
    (dt.date(2025, 5, 10), "quarter", 1, "quarter from Apr 2025"),
    (dt.date(2025, 1, 15), "quarter", 2, "quarter from Nov 2024"),
    (dt.date(2025, 3, 3), "year", 7, "year from Jul 2024"),
    (dt.date(2025, 7, 1), "year", 7, "year from Jul 2025"),
    (None, "month", 1, ""),
])
def test_the_period_of_a_date_follows_the_fiscal_year(date, length, start, expected):
    assert log.period_of(date, length, start) == expected


def test_totals_are_per_kind_and_leave_out_records_without_amounts():
    rows = [correction(), correction(number="INV2", before="10.00", after="0.00"),
            correction("Payment", "R1", "50.00", None), correction("Customer", "1001", None, None, date=None),
            correction(number="INV3", before=None, after=None)]
    assert log.totals(rows) == [("Totals of invoices (2)", D("110.00"), D("150.00")),
                                ("Totals of payments (1)", D("50.00"), D("0.00"))]
    assert log.totals([]) == []


def test_the_csv_has_a_row_per_correction_in_words(tmp_path):
    rows = [correction(accounts=("4020 Dues", "1050 Undeposited Funds"), past_period=True, note="Re-reconcile."),
            correction("Customer", "1001", None, None, date=None, changes=["name: A -> B", "city: (none) -> Dayton"],
                       action="customer details changed")]
    paths = log.write_log(tmp_path, rows, HEADER)
    with paths["csv"].open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(log.COLUMNS)
    assert table[1] == ["Invoice", "INV1", "1001 Acme Widgets", "2025-02-03", "Feb 2025",
                        "4020 Dues; 1050 Undeposited Funds", "lines: a 100.00 -> a 150.00", "changed", "yes", "no",
                        "100.00", "150.00", "Re-reconcile."]
    assert table[2][3:5] == ["", ""] and table[2][6] == "name: A -> B; city: (none) -> Dayton"
    assert table[2][10:12] == ["", ""]


def test_the_html_escapes_what_the_billing_store_holds(tmp_path):
    paths = log.write_log(tmp_path, [correction(member="1001 <script>alert(1)</script>")], HEADER)
    html = paths["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "1 correction(s); 0 in a past period; 0 on or before the closing date." in html
    assert "Totals of invoices (1)" in html and "Company: Café Co" in html


def test_the_pdf_has_the_header_totals_and_page_numbers(tmp_path):
    paths = log.write_log(tmp_path, [correction(), correction("Payment", "R1", "50.00", "60.00", closed=True)],
                          HEADER)
    reader = PdfReader(paths["pdf"])
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Company: Café Co" in text and "Prepared by: Pat" in text
    assert "2 correction(s); 0 in a past period; 1 on or before the closing date." in text
    assert "Totals of invoices (1) 100.00 150.00" in text and "Totals of payments (1) 50.00 60.00" in text
    assert f"run 20250320-1 - page 1 of {len(reader.pages)}" in text
    assert "CLOSED" in text.split()  # the word fits its column (it was wrapped as "CLOS" / "ED")


def test_the_past_and_closed_marks_fit_their_columns(tmp_path):
    paths = log.write_log(tmp_path, [correction("Payment", "R1", "50.00", "60.00", closed=True, past_period=True)], HEADER)
    words = PdfReader(paths["pdf"]).pages[0].extract_text().split()
    assert "PAST" in words and "CLOSED" in words


def test_a_correction_taller_than_a_page_is_cut_into_continued_rows():
    """fpdf2 cannot break a table row across pages: more than ROW_LINES wrapped lines become several rows, the
    later ones saying "(continued)" under the record's number."""
    pdf = FPDF(orientation="L", unit="mm", format="Letter")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 8)
    widths = tuple(w for _, w in log.PDF_COLUMNS)
    values = ["Invoice", "INV1", "1001 Acme", "2025-02-03", "Feb 2025", "4020 Dues",
              "\n".join(f"line {i}: 1.00 -> 2.00" for i in range(60)), "changed", "no", "no", "1.00", "2.00"]
    pieces = log._pieces(pdf, widths, values)
    assert len(pieces) == 3
    assert [p[1] for p in pieces] == ["INV1", "INV1\n(continued)", "INV1\n(continued)"]
    assert [p[6].count("\n") + 1 for p in pieces] == [log.ROW_LINES, log.ROW_LINES, 60 - 2 * log.ROW_LINES]
    assert log._pieces(pdf, widths, ["x"] * 12) == [["x"] * 12]


# ---------------------------------------------------------------------- reconciliation

KEY = "FILE-1"
CHART = [QBAccount("A-CHK", "Checking", "Bank"),
         QBAccount("A-UF", "Undeposited Funds", "OtherCurrentAsset", special="UndepositedFunds"),
         QBAccount("A-DUES", "Membership Dues", "Income")]


class FakePort:
    """What reconcile asks of a books port: the snapshot, transactions by id, and deposits."""

    company_key = KEY

    def __init__(self) -> None:
        self.balances = {"C-1": D("40.00"), "C-2": D("40.00")}
        self.txns = {"TXN-INV1": RemoteTxn("TXN-INV1", "invoice", "1", "C-1", "2025-01-02", D("100.00"),
                                           lines=[("I-DUES", D("100.00"))]),
                     "TXN-INV2": RemoteTxn("TXN-INV2", "invoice", "1", "C-2", "2025-01-02", D("40.00"),
                                           lines=[("I-DUES", D("40.00"))]),
                     "TXN-CM1": RemoteTxn("TXN-CM1", "credit_memo", "1", "C-1", "2025-01-03", D("10.00"),
                                          lines=[("I-DUES", D("10.00"))]),
                     "TXN-R1": RemoteTxn("TXN-R1", "payment", "1", "C-1", "2025-01-05", D("50.00"),
                                         deposit_account_id="A-UF")}
        self.deposit_lines: tuple[QBDepositLine, ...] = ()
        self.asked: list[tuple[str, list[str]]] = []

    def snapshot(self) -> QBSnapshot:
        return QBSnapshot(QBCompany("Test Co"), list(CHART),
                          [QBListEntry("I-DUES", "4020 Dues", "Item", account_list_id="A-DUES")], [],
                          [QBCustomer(list_id, list_id, list_id, "1", balance) for list_id, balance in
                           self.balances.items()], [])

    def transactions(self, kind: str, remote_ids: list[str]) -> dict[str, RemoteTxn]:
        self.asked.append((kind, sorted(remote_ids)))
        return {i: self.txns[i] for i in remote_ids if i in self.txns and self.txns[i].kind == kind}

    def deposits_holding(self, payment_ids: list[str], since: str) -> dict[str, QBDeposit]:
        assert since == "2025-01-05"  # booksync's earliest payment
        if not self.deposit_lines:
            return {}
        deposit = QBDeposit("DEP-1", "1", "2025-01-10", "A-CHK", "Checking",
                            sum((ln.amount for ln in self.deposit_lines), D("0.00")), self.deposit_lines)
        return {"TXN-R1": deposit}


@pytest.fixture
def store():
    """Acme: INV1 100.00, CM1 10.00, R1 50.00 to Undeposited Funds; Bolt: INV2 40.00; Cara: INV3 5.00, never
    synchronized. Everything else is linked to the fake port's records."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        members = [Member(number=n, name=name) for n, name in (("1001", "Acme Widgets"), ("1002", "Bolt Bakery"),
                                                               ("1003", "Cara"))]
        dues = GLAccount(number="4020", name="Dues", type="Income", qb_account="Membership Dues")
        uf = GLAccount(number="1050", name="UF", type="OtherCurrentAsset", qb_account="undeposited funds")
        s.add_all(members + [dues, uf])
        s.flush()
        acme, bolt, cara = members

        def line(model, amount):  # noqa: ANN001, ANN202
            return model(seq=1, gl_account_id=dues.id, rate=D(amount), amount=D(amount))

        records = [Invoice(number="INV1", member_id=acme.id, date=dt.date(2025, 1, 2), lines=[line(InvoiceLine, "100")]),
                   Invoice(number="INV2", member_id=bolt.id, date=dt.date(2025, 1, 2), lines=[line(InvoiceLine, "40")]),
                   Invoice(number="INV3", member_id=cara.id, date=dt.date(2025, 1, 2), lines=[line(InvoiceLine, "5")]),
                   CreditMemo(number="CM1", member_id=acme.id, date=dt.date(2025, 1, 3),
                              lines=[line(CreditMemoLine, "10")]),
                   Payment(number="R1", member_id=acme.id, date=dt.date(2025, 1, 5), amount=D("50.00"),
                           deposit_account_id=uf.id)]
        s.add_all(records)
        s.flush()
        links = [("customer", acme.id, "1001", "C-1"), ("customer", bolt.id, "1002", "C-2"),
                 ("invoice", records[0].id, "INV1", "TXN-INV1"), ("invoice", records[1].id, "INV2", "TXN-INV2"),
                 ("credit_memo", records[3].id, "CM1", "TXN-CM1"), ("payment", records[4].id, "R1", "TXN-R1")]
        s.add_all([Link(company_key=KEY, kind=k, local_id=i, local_key=n, remote_id=r) for k, i, n, r in links])
        s.commit()
        yield s


def test_books_that_agree_say_so_and_count_what_was_compared(store):
    phases: list[str] = []
    port = FakePort()
    result = rec.reconcile(store, port, lambda phase, done, total: phases.append(phase))
    assert result.agrees, result.as_dict()
    assert (result.members_compared, result.accounts_compared, result.not_synchronized) == (2, 2, 1)
    assert phases[0].startswith("Reading QuickBooks: accounts") and phases[-1] == "Reading QuickBooks: deposits"
    assert ("invoice", ["TXN-INV1", "TXN-INV2"]) in port.asked


def test_a_balance_and_an_account_total_that_differ_are_named_with_both_amounts(store):
    port = FakePort()
    port.balances["C-1"] = D("30.00")
    port.txns["TXN-INV1"].lines[:] = [("I-DUES", D("90.00"))]
    result = rec.reconcile(store, port)
    assert not result.agrees
    assert [d.as_dict() for d in result.member_differences] == [
        {"what": "member 1001 Acme Widgets", "billing": "40.00", "quickbooks": "30.00", "difference": "10.00"}]
    assert [(d.what, d.billing, d.quickbooks) for d in result.account_differences] == [
        ("QuickBooks account Membership Dues", D("130.00"), D("120.00"))]
    json.dumps(result.as_dict())  # what `reconcile --json` prints


def test_a_record_gone_from_the_billing_store_is_a_difference(store):
    store.add(Link(company_key=KEY, kind="invoice", local_id=999, local_key="INV9", remote_id="TXN-INV9"))
    store.commit()
    result = rec.reconcile(store, FakePort())
    assert [g.label for g in result.gone] == ["invoice INV9"] and not result.agrees
    assert store.scalar(select(Link.local_id).where(Link.local_key == "INV9")) < 0  # no new row can take it


def test_a_placeholder_left_in_a_deposit_is_a_difference_and_leaves_undeposited_funds_short(store):
    port = FakePort()
    port.deposit_lines = (QBDepositLine("L1", "", "C-1", "A-UF", D("50.00"), PLACEHOLDER_MEMO.format(txn_id="TXN-R1")),)
    result = rec.reconcile(store, port)
    assert result.deposits_compared == 1
    assert [(d.what, d.billing, d.quickbooks) for d in result.deposit_differences] == [
        ("deposit of 2025-01-10 to Checking: booksync's placeholder for payment R1 is still there (the payment was "
         "taken out and not put back)", D("0.00"), D("50.00")),
        ("Undeposited Funds: booksync's payments in no deposit", D("50.00"), D("0.00"))]
    assert result.deposit_differences[0].as_dict()["fix"] == "to put it back: booksync sync"
    assert "fix" not in result.deposit_differences[1].as_dict()


def test_a_deposited_payment_whose_amount_differs_is_named(store):
    port = FakePort()
    port.deposit_lines = (QBDepositLine("L1", "TXN-R1", "C-1", "A-UF", D("45.00")),)
    result = rec.reconcile(store, port)
    assert [(d.what, d.difference) for d in result.deposit_differences] == [
        ("deposit of 2025-01-10 to Checking: payment R1 (open)", D("5.00"))]
