"""The field rule (sync.fields) and the planner's checks and customer naming (sync.planner)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booksync.books.desktop.limits import DESKTOP_LIMITS
from booksync.qbxml import build
from booksync.domain import Action, Kind, QBAccount, QBCompany, QBCustomer, QBListEntry, QBSnapshot
from booksync.sync.checks import UNMAPPED_HEADLINE, check_accounts, check_deposit_accounts
from booksync.sync.customers import CustomerResolution
from booksync.sync.planner import Planner
from booksync.sync.work import Work
from booksync.sync.written import GUID_NAMESPACE, _ENCODER, _FAST, _NotPlain, external_guid, fingerprint, written_json
from booksync.fields import FieldFitter

LONG = "The Greater Riverside Regional Economic Development Corporation"


def fitter() -> FieldFitter:
    return FieldFitter(DESKTOP_LIMITS)


# ---------------------------------------------------------------------- the name rule


def test_colon_becomes_a_dash_and_is_recorded():
    """': ' becomes ' - ' and a bare ':' becomes '-'; each change is recorded as an Adjustment."""
    f = fitter()
    assert f.name("member 1233", "customer name", "Acme: The Widget Company", 41) == "Acme - The Widget Company"
    assert f.name("member 9", "customer name", "Parent:Child", 41) == "Parent-Child"
    assert [(a.record, a.original, a.adjusted) for a in f.adjustments] == [
        ("member 1233", "Acme: The Widget Company", "Acme - The Widget Company"),
        ("member 9", "Parent:Child", "Parent-Child")]
    assert all("colon" in a.reason for a in f.adjustments)


def test_characters_outside_latin_1_are_transliterated_latin_1_ones_kept():
    """ř is not in ISO-8859-1 and becomes r; á, é, ó are kept as QuickBooks Desktop stores them."""
    f = fitter()
    assert f.name("member 1088", "customer name", "Dvořák Music Studio", 41) == "Dvorák Music Studio"
    assert f.name("member 1042", "customer name", "Café Olé Bakery", 41) == "Café Olé Bakery"
    (adjustment,) = f.adjustments
    assert adjustment.original == "Dvořák Music Studio" and "transliterated" in adjustment.reason


def test_long_name_is_cut_to_41_and_recorded():
    """A customer name over 41 characters is cut to at most 41 (a prefix of the original) and recorded."""
    f = fitter()
    fitted = f.name("member 1150", "customer name", LONG, 41)
    assert 0 < len(fitted) <= 41
    assert LONG.startswith(fitted)
    assert not fitted.endswith(" ")
    (adjustment,) = f.adjustments
    assert (adjustment.original, adjustment.adjusted) == (LONG, fitted)
    assert "longer than 41" in adjustment.reason


def test_names_that_fit_are_left_alone_and_not_recorded():
    """Names QuickBooks can hold (with & ' < > ") are kept as they are; only whitespace is collapsed, silently."""
    f = fitter()
    for name in ("Smith & Sons Hardware", "O'Malley's Irish Pub", 'Bits <&> Bytes "Computer" Repair'):
        assert f.name("m", "customer name", name, 41) == name
    assert f.name("m", "customer name", "  Too   many   spaces ", 41) == "Too many spaces"
    assert f.adjustments == []


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_any_fitted_name_is_storable_by_quickbooks_desktop(value):
    """Whatever the billing store holds, a fitted customer name has at most 41 Latin-1 characters."""
    fitted = fitter().name("m", "customer name", value, 41)
    assert len(fitted) <= 41
    fitted.encode("iso-8859-1")


@pytest.mark.parametrize("value", ["Joe's Pizza 🍕", "Ratio ∶ Partners"])
def test_fitted_names_never_hold_a_colon(value):
    """Whatever transliteration produces, a fitted list name holds no colon (QuickBooks' parent:child separator)."""
    fitted = fitter().name("m", "customer name", value, 41)
    assert ":" not in fitted


@pytest.mark.parametrize("value", ["Bad\x01Name Co", "Back\x08space Ltd"])
def test_fitted_names_can_be_written_in_qbxml(value):
    """A fitted name is always something a qbXML message can carry."""
    fitted = fitter().name("m", "customer name", value, 41)
    build.aggregate("CustomerAdd", {"Name": fitted})


def test_unique_appends_the_member_number_within_the_limit():
    """unique() appends ' (NUMBER)' and keeps the result within the limit, recording who holds the name."""
    f = fitter()
    assert f.unique("member 1302", "customer name", "Main Street Dental", "1302", 41,
                    "member 1177 in this run") == "Main Street Dental (1302)"
    long = f.unique("member 1500", "customer name", LONG[:41], "1500", 41, "a customer")
    assert long.endswith(" (1500)") and len(long) <= 41
    assert [a.reason for a in f.adjustments] == ["the name is already used by member 1177 in this run",
                                                  "the name is already used by a customer"]


# ---------------------------------------------------------------------- planner inputs


def member(id: int, number: str, name: str, **kw) -> SimpleNamespace:
    fields = dict(company=name, contact_first="", contact_last="", address1="", address2="", city="", state="",
                  postal_code="", phone="", email="", qb_customer="", status="active",
                  updated_at=dt.datetime(2025, 1, 1))
    fields.update(kw)
    return SimpleNamespace(id=id, number=number, name=name, **fields)


def gl(id: int, number: str, name: str, qb_account: str, type: str = "Income") -> SimpleNamespace:
    return SimpleNamespace(id=id, number=number, name=name, qb_account=qb_account, type=type)


def account(full_name: str, account_type: str, active: bool = True) -> QBAccount:
    return QBAccount(list_id=f"ID-{full_name}", full_name=full_name, account_type=account_type, is_active=active)


CHART = [account("Checking", "Bank"), account("Undeposited Funds", "OtherCurrentAsset"),
         account("Membership Dues:Small Business", "Income"), account("Advertising Income", "Income"),
         account("Old Programs", "Income", active=False)]


def snapshot(customers=(), vendors=()) -> QBSnapshot:
    return QBSnapshot(QBCompany("Test"), list(CHART), [], [],
                      [QBCustomer(f"C-{n}", n, n, "1") for n in customers],
                      [QBListEntry(f"V-{n}", n, "Vendor") for n in vendors])


def plan_customers(members: list[SimpleNamespace], snap: QBSnapshot):
    work = Work(members={m.id: m for m in members})
    resolution = CustomerResolution(missing=list(members))
    return Planner(work, snap, resolution, DESKTOP_LIMITS, "company-key").build(create_customers=True)


def test_duplicate_member_names_get_the_member_number_and_an_adjustment():
    """Two members called Main Street Dental: the lower number keeps the name, the other gets ' (1302)'."""
    plan = plan_customers([member(2, "1302", "Main Street Dental"), member(1, "1177", "Main Street Dental")],
                          snapshot())
    names = {op.number: op.payload.name for op in plan.operations}
    assert names == {"1177": "Main Street Dental", "1302": "Main Street Dental (1302)"}
    assert all(op.action is Action.ADD and op.kind is Kind.CUSTOMER for op in plan.operations)
    (adjustment,) = [a for a in plan.adjustments if a.adjusted == "Main Street Dental (1302)"]
    assert adjustment.record.startswith("member 1302")
    assert "member 1177" in adjustment.reason


def test_name_held_by_a_quickbooks_customer_or_vendor_gets_the_member_number():
    """Names are unique across customers and vendors, compared case-insensitively."""
    plan = plan_customers([member(1, "1400", "riverside office supply"), member(2, "1401", "ACME WIDGETS"),
                           member(3, "1402", "Fresh Name")],
                          snapshot(customers=["Acme Widgets"], vendors=["Riverside Office Supply"]))
    names = {op.number: op.payload.name for op in plan.operations}
    assert names == {"1400": "riverside office supply (1400)", "1401": "ACME WIDGETS (1401)",
                     "1402": "Fresh Name"}
    assert sum("QuickBooks" in a.reason for a in plan.adjustments) == 2


def test_customer_payload_carries_the_member_number_and_fitted_fields():
    """The planned CustomerAdd carries the fitted name and contact, the member number as AccountNumber, and is
    active."""
    plan = plan_customers([member(1, "1088", "Dvořák Music Studio", contact_last="Dvořáková",
                                  city="Dayton", email="a@b.c")], snapshot())
    (op,) = plan.operations
    assert op.payload.name == "Dvorák Music Studio"
    assert op.payload.last_name == "Dvoráková"
    assert op.payload.account_number == "1088"
    assert op.payload.is_active is True
    assert op.payload.external_guid.startswith("{") and op.fingerprint


# ---------------------------------------------------------------------- checks


def sales_work(*line_accounts: int, payments=(), gls=None) -> Work:
    gls = gls or {}
    invoice = SimpleNamespace(id=1, number="INV1", member_id=1, date=dt.date(2025, 1, 2),
                              lines=[SimpleNamespace(gl_account_id=i) for i in line_accounts])
    return Work(invoices=[invoice], payments=list(payments), gl_accounts=gls,
                        members={1: member(1, "1001", "Acme Widgets")})


GLS = {1: gl(1, "4020", "Dues - Small Business", "Membership Dues:Small Business"),
       2: gl(2, "4300", "Advertising", ""),
       3: gl(3, "4400", "Certificates", "No Such Account"),
       4: gl(4, "4900", "Old programs", "Old Programs"),
       5: gl(5, "1050", "Undeposited Funds", "Undeposited Funds", "OtherCurrentAsset"),
       6: gl(6, "1060", "Ad money", "Advertising Income", "OtherCurrentAsset")}


def test_check_accounts_reports_every_unmapped_gl_account():
    """Unmapped, unknown and inactive cross references are reported by G/L number; mapped ones are not."""
    work = sales_work(1, 2, 2, 3, 4, gls=GLS)
    problems = check_accounts(work, snapshot())
    assert [p.record for p in problems] == ["G/L account 4300 Advertising", "G/L account 4400 Certificates",
                                            "G/L account 4900 Old programs"]
    assert all(p.code == "unmapped-account" for p in problems)
    assert "has no QuickBooks account specified (used 2 time(s))" in problems[0].message
    assert "does not have" in problems[1].message
    assert "inactive" in problems[2].message
    assert "4300" in problems[0].fix
    assert UNMAPPED_HEADLINE.format(n=len(problems)) == (
        "You have 3 account(s) which do not have a matching QuickBooks account specified.")


def test_check_accounts_passes_when_everything_is_mapped():
    """No problem when every G/L account used maps to an active QuickBooks account."""
    assert check_accounts(sales_work(1, gls=GLS), snapshot()) == []


def payment(number: str, deposit_account_id: int) -> SimpleNamespace:
    return SimpleNamespace(id=int(number[1:]), number=number, member_id=1, date=dt.date(2025, 2, 1),
                           amount=Decimal("50.00"), deposit_account_id=deposit_account_id, applications=[],
                           method="Check", reference="101", memo="")


def test_check_deposit_accounts_flags_a_payment_into_an_income_account():
    """A payment whose deposit G/L account maps to an Income account is reported, with the fix naming the G/L number.
    A payment whose deposit G/L account maps to an Income account is reported, with the fix naming the G/L number."""
    work = sales_work(1, payments=[payment("R1", 5), payment("R2", 6)], gls=GLS)
    (problem,) = check_deposit_accounts(work, snapshot())
    assert problem.code == "deposit-account"
    assert problem.record.startswith("payment R2 from Acme Widgets")
    assert "Advertising Income" in problem.message and "Income" in problem.message
    assert "1060" in problem.fix


def test_check_deposit_accounts_accepts_bank_and_undeposited_funds():
    """Payments into Bank and Other Current Asset accounts pass the check."""
    gls = {**GLS, 7: gl(7, "1000", "Checking", "Checking", "Bank")}
    work = sales_work(1, payments=[payment("R1", 5), payment("R3", 7)], gls=gls)
    assert check_deposit_accounts(work, snapshot()) == []


# ---------------------------------------------------------------------- fingerprints never change

def _sample_payloads():
    from booksync.domain import (Address, ApplicationData, CreditData, CustomerData, LineData, PaymentData, Ref,
                                 SalesData)
    sale = SalesData(customer=Ref("customer", 7, None, "Smith & Sons — Ørsted"), date=dt.date(2025, 3, 1),
                     ref_number="INV-1", lines=(LineData(item=Ref("item", 3, "80000001-1", "4000 Dues"),
                                                         description="Dues “2025”", quantity=Decimal("1"),
                                                         rate=Decimal("150.00"), amount=Decimal("150.00")),),
                     due_date=None, memo="", external_guid="{X}")
    payment = PaymentData(customer=Ref("customer", None, "8000-1", "Ann"), date=dt.date(2025, 4, 2), ref_number="77",
                          total=Decimal("90.00"), method=None, deposit_to=Ref("account", None, "A-1", "Checking"),
                          applications=(ApplicationData(Ref("invoice", 4, None, "INV-4"), Decimal("80.00"),
                                                        (CreditData(Ref("credit_memo", 2, "T-2", "CM-2"),
                                                                    Decimal("10.00")),)),),
                          external_guid="{Y}")
    customer = CustomerData(name="Dvorak", address=Address("1 Main", city="Brno"), is_active=False, notes="n")
    return sale, payment, customer


def _canonical(value):  # noqa: ANN001, ANN202
    """The first implementation's encoding (commit a714fd2), kept as the reference for written_json."""
    from booksync.domain import Ref

    if isinstance(value, Ref):
        return {"ref": value.kind, "id": value.local_id if value.local_id is not None else value.remote_id,
                "name": value.name}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        # A line's class (issue 21 item 4) is written only when it has one: lines keep their fingerprints.
        return {k: _canonical(getattr(value, k)) for k in value.__dataclass_fields__
                if k != "external_guid" and not (k == "class_ref" and getattr(value, k) is None)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def test_written_json_matches_the_reference_encoding():
    """The fast encoder writes exactly what json.dumps of the canonical form writes."""
    import json

    for payload in _sample_payloads():
        assert written_json(payload) == json.dumps(_canonical(payload), sort_keys=True,
                                                           ensure_ascii=False)


_text = st.text(max_size=12)
_money = st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
_day = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))


