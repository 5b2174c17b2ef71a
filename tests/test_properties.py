"""Property-based tests: any record the importer accepts becomes schema-valid qbXML that QuickBooks (the
simulator) accepts, with the values the field rules promise.

Each example starts from copies of two template files (a billing store holding the corpus' G/L accounts,
and a fresh simulated company), imports what Hypothesis generated through the real importer, and — when
the importer accepts it — plans the adds with the real planner and sends them with the QuickBooks Desktop
port to the simulator in process. Every request and response is validated against qbxmlops130.xsd twice:
explicitly here, and by the suite's autouse guard. A refused file must be refused with located problems
and leave nothing written.
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from booksync.books.desktop.adapter import DesktopBooks
from booksync.domain import Kind
from booksync.simulator import create_company, open_company
from booksync.store.db import open_store
from booksync.sources.csvfile.importer import import_file
from booksync.sources.report import ImportFailed
from booksync.sources.values import ImportOptions
from booksync.store.models import Member
from booksync.sync.checks import check_accounts, check_applications, check_deposit_accounts
from booksync.sync.customers import resolve_customers
from booksync.sync.planner import Planner
from booksync.sync.load import load_work

BASE = Path(__file__).resolve().parent / "bad_input" / "_base"
PROPERTY = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
MEMBER_HEADER = ["number", "name", "company", "contact_first", "contact_last", "address1", "city", "state",
                 "postal_code", "email", "phone"]
INVOICE_HEADER = ["number", "member", "date", "memo", "gl_account", "description", "quantity", "rate", "amount"]
PAYMENT_HEADER = ["number", "member", "date", "amount", "method", "reference", "deposit_account", "memo", "apply_to",
                  "apply_amount", "apply_credit_memo", "apply_credit_amount"]


# ---------------------------------------------------------------------- the world of one example


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("property-templates")
    create_company(folder / "company.qbsim", "Property Chamber")
    sessions = open_store(f"sqlite:///{folder / 'billing.db'}")
    with sessions() as session:
        import_file(session, "gl-accounts", BASE / "gl_accounts.csv")
        members = folder / "members.csv"
        members.write_text("number,name\n1001,Blue Heron Senior Living\n1002,Keystone Animal Hospital\n")
        import_file(session, "members", members)
    sessions.kw["bind"].dispose()
    return folder


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@dataclass
class Pushed:
    plan: Any
    names: dict[str, str]
    """Customer Name -> AccountNumber in the company after the push."""
    company: Path


class World:
    """The billing store and company of one test, reset to the templates before each example.

    One folder and one SQLAlchemy engine serve every example of a test (its statement cache is what
    makes 200 examples quick); :meth:`reset` closes every connection and copies the templates back.
    """

    def __init__(self, templates: Path, folder: Path, schema: etree.XMLSchema) -> None:
        self.templates = templates
        self.folder = folder
        self.schema = schema
        self.files = 0
        self.sessions = open_store(f"sqlite:///{folder / 'billing.db'}", migrate=False)

    def reset(self) -> "World":
        self.sessions.kw["bind"].dispose()
        for name in ("billing.db", "company.qbsim"):
            for suffix in ("-wal", "-shm"):
                Path(str(self.folder / name) + suffix).unlink(missing_ok=True)
            shutil.copy(self.templates / name, self.folder / name)
        return self

    def close(self) -> None:
        self.sessions.kw["bind"].dispose()

    def load(self, kind: str, data: bytes, options: ImportOptions | None = None) -> bool:
        """Import ``data``; True when accepted. A refusal must locate each problem and write nothing."""
        self.files += 1
        path = self.folder / f"{kind}-{self.files}.csv"
        path.write_bytes(data)
        before = self._count()
        with self.sessions() as session:
            try:
                import_file(session, kind, path, options)
                return True
            except ImportFailed as failed:
                assert failed.problems, "a refusal names its problems"
                for problem in failed.problems:
                    assert problem.file == path.name and problem.reason
                    assert problem.row >= 1 or not problem.column
                assert self._count() == before, "a refused file wrote something"
                return False

    def _count(self) -> tuple[int, ...]:
        with self.sessions() as session:
            return tuple(session.scalar(select(func.count()).select_from(t)) for t in
                         (Member.__table__, *[Member.metadata.tables[n] for n in
                                              ("invoices", "invoice_lines", "credit_memos", "payments",
                                               "applications", "gl_accounts")]))

    def push(self) -> Pushed:
        """Plan every record not yet in QuickBooks and send it; every operation must be done."""
        with open_company(self.folder / "company.qbsim", app_name="booksync") as company:
            port = DesktopBooks(company)
            snapshot = port.snapshot()
            key = port.company_key
            with self.sessions() as session:
                work = load_work(session, key)
                assert check_accounts(work, snapshot) == []
                customers = resolve_customers(work, snapshot)
                assert customers.problems == []
                builder = Planner(work, snapshot, customers, port.limits, key)
                plan = builder.build(create_customers=True)
                assert builder.problems == []
                assert check_deposit_accounts(work, snapshot) == []
                keys = {(op.kind.value, op.local_id) for op in plan.operations}
                assert check_applications(work, keys) == []
                resolved: dict[tuple[str, int | None], str] = {}

                def resolve(ref: Any) -> str | None:
                    return ref.remote_id or resolved.get((ref.kind, ref.local_id))

                for batch in batches(plan.operations):
                    message = port.render(batch, resolve)
                    assert self.schema.validate(etree.fromstring(message)), self.schema.error_log
                    for op, outcome in zip(batch, port.send(batch, resolve)):
                        assert outcome.status == "done", f"{op.description}: {outcome.error}"
                        resolved[(op.kind.value, op.local_id)] = outcome.remote_id
            names = {r[0]: r[1] for r in company.db.execute(
                "SELECT name, account_number FROM lists WHERE kind='Customer'")}
        return Pushed(plan, names, self.folder / "company.qbsim")


def batches(operations: list[Any]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for op in operations:
        if out and out[-1][0].kind == op.kind and len(out[-1]) < 50:
            out[-1].append(op)
        else:
            out.append([op])
    return out


@pytest.fixture
def world(templates, qbxml_schema, tmp_path):
    """The test's :class:`World`; each example calls ``world.reset()``. Its files live in memory (/dev/shm)
    when the system has it: a disk's fsync per commit would dominate the run time."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="booksync-prop-", dir=shm if shm.is_dir() else tmp_path) as folder:
        w = World(templates, Path(folder), qbxml_schema)
        try:
            yield w.reset()
        finally:
            w.close()


