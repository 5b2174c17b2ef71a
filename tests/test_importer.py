"""CSV import into the billing store: whole files or nothing, precise problems, idempotent re-imports."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from booksync.store.db import open_store
from booksync.sources.csvfile.importer import import_file
from booksync.sources.report import ImportFailed
from booksync.store.models import Invoice, InvoiceLine, Member, Payment

MEMBERS = """number,name,company,contact_first,contact_last,address1,address2,city,state,postal_code,email,phone,status,qb_customer
1001,Blue Heron Senior Living,Blue Heron Senior Living,Heather,Singh,5826 National Rd,,Vandalia,OH,45377,info@bh.example,(937) 555-1123,active,
1002,Keystone Animal Hospital,Keystone Animal Hospital,Stephen,Jensen,9158 E Franklin St,,Centerville,OH,45458,office@ka.example,(937) 555-1115,active,
1003,Café Olé Bakery,Café Olé Bakery,José,Hernández,4303 S Main St,,Dayton,OH,45439,info@co.example,(937) 555-0796,inactive,
"""

INVOICE_HEADER = "number,member,date,due_date,memo,gl_account,description,quantity,rate,amount\n"
INVOICES = INVOICE_HEADER + """INV1,1001,2025-01-02,2025-02-01,,4020,2025 Dues - Small Business,1,325.00,325.00
INV2,1002,2025-01-03,2025-02-02,Spring,4100,Annual dinner,2,75.00,150.00
INV2,1002,2025-01-03,2025-02-02,Spring,4300,Program ad,1,,90.50
INV3,1003,2025-01-04,,,4200,Sponsorship,1,1000,
"""

PAYMENTS = """number,member,date,amount,method,reference,deposit_account,memo,apply_to,apply_amount,apply_credit_memo,apply_credit_amount
R1,1001,2025-01-10,325.00,Check,1234,1050,,INV1,325.00,,
R2,1002,2025-01-11,240.50,ACH,,1000,,INV2,240.50,,
"""


@pytest.fixture
def store(tmp_path: Path):
    """A billing store with the demo G/L accounts and three members."""
    from importlib import resources

    sessions = open_store(f"sqlite:///{tmp_path / 'billing.db'}")
    with sessions() as session, resources.as_file(
            resources.files("booksync.demo") / "data" / "gl_accounts.csv") as gl_path:
        assert import_file(session, "gl-accounts", gl_path).added == 13
        import_file(session, "members", write(tmp_path, "members.csv", MEMBERS))
    return sessions


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(sessions) -> dict[str, int]:
    with sessions() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Member, Invoice, InvoiceLine, Payment)}


def test_a_good_file_is_imported_with_its_lines(store, tmp_path):
    """A valid invoices file is imported: multi-row invoices become one invoice with its lines; rate or amount may be
    omitted."""
    with store() as session:
        result = import_file(session, "invoices", write(tmp_path, "invoices.csv", INVOICES))
    assert (result.added, result.updated, result.unchanged) == (3, 0, 0)
    with store() as session:
        inv2 = session.scalar(select(Invoice).where(Invoice.number == "INV2"))
        assert inv2.member.number == "1002" and inv2.memo == "Spring"
        assert [(ln.gl_account.number, ln.quantity, ln.amount) for ln in inv2.lines] == [
            ("4100", Decimal(2), Decimal("150.00")), ("4300", Decimal(1), Decimal("90.50"))]
        assert inv2.total == Decimal("240.50")
        inv3 = session.scalar(select(Invoice).where(Invoice.number == "INV3"))
        assert inv3.total == Decimal("1000.00") and inv3.due_date is None


BAD_ROWS = [
    # (replacement for the INV3 row, column, reason fragment)
    ("INV3,1003,2025-02-30,,,4200,Sponsorship,1,1000,", "date", "not a date"),
    ("INV3,1999,2025-01-04,,,4200,Sponsorship,1,1000,", "member", "no member has this number"),
    ("INV3,1003,2025-01-04,,,4200,Sponsorship,1,,1000.005", "amount", "more than two decimals"),
    ("INV3,1003,2025-01-04,,,4999,Sponsorship,1,1000,", "gl_account", "no G/L account has this number"),
    ("INV3,1003,,,,4200,Sponsorship,1,1000,", "date", "a value is required"),
]


@pytest.mark.parametrize("bad_row, column, reason", BAD_ROWS, ids=[b[1] + "-" + b[2][:12] for b in BAD_ROWS])
def test_a_bad_row_rejects_the_whole_file_with_file_row_column_reason(store, tmp_path, bad_row, column, reason):
    """One bad row (the last, row 5) and nothing of the file is written; the problem names file, row, column
    and reason."""
    text = INVOICES.replace("INV3,1003,2025-01-04,,,4200,Sponsorship,1,1000,", bad_row)
    path = write(tmp_path, "bad-invoices.csv", text)
    before = counts(store)
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", path)
    assert counts(store) == before
    problem = raised.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("bad-invoices.csv", 5, column)
    assert reason in problem.reason
    message = str(problem)
    assert message.startswith(f"bad-invoices.csv, row 5, column {column}: ")
    assert reason in str(raised.value)


def test_a_bad_amount_is_reported_once_and_truthfully(store, tmp_path):
    """A 3-decimal amount is reported once, as what it is, and not also as a missing amount."""
    text = INVOICES.replace("INV3,1003,2025-01-04,,,4200,Sponsorship,1,1000,",
                            "INV3,1003,2025-01-04,,,4200,Sponsorship,1,,1000.005")
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", write(tmp_path, "bad-amount.csv", text))
    assert [str(p) for p in raised.value.problems] == [
        "bad-amount.csv, row 5, column amount: '1000.005' has more than two decimals (value '1000.005')"]


def test_a_missing_required_column_is_reported_against_the_header(store, tmp_path):
    """A file without a required column is refused at row 1 naming the column; nothing is written."""
    text = INVOICES.replace("number,member,date,", "number,member,")
    path = write(tmp_path, "no-date.csv", text)
    before = counts(store)
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", path)
    assert counts(store) == before
    assert [(p.file, p.row, p.column, p.reason) for p in raised.value.problems] == [
        ("no-date.csv", 1, "date", "required column is missing")]


def test_every_problem_of_a_file_is_listed(store, tmp_path):
    """All bad rows are reported at once, each with its own row number."""
    text = INVOICES.replace("2025-01-02,2025-02-01", "01/02/2025,2025-02-01").replace(
        "INV3,1003", "INV3,1999")
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", write(tmp_path, "two-bad.csv", text))
    assert {(p.row, p.column) for p in raised.value.problems} == {(2, "date"), (5, "member")}
    assert counts(store)["invoices"] == 0


def test_members_file_with_a_bad_row_writes_no_member(store, tmp_path):
    """The members importer is all-or-nothing too: a bad status leaves even the good new members out."""
    text = MEMBERS.splitlines()[0] + "\n2001,New One,,,,,,,,,,,active,\n2002,New Two,,,,,,,,,,,lapsed,\n"
    before = counts(store)
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "members", write(tmp_path, "m.csv", text))
    assert counts(store) == before
    (problem,) = raised.value.problems
    assert (problem.row, problem.column, problem.value) == (3, "status", "lapsed")


def test_reimporting_the_same_file_changes_nothing(store, tmp_path):
    """Re-importing identical invoices and members reports all unchanged and keeps updated_at."""
    path = write(tmp_path, "invoices.csv", INVOICES)
    with store() as session:
        import_file(session, "invoices", path)
    with store() as session:
        stamps = dict(session.execute(select(Invoice.number, Invoice.updated_at)).all())
    for kind, file in (("invoices", path), ("members", tmp_path / "members.csv")):
        with store() as session:
            result = import_file(session, kind, file)
        assert (result.added, result.updated) == (0, 0), kind
        assert result.unchanged == 3, kind
    with store() as session:
        assert dict(session.execute(select(Invoice.number, Invoice.updated_at)).all()) == stamps


def test_reimport_with_one_changed_amount_updates_one_record(store, tmp_path):
    """Changing one line amount reports exactly one updated invoice, with the new total."""
    with store() as session:
        import_file(session, "invoices", write(tmp_path, "invoices.csv", INVOICES))
    changed = INVOICES.replace("Program ad,1,,90.50", "Program ad,1,,95.50")
    with store() as session:
        result = import_file(session, "invoices", write(tmp_path, "invoices2.csv", changed))
    assert (result.added, result.updated, result.unchanged) == (0, 1, 2)
    with store() as session:
        inv2 = session.scalar(select(Invoice).where(Invoice.number == "INV2"))
        assert inv2.total == Decimal("245.50")
        assert len(inv2.lines) == 2


def test_payments_import_and_reimport(store, tmp_path):
    """Payments import with their applications; an identical re-import reports all unchanged."""
    with store() as session:
        import_file(session, "invoices", write(tmp_path, "invoices.csv", INVOICES))
    path = write(tmp_path, "payments.csv", PAYMENTS)
    with store() as session:
        assert import_file(session, "payments", path).added == 2
    with store() as session:
        again = import_file(session, "payments", path)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
        r2 = session.scalar(select(Payment).where(Payment.number == "R2"))
        assert r2.amount == Decimal("240.50") and r2.deposit_account.number == "1000"
        assert [(a.invoice.number, a.amount) for a in r2.applications] == [("INV2", Decimal("240.50"))]


def test_payment_applying_more_than_its_amount_is_refused(store, tmp_path):
    """A payment whose applications exceed its amount is refused and nothing is written."""
    with store() as session:
        import_file(session, "invoices", write(tmp_path, "invoices.csv", INVOICES))
    text = PAYMENTS.replace("R1,1001,2025-01-10,325.00", "R1,1001,2025-01-10,300.00")
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "payments", write(tmp_path, "p.csv", text))
    assert [(p.row, p.column) for p in raised.value.problems] == [(2, "apply_amount")]
    assert counts(store)["payments"] == 0
