"""The typed billing rows (booksync.records): every attribute planning reads is held by what the billing store
hands over (ORM models for changed records, light rows for records to add) and by the literal rows tests build."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from booksync import records
from booksync.store import models, rows

SATISFIERS = [
    (records.MemberRecord, [models.Member, rows.MemberRow, records.Member]),
    (records.GLAccountRecord, [models.GLAccount, records.GLAccount]),
    (records.SaleLineRecord, [models.InvoiceLine, models.CreditMemoLine, models.SalesReceiptLine, rows.LineRow,
                              records.SaleLine]),
    (records.SaleRecord, [models.Invoice, models.CreditMemo, rows.SaleRow, records.Sale]),
    (records.TargetRecord, [models.Invoice, models.CreditMemo, rows.TargetRow, records.Target]),
    (records.ApplicationRecord, [models.Application, rows.ApplicationRow, records.Application]),
    (records.PaymentRecord, [models.Payment, rows.PaymentRow, records.Payment]),
    (records.ReceiptRecord, [models.SalesReceipt, rows.ReceiptRow, records.Receipt]),
    (records.LinkRef, [models.Link, rows.LinkRow, records.Link]),
    (records.LinkRecord, [models.Link, records.Link]),
]


def protocol_members(protocol: type) -> set[str]:
    """The read-only attributes a protocol declares, its bases' included."""
    return {name for klass in protocol.__mro__ for name, value in vars(klass).items() if isinstance(value, property)}


def attributes(cls: type) -> set[str]:
    """What an instance of ``cls`` has: class attributes (ORM columns, slots, properties) and dataclass fields."""
    names = set(dir(cls))
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    return names


@pytest.mark.parametrize("protocol, classes", SATISFIERS, ids=[p.__name__ for p, _ in SATISFIERS])
def test_the_store_and_the_literal_rows_hold_every_attribute_planning_reads(protocol, classes):
    """A protocol member missing from a store class (a renamed column, a light row without it) fails here, not in
    the middle of a run."""
    wanted = protocol_members(protocol)
    assert wanted, protocol
    for cls in classes:
        assert wanted - attributes(cls) == set(), f"{cls.__module__}.{cls.__name__} lacks what {protocol.__name__} reads"


def test_a_type_checker_finds_the_store_rows_satisfy_the_protocols(tmp_path):
    """Stronger than the names above: mypy checks each store class and literal row against its protocol, types
    included (``Mapped[Decimal]`` columns, ``list[LineRow]`` for ``Sequence[SaleLineRecord]``). The last function
    must fail: a light link row is not a full link, which proves the check looks."""
    from mypy import api  # a [test] dependency, imported here: only this test needs it
    lines = ["import booksync.records", "import booksync.store.models", "import booksync.store.rows"]
    for n, (protocol, classes) in enumerate(SATISFIERS):
        for m, cls in enumerate(classes):
            lines.append(f"def f{n}_{m}(x: {cls.__module__}.{cls.__qualname__}) -> booksync.records.{protocol.__name__}:"
                         "\n    return x")
    lines.append("def wrong(x: booksync.store.rows.LinkRow) -> booksync.records.LinkRecord:\n    return x")
    check = tmp_path / "check_records.py"
    check.write_text("\n".join(lines) + "\n")
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {Path(records.__file__).parents[1]}\nfollow_imports = silent\n")
    out, err, _ = api.run([str(check), "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
                           "--no-error-summary"])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1, out + err
    assert '(got "LinkRow", expected "LinkRecord")' in errors[0]


def test_every_protocol_is_checked():
    """A protocol added to booksync.records is listed above (so its satisfiers are checked too)."""
    declared = {name for name in records.__all__ if name.endswith(("Record", "Ref"))}
    assert declared == {p.__name__ for p, _ in SATISFIERS}


def test_literal_rows_default_what_a_test_does_not_care_about():
    """A sale line's rate is its amount unless given; a sale's total sums its lines in two places; defaults are open
    records at a fixed time."""
    line = records.SaleLine(1, Decimal("40.00"))
    assert (line.rate, line.quantity) == (Decimal("40.00"), Decimal("1"))
    assert records.SaleLine(1, Decimal("40.00"), quantity=Decimal("2"), rate=Decimal("20.00")).rate == Decimal("20.00")
    sale = records.Sale(1, "INV1", 1, dt.date(2025, 1, 2), lines=(line, records.SaleLine(2, Decimal("2.5"))))
    assert sale.total == Decimal("42.50") and str(sale.total) == "42.50"
    assert records.Sale(2, "INV2", 1, dt.date(2025, 1, 2)).total == Decimal("0.00")
    assert (sale.status, sale.updated_at) == ("open", records.EPOCH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sale.status = "void"  # type: ignore[misc]
