"""Staging (booksync.sync.staging): what a staged plan writes into the run's folder and how its messages are read
back, with a fake port that renders a message as the lines of its operations."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from booksync.domain import Action, Adjustment, Correction, Kind, Plan, QBCompany, QBSnapshot, Ref, SalesData
from booksync.sync import staging
from booksync.sync.corrections import CorrectionPolicy


class FakePort:
    """Renders a message as one line per operation, each reference resolved as the staged plan says."""

    def __init__(self, suffix: str | None = None) -> None:
        if suffix is not None:
            self.request_suffix = suffix

    def render(self, batch, resolve) -> bytes:  # noqa: ANN001
        lines = []
        for op in batch:
            customer = getattr(op.payload, "customer", None)
            target = resolve(customer) if customer is not None else None
            lines.append(f"{op.seq} {op.action.value} {op.kind.value} {op.number} -> {target}")
        return ("\n".join(lines) + "\n").encode()


SNAPSHOT = QBSnapshot(QBCompany("Café Co"), [], [], [], [], [])


def resolve(ref: Ref) -> str | None:
    return ref.remote_id or f"pending-{ref.kind}-{ref.local_id}"


def sale(member_id: int, remote: str | None = None) -> SalesData:
    return SalesData(Ref(Kind.CUSTOMER.value, member_id, remote, "x"), dt.date(2025, 3, 3), "INV", ())


def plan_of(*specs: tuple) -> Plan:
    """A plan of (action, kind, number, remote_id, payload) operations."""
    plan = Plan()
    for i, (action, kind, number, remote_id, payload) in enumerate(specs, 1):
        plan.add(action=action, kind=kind, local_id=i, number=number, description=f"{action.value} {number} – ok",
                 payload=payload, remote_id=remote_id, amount=Decimal("10.00") if payload is not None else None)
    return plan


def staged(tmp_path: Path, plan: Plan, message_size: int = 2, port: FakePort | None = None) -> staging.StagedPlan:
    stage = staging.StagedPlan(tmp_path / "run", port or FakePort(), resolve, SNAPSHOT, message_size)
    ops = plan.take()
    stage.put(ops[:3])  # handed over in two parts, as the planner's sink does
    stage.put(ops[3:])
    stage.close(plan)
    return stage


PLAN = (
    (Action.ADD, Kind.CUSTOMER, "1001", None, None),
    (Action.ADD, Kind.CUSTOMER, "1002", None, None),
    (Action.ADD, Kind.CUSTOMER, "1003", None, None),
    (Action.ADD, Kind.INVOICE, "INV1", None, sale(1)),
    (Action.ADD, Kind.INVOICE, "INV2", None, sale(2, "C-2")),
    (Action.MOD, Kind.INVOICE, "INV3", "TXN-3", sale(3, "C-3")),
    (Action.MOD, Kind.INVOICE, "INV3", "TXN-3", sale(3, "C-3")),
    (Action.VOID, Kind.INVOICE, "INV4", "TXN-4", None),
)


def test_messages_hold_one_kind_and_action_at_most_message_size_and_never_one_record_twice(tmp_path):
    """Six messages: customers 2 + 1, invoice adds 2, the two mods of TXN-3 apart (the second needs the
    EditSequence the first returns), the void alone; each request file is what the port rendered."""
    stage = staged(tmp_path, plan_of(*PLAN))
    assert [p.name for p in stage.files] == ["001-add-customer.xml", "002-add-customer.xml", "003-add-invoice.xml",
                                             "004-mod-invoice.xml", "005-mod-invoice.xml", "006-void-invoice.xml"]
    assert [[op.seq for op in batch] for batch in stage.batches()] == [[1, 2], [3], [4, 5], [6], [7], [8]]
    assert stage.files[2].read_text() == "4 add invoice INV1 -> pending-customer-1\n5 add invoice INV2 -> C-2\n"


def test_a_record_changed_in_one_message_may_be_changed_again_in_the_next(tmp_path):
    """Only the current message's records keep an operation out: TXN-3 and TXN-4 twice make two messages of two."""
    mods = [(Action.MOD, Kind.INVOICE, f"INV{n}", f"TXN-{n}", sale(n, f"C-{n}")) for n in (3, 4, 3, 4)]
    stage = staged(tmp_path, plan_of(*mods))
    assert [[op.remote_id for op in batch] for batch in stage.batches()] == [["TXN-3", "TXN-4"], ["TXN-3", "TXN-4"]]


def test_the_spill_gives_back_the_operations_as_planned(tmp_path):
    plan = plan_of(*PLAN)
    expected = list(plan.operations)
    stage = staged(tmp_path, plan)
    back = [op for batch in stage.batches() for op in batch]
    assert back == expected and back is not expected
    assert back[3].payload == sale(1) and back[7].remote_id == "TXN-4"


