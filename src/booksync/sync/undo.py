"""``booksync runs undo RUN``: take a run's changes back out of QuickBooks (issue 20, item 12).

Where booksync cannot copy the company file (the Web Connector, QuickBooks Online), a run keeps the
pre-images of the records it changes (``runs/RUN/pre-images.jsonl``, written by the engine before each
message: QuickBooks' own answer to a query made before the Mod/Void/Delete). An undo:

* deletes what the run added (TxnDel, and ListDel for customers, items and payment methods), in the reverse
  of the run's order, so that payments go before the invoices they pay and customers last; QuickBooks Online
  cannot delete customers, items or payment methods (reference/quickbooks-online.md §3.6; the port's
  ``deletes_lists`` is False): customers are made inactive (``deactivate``; the link is kept, so the next sync
  makes the same customer active again), items and payment methods are left active and listed (:data:`KEPT_ACTIVE`);
* sets what the run changed back to its pre-image (``BooksPort.restore``);
* lists what it cannot undo: a voided transaction cannot be un-voided in QuickBooks, and a deleted one can
  only be entered again by hand (its pre-image says what it held);
* leaves alone, and names, every record changed since the run left it (its EditSequence/SyncToken differs
  from the one the run recorded, or a later run changed it).

:func:`plan_undo` reads and decides; :func:`apply_undo` writes. The billing store's links follow: a deleted
record's link is removed and the record marked outstanding, so the next sync adds it again; a restored
record's link keeps the new version and is marked for a correction, so the next sync writes the billing
store's version again unless the billing records are corrected first.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from booksync.books.port import BooksPort, Outcome
from booksync.domain import Action, Kind, Operation, record_words
from booksync.kinds import TRANSACTIONS
from booksync.kinds import BILLING_KINDS
from booksync.store.models import JournalEntry, Link, Member, Outstanding, SyncRun
from booksync.sync.pre_images import PRE_IMAGES
from booksync.sync.undo_foresight import deposits_window, foresee_refusals

BATCH = 50
"""Deletions sent per message."""
BILLING_KIND_VALUES = frozenset(kind.value for kind in BILLING_KINDS)
"""Kinds of the records the billing store holds (members and billed transactions): undone, they are outstanding."""
SENT = ("delete", "deactivate", "restore")
"""The actions an undo sends."""
ACTION_WORDS = {"deactivate": "make inactive"}
KEPT_ACTIVE = ("QuickBooks Online cannot delete {kind}, and the undo leaves it active: booksync's next sync uses it "
               "again by its name, and QuickBooks Online refuses every transaction naming an inactive one (610); "
               "make it inactive in QuickBooks Online yourself if nothing needs it")
"""Why an item or payment method a run added stays in QuickBooks Online (reference/quickbooks-online.md §3.1,
§3.6)."""


class UndoRefused(Exception):
    """The run cannot be undone at all (unknown, not applied, another company); the message says why."""


@dataclass
class UndoStep:
    """One record of the run and what the undo does with it.

    ``action``: "delete" (the run added it), "deactivate" (the run added it and QuickBooks Online cannot delete it:
    it is made inactive), "restore" (the run changed it; ``pre_image`` holds QuickBooks'
    answer from before), "left alone" (changed since: ``reason``), "cannot" (voided or deleted by the run, or
    no pre-image: ``reason``), "refused" (QuickBooks will refuse it: ``reason`` says why and what to do).
    ``version``: the EditSequence/SyncToken the run left; ``now``: QuickBooks' now.
    """

    action: str
    kind: str
    local_id: int
    number: str
    remote_id: str
    seq: int
    version: str = ""
    now: str = ""
    reason: str = ""
    pre_image: str = ""
    outcome: str = ""

    @property
    def label(self) -> str:
        return record_words(self.kind, self.number)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "pre_image"}


@dataclass
class UndoPlan:
    run_id: str
    steps: list[UndoStep] = field(default_factory=list)
    """Deletes and restores, in the order they are sent (the reverse of the run's)."""
    left_alone: list[UndoStep] = field(default_factory=list)
    cannot: list[UndoStep] = field(default_factory=list)
    refused: list[UndoStep] = field(default_factory=list)
    """What QuickBooks will refuse, foreseen from what the undo read (:mod:`booksync.sync.undo_foresight`): not sent."""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            key = f"{ACTION_WORDS.get(step.action, step.action)} {Kind(step.kind).label}"
            out[key] = out.get(key, 0) + 1
        return out

    def inactive_note(self) -> str:
        """The sentence saying that list records are made inactive instead of deleted ("" when none are)."""
        n = sum(1 for s in self.steps if s.action == "deactivate")
        if not n:
            return ""
        return (f"QuickBooks Online cannot delete customers, items or payment methods: the undo makes the {n} "
                "customer(s) the run added inactive (they stay in its lists, marked inactive; the next sync makes them "
                "active again if the billing store still holds them) and leaves its items and payment methods active.")

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "counts": self.counts(), "note": self.inactive_note(),
                "steps": [s.as_dict() for s in self.steps],
                "left_alone": [s.as_dict() for s in self.left_alone], "cannot": [s.as_dict() for s in self.cannot],
                "refused": [s.as_dict() for s in self.refused]}


