"""The working files of a run, written before anything is sent (DESIGN.md step 5).

``runs/RUN_ID/``: ``plan.txt`` (for people), ``plan.json`` (for scripts),
``requests/NNN-Kind.xml`` (every request message as it will be sent; records
created earlier in the run appear as ``pending-KIND-ID`` until then), and, until the
run ends, ``plan.spill``: the operations themselves, message by message, which the
engine reads back to apply them. A plan of a million operations is written here as it
is made and never held whole (docs/performance.md, "Streaming a full sync").
"""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, TextIO

from booksync.domain import Operation, Plan, QBSnapshot, Ref, operation_words

SPILL = "plan.spill"
SCRATCH = (SPILL, ".plan-operations.txt", ".plan-operations.json")
"""What a run writes in its folder only while it runs."""


class StagedPlan:
    """Stages a plan message by message as the planner hands its operations over.

    :meth:`put` takes operations in plan order and groups them into messages (one kind and action
    each, at most ``message_size`` requests, never two operations on the same QuickBooks record: the second
    needs the EditSequence the first one's answer returns); each full message is rendered into its request file and
    appended to the spill. :meth:`close` writes ``plan.txt`` and ``plan.json``; :meth:`batches` then
    yields the messages in sending order, read back from the spill.

    The spill is a pickle of booksync's own objects, written and read by the same run in the user's
    own folder; it is deleted by :meth:`discard` when the run ends.
    """

    def __init__(self, folder: Path, port: Any, resolve: Callable[[Ref], str | None], snapshot: QBSnapshot,
                 message_size: int) -> None:
        self.folder, self.port, self.resolve, self.snapshot = folder, port, resolve, snapshot
        self.message_size = max(1, message_size)
        self.requests = folder / "requests"
        self.requests.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self.batch: list[Operation] = []
        self._targets: set[str] = set()
        """ListIDs/TxnIDs the current message changes."""
        self.messages = 0
        self._spill: BinaryIO | None = (folder / SPILL).open("wb")
        self._ops_txt: TextIO | None = (folder / ".plan-operations.txt").open("w", encoding="utf-8")
        self._ops_json: TextIO | None = (folder / ".plan-operations.json").open("w", encoding="utf-8")
        self._first_json = True

    def put(self, ops: list[Operation]) -> None:
        """Stage ``ops`` (the next operations of the plan, in order)."""
        for op in ops:
            if self.batch and (self.batch[0].kind is not op.kind or self.batch[0].action is not op.action
                               or len(self.batch) >= self.message_size
                               or (op.remote_id and op.remote_id in self._targets)):
                self._flush()
            self.batch.append(op)
            if op.remote_id:
                self._targets.add(op.remote_id)
            assert self._ops_txt is not None and self._ops_json is not None
            self._ops_txt.write(f"  {op.seq:6d}  {op.action.value:6s} {op.description}\n")
            item = json.dumps({"seq": op.seq, "action": op.action.value, "kind": op.kind.value, "number": op.number,
                               "description": op.description,
                               "amount": str(op.amount) if op.amount is not None else None}, ensure_ascii=False)
            self._ops_json.write(("\n    " if self._first_json else ",\n    ") + item)
            self._first_json = False

    def _flush(self) -> None:
        if not self.batch:
            return
        self.messages += 1
        first = self.batch[0]
        suffix = getattr(self.port, "request_suffix", ".xml")
        path = self.requests / f"{self.messages:03d}-{first.action.value}-{first.kind.value}{suffix}"
        path.write_bytes(self.port.render(self.batch, self.resolve))
        self.files.append(path)
        assert self._spill is not None
        pickle.dump(self.batch, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self.batch = []
        self._targets = set()

    def close(self, plan: Plan) -> None:
        """Stage what is left and write ``plan.txt`` and ``plan.json`` (counts and adjustments first)."""
        self._flush()
        for handle in (self._spill, self._ops_txt, self._ops_json):
            if handle is not None:
                handle.close()
        self._spill = self._ops_txt = self._ops_json = None
        ops_txt, ops_json = self.folder / ".plan-operations.txt", self.folder / ".plan-operations.json"
        with (self.folder / "plan.txt").open("w", encoding="utf-8") as out:
            out.write(plan_header(plan, self.snapshot))
            with ops_txt.open(encoding="utf-8") as part:
                shutil.copyfileobj(part, out)
        with (self.folder / "plan.json").open("w", encoding="utf-8") as out:
            out.write('{\n  "company": ' + json.dumps(self.snapshot.company.name, ensure_ascii=False)
                      + ',\n  "counts": ' + json.dumps(plan.counts()) + ',\n  "operations": [')
            with ops_json.open(encoding="utf-8") as part:
                shutil.copyfileobj(part, out)
            out.write(("\n  ],\n" if not self._first_json else "],\n") + '  "adjustments": '
                      + json.dumps([a.__dict__ for a in plan.adjustments], ensure_ascii=False) + "\n}\n")
        ops_txt.unlink()
        ops_json.unlink()

    def batches(self) -> Iterator[list[Operation]]:
        """The messages in sending order, read back from the spill (after :meth:`close`)."""
        with (self.folder / SPILL).open("rb") as spill:
            while True:
                try:
                    yield pickle.load(spill)
                except EOFError:
                    return

    def discard(self) -> None:
        """Remove the spill (the run is over; the request files and plan stay for people)."""
        for handle in (self._spill, self._ops_txt, self._ops_json):
            if handle is not None:
                handle.close()
        self._spill = self._ops_txt = self._ops_json = None
        for name in SCRATCH:
            (self.folder / name).unlink(missing_ok=True)


def discard_scratch(runs_dir: Path) -> None:
    """Remove the scratch files (:data:`SCRATCH`) of runs that ended without removing them (killed)."""
    for name in SCRATCH:
        for path in runs_dir.glob("*/" + name):
            path.unlink(missing_ok=True)


def plan_header(plan: Plan, snapshot: QBSnapshot) -> str:
    """``plan.txt`` up to its list of operations: the counts and the values changed to fit QuickBooks."""
    lines = [f"Synchronization plan for QuickBooks company \"{snapshot.company.name}\"", ""]
    for key, n in plan.counts().items():
        lines.append(f"  {n:6d}  {operation_words(key)}")
    if plan.adjustments:
        lines += ["", "Values changed to fit QuickBooks:"]
        for a in plan.adjustments:
            lines.append(f"  {a.record}, {a.field}: \"{a.original}\" -> \"{a.adjusted}\" ({a.reason})")
    lines += ["", "Operations, in order:"]
    return "\n".join(lines) + "\n"


def write_corrections_log(folder: Path, plan: Plan, snapshot: QBSnapshot, policy) -> dict[str, Path]:  # noqa: ANN001
    """Write the Corrections Log of ``plan`` (CSV, HTML, PDF) into the run's folder."""
    from booksync.reports.corrections_log import LogHeader, write_log

    return write_log(folder, plan.corrections, LogHeader(
        snapshot.company.name, folder.name, policy.today, policy.prepared_by or "unknown user",
        snapshot.company.closing_date, policy.period_start(), policy.period, policy.fiscal_year_start))
