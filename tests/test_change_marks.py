"""Change marks (sync/marks.py, sync/load.py): a run examines only records changed after the company's mark and
those left outstanding by earlier runs, never the whole history — and nothing is missed because of it.

The suite runs with BOOKSYNC_MARK_MARGIN_SECONDS=0 (conftest), so the mark is exactly a run's start."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from booksync.config import Home
from booksync.domain import Kind
from booksync.store.db import open_store
from booksync.store.models import Invoice, Link, Outstanding, SyncMark
from booksync.sync.load import load_work
from booksync.sync.marks import remember_outstanding

from test_corrections import agrees, paid_and_unpaid, txn, write_invoice


def sessions(home) -> object:  # noqa: ANN001
    return open_store(Home.load(home.path).database_url)


def company_key(session) -> str:  # noqa: ANN001
    return session.scalar(select(SyncMark.company_key))


def test_a_synchronized_demo_has_a_mark_and_nothing_outstanding(demo_copy):
    with sessions(demo_copy)() as session:
        marks = list(session.scalars(select(SyncMark)))
        assert len(marks) == 1 and marks[0].run_id
        # The demo's sync wrote every record completely: nothing is left to look at again.
        assert session.scalars(select(Outstanding)).all() == []
        assert load_work(session, marks[0].company_key).is_empty()


def test_only_candidates_are_examined(demo_copy):
    """A link made to disagree with its record behind booksync's back (the record's updated_at untouched)
    is invisible to the marked load, and visible to a load of everything: the marked load reads no history."""
    _, unpaid = paid_and_unpaid()
    with sessions(demo_copy)() as session:
        key = company_key(session)
        invoice = session.scalar(select(Invoice).where(Invoice.number == unpaid))
        session.execute(update(Link).where(Link.company_key == key, Link.kind == "invoice",
                                           Link.local_id == invoice.id)
                        .values(source_updated_at=dt.datetime(2000, 1, 1)))
        session.commit()
        assert load_work(session, key).is_empty()
        everything = load_work(session, key, everything=True)
        assert [r.number for r in everything.changed_invoices] == [unpaid]


def test_a_change_after_the_mark_is_found(demo_copy, cli, company_db, tmp_path):
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("import", "invoices", str(write_invoice(tmp_path, unpaid, "77.70")), "--home", home).code == 0
    with sessions(demo_copy)() as session:
        work = load_work(session, company_key(session))
        assert [r.number for r in work.changed_invoices] == [unpaid] and not work.invoices
    result = cli("sync", "--yes", "--corrections-log", str(tmp_path / "log.csv"), "--home", home)
    assert result.code == 0, str(result)
    assert txn(company_db(demo_copy.company), unpaid)["total"] == 7770


def test_a_dry_run_moves_the_mark_but_keeps_the_change_outstanding(demo_copy, cli, company_db, tmp_path):
    """The dry run's mark is later than the change; the next real sync still sends it (from the
    outstanding set), then nothing is outstanding and a third sync has nothing to do."""
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("import", "invoices", str(write_invoice(tmp_path, unpaid, "55.50")), "--home", home).code == 0
    dry = cli("sync", "--dry-run", "--home", home)
    assert dry.code == 0, str(dry)
    with sessions(demo_copy)() as session:
        key = company_key(session)
        mark = session.get(SyncMark, key)
        invoice = session.scalar(select(Invoice).where(Invoice.number == unpaid))
        assert invoice.updated_at < mark.checked_through
        assert session.get(Outstanding, (key, Kind.INVOICE.value, invoice.id)) is not None
    result = cli("sync", "--yes", "--corrections-log", str(tmp_path / "log.csv"), "--home", home)
    assert result.code == 0, str(result)
    assert txn(company_db(demo_copy.company), unpaid)["total"] == 5550
    with sessions(demo_copy)() as session:
        assert session.scalars(select(Outstanding)).all() == []
    again = cli("sync", "--yes", "--home", home)
    assert again.code == 0 and "Nothing to synchronize" in again.output, str(again)
    agrees(cli, home)


def test_a_stopped_run_keeps_new_records_outstanding(nosync_copy, cli, company_db):
    """Answering no to creating customers stops the first sync; every record stays outstanding, and the
    next sync writes them all."""
    home = str(nosync_copy.path)
    declined = cli("sync", "--home", home, input="n\n")
    assert declined.code == 4, str(declined)
    with sessions(nosync_copy)() as session:
        key = company_key(session)
        assert session.get(SyncMark, key) is not None
        count = session.query(Outstanding).filter_by(company_key=key, kind="invoice").count()
        assert count == session.query(Invoice).filter_by(status="open").count() > 0
    done = cli("sync", "--yes", "--home", home)
    assert done.code == 0, str(done)
    assert company_db(nosync_copy.company).count_txns("Invoice") == count
    agrees(cli, home)


def test_remember_replaces_the_outstanding_set(demo_copy):
    """A record outstanding before but no longer needing anything drops out when the mark moves."""
    with sessions(demo_copy)() as session:
        key = company_key(session)
        session.add(Outstanding(company_key=key, kind="invoice", local_id=1))
        session.commit()
        started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        work = load_work(session, key)
        assert work.is_empty()
        remember_outstanding(session, key, work, started, "test")
        session.commit()
        assert session.scalars(select(Outstanding)).all() == []
        assert session.get(SyncMark, key).run_id == "test"


def test_full_scan_finds_a_change_stamped_before_the_mark(demo_copy, cli, company_db, tmp_path):
    """A change whose updated_at is older than the mark (data copied in with its old timestamps, a clock
    behind) is not a candidate; `sync --full-scan` examines everything and writes it."""
    _, unpaid = paid_and_unpaid()
    home = str(demo_copy.path)
    assert cli("import", "invoices", str(write_invoice(tmp_path, unpaid, "12.12")), "--home", home).code == 0
    with sessions(demo_copy)() as session:
        key = company_key(session)
        old = session.get(SyncMark, key).checked_through - dt.timedelta(days=1)
        session.execute(update(Invoice).where(Invoice.number == unpaid).values(updated_at=old))
        session.commit()
    missed = cli("sync", "--yes", "--home", home)
    assert missed.code == 0 and "Nothing to synchronize" in missed.output, str(missed)
    found = cli("sync", "--yes", "--full-scan", "--corrections-log", str(tmp_path / "log.csv"), "--home", home)
    assert found.code == 0, str(found)
    assert txn(company_db(demo_copy.company), unpaid)["total"] == 1212
    agrees(cli, home)