def read_pre_images(folder: Path) -> dict[str, dict[str, Any]]:
    """The pre-images a run recorded, by ListID/TxnID (the first one: before the run touched the record)."""
    path = Path(folder) / PRE_IMAGES
    out: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.setdefault(row["remote_id"], row)
    return out


def plan_undo(session: Session, port: BooksPort | None, run_id: str, folder: Path) -> UndoPlan:
    """Decide what undoing run ``run_id`` does (reads the journal, the pre-images and QuickBooks; writes
    nothing). ``port`` None (the Web Connector, which booksync reaches only during an update): the plan from the
    journal and the pre-images alone; QuickBooks' versions and foreseen refusals are checked when it is sent.
    Raises :class:`UndoRefused` when the run is unknown, was not applied, or belongs to another company."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise UndoRefused(f"There is no run {run_id!r}; see 'booksync runs list'.")
    if port is not None and run.company_key and port.company_key and run.company_key != port.company_key:
        raise UndoRefused(f"Run {run_id} wrote to another QuickBooks company than the one booksync is connected to; "
                          "nothing was changed.")
    entries = list(session.scalars(select(JournalEntry).where(JournalEntry.run_id == run_id,
                                                              JournalEntry.status == "done")
                                   .order_by(JournalEntry.seq)))
    if not entries:
        raise UndoRefused(f"Run {run_id} ({run.status}) wrote nothing to QuickBooks: there is nothing to undo.")
    if run.status in ("undone",):
        raise UndoRefused(f"Run {run_id} was undone already.")
    pre = read_pre_images(folder) if run.folder else {}  # ``folder``: the run's, in this home (Home.run_folder)
    records: dict[tuple[str, str], list[JournalEntry]] = {}
    for e in entries:
        remote = e.remote_id or e.target_id
        if remote:
            records.setdefault((e.kind, remote), []).append(e)
    steps: list[UndoStep] = []
    plan = UndoPlan(run_id)
    deletes_lists = getattr(port, "deletes_lists", True)
    for (kind, remote), ops in records.items():
        first, last = ops[0], ops[-1]
        step = UndoStep("", kind, first.local_id, first.number, remote, last.seq, version=last.edit_sequence)
        actions = {e.action for e in ops}
        if Action.VOID.value in actions:
            step.action, step.reason = "cannot", ("voided by the run: QuickBooks cannot un-void a transaction; "
                                                  "enter it again by hand if it must come back")
        elif Action.DELETE.value in actions:
            step.action, step.reason = "cannot", ("deleted by the run: enter it again by hand from its pre-image "
                                                  f"({PRE_IMAGES} in the run's folder)")
        elif first.action == Action.ADD.value and not deletes_lists and Kind(kind) in (Kind.ITEM, Kind.PAYMENT_METHOD):
            label = Kind(kind).label
            article = "an " if label[0] in "aeiou" else "a "
            step.action, step.reason = "cannot", KEPT_ACTIVE.format(kind=article + label)
        elif first.action == Action.ADD.value:
            step.action = "delete" if deletes_lists or Kind(kind) in TRANSACTIONS else "deactivate"
        elif remote in pre and pre[remote].get("found") and kind != Kind.DEPOSIT.value:
            step.action, step.pre_image = "restore", pre[remote]["record"]
        else:
            step.action, step.reason = "cannot", ("no pre-image was recorded for it (a run from before pre-images "
                                                  "were kept)" if remote not in pre else
                                                  "the undo does not change deposits: compare it with its pre-image "
                                                  f"({PRE_IMAGES} in the run's folder) {deposits_window(port)}")
        (plan.cannot if step.action == "cannot" else steps).append(step)
    if port is not None:
        _check_versions(session, port, run, steps, plan)
    plan.steps = sorted((s for s in steps if s.action in SENT), key=lambda s: -s.seq)
    if port is not None:
        foresee_refusals(session, port, run, plan)
    return plan


def _check_versions(session: Session, port: BooksPort, run: SyncRun, steps: list[UndoStep], plan: UndoPlan) -> None:
    """Leave alone every record QuickBooks (or a later run) changed since the run left it."""
    links = {(link.kind, link.remote_id): link for link in session.scalars(
        select(Link).where(Link.company_key == run.company_key,
                           Link.remote_id.in_([s.remote_id for s in steps] or [""])))}
    by_kind: dict[str, list[UndoStep]] = {}
    version_name = getattr(port, "version_name", "EditSequence")
    for step in steps:
        link = links.get((step.kind, step.remote_id))
        if link is not None and link.run_id and link.run_id != run.id and link.run_id > run.id:
            step.action, step.reason = "left alone", (f"run {link.run_id} changed it after this run: undo that run "
                                                      "first")
            continue
        if link is not None and link.run_id == run.id and link.edit_sequence:
            step.version = link.edit_sequence  # versions moved by the run's own payments (Run._follow_applied_versions)
        by_kind.setdefault(step.kind, []).append(step)
    for kind, group in by_kind.items():
        found = port.pre_images(kind, sorted({s.remote_id for s in group}))
        for step in group:
            if step.remote_id not in found:
                step.action, step.reason = "left alone", "QuickBooks no longer has it (deleted there since the run)"
                continue
            step.now = found[step.remote_id][0]
            if step.version and step.now != step.version:
                step.action, step.reason = "left alone", (
                    f"changed in QuickBooks since the run ({version_name} {step.version} when the run left it, "
                    f"{step.now} now)")
    plan.left_alone = [s for s in steps if s.action == "left alone"]


def write_undo_log(folder: Path, plan: UndoPlan) -> Path:
    """The Corrections Log of the undo, as CSV in the run's folder: one row per record, what the undo does."""
    path = Path(folder) / f"undo-{plan.run_id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Type", "Number", "Action in QuickBooks", "Reason", "Outcome"])
        words = {"delete": "deleted (the run added it)", "restore": "set back to what it was before the run",
                 "deactivate": "made inactive (the run added it; QuickBooks Online cannot delete it)",
                 "left alone": "left alone", "cannot": "not undone", "refused": "will be refused by QuickBooks"}
        for step in plan.steps + plan.refused + plan.left_alone + plan.cannot:
            out.writerow([Kind(step.kind).label, step.number, words[step.action], step.reason, step.outcome])
    return path


