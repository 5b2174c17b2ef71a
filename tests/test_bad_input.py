"""The bad-input corpus: every file in tests/bad_input/ is refused with the exact message a user must see.

Each case is a file ``KIND-what.csv`` (or ``.xlsx``/``.xls``, the workbooks built by
``bad_input/make_xlsx.py``) and its ``KIND-what.expected``: the exact standard error of
``booksync import KIND FILE`` (optionally after a first line ``# args: ...`` with extra options). The one
parametrized test runs the real command line on a copy of a home holding the billing store of
``bad_input/_base`` (see its README), and checks the message, exit code 3, and that no row of any table
of the billing store changed.

To write the .expected file of a new case, run with BOOKSYNC_WRITE_EXPECTED=1 and read every line it
wrote before committing it: the file is the specification of what the user sees.

The other tests here read accepted variants in process: encodings, US dates, lenient amounts, workbooks,
the examples of docs/import.md, and the QuickBooks amount rules.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from booksync.config import Home
from booksync.store.db import open_store
from booksync.kinds import IMPORT_KINDS as KINDS
from booksync.sources.csvfile.importer import import_file
from booksync.sources.layouts import SPECS
from booksync.sources.report import ImportFailed
from booksync.sources.values import ImportOptions, parse_date, parse_money, parse_quantity
from booksync.store.models import Invoice, Member, Payment

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "bad_input"
BASE = CORPUS / "_base"
BASE_FILES = (("gl-accounts", "gl_accounts.csv"), ("members", "members.csv"), ("invoices", "invoices.csv"),
              ("credit-memos", "credit_memos.csv"), ("payments", "payments.csv"))
WRITE_EXPECTED = os.environ.get("BOOKSYNC_WRITE_EXPECTED") == "1"


def kind_of(name: str) -> str:
    for kind in sorted(KINDS, key=len, reverse=True):
        if name.startswith(kind + "-"):
            return kind
    raise ValueError(f"{name}: a corpus file's name starts with its kind ({', '.join(KINDS)})")


def cases() -> list[str]:
    return sorted(p.stem for p in CORPUS.glob("*.expected"))


def load_store(folder: Path, files: tuple[tuple[str, str], ...] = BASE_FILES, source: Path = BASE):
    """A billing store in ``folder`` with ``files`` imported (in order); returns the session factory."""
    sessions = open_store(f"sqlite:///{folder / 'billing.db'}")
    with sessions() as session:
        for kind, name in files:
            import_file(session, kind, source / name)
    return sessions


@pytest.fixture(scope="session")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A booksync home with the corpus' base billing store (INV9 void). Read-only: cases copy it."""
    home = tmp_path_factory.mktemp("bad-input") / "home"
    Home.load(home, create=True)
    sessions = load_store(home)
    sessions.kw["bind"].dispose()
    db = sqlite3.connect(home / "billing.db")
    with db:
        db.execute("UPDATE invoices SET status='void' WHERE number='INV9'")
    db.close()
    return home


@pytest.fixture(scope="session")
def built_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_xlsx", CORPUS / "make_xlsx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path_factory.mktemp("workbooks"))


def data_file(case: str, built: dict[str, Path]) -> Path:
    found = [p for p in CORPUS.glob(case + ".*") if p.suffix != ".expected"]
    found += [p for name, p in built.items() if Path(name).stem == case]
    assert len(found) == 1, f"case {case}: expected one data file, found {found}"
    return found[0]


def test_the_corpus_is_large_and_complete(built_files):
    """At least 40 cases; every data file has its .expected, every .expected its data file."""
    names = {p.stem for p in CORPUS.iterdir() if p.is_file() and p.suffix in (".csv", ".xlsx", ".xls")}
    names |= {Path(n).stem for n in built_files}
    assert names == set(cases())
    assert len(names) >= 40
    assert {kind_of(n) for n in names} == set(KINDS)


