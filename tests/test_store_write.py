"""The store's write path (store/write.py) owns the ``updated_at`` invariant the change marks rely on: a
changed record is stamped, its lines or applications included; a write of the same values is not; every row
a write changed carries one stamp taken just before its commit; a refused write leaves nothing."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from booksync.store.changes import set_status
from booksync.store.db import open_store
from booksync.store.models import GLAccount, Invoice, InvoiceLine, Member, _now
from booksync.store.write import assign, touch, writing

OLD = dt.datetime(2020, 1, 1)


@pytest.fixture
def sessions(tmp_path):
    sessions = open_store(f"sqlite:///{tmp_path / 'billing.db'}")
    with sessions() as session:
        member = Member(number="1001", name="Acme", created_at=OLD, updated_at=OLD)
        account = GLAccount(number="4000", name="Dues", type="Income", created_at=OLD, updated_at=OLD)
        session.add_all([member, account])
        session.flush()
        session.add(Invoice(number="INV-1", member=member, date=dt.date(2024, 1, 5), created_at=OLD, updated_at=OLD,
                            lines=[InvoiceLine(seq=1, gl_account=account, description="Dues", quantity=Decimal(1),
                                               rate=Decimal("100"), amount=Decimal("100.00"))]))
        session.commit()
    return sessions


def stamp(sessions, model, number: str) -> dt.datetime:
    with sessions() as session:
        return session.scalar(select(model.updated_at).where(model.number == number))


def test_a_write_of_the_same_values_keeps_updated_at(sessions):
    with sessions() as session, writing(session):
        member = session.scalar(select(Member).where(Member.number == "1001"))
        assert assign(member, {"name": "Acme", "status": "active"}) is False
    assert stamp(sessions, Member, "1001") == OLD


def test_a_changed_record_is_stamped_at_the_commit(sessions):
    before = _now()
    with sessions() as session, writing(session):
        member = session.scalar(select(Member).where(Member.number == "1001"))
        assert assign(member, {"name": "Acme Inc", "status": "active"}) is True
    after = _now()
    assert before <= stamp(sessions, Member, "1001") <= after
    assert stamp(sessions, Invoice, "INV-1") == OLD  # rows the write did not change keep theirs


def test_a_record_whose_lines_alone_changed_is_stamped_through_touch(sessions):
    with sessions() as session, writing(session):
        invoice = session.scalar(select(Invoice).where(Invoice.number == "INV-1"))
        invoice.lines[0].amount = Decimal("120.00")
        touch(invoice)
    assert stamp(sessions, Invoice, "INV-1") > OLD


def test_every_row_of_a_write_carries_a_stamp_after_a_mark_set_while_it_ran(sessions):
    """A sync that sets its change mark while a long write runs must still find the rows written before
    the mark: they are stamped just before the commit (docs/architecture.md "Change marks")."""
    with sessions() as session, writing(session):
        session.add(Member(number="1002", name="Early"))
        session.flush()
        mark = _now()  # a sync, in another session, moves its mark here
        session.add(Member(number="1003", name="Late"))
    early, late = stamp(sessions, Member, "1002"), stamp(sessions, Member, "1003")
    assert early == late
    assert early >= mark


def test_a_refused_write_leaves_the_store_as_it_was(sessions):
    with sessions() as session, pytest.raises(RuntimeError):
        with writing(session):
            member = session.scalar(select(Member).where(Member.number == "1001"))
            assign(member, {"name": "Changed"})
            session.add(Member(number="1004", name="New"))
            session.flush()
            raise RuntimeError("refused")
    with sessions() as session:
        assert session.scalar(select(Member.name).where(Member.number == "1001")) == "Acme"
        assert session.scalar(select(Member).where(Member.number == "1004")) is None
    assert stamp(sessions, Member, "1001") == OLD


def test_voiding_an_invoice_goes_through_the_write_path(sessions):
    before = _now()
    with sessions() as session:
        assert "voided" in set_status(session, "invoice", "INV-1", "void")
    assert stamp(sessions, Invoice, "INV-1") >= before