def apply_undo(session: Session, port: Any, plan: UndoPlan) -> tuple[int, list[UndoStep]]:
    """Send the plan's deletes, deactivations and restores in order; returns (done, failed steps). The links follow
    (see the module docstring); the run is recorded "undone", or "partly undone" when QuickBooks refused some; when
    it refused every one (nothing was undone) the run keeps its status."""
    run = session.get(SyncRun, plan.run_id)
    done, failed = 0, list(plan.refused)  # foreseen refusals are not sent: the undo is partial
    for step in plan.refused:
        step.outcome = f"not sent: QuickBooks would refuse it ({step.reason})"
    pending: list[UndoStep] = []

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        ops = [Operation(seq=i, action=Action.DELETE, kind=Kind(s.kind), local_id=s.local_id, number=s.number,
                         description=s.label, remote_id=s.remote_id) for i, s in enumerate(pending, 1)]
        for step, outcome in zip(pending, _send_each(port, ops)):
            _record(session, run, step, outcome, failed)
            done += outcome.status == "done"
        pending.clear()

    for step in plan.steps:
        if step.action == "delete":
            # One kind per message: deleting a payment moves the version of the invoices it paid, which QuickBooks
            # Online's delete carries (read just before each message).
            if len(pending) == BATCH or (pending and pending[0].kind != step.kind):
                flush()
            pending.append(step)
            continue
        flush()
        outcome = _send_one(port, step, moved=done > 0)
        _record(session, run, step, outcome, failed)
        done += outcome.status == "done"
    flush()
    if done or not failed:
        run.status = "undone" if not failed else "partly undone"
    session.commit()
    return done, failed