def test_plan_txt_and_plan_json_list_counts_adjustments_and_every_operation(tmp_path):
    plan = plan_of(*PLAN)
    plan.adjustments.append(Adjustment("member 1001", "customer name", "Café: Olé", "Café - Olé", "colon"))
    staged(tmp_path, plan)
    text = (tmp_path / "run" / "plan.txt").read_text(encoding="utf-8")
    assert text.startswith('Synchronization plan for QuickBooks company "Café Co"\n\n       3  add customer\n')
    assert '  member 1001, customer name: "Café: Olé" -> "Café - Olé" (colon)\n' in text
    assert text.endswith("Operations, in order:\n       1  add    add 1001 – ok\n" + "".join(
        f"  {i:6d}  {a:6s} {a} {n} – ok\n" for i, (a, n) in enumerate(
            [("add", "1002"), ("add", "1003"), ("add", "INV1"), ("add", "INV2"), ("mod", "INV3"), ("mod", "INV3"),
             ("void", "INV4")], 2)))
    data = json.loads((tmp_path / "run" / "plan.json").read_text(encoding="utf-8"))
    assert data["company"] == "Café Co"
    assert data["counts"] == {"add customer": 3, "add invoice": 2, "mod invoice": 2, "void invoice": 1}
    assert data["operations"][3] == {"seq": 4, "action": "add", "kind": "invoice", "number": "INV1",
                                     "description": "add INV1 – ok", "amount": "10.00"}
    assert data["operations"][0]["amount"] is None and len(data["operations"]) == 8
    assert data["adjustments"] == [{"record": "member 1001", "field": "customer name", "original": "Café: Olé",
                                    "adjusted": "Café - Olé", "reason": "colon"}]


def test_an_empty_plan_still_writes_valid_files(tmp_path):
    stage = staged(tmp_path, Plan())
    assert stage.files == [] and list(stage.batches()) == []
    data = json.loads((tmp_path / "run" / "plan.json").read_text())
    assert (data["operations"], data["counts"], data["adjustments"]) == ([], {}, [])


def test_the_port_names_its_request_files(tmp_path):
    stage = staged(tmp_path, plan_of(*PLAN[:1]), port=FakePort(".json"))
    assert [p.name for p in stage.files] == ["001-add-customer.json"]


def test_discard_removes_the_spill_and_keeps_what_people_read(tmp_path):
    stage = staged(tmp_path, plan_of(*PLAN))
    folder = tmp_path / "run"
    assert (folder / staging.SPILL).exists()
    assert not (folder / ".plan-operations.txt").exists()  # merged into plan.txt by close
    stage.discard()
    assert sorted(p.name for p in folder.iterdir()) == ["plan.json", "plan.txt", "requests"]
    assert len(list((folder / "requests").iterdir())) == 6


def test_discard_scratch_removes_what_killed_runs_left_behind(tmp_path):
    runs = tmp_path / "runs"
    for run, names in (("r1", staging.SCRATCH + ("plan.txt",)), ("r2", (staging.SPILL,))):
        (runs / run).mkdir(parents=True)
        for name in names:
            (runs / run / name).write_text("x")
    staging.discard_scratch(runs)
    assert [p.relative_to(runs).as_posix() for p in sorted(runs.rglob("*")) if p.is_file()] == ["r1/plan.txt"]


@pytest.mark.parametrize("prepared_by, shown", [("Pat Lee", "Pat Lee"), ("", "unknown user")])
def test_the_corrections_log_is_written_with_the_runs_header(tmp_path, prepared_by, shown):
    plan = Plan(corrections=[Correction("Invoice", "INV1", "1001 Acme", dt.date(2025, 2, 3), ["memo: a -> b"],
                                        "changed", past_period=True, amount_before=Decimal("1.00"),
                                        amount_after=Decimal("1.00"))])
    snap = QBSnapshot(QBCompany("Café Co", closing_date=dt.date(2025, 1, 31)), [], [], [], [], [])
    policy = CorrectionPolicy(period="quarter", today=dt.date(2025, 3, 20), prepared_by=prepared_by)
    paths = staging.write_corrections_log(tmp_path / "20250320-1", plan, snap, policy)
    assert sorted(paths) == ["csv", "html", "pdf"] and all(p.exists() for p in paths.values())
    html = paths["html"].read_text(encoding="utf-8")
    assert "Run: 20250320-1, 2025-03-20" in html and f"Prepared by: {shown}" in html
    assert "Closing date: 2025-01-31; current period starts 2025-01-01" in html
    assert "<td>quarter from Jan 2025</td>" in html
