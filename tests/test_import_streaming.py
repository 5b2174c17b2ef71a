"""A members import streams: rows are read as they come and written a batch at a time, so its memory does
not grow with the file, and a file refused late still writes nothing (issue 19 item 10). Memory is
measured with tracemalloc in process (allocations, not time); speed is benchmarks/import_members.py's."""
from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

import booksync.sources.checks.common as checks_common
import booksync.sources.checks.members as member_checks
from booksync.store.db import open_store
from booksync.sources.csvfile.importer import import_file
from booksync.sources.report import ImportFailed
from booksync.store.models import Application, Invoice, Member, Payment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from import_members import write_members  # noqa: E402 - the benchmark's own file shape


@pytest.fixture
def sessions(tmp_path):
    return open_store(f"sqlite:///{tmp_path / 'billing.db'}")


def test_a_members_import_holds_a_batch_not_the_file(sessions, tmp_path, monkeypatch):
    monkeypatch.setattr(member_checks, "MEMBER_BATCH", 500)
    write_members(tmp_path / "members.csv", 10_000)  # 1.6 MB; held whole with its records: 60 MB
    with sessions() as session:
        tracemalloc.start()
        try:
            result = import_file(session, "members", tmp_path / "members.csv")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.added == 10_000
    assert peak < 15 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Member)) == 10_000
        assert session.scalar(select(Member.contact_last).where(Member.number == "M0009999")) == "Müller"


def test_a_problem_in_the_last_batch_leaves_the_store_as_it_was(sessions, tmp_path, monkeypatch):
    monkeypatch.setattr(member_checks, "MEMBER_BATCH", 3)
    path = tmp_path / "members.csv"
    rows = [f"{7000 + i},Member {i},,active,\n" for i in range(10)]
    rows[9] = "7009,Member 9,,retired,\n"
    path.write_text("number,name,company,status,qb_customer\n" + "".join(rows))
    with sessions() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "members", path)
    assert [str(p) for p in raised.value.problems] == [
        "members.csv, row 11, column status: must be active or inactive (value 'retired')"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Member)) == 0


def test_a_bill_info_held_in_the_store_is_decided_after_the_whole_file(sessions, tmp_path, monkeypatch):
    """Member 8001 holds "Acme" in the store; the file gives "Acme" to 8005 in an early batch and, later,
    another Bill Info to 8001: accepted, as when the file was read whole. Without that later row: refused."""
    monkeypatch.setattr(member_checks, "MEMBER_BATCH", 2)
    with sessions() as session:
        session.add(Member(number="8001", name="Old Acme", qb_customer="Acme"))
        session.commit()
    head = "number,name,qb_customer\n"
    moved = tmp_path / "moved.csv"
    moved.write_text(head + "8005,Acme Inc,Acme\n8006,B,\n8007,C,\n8001,Old Acme,Old Acme Co\n")
    with sessions() as session:
        assert import_file(session, "members", moved).added == 3
    with sessions() as session:
        assert session.scalar(select(Member.qb_customer).where(Member.number == "8005")) == "Acme"
        session.execute(Member.__table__.update().where(Member.number == "8005").values(qb_customer=""))
        session.execute(Member.__table__.update().where(Member.number == "8001").values(qb_customer="Acme"))
        session.commit()
    kept = tmp_path / "kept.csv"
    kept.write_text(head + "8005,Acme Inc,Acme\n8006,B,\n8007,C,\n")
    with sessions() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "members", kept)
    assert [str(p) for p in raised.value.problems] == [
        "kept.csv, row 2, column qb_customer: member 8001 (already in the billing store) has the same QuickBooks "
        "customer; each member needs its own (value 'Acme')"]


# ---------------------------------------------------------------------- invoices, credit memos, payments, G/L accounts


def _ledger(sessions, tmp_path, members: int = 50) -> None:
    """G/L accounts and members for the transaction imports below."""
    (tmp_path / "gl.csv").write_text("number,name,type\n4000,Dues,Income\n1499,Undeposited Funds,OtherCurrentAsset\n")
    (tmp_path / "members.csv").write_text("number,name\n" + "".join(f"M{i:03d},Member {i}\n" for i in range(members)))
    with sessions() as session:
        import_file(session, "gl-accounts", tmp_path / "gl.csv")
        import_file(session, "members", tmp_path / "members.csv")


def _invoices(path: Path, count: int, first: int = 0) -> Path:
    path.write_text("number,member,date,gl_account,description,amount\n" + "".join(
        f"INV{i:05d},M{i % 50:03d},2025-01-{1 + i % 28:02d},4000,Dues {i},{100 + i % 7}.00\n"
        for i in range(first, first + count)))
    return path


