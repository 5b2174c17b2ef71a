"""The working files of a run, written before anything is sent (DESIGN.md step 5).

``runs/RUN_ID/``: ``plan.txt`` (for people), ``plan.json`` (for scripts),
``requests/NNN-Kind.xml`` (every request message as it will be sent; records
created earlier in the run appear as ``pending-KIND-ID`` until then).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..domain import Operation, Plan, QBSnapshot, Ref


def stage_run(folder: Path, plan: Plan, batches: list[list[Operation]], port, resolve: Callable[[Ref], str | None],
              snapshot: QBSnapshot, progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write the working files; return the request files in sending order. ``progress(done, total)`` is
    called every 100 request files."""
    requests = folder / "requests"
    requests.mkdir(parents=True, exist_ok=True)
    files = []
    for n, batch in enumerate(batches, 1):
        if progress is not None and n % 100 == 0:
            progress(n, len(batches))
        first = batch[0]
        suffix = getattr(port, "request_suffix", ".xml")
        path = requests / f"{n:03d}-{first.action.value}-{first.kind.value}{suffix}"
        path.write_bytes(port.render(batch, resolve))
        files.append(path)
    (folder / "plan.json").write_text(json.dumps({
        "company": snapshot.company.name,
        "counts": plan.counts(),
        "operations": [{"seq": op.seq, "action": op.action.value, "kind": op.kind.value, "number": op.number,
                        "description": op.description, "amount": str(op.amount) if op.amount is not None else None}
                       for op in plan.operations],
        "adjustments": [a.__dict__ for a in plan.adjustments],
    }, indent=2, ensure_ascii=False))
    (folder / "plan.txt").write_text(plan_text(plan, snapshot), encoding="utf-8")
    return files


def plan_text(plan: Plan, snapshot: QBSnapshot) -> str:
    lines = [f"Synchronization plan for QuickBooks company \"{snapshot.company.name}\"", ""]
    for key, n in plan.counts().items():
        lines.append(f"  {n:6d}  {key}")
    if plan.adjustments:
        lines += ["", "Values changed to fit QuickBooks:"]
        for a in plan.adjustments:
            lines.append(f"  {a.record}, {a.field}: \"{a.original}\" -> \"{a.adjusted}\" ({a.reason})")
    lines += ["", "Operations, in order:"]
    lines += [f"  {op.seq:6d}  {op.action.value:6s} {op.description}" for op in plan.operations]
    return "\n".join(lines) + "\n"


def write_corrections_log(folder: Path, plan: Plan, snapshot: QBSnapshot, policy) -> dict[str, Path]:  # noqa: ANN001
    """Write the Corrections Log of ``plan`` (CSV, HTML, PDF) into the run's folder."""
    from ..reports.corrections_log import write_log

    return write_log(folder, plan.corrections, snapshot.company.name, folder.name,
                     snapshot.company.closing_date, policy.period_start(), policy.today)