@st.composite
def _refs(draw, kind=None):  # noqa: ANN001, ANN202
    from booksync.domain import Ref

    local = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=10**12)))
    remote = draw(st.one_of(st.none(), _text))
    return Ref(kind or draw(st.sampled_from(["customer", "item", "invoice", "account"])), local, remote, draw(_text))


@st.composite
def _payloads(draw):  # noqa: ANN202
    from booksync.domain import ApplicationData, CreditData, LineData, PaymentData, SalesData

    if draw(st.booleans()):
        lines = tuple(LineData(draw(_refs("item")), draw(_text), draw(_money), draw(_money), draw(_money))
                      for _ in range(draw(st.integers(0, 3))))
        return SalesData(draw(_refs("customer")), draw(_day), draw(_text), lines,
                         draw(st.one_of(st.none(), _day)), draw(_text), draw(_text))
    apps = tuple(ApplicationData(draw(_refs("invoice")), draw(_money),
                                 tuple(CreditData(draw(_refs("credit_memo")), draw(_money))
                                       for _ in range(draw(st.integers(0, 2)))))
                 for _ in range(draw(st.integers(0, 3))))
    return PaymentData(draw(_refs("customer")), draw(_day), draw(_text), draw(_money),
                       draw(st.one_of(st.none(), _refs("payment_method"))), draw(_refs("account")), draw(_text), apps,
                       draw(_text))