@pytest.mark.parametrize("case", cases())
def test_bad_file_is_refused_with_its_exact_message_and_nothing_written(case, base_home, built_files, cli, billing_db,
                                                                         tmp_path):
    expected_path = CORPUS / f"{case}.expected"
    lines = expected_path.read_text(encoding="utf-8").splitlines()
    args = lines.pop(0)[len("# args:"):].split() if lines and lines[0].startswith("# args:") else []
    home = tmp_path / "home"
    shutil.copytree(base_home, home)
    store = billing_db(home / "billing.db")
    before = store.fingerprint()
    source = data_file(case, built_files)
    result = cli("import", kind_of(case), str(source), "--home", str(home), *args)
    if WRITE_EXPECTED:
        header = [f"# args: {' '.join(args)}"] if args else []
        expected_path.write_text("\n".join(header + result.stderr.rstrip("\n").splitlines()) + "\n",
                                 encoding="utf-8")
    assert result.code == 3, result
    assert result.stderr.rstrip("\n").splitlines() == lines, result
    assert result.stdout == ""
    assert store.fingerprint() == before, "the billing store changed"


def test_problems_name_file_row_column_and_reason():
    """Every expected line of a row problem names the file, the row and the column, and gives a reason."""
    shape = re.compile(r"^  (?P<file>[^,]+), row (?P<row>\d+)(, column (?P<col>[\w#]+)( \(cell [A-Z]+\d+\))?)?: .+")
    whole_file = re.compile(r"^  [^,]+\.(csv|xlsx|xls): .+")
    for case in cases():
        lines = (CORPUS / f"{case}.expected").read_text(encoding="utf-8").splitlines()
        lines = [ln for ln in lines if not ln.startswith("# args:")]
        assert lines[0].endswith("nothing from this file was written):"), case
        for line in lines[1:]:
            if line.startswith("  ... and "):
                continue
            m = shape.match(line)
            assert m or whole_file.match(line), f"{case}: {line!r}"
            if m:
                assert m["file"].startswith(case), f"{case}: {line!r}"


# ---------------------------------------------------------------------- accepted variants, in process


@pytest.fixture
def store(tmp_path):
    return load_store(tmp_path)


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


MEMBERS = ("number,name,company,status\n"
           "2001,Café Olé Bakery,Café Olé Bakery,active\n"
           "2002,  Müller Bäckerei  , Müller ,Inactive\n")


@pytest.mark.parametrize("encoding, bom, read_as", [
    ("utf-8", b"", "CSV, UTF-8"),
    ("utf-8", b"\xef\xbb\xbf", "CSV, utf-8 (byte order mark)"),
    ("utf-16-le", b"\xff\xfe", "CSV, utf-16 (byte order mark)"),
    ("utf-16-be", b"\xfe\xff", "CSV, utf-16 (byte order mark)"),
    ("cp1252", b"", "CSV, iso-8859-1 (not UTF-8)"),  # no byte 0x80-0x9F: it reads the same either way
    ("latin-1", b"", "CSV, iso-8859-1 (not UTF-8)"),
])
def test_encodings_are_detected_and_stray_spaces_trimmed(store, tmp_path, encoding, bom, read_as):
    path = tmp_path / "members.csv"
    path.write_bytes(bom + MEMBERS.encode(encoding))
    with store() as session:
        result = import_file(session, "members", path)
    assert (result.added, result.read_as) == (2, read_as)
    with store() as session:
        names = dict(session.execute(select(Member.number, Member.name)).all())
        assert names["2001"] == "Café Olé Bakery" and names["2002"] == "Müller Bäckerei"
        assert session.scalar(select(Member.status).where(Member.number == "2002")) == "inactive"


@pytest.mark.parametrize("encoding, name, read_as", [
    ("latin-1", "Café Olé Müller", "CSV, iso-8859-1 (not UTF-8)"),  # read as cp775 before: "Cafķ Olķ M³ller"
    ("cp1252", "O’Brien “Café” – Ça™", "CSV, windows-1252 (not UTF-8)"),
])
def test_a_latin_file_is_read_as_windows_1252_or_iso_8859_1_never_another_code_page(store, tmp_path, encoding,
                                                                                       name, read_as):
    path = write(tmp_path, "members.csv", f"number,name\n2004,{name}\n2005,Acme Widgets\n", encoding)
    with store() as session:
        result = import_file(session, "members", path)
    assert result.read_as == read_as
    with store() as session:
        assert session.scalar(select(Member.name).where(Member.number == "2004")) == name


def test_a_declared_encoding_wins(store, tmp_path):
    path = write(tmp_path, "members.csv", "number,name\n2003,Dvořák Music Studio\n", "cp1250")
    with store() as session:
        result = import_file(session, "members", path, ImportOptions(encoding="cp1250"))
    assert result.read_as == "CSV, cp1250 (declared)"
    with store() as session:
        assert session.scalar(select(Member.name).where(Member.number == "2003")) == "Dvořák Music Studio"


