"""A members import streams: rows are read as they come and written a batch at a time, so its memory does
not grow with the file, and a file refused late still writes nothing (issue 19 item 10). Memory is
measured with tracemalloc in process (allocations, not time); speed is benchmarks/import_members.py's."""
from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

import booksync.sources.checks.members as member_checks
from booksync.store.db import open_store
from booksync.sources.csvfile.importer import import_file
from booksync.sources.report import ImportFailed
from booksync.store.models import Member

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