@settings(max_examples=300, deadline=None)
@given(_payloads())
def test_the_fast_writer_writes_what_the_encoder_writes(payload):  # noqa: ANN001
    """Invoices, credit memos and payments are written without the encoder's hook (written._fast_json): the
    same characters, for any text (quotes, backslashes, control characters, non-ASCII), amount, date and id."""
    import json

    fast = _FAST[type(payload)](payload)
    assert fast == _ENCODER.encode(payload)
    assert fast == json.dumps(_canonical(payload), sort_keys=True, ensure_ascii=False)
    assert written_json(payload) == fast


def test_values_the_fast_writer_does_not_expect_go_to_the_encoder():
    """A date-time, a list instead of a tuple, a str subclass: written by the encoder, as before."""
    import json
    from dataclasses import replace

    sale, payment, _ = _sample_payloads()

    class Name(str):
        pass

    for odd in (replace(sale, date=dt.datetime(2025, 1, 2, 3, 4)), replace(sale, lines=list(sale.lines)),
                replace(sale, memo=Name("memo")), replace(payment, applications=list(payment.applications))):
        with pytest.raises(_NotPlain):
            _FAST[type(odd)](odd)
        assert written_json(odd) == json.dumps(_canonical(odd), sort_keys=True, ensure_ascii=False)


def test_fingerprint_is_pinned():
    """Link rows store fingerprints: a change to the encoding would make every synchronized record look
    changed. This value was computed by the first implementation (commit a714fd2)."""
    sale, _, _ = _sample_payloads()
    assert fingerprint(sale) == "e74ad4f2d0576d3d8cbb2ceef5efba2dcdbc736ad9ffea15364afcefe384f859"


def test_external_guid_is_the_rfc4122_name_based_uuid():
    import uuid

    for key, kind, local_id in (("company:ABC", Kind.INVOICE, 1), ("FileID{x}", Kind.PAYMENT, 10 ** 9),
                                ("ü", Kind.CUSTOMER, 42)):
        expected = "{" + str(uuid.uuid5(GUID_NAMESPACE, f"{key}/{kind.value}/{local_id}")).upper() + "}"
        assert external_guid(key, kind, local_id) == expected