def test_semicolon_separated_files_and_header_spelling(store, tmp_path):
    path = write(tmp_path, "gl.csv", "Number;Name;Type;QB Account\n4500;Newsletter;other income;Newsletter\n")
    with store() as session:
        result = import_file(session, "gl-accounts", path)
    assert result.added == 1 and "separated by ';'" in result.read_as


def test_us_dates_and_lenient_amounts_by_setting(store, tmp_path):
    text = ("number,member,date,due_date,gl_account,description,quantity,rate,amount\n"
            'INV20,1001,3/1/2025,03/31/2025,4100,Gala table,1,"$1,250.00","$1,250.00"\n'
            "INV20,1001,3/1/2025,03/31/2025,4100,Early-bird discount,1,,($50.00)\n"
            "INV21,1002,2025-03-02,,4300,Program ad,\"1,000\",0.25,\n")
    path = write(tmp_path, "inv.csv", text)
    with store() as session, pytest.raises(ImportFailed):
        import_file(session, "invoices", path)
    with store() as session:
        result = import_file(session, "invoices", path, ImportOptions(date_format="us", amounts="lenient"))
    assert result.added == 2
    with store() as session:
        inv = session.scalar(select(Invoice).where(Invoice.number == "INV20"))
        assert (inv.date, inv.due_date, inv.total) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31), Decimal("1200.00"))
        assert [ln.amount for ln in inv.lines] == [Decimal("1250.00"), Decimal("-50.00")]
        inv21 = session.scalar(select(Invoice).where(Invoice.number == "INV21"))
        assert (inv21.lines[0].quantity, inv21.total) == (Decimal(1000), Decimal("250.00"))


def test_a_zero_invoice_and_a_due_date_warning_are_accepted(store, tmp_path):
    text = ("number,member,date,due_date,gl_account,description,amount\n"
            "INV30,1001,2025-03-01,2025-02-01,4020,Complimentary membership,0.00\n"
            "INV31,1001,2025-03-01,,2400,Deferred dues,10.00\n")
    with store() as session:
        result = import_file(session, "invoices", write(tmp_path, "zero.csv", text))
    assert result.added == 2
    assert [(w.row, w.column) for w in result.warnings] == [(2, "due_date"), (3, "gl_account")]
    assert "OtherCurrentLiability" in str(result.warnings[1])


def test_a_workbook_is_read_like_a_csv_file(store, tmp_path):
    """First sheet or --sheet; numbers and dates from cells; Excel's float noise read as Excel shows it."""
    book = Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Invoices")
    sheet.append(["Number", "Member", "Date", "GL Account", "Description", "Quantity", "Rate", "Amount"])
    sheet.append(["INV40", 1001, dt.datetime(2025, 3, 1), 4100, "Dinner", 3, 0.1 + 0.2, None])
    sheet.append(["INV40", 1001, dt.datetime(2025, 3, 1), 4300, "Ad", 1, None, 90.5])
    sheet.append([None] * 8)
    sheet.append(["INV41", "1002", "2025-03-02", "4020", "Dues", None, None, "325"])
    path = tmp_path / "invoices.xlsx"
    book.save(path)
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", path)
    assert "the first row of sheet 'Notes' must hold the column names" in str(raised.value)
    with store() as session:
        result = import_file(session, "invoices", path, ImportOptions(sheet="Invoices"))
    assert (result.added, result.read_as) == (2, "Excel sheet 'Invoices'")
    with store() as session:
        inv = session.scalar(select(Invoice).where(Invoice.number == "INV40"))
        assert [(ln.rate, ln.amount) for ln in inv.lines] == [(Decimal("0.3"), Decimal("0.90")),
                                                              (Decimal("90.5"), Decimal("90.50"))]


def test_reimporting_the_base_changes_nothing(tmp_path):
    """Every record unchanged, every updated_at kept (the corpus' base as a fixture of its own)."""
    sessions = load_store(tmp_path)
    with sessions() as session:
        stamps = dict(session.execute(select(Payment.number, Payment.updated_at)).all())
    for kind, name in BASE_FILES:
        with sessions() as session:
            result = import_file(session, kind, BASE / name)
        assert (result.added, result.updated) == (0, 0), kind
    with sessions() as session:
        assert dict(session.execute(select(Payment.number, Payment.updated_at)).all()) == stamps