def storable(value: str, limit: int) -> None:
    """What QuickBooks Desktop can hold in a name: 1..limit ISO-8859-1 characters, no colon, no control."""
    assert 0 < len(value) <= limit, value
    value.encode("iso-8859-1")
    assert ":" not in value
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value), repr(value)
    assert value == value.strip()


# ---------------------------------------------------------------------- strategies

PIECES = ["Acme", "Widget", ":", ": ", "::", " ", "  ", "Café", "Dvořák", "🍕", "中文", "∶", "Ω", "e\u0301",
          "-", "&", "<>", '"', "'", "Łódź", "ß", "\u00a0", "\u2028", "\ufeff", "\u200b", "\t", "x" * 45,
          "Riverside Regional Economic Development", "\U0001F600", "ǅ", "\ue000"]
PRINTABLE = st.characters(exclude_categories=("Cs", "Cc"))
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=80)  # with control characters
names = st.one_of(st.text(PRINTABLE, min_size=1, max_size=80),
                  st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join),
                  st.text(alphabet=" :-", min_size=1, max_size=50),
                  st.text(st.characters(min_codepoint=0x100, exclude_categories=("Cs", "Cc")), min_size=1,
                          max_size=50),
                  ANY_TEXT)
clean_text = st.text(PRINTABLE, max_size=20)
short_text = st.one_of(clean_text, clean_text, st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
                       st.text(st.characters(exclude_categories=("Cs",)), max_size=20))