def test_an_invoices_import_holds_a_batch_not_the_file(sessions, tmp_path, monkeypatch):
    monkeypatch.setattr(checks_common, "BATCH", 200)
    _ledger(sessions, tmp_path)
    _invoices(tmp_path / "invoices.csv", 12_000)  # held whole with its records: 23 MiB
    with sessions() as session:
        tracemalloc.start()
        try:
            result = import_file(session, "invoices", tmp_path / "invoices.csv")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.added == 12_000
    assert peak < 10 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 12_000


def test_an_invoice_refused_in_the_last_batch_leaves_the_store_as_it_was(sessions, tmp_path, monkeypatch):
    monkeypatch.setattr(checks_common, "BATCH", 3)
    _ledger(sessions, tmp_path)
    path = _invoices(tmp_path / "invoices.csv", 10)
    path.write_text(path.read_text().replace("INV00009,M009", "INV00009,M999"))
    with sessions() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", path)
    assert [str(p) for p in raised.value.problems] == [
        "invoices.csv, row 11, column member: no member has this number (value 'M999')"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_rows_of_a_record_apart_are_reported_as_when_the_file_was_read_whole(sessions, tmp_path, monkeypatch):
    """INV00000's record was handed over (and its batch checked) before its row 7 appears: that row is still
    reported against the record's first row, and its own values are checked."""
    monkeypatch.setattr(checks_common, "BATCH", 2)
    _ledger(sessions, tmp_path)
    path = _invoices(tmp_path / "invoices.csv", 5)
    path.write_text(path.read_text() + "INV00000,M001,2025-01-01,4999,Late line,5.00\n"
                                       "INV00000,M000,2025-01-01,4000,Later line,5.00\n")
    with sessions() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "invoices", path)
    assert [str(p) for p in raised.value.problems] == [
        "invoices.csv, row 7, column number: the number appears again: rows of one record must be consecutive "
        "(the record starts on row 2) (value 'INV00000')",
        "invoices.csv, row 7, column member: differs from row 2 of the same record ('M000') (value 'M001')",
        "invoices.csv, row 7, column gl_account: no G/L account has this number (value '4999')"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_payments_are_checked_against_the_store_without_the_payments_the_file_replaces(sessions, tmp_path,
                                                                                         monkeypatch):
    """R2 (in the store) pays INV00000 in full; the file moves that application to R1, in an earlier batch
    than R2's new row. The store's R2 must not count against R1: the file holds R2."""
    monkeypatch.setattr(checks_common, "BATCH", 1)
    _ledger(sessions, tmp_path)
    with sessions() as session:
        import_file(session, "invoices", _invoices(tmp_path / "invoices.csv", 2))
    head = "number,member,date,amount,deposit_account,apply_to,apply_amount\n"
    (tmp_path / "before.csv").write_text(head + "R2,M000,2025-02-01,100.00,1499,INV00000,100.00\n")
    moved = tmp_path / "moved.csv"
    moved.write_text(head + "R1,M000,2025-02-01,100.00,1499,INV00000,100.00\n"
                            "R2,M000,2025-02-01,100.00,1499,,\n")
    with sessions() as session:
        import_file(session, "payments", tmp_path / "before.csv")
    with sessions() as session:
        result = import_file(session, "payments", moved)
    assert (result.added, result.updated) == (1, 1)
    with sessions() as session:
        paid = session.execute(select(Payment.number, func.count(Application.id)).outerjoin(Application)
                               .group_by(Payment.number).order_by(Payment.number)).all()
    assert paid == [("R1", 1), ("R2", 0)]


def test_an_overapplied_invoice_is_reported_once_across_batches(sessions, tmp_path, monkeypatch):
    monkeypatch.setattr(checks_common, "BATCH", 1)
    _ledger(sessions, tmp_path)
    with sessions() as session:
        import_file(session, "invoices", _invoices(tmp_path / "invoices.csv", 1))
    path = tmp_path / "payments.csv"
    path.write_text("number,member,date,amount,deposit_account,apply_to,apply_amount\n"
                    "R1,M000,2025-02-01,60.00,1499,INV00000,60.00\n"
                    "R2,M000,2025-02-01,60.00,1499,INV00000,60.00\n"
                    "R3,M000,2025-02-01,60.00,1499,INV00000,60.00\n")
    with sessions() as session, pytest.raises(ImportFailed) as raised:
        import_file(session, "payments", path)
    assert [str(p) for p in raised.value.problems] == [
        "payments.csv, row 3, column apply_amount: invoice INV00000 has 100.00 left to pay (total 100.00); this "
        "file applies 120.00 to it up to this row (value '60.00')"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