def test_an_empty_bill_info_cell_keeps_the_bill_info(store, tmp_path):
    text = "number,name,qb_customer\n1004,Shah Hardware,\n"
    with store() as session:
        result = import_file(session, "members", write(tmp_path, "m.csv", text))
    assert result.unchanged == 1
    with store() as session:
        assert session.scalar(select(Member.qb_customer).where(Member.number == "1004")) == "Shah Hardware"


def test_the_examples_of_docs_import_md_import(tmp_path):
    """Each ```csv example of docs/import.md imports, in the order of the page, after the demo files."""
    demo = [(k, n) for k, n in (("gl-accounts", "gl_accounts.csv"), ("members", "members.csv"),
                                ("invoices", "invoices.csv"), ("credit-memos", "credit_memos.csv"),
                                ("payments", "payments.csv"))]
    from importlib import resources

    with resources.as_file(resources.files("booksync.demo") / "data") as data:
        sessions = load_store(tmp_path, tuple(demo), Path(data))
    text = (REPO / "docs" / "import.md").read_text(encoding="utf-8")
    section = ""
    imported = []
    for block in re.finditer(r"^## (?P<h>[^\n]+)$|^```csv\n(?P<csv>.*?)^```", text, re.M | re.S):
        if block["h"]:
            section = block["h"].strip()
            continue
        rows = block["csv"]
        kind = section if section in KINDS else (
            "credit-memos" if rows.splitlines()[1].startswith("CM") else "invoices")
        path = write(tmp_path, f"example-{len(imported)}.csv", rows)
        with sessions() as session:
            result = import_file(session, kind, path)
        assert not result.warnings, result.warnings
        imported.append(kind)
    assert imported == ["gl-accounts", "members", "invoices", "credit-memos", "sales-receipts", "payments"]


def test_docs_import_md_lists_every_column_of_every_kind():
    """The column tables of docs/import.md name each column the importer knows, with its required flag."""
    text = (REPO / "docs" / "import.md").read_text(encoding="utf-8")
    for kind, spec in SPECS.items():
        heading = kind if kind in ("gl-accounts", "members", "sales-receipts", "payments") else \
            "invoices and credit-memos"
        section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
        documented: dict[str, str] = {}
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("|") and len(cells) >= 3 and cells[0] not in ("column", "---"):
                for name in cells[0].split(","):
                    documented[name.strip()] = cells[2]
        for column in spec:
            assert column.name in documented, f"{kind}: column {column.name} is not documented"
            assert documented[column.name] == ("yes" if column.required else "no"), (kind, column.name)


# ---------------------------------------------------------------------- value rules


@pytest.mark.parametrize("raw, mode, expected", [
    ("1250", "strict", "1250.00"), ("-25.5", "strict", "-25.50"), (".5", "strict", "0.50"),
    ("125.500", "strict", "125.50"), ("$1,250.00", "lenient", "1250.00"), ("-$25.00", "lenient", "-25.00"),
    ("$-25.00", "lenient", "-25.00"), ("($25.00)", "lenient", "-25.00"), ("1,234,567.89", "lenient", "1234567.89"),
    ("1250.00 $", "lenient", "1250.00"), ("€ 12", "lenient", "12.00"),
    ("9999999999999.99", "strict", "9999999999999.99"),
])
def test_amounts_that_are_read(raw, mode, expected):
    assert parse_money(raw, mode) == Decimal(expected)