numbers = st.text(PRINTABLE, min_size=1, max_size=20).filter(lambda s: s.strip() == s and s)


@st.composite
def members(draw: Any) -> list[dict[str, str]]:
    count = draw(st.integers(1, 3))
    nums = draw(st.lists(numbers, min_size=count, max_size=count, unique_by=str.casefold))
    out = []
    for i, number in enumerate(nums):
        row = {"number": number,
               "name": out[0]["name"] if i and draw(st.booleans()) else draw(names)}
        odd = draw(st.sampled_from(MEMBER_HEADER[2:]))  # one field of anything; the others printable
        for col in MEMBER_HEADER[2:]:
            row[col] = draw(short_text if col == odd else clean_text)
        out.append(row)
    return out


def money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=low, max_value=high, places=2, allow_nan=False, allow_infinity=False)


amounts = st.one_of(money(-1000, 5000), money(-10 ** 7, 10 ** 7), st.just(Decimal("0.00")),
                    money(10 ** 12, 10 ** 13 - 1))
quantities = st.integers(0, 5).flatmap(
    lambda p: st.decimals(min_value=-50, max_value=500, places=p, allow_nan=False, allow_infinity=False))


def amount_text(value: Decimal, style: int) -> str:
    """An amount as a person types it: plain, with separators, with a currency sign, in parentheses."""
    if style == 0:
        return str(value)
    text = f"{abs(value):,.2f}"
    if style == 1:
        return ("-" if value < 0 else "") + text
    if style == 2:
        return ("-$" if value < 0 else "$") + text
    return f"(${text})" if value < 0 else f"${text}"


# ---------------------------------------------------------------------- properties


@PROPERTY
@given(rows=members())
def test_any_accepted_member_becomes_a_customer_quickbooks_accepts(world, rows):
    """Names with any Unicode, colons, long or empty-ish: accepted members become customers whose names
    QuickBooks Desktop can hold (and the plan lists every change); refused files are refused cleanly."""
    with nullcontext(world.reset()) as w:
        data = csv_bytes(MEMBER_HEADER, [[r[c] for c in MEMBER_HEADER] for r in rows])
        if not w.load("members", data):
            return
        invoices = [[f"P{i}", r["number"].strip(), "2025-03-01", "", "4020", "Dues", "1", "", "10.00"]
                    for i, r in enumerate(rows)]
        assert w.load("invoices", csv_bytes(INVOICE_HEADER, invoices))
        event("members accepted")
        pushed = w.push()
        customers = [op.payload for op in pushed.plan.operations if op.kind is Kind.CUSTOMER]
        assert len(customers) == len(rows)
        assert sorted(pushed.names) == sorted(c.name for c in customers)
        for customer in customers:
            storable(customer.name, 41)
            for value, limit in ((customer.company_name, 41), (customer.first_name, 25), (customer.last_name, 25),
                                 (customer.address.line1, 41), (customer.address.city, 31),
                                 (customer.address.state, 21), (customer.address.postal_code, 13),
                                 (customer.phone, 21)):
                assert len(value) <= limit
                value.encode("iso-8859-1")
        adjusted = {a.adjusted for a in pushed.plan.adjustments if a.field == "customer name"}
        for row, customer in zip(sorted(rows, key=lambda r: r["number"].strip()), customers):
            clean = " ".join(row["name"].split())
            if customer.name != clean:
                assert customer.name in adjusted, (row["name"], customer.name)


@PROPERTY
@given(lines=st.lists(st.tuples(quantities, amounts, st.sampled_from(["amount", "rate", "both"])), min_size=1,
                      max_size=4),
       credit=money(-50, 500), cash=money(-20, 6000), applied=money(0, 6000), credit_applied=money(0, 600),
       style=st.sampled_from([0, 0, 1, 2, 3]), lenient=st.sampled_from([True, True, False]))
