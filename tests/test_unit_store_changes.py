"""Changes to billing records as a membership system's user makes them (booksync.store.changes), on a small store
built in the test: voiding and deleting invoices and credit memos, deleting and editing payments, and the refusals,
which leave the store as it was."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.sources import edits
from booksync.store import changes
from booksync.store.db import make_engine
from booksync.store.models import (Application, Base, CreditMemo, CreditMemoLine, GLAccount, Invoice, InvoiceLine,
                                   Member, Payment)

THEN = dt.datetime(2025, 1, 1, 8)


@pytest.fixture
def session():
    engine = make_engine("sqlite://")  # in memory: one connection per thread, kept by SQLAlchemy's pool
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        acme, bolt = Member(number="1001", name="Acme Widgets"), Member(number="1002", name="Bolt Bakery")
        dues = GLAccount(number="4020", name="Dues", type="Income", qb_account="Membership Dues")
        uf = GLAccount(number="1050", name="Undeposited Funds", type="OtherCurrentAsset",
                       qb_account="Undeposited Funds")
        s.add_all([acme, bolt, dues, uf])
        s.flush()
        for number, member, amount in (("INV1", acme, "100.00"), ("INV2", acme, "40.00"), ("INV3", bolt, "10.00")):
            s.add(Invoice(number=number, member_id=member.id, date=dt.date(2025, 1, 2), lines=[
                InvoiceLine(seq=1, gl_account_id=dues.id, rate=Decimal(amount), amount=Decimal(amount))]))
        s.add(CreditMemo(number="CM1", member_id=acme.id, date=dt.date(2025, 1, 3), lines=[
            CreditMemoLine(seq=1, gl_account_id=dues.id, rate=Decimal("5.00"), amount=Decimal("5.00"))]))
        s.flush()
        inv1 = s.scalar(select(Invoice).where(Invoice.number == "INV1"))
        s.add(Payment(number="R1", member_id=acme.id, date=dt.date(2025, 1, 5), amount=Decimal("60.00"),
                      method="Check", reference="101", deposit_account_id=uf.id,
                      applications=[Application(seq=1, invoice_id=inv1.id, amount=Decimal("60.00"))]))
        s.add(Payment(number="R2", member_id=acme.id, date=dt.date(2025, 1, 6), amount=Decimal("20.00"),
                      deposit_account_id=uf.id, status="deleted",
                      applications=[Application(seq=1, invoice_id=inv1.id, amount=Decimal("20.00"))]))
        s.commit()
        for model in (Invoice, CreditMemo, Payment):
            for record in s.scalars(select(model)):
                record.updated_at = THEN
        s.commit()
        yield s


def get(session: Session, model, number: str):  # noqa: ANN001, ANN201
    session.expire_all()
    return session.scalar(select(model).where(model.number == number))


def test_voiding_an_invoice_marks_it_changed_for_the_next_sync(session):
    said = changes.set_status(session, "invoice", "INV2", "void")
    assert said == "The invoice INV2 is voided; the next sync carries it to QuickBooks."
    inv = get(session, Invoice, "INV2")
    assert inv.status == "void" and inv.updated_at > THEN


def test_deleting_a_credit_memo_and_a_payment(session):
    assert changes.set_status(session, "credit-memo", "CM1", "deleted").startswith("The credit memo CM1 is deleted")
    assert changes.set_status(session, "payment", "R1", "deleted").startswith("The payment R1 is deleted")
    assert (get(session, CreditMemo, "CM1").status, get(session, Payment, "R1").status) == ("deleted", "deleted")


@pytest.mark.parametrize("kind, number, status, message", [
    ("invoice", "INV9", "void", "There is no invoice numbered INV9."),
    ("credit-memo", "INV1", "void", "There is no credit memo numbered INV1."),
    ("payment", "R1", "void", "QuickBooks cannot void a payment (TxnVoid has no ReceivePayment type); delete it "
                              "instead: booksync payments delete R1"),
    ("payment", "R2", "deleted", "The payment R2 is already deleted."),
    ("invoice", "INV1", "void", "Payment(s) R1 apply to the invoice INV1. Remove those applications first "
                                "(booksync payments edit RECEIPT --apply ...), then void it."),
    ("invoice", "INV1", "deleted", "Payment(s) R1 apply to the invoice INV1. Remove those applications first "
                                   "(booksync payments edit RECEIPT --apply ...), then delete it."),
])
def test_refused_status_changes_say_why_and_change_nothing(session, kind, number, status, message):
    with pytest.raises(changes.ChangeRefused) as refused:
        changes.set_status(session, kind, number, status)
    assert str(refused.value) == message
    session.rollback()
    assert {r.updated_at for m in (Invoice, CreditMemo, Payment) for r in session.scalars(select(m))} == {THEN}


def test_a_deleted_record_cannot_be_voided(session):
    changes.set_status(session, "invoice", "INV2", "deleted")
    with pytest.raises(changes.ChangeRefused, match="The invoice INV2 was deleted."):
        changes.set_status(session, "invoice", "INV2", "void")


def test_a_credit_memo_applied_through_an_open_payment_cannot_be_voided(session):
    r1 = get(session, Payment, "R1")
    r1.applications[0].credit_memo_id = get(session, CreditMemo, "CM1").id
    r1.applications[0].credit_amount = Decimal("5.00")
    session.commit()
    with pytest.raises(changes.ChangeRefused, match=r"^Payment\(s\) R1 apply to the credit memo CM1\."):
        changes.set_status(session, "credit-memo", "CM1", "void")


def test_editing_a_payments_amount_and_applications(session):
    said = edits.edit_payment(session, "R1", amount="90.00", applications=["INV1=50.00", "INV2=40.00"])
    assert said == "Payment R1 changed; the next sync carries it to QuickBooks."
    r1 = get(session, Payment, "R1")
    assert r1.amount == Decimal("90.00") and r1.updated_at > THEN
    assert [(a.invoice.number, a.amount) for a in r1.applications] == [("INV1", Decimal("50.00")),
                                                                      ("INV2", Decimal("40.00"))]


def test_an_edit_that_changes_nothing_keeps_the_payments_version(session):
    assert edits.edit_payment(session, "R1", memo="") == "Payment R1 already holds these values; nothing changed."
    assert get(session, Payment, "R1").updated_at == THEN


def test_apply_none_removes_every_application(session):
    edits.edit_payment(session, "R1", applications=["none"])
    assert get(session, Payment, "R1").applications == []


@pytest.mark.parametrize("kw, message", [
    ({"applications": ["INV1"]}, "--apply 'INV1': give INVOICE=AMOUNT."),
    ({"member": "1002"}, "--member: the payment applies to the old member's invoices; give its new applications with "
                         "--apply (or --apply none)."),
])
def test_edits_refused_before_the_import_checks(session, kw, message):
    with pytest.raises(changes.ChangeRefused) as refused:
        edits.edit_payment(session, "R1", **kw)
    assert str(refused.value) == message


def test_edits_refused_by_the_import_checks_name_the_option(session):
    """An application over the invoice's open balance, and an unknown deposit account, are refused by the payments
    import's own checks; the message names the option that set the value, and nothing is written."""
    with pytest.raises(changes.ChangeRefused) as refused:
        edits.edit_payment(session, "R1", amount="200.00", applications=["INV1=150.00"])
    assert str(refused.value).startswith("--apply INV1=150.00: ")
    with pytest.raises(changes.ChangeRefused) as refused:
        edits.edit_payment(session, "R1", deposit_account="9999")
    assert str(refused.value).startswith("--deposit-account: ") and "'9999'" in str(refused.value)
    session.rollback()
    r1 = get(session, Payment, "R1")
    assert (r1.amount, r1.updated_at, len(r1.applications)) == (Decimal("60.00"), THEN, 1)


def test_a_deleted_payment_cannot_be_edited(session):
    with pytest.raises(changes.ChangeRefused, match="^Payment R2 was deleted.$"):
        edits.edit_payment(session, "R2", memo="x")