@pytest.mark.parametrize("raw, mode, reason", [
    ("1000.005", "strict", "has more than two decimals"), ("1.0000000000000000000000000000001", "strict", "decimals"),
    ("$1,250.00", "strict", "not a plain number"), ("12,50", "lenient", "is not an amount"),
    ("1.250,00", "lenient", "is not an amount"), ("(-5)", "lenient", "is not an amount"),
    ("--5", "lenient", "is not an amount"), ("1e3", "strict", "is not an amount"), ("NaN", "strict", "not an amount"),
    ("١٢٣", "strict", "is not an amount"), ("10000000000000", "strict", "13 digits"), ("1_000", "strict", "amount"),
])
def test_amounts_that_are_refused(raw, mode, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_money(raw, mode)


@pytest.mark.parametrize("raw, expected", [("325.00", "325"), ("2", "2"), ("0.33333", "0.33333"),
                                           ("1.5000000", "1.5"), ("-0", "0"), ("45.50", "45.50")])
def test_quantities_are_kept_in_a_plain_form(raw, expected):
    assert str(parse_quantity(raw)) == expected


@pytest.mark.parametrize("raw, fmt, expected", [
    ("2025-03-01", "iso", dt.date(2025, 3, 1)), ("2025-3-1", "iso", dt.date(2025, 3, 1)),
    ("2025-03-01 00:00:00", "iso", dt.date(2025, 3, 1)), ("03/01/2025", "us", dt.date(2025, 3, 1)),
    ("3/1/2025", "us", dt.date(2025, 3, 1)), ("2025-03-01", "us", dt.date(2025, 3, 1)),
])
def test_dates_that_are_read(raw, fmt, expected):
    assert parse_date(raw, fmt) == expected


@pytest.mark.parametrize("raw, fmt, reason", [
    ("03/01/2025", "iso", "--date-format us"), ("13/01/2025", "us", "no month 13"), ("1/2/25", "us", "four digits"),
    ("2025-02-29", "iso", "no day 29"), ("March 1, 2025", "iso", "YYYY-MM-DD"), ("2025-03-01T10:00", "iso", "YYYY"),
])
def test_dates_that_are_refused(raw, fmt, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_date(raw, fmt)


# ---------------------------------------------------------------------- sizes and limits (issue 19 item 10)


def _members(rows: int) -> str:
    return "number,name\n" + "".join(f"{5000 + i},Member {i}\n" for i in range(rows))


def test_exactly_max_rows_data_rows_are_read_and_one_more_is_refused(store, tmp_path, monkeypatch):
    """The header is not a data row (a file of exactly 1,000,000 was refused as "more than 1000000")."""
    import booksync.sources.csvfile.bounds as bounds

    monkeypatch.setattr(bounds, "MAX_ROWS", 5)
    with store() as session:
        assert import_file(session, "members", write(tmp_path, "five.csv", _members(5))).added == 5
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "members", write(tmp_path, "six.csv", _members(6)))
    assert "six.csv: the file has more than 5 data rows (besides the header); split it" in str(raised.value)
    book = Workbook()
    for line in _members(6).splitlines():
        book.active.append(line.split(","))
    book.save(tmp_path / "six.xlsx")
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "members", tmp_path / "six.xlsx")
    assert "the sheet has more than 5 data rows (besides the header)" in str(raised.value)
    book.active.delete_rows(7)
    book.save(tmp_path / "five.xlsx")
    with store() as session:
        assert import_file(session, "members", tmp_path / "five.xlsx").updated == 0


def test_a_5_mb_field_is_reported_on_its_row_and_column_and_not_shown_whole(store, tmp_path):
    text = "number,name,company\n5001,Acme,Acme\n5002,\"" + "x" * 5_000_000 + "\",Big\n5003,Zed,Zed\n"
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "members", write(tmp_path, "members.csv", text))
    (problem,) = raised.value.problems
    assert (problem.row, problem.column) == (3, "name")
    assert "is longer than" in problem.reason
    assert str(problem).endswith("(value '" + "x" * 80 + "'... 5000000 characters)")
    assert len(str(raised.value)) < 1000


def test_a_formula_without_a_saved_value_is_not_read_as_an_empty_cell(store, tmp_path):
    """openpyxl (like many programs) writes formulas without the value Excel would have calculated."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Number", "Member", "Date", "GL Account", "Description", "Quantity", "Rate", "Amount"])
    sheet.append(["INV42", 1001, dt.datetime(2025, 3, 1), 4100, "Dinner", 3, 25, "=F2*G2"])
    sheet.append(["INV43", "=1000+1", dt.datetime(2025, 3, 1), 4100, "Dinner", 1, 25, 25])
    book.save(tmp_path / "invoices.xlsx")
    with store() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", tmp_path / "invoices.xlsx")
    shown = [str(p) for p in raised.value.problems]
    assert shown == [
        "invoices.xlsx, row 2, column amount (cell H2): formula without a saved value: open and save the file in "
        "Excel (value '=F2*G2')",
        "invoices.xlsx, row 3, column member (cell B3): formula without a saved value: open and save the file in "
        "Excel (value '=1000+1')"]