def test_any_accepted_amount_reaches_quickbooks_exactly(world, lines, credit, cash, applied, credit_applied, style,
                                                        lenient):
    """Amounts with two places, negative, zero or up to 13 digits, typed plain or as people type them:
    accepted invoices, credit memos and payments are accepted by QuickBooks with the same totals, and the
    member's balance there equals the billing store's."""
    options = ImportOptions(amounts="lenient" if lenient else "strict")
    with nullcontext(world.reset()) as w:
        rows = []
        for i, (qty, value, mode) in enumerate(lines):
            rate = ""
            amount = amount_text(value, style)
            if mode in ("rate", "both") and qty != 0:
                rate = str((value / qty).quantize(Decimal("0.00001")))
                if mode == "rate":
                    amount = ""
            rows.append(["PINV", "1001", "2025-03-01", "", "4100", f"line {i}", str(qty), rate, amount])
        invoice_ok = w.load("invoices", csv_bytes(INVOICE_HEADER, rows), options)
        memo_ok = w.load("credit-memos", csv_bytes(INVOICE_HEADER, [
            ["PCM", "1001", "2025-03-02", "", "4100", "credit", "1", "", amount_text(credit, style)]]), options)
        apps = [[""] * 4]
        if invoice_ok:
            apps = [["PINV", amount_text(applied, style), "PCM" if memo_ok and credit_applied else "",
                     amount_text(credit_applied, style) if memo_ok and credit_applied else ""]]
        payment_ok = w.load("payments", csv_bytes(PAYMENT_HEADER, [
            ["PR", "1001", "2025-03-03", amount_text(cash, style), "Check", "77", "1050", "", *apps[0]]]), options)
        event(f"accepted: invoice {invoice_ok}, credit memo {memo_ok}, payment {payment_ok}")
        if not (invoice_ok or memo_ok or payment_ok):
            return
        pushed = w.push()
        with w.sessions() as session:
            from booksync.store.models import CreditMemo, Invoice, Payment

            expected = {"Invoice": [i.total for i in session.scalars(select(Invoice))],
                        "CreditMemo": [c.total for c in session.scalars(select(CreditMemo))],
                        "ReceivePayment": [p.amount for p in session.scalars(select(Payment))]}
        with open_company(pushed.company) as company:
            for txn_type, totals in expected.items():
                got = [Decimal(r[0]) / 100 for r in company.db.execute(
                    "SELECT total FROM txns WHERE txn_type=? ORDER BY txn_date", (txn_type,))]
                assert sorted(got) == sorted(totals), txn_type
            balance = sum(expected["Invoice"], Decimal(0)) - sum(expected["CreditMemo"], Decimal(0)) \
                - sum(expected["ReceivePayment"], Decimal(0))
            (customer,) = company.db.execute("SELECT list_id FROM lists WHERE kind='Customer'").fetchall()
            assert company.processor.customer_balance(customer[0]) == balance


@PROPERTY
@given(gl_name=names, method=short_text, reference=short_text, memo=names, description=names,
       number=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30))
