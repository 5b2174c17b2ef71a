"""The service layer the faces call (issue 18 item 6): a run's options built in one place
(``booksync.services.syncing.sync_options``, from the home's settings and the caller's choices), and mapping on a
small billing store built here (the cross reference, members without a customer, linking, a member's
transactions named from the table of kinds)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booksync.config import Home
from booksync.domain import QBAccount, QBCompany, QBCustomer, QBSnapshot
from booksync.services.mapping import (CrossReference, MappingRefused, link_member, member_transactions,
                                       members_without_customer)
from booksync.services.syncing import sync_options
from booksync.store.db import make_engine
from booksync.store.models import Base, CreditMemo, CreditMemoLine, GLAccount, Invoice, InvoiceLine, Member


@pytest.fixture
def settings(tmp_path):
    home = Home.load(tmp_path / "home", create=True)
    home.settings["sync"].update(message_size=7, keep_backups=3)
    home.settings.setdefault("corrections", {}).update(on_conflict="skip", closed_period="adjust")
    return home.settings


def test_the_homes_settings_give_the_runs_options(settings, monkeypatch) -> None:
    monkeypatch.setenv("BOOKSYNC_TODAY", "2026-03-31")
    options = sync_options(settings)
    assert (options.message_size, options.keep_backups, options.dry_run, options.full_scan) == (7, 3, False, False)
    assert (options.policy.on_conflict, options.policy.closed_period) == ("skip", "adjust")
    assert options.policy.today == dt.date(2026, 3, 31)
    assert options.policy.allow_deposit_changes is False


def test_the_callers_choices_win_over_the_settings(settings) -> None:
    options = sync_options(settings, dry_run=True, full_scan=True, on_conflict="overwrite", closed_period="stop",
                           allow_deposit_changes=True)
    assert (options.dry_run, options.full_scan) == (True, True)
    assert (options.policy.on_conflict, options.policy.closed_period) == ("overwrite", "stop")
    assert options.policy.allow_deposit_changes is True
    assert (options.message_size, options.keep_backups) == (7, 3)  # choices change only what they name


def test_a_date_that_is_not_one_is_refused(settings, monkeypatch) -> None:
    monkeypatch.setenv("BOOKSYNC_TODAY", "31/03/2026")
    with pytest.raises(ValueError):
        sync_options(settings)


# ---------------------------------------------------------------------- mapping, on a small store built here


KEY = "{FILE-ID}"


@pytest.fixture
def store():
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        acme, bolt = Member(number="1001", name="Acme Widgets"), Member(number="1002", name="Bolt Bakery")
        dues = GLAccount(number="4020", name="Dues", type="Income", qb_account="")
        bank = GLAccount(number="1000", name="Checking", type="Bank", qb_account="Membership Dues")
        s.add_all([acme, bolt, dues, bank])
        s.flush()
        s.add(Invoice(number="INV1", member_id=acme.id, date=dt.date(2025, 1, 2), lines=[
            InvoiceLine(seq=1, gl_account_id=dues.id, rate=Decimal("100.00"), amount=Decimal("100.00"))]))
        s.add(CreditMemo(number="CM1", member_id=acme.id, date=dt.date(2025, 1, 3), lines=[
            CreditMemoLine(seq=1, gl_account_id=dues.id, rate=Decimal("5.00"), amount=Decimal("5.00"))]))
        s.commit()
        yield s


SNAPSHOT = QBSnapshot(QBCompany("Riverside"),
                      [QBAccount("A1", "Membership Dues", "Income", "4020"), QBAccount("A2", "Checking", "Bank")],
                      [], [], [QBCustomer("C1", "Acme Widgets", "Acme Widgets", "1"),
                           QBCustomer("C2", "Bolt Bakery Ltd", "Bolt Bakery Ltd", "1")], [])


def test_the_cross_reference_refuses_a_type_the_account_must_not_post_to(store):
    xr = CrossReference(store, SNAPSHOT)
    assert [g.number for g in xr.rows()] == ["1000", "4020"]  # neither fits yet: by number
    refused = xr.assign("1000", xr.by_name["membership dues"])
    assert refused and "Bank" in refused and xr.gls["1000"].qb_account == "Membership Dues"  # as it was
    assert xr.assign("1000", xr.by_name["checking"]) is None
    suggestions = xr.suggestions()
    assert suggestions["4020"].full_name == "Membership Dues"  # by number and name
    xr.apply_suggestions(suggestions)
    assert xr.changed == [("1000", "Checking"), ("4020", "Membership Dues")]
    assert all(xr.fits(g) for g in xr.rows())


def test_members_billed_without_a_customer_and_their_suggestions(store):
    assert members_without_customer(store, KEY, SNAPSHOT) == [
        {"number": "1001", "name": "Acme Widgets", "bill_info": "", "suggestion": "Acme Widgets"}]  # Bolt: no bill


def test_a_customer_linked_to_one_member_is_refused_for_another(store):
    acme, bolt = (store.scalar(select(Member).where(Member.number == n)) for n in ("1001", "1002"))
    said = link_member(store, SNAPSHOT, KEY, acme, "acme widgets")
    assert said == "Member 1001 Acme Widgets is linked to QuickBooks customer \"Acme Widgets\"."
    with pytest.raises(MappingRefused, match="already linked to member 1001 Acme Widgets"):
        link_member(store, SNAPSHOT, KEY, bolt, "Acme Widgets")
    assert bolt.qb_customer == ""
    assert members_without_customer(store, KEY, SNAPSHOT) == []


def test_a_members_transactions_are_named_from_the_table_of_kinds(store):
    acme = store.scalar(select(Member).where(Member.number == "1001"))
    txns = member_transactions(store, KEY, acme)
    assert [(t.kind, t.number, t.amount, t.state) for t in txns] == [
        ("Credit memo", "CM1", Decimal("5.00"), "waiting"), ("Invoice", "INV1", Decimal("100.00"), "waiting")]