def _send_one(port: Any, step: UndoStep, moved: bool) -> Any:
    """Restore or make inactive one record. ``moved``: the undo has deleted records already, which may have moved
    this one's version (a payment deleted changes the invoices it paid): it is read again first."""
    try:
        if moved:
            found = port.pre_images(step.kind, [step.remote_id])
            step.now = found[step.remote_id][0] if step.remote_id in found else step.now
        if step.action == "deactivate":
            return port.deactivate(step.kind, step.remote_id, step.now, local_id=step.local_id)
        return port.restore(step.kind, step.remote_id, step.now, step.pre_image)
    except (ValueError, NotImplementedError, AttributeError) as exc:  # a kind or port it cannot restore
        return Outcome(0, "failed", error=exc)


def _send_each(port: Any, ops: list[Operation]) -> list[Any]:
    """Send deletions with continueOnError semantics: a refused one does not stop the others."""
    outcomes = port.send(ops, lambda ref: None)
    rest = [op for op, o in zip(ops, outcomes) if o.status == "not processed"]
    if not rest:
        return outcomes
    again = {op.seq: o for op, o in zip(rest, _send_each(port, rest))}
    return [again.get(op.seq, o) for op, o in zip(ops, outcomes)]


def _record(session: Session, run: SyncRun, step: UndoStep, outcome: Any, failed: list[UndoStep]) -> None:
    if outcome.status != "done":
        step.outcome = f"QuickBooks refused: {outcome.error}" if outcome.error else "not processed"
        failed.append(step)
        return
    key = run.company_key
    link = session.scalar(select(Link).where(Link.company_key == key, Link.kind == step.kind,
                                             Link.remote_id == step.remote_id))
    if step.action == "delete":
        step.outcome = "deleted"
        if link is not None:
            if step.kind == Kind.CUSTOMER.value:  # Bill Info named the customer the run created: it is gone
                member = session.get(Member, link.local_id)
                if member is not None and member.qb_customer == link.qb_name:
                    member.qb_customer = ""
            session.delete(link)
    else:
        # QuickBooks holds the pre-image now (or the customer made inactive): the next sync sees the billing version
        # as a change and writes it (an inactive customer is made active again, keeping its Id and its history)
        step.outcome = "restored" if step.action == "restore" else "made inactive"
        if link is not None:
            link.edit_sequence, link.fingerprint = outcome.edit_sequence, "undone"
            link.source_updated_at, link.run_id = dt.datetime(1970, 1, 1), run.id
    if step.kind in BILLING_KIND_VALUES:  # a billing record (kinds.BILLING_KINDS): the next sync writes it again
        session.execute(delete(Outstanding.__table__).where(
            Outstanding.company_key == key, Outstanding.kind == step.kind, Outstanding.local_id == step.local_id))
        session.execute(insert(Outstanding.__table__), [{"company_key": key, "kind": step.kind,
                                                         "local_id": step.local_id}])
    session.commit()