def test_any_accepted_name_and_text_fits_quickbooks(world, gl_name, method, reference, memo, description, number):
    """G/L account names (service items), payment methods, references, memos, descriptions and document
    numbers of any Unicode: QuickBooks accepts what the importer accepts, fitted to its limits."""
    with nullcontext(world.reset()) as w:
        gl = csv_bytes(["number", "name", "type", "qb_account"], [["4600", gl_name, "Income", "Events"]])
        if not w.load("gl-accounts", gl):
            return
        invoice = csv_bytes(INVOICE_HEADER, [[number, "1002", "2025-03-01", memo, "4600", description, "1", "",
                                              "25.00"]])
        if not w.load("invoices", invoice):
            return
        payment = csv_bytes(PAYMENT_HEADER, [["PR", "1002", "2025-03-02", "25.00", method, reference, "1050", memo,
                                              number.strip(), "25.00", "", ""]])
        paid = w.load("payments", payment)
        event(f"invoice accepted, payment {'accepted' if paid else 'refused'}")
        pushed = w.push()
        items = [op.payload for op in pushed.plan.operations if op.kind is Kind.ITEM]
        assert len(items) == 1
        storable(items[0].name, 31)
        methods = [op.payload for op in pushed.plan.operations if op.kind is Kind.PAYMENT_METHOD]
        for m in methods:
            storable(m.name, 31)
        for op in pushed.plan.operations:
            if op.kind in (Kind.INVOICE, Kind.PAYMENT):
                assert len(op.payload.ref_number) <= (11 if op.kind is Kind.INVOICE else 20)
                op.payload.memo.encode("iso-8859-1")
        if paid:
            assert any(op.kind is Kind.PAYMENT for op in pushed.plan.operations)


def test_the_demo_names_appear_in_the_plan_in_their_quickbooks_form(world, tmp_path):
    """The demo's members whose names exceed QuickBooks' limits or hold disallowed characters: the plan
    shows each in its QuickBooks form, and the simulator accepts all 400 customers."""
    from importlib import resources

    with nullcontext(world.reset()) as w, resources.as_file(resources.files("booksync.demo") / "data") as data:
        assert w.load("members", (Path(data) / "members.csv").read_bytes())
        with w.sessions() as session:
            numbers = list(session.scalars(select(Member.number)))
        invoices = [[f"D{n}", n, "2025-03-01", "", "4020", "Dues", "1", "", "1.00"] for n in numbers]
        assert w.load("invoices", csv_bytes(INVOICE_HEADER, invoices))
        pushed = w.push()
    changed = {a.record.split()[1]: (a.original, a.adjusted, a.reason) for a in pushed.plan.adjustments
               if a.field == "customer name"}
    assert changed["1088"][:2] == ("Dvořák Music Studio", "Dvorák Music Studio")
    assert changed["1233"][:2] == ("Acme: The Widget Company", "Acme - The Widget Company")
    assert changed["1150"][1] == "The Greater Riverside Regional Economic" and "41" in changed["1150"][2]
    assert changed["1302"][1] == "Main Street Dental (1302)"
    for number, (_, adjusted, _) in changed.items():
        assert pushed.names[adjusted] == number
    assert len(pushed.names) == 400


# ---------------------------------------------------------------------- the field rules' corner cases


def test_field_rules_corner_cases_found_by_the_properties():
    """Cases Hypothesis found: a colon at the start leaves no space behind; a uniqueness suffix is
    transliterated too; a name of nothing storable gets its stand-in; originals are kept for a note."""
    from booksync.books.desktop.limits import DESKTOP_LIMITS
    from booksync.fields import FieldFitter

    fit = FieldFitter(DESKTOP_LIMITS)
    assert fit.name("payment method", "name", ": 0", 31) == "- 0"
    assert fit.unique("member Ā", "customer name", "0", "Ā", 41, "member 0 in this run") == "0 (A)"
    assert fit.name("member 7", "customer name", "\ue000\ue001", 41, fallback="Member 7") == "Member 7"
    assert fit.unique("m", "customer name", "X", "\ue000", 41, "a customer").startswith("X (")
    fit.name("member 1088", "customer name", "Dvořák Music Studio", 41)
    fit.text("member 1088", "contact last name", "Dvořáková", 25)
    assert fit.notes("member 1088", 4095) == ("Original in the billing store - customer name: Dvo<U+0159>ák Music "
                                             "Studio; contact last name: Dvo<U+0159>áková")
    assert fit.notes("member 1", 4095) == ""
    assert [a.reason for a in fit.adjustments][-1] == "characters QuickBooks Desktop cannot store were transliterated"
