#!/usr/bin/env python3
"""Benchmark: planning and applying at 10 thousand to 1 million transactions (issue 10).

Usage:
    .venv/bin/python benchmarks/scale.py --sizes 10000,100000,1000000
    .venv/bin/python benchmarks/scale.py --sizes 10000 --profile prof/   # cProfile of every phase

For each size, in a fresh home folder (``--workdir``, a temporary folder by default),
one child process per phase, so that each phase's peak memory is its own:

1. ``generate`` (setup): a migrated billing store filled with bulk inserts
   (benchmarks/scale_data.py) and a new simulated company (standard chart).
2. ``scan``: the floor: a bare ``SELECT *`` of the invoices, invoice lines, credit memos,
   credit memo lines, payments, applications, members and G/L accounts, fetched as
   tuples with ``sqlite3`` (median of ``--repeat``).
3. ``sync``: a confirmed first sync of the whole history, the real ``Run.execute`` (what
   ``booksync sync --yes`` does): reading QuickBooks, checks, streamed planning and working files,
   backup, journal, applying every customer, item, method, invoice, credit memo and payment to the
   simulated company; on a copy of the store and company (removed afterwards). Time, operations
   per second, peak memory.
4. ``dry-run``: ``Run.execute`` with ``dry_run``: planning and the working files of the whole history
   (every request message, plan.txt, plan.json), streamed; the store is left as it was.
5. ``full``: full planning, nothing synchronized yet, as ``Run.execute`` does it:
   ``load_work``, the checks, ``read_versions``/``read_deposits``,
   ``CorrectionPlanner.build`` (creating customers), ``check_applications``; with the
   snapshot read from the simulated company through ``DesktopBooks`` (timed apart). The
   operations are handed over part by part as in the engine and dropped (no working files).
   Then (setup, after the peak memory is taken) the history is planned again and marked as
   synchronized: one link row per invoice, credit memo and payment, with the fingerprint
   and canonical JSON of the operation the planner built for it.
6. ``apply-port``: on a copy of the company: every customer, the items and payment methods,
   then the first ``--apply-invoices`` invoices (by date), sent through
   ``DesktopBooks.send`` in the engine's batches (``Run.batches``, message size 50):
   operations per second and requests per message; qbXML rendering, the simulator and the
   parsing of the answers, no journal.
7. ``apply-engine``: the same operations through ``Run.apply`` on the real company: the
   journal, the link table and the member's Bill Info recorded as a real sync does.
8. ``incremental``: ``load_work`` with nothing changed; then ``--changes`` invoices
   spread over the history get one line amount bumped (and ``updated_at``), and the
   planning of step 5 is timed again (median of ``--repeat``). ``read_versions`` asks the
   port for the EditSequences of the changed invoices and of the payments applied to
   them: the port here is the simulated company, except ``transactions()``, which answers
   from the link rows (RemoteTxn with the recorded EditSequence, date and total), since
   the history was linked in step 5 rather than written to the simulator.

Times are wall clock and CPU time (``time.process_time()``) of the measured block; each phase
also records the 1-minute load average before and after it, because the project's machine may
be shared with other sessions (wall times then inflate, CPU times much less).

Prints a table and writes ``results.json`` in the work folder (``--json FILE`` elsewhere;
``--table FILE`` prints the table of earlier results). Results are recorded in
docs/performance.md, section "Scale".
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PHASES = ("generate", "scan", "sync", "dry-run", "full", "apply-port", "apply-engine", "incremental")
SCAN_TABLES = ("invoices", "invoice_lines", "credit_memos", "credit_memo_lines", "payments", "applications",
               "members", "gl_accounts")
EDIT_SEQUENCE = "1700000000"
RESULT = "RESULT "


# ---------------------------------------------------------------------- helpers (child side)


def peak_mib() -> float:
    """Peak RSS of this process so far, MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Quiet:
    """The run's Interaction: unattended, silent."""

    def ask_create_customers(self, members: list[str]) -> bool:
        return True

    def review_corrections(self, plan: Any, log_files: Any) -> bool:
        return True

    def confirm_update(self, plan: Any, folder: Any) -> bool:
        return True

    def progress(self, phase: str, done: int, total: int) -> None:
        pass


@contextmanager
def profiled(args: argparse.Namespace, name: str) -> Iterator[None]:
    """cProfile the block when --profile DIR is given: DIR/SIZE-NAME.prof and a text summary.
    With --tracemalloc DIR instead: where the memory still held at the end of the block was
    allocated, DIR/SIZE-NAME-memory.txt (by line, and by file)."""
    if args.tracemalloc:
        import tracemalloc

        folder = Path(args.tracemalloc)
        folder.mkdir(parents=True, exist_ok=True)
        tracemalloc.start(1)
        try:
            yield
        finally:
            snap = tracemalloc.take_snapshot()
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            lines = [f"traced now {current / 2**20:.1f} MiB, traced peak {peak / 2**20:.1f} MiB", "", "by line:"]
            lines += [str(s) for s in snap.statistics("lineno")[:40]]
            lines += ["", "by file:"] + [str(s) for s in snap.statistics("filename")[:25]]
            (folder / f"{args.size}-{name}-memory.txt").write_text("\n".join(lines) + "\n")
        return
    if not args.profile:
        yield
        return
    folder = Path(args.profile)
    folder.mkdir(parents=True, exist_ok=True)
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        stem = folder / f"{args.size}-{name}"
        prof.dump_stats(str(stem) + ".prof")
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(35)
        stem.with_suffix(".txt").write_text(out.getvalue())


def open_home(args: argparse.Namespace) -> tuple[Any, Any]:
    from booksync.config import Home
    from booksync.store.db import open_store

    home = Home.load(args.home)
    return home, open_store(home.database_url, migrate=False)


def db_path(home: Any) -> str:
    url = home.database_url
    assert url.startswith("sqlite:///"), "the benchmark runs on SQLite"
    return url[len("sqlite:///"):]


def plan_like_engine(session: Any, run: Any, snapshot: Any, key: str, keep: Any = None) -> dict[str, Any]:
    """Steps 2-4 of ``Run.execute`` (engine.py) without staging: read the billing store, check,
    read versions, plan — streamed as the engine does it: the planner hands its operations over every
    part (``Planner.sink``) and they are dropped here (given to ``keep(ops)`` first, when set).
    Returns the timings, the plan (counts, digest, size) and what was found.

    If the engine's steps change, change them here too (this is the one place)."""
    from booksync.sync.checks import check_accounts, check_applications, check_deposit_accounts
    from booksync.sync.customers import resolve_customers
    from booksync.sync.corrections import CorrectionPlanner
    from sqlalchemy import delete

    from booksync.store.models import Outstanding, SyncMark, _now
    from booksync.sync.load import load_work, part_size
    from booksync.sync.marks import remember_outstanding

    mark = session.get(SyncMark, key)
    mark_before = mark.checked_through if mark is not None else None
    collecting = gc.isenabled()
    gc.disable()  # as Run.execute does while planning
    c0 = time.process_time()
    t0 = time.perf_counter()
    started = _now()
    work = load_work(session, key)
    tw = time.perf_counter()
    run.read_customers(work, snapshot)  # the customers this run needs (a snapshot read with customers=False)
    tr = time.perf_counter()
    # The engine records what needs synchronizing and moves the change mark (undone below, so that
    # repeats measure the same thing; the benchmark's stores start with nothing outstanding).
    remember_outstanding(session, key, work, started, "bench")
    session.flush()
    t1 = time.perf_counter()
    problems = check_accounts(work, snapshot)
    customers = resolve_customers(work, snapshot)
    problems += customers.problems + check_deposit_accounts(work, snapshot)
    create = bool(customers.missing)
    remote = run.read_versions(work, snapshot)
    deposits = run.read_deposits(work)
    t2 = time.perf_counter()
    builder = CorrectionPlanner(work, snapshot, customers, run.port.limits, key, remote=remote,
                                policy=run.options.policy, deposits=deposits)

    def sink(plan: Any) -> None:
        ops = plan.take()
        if keep is not None:
            keep(ops)

    builder.sink, builder.sink_every = sink, part_size()
    plan = builder.build(create)
    sink(plan)
    t3 = time.perf_counter()
    problems += builder.problems + check_applications(work, builder.planned)
    t4 = time.perf_counter()
    if collecting:
        gc.enable()
    session.execute(delete(Outstanding).where(Outstanding.company_key == key))
    if mark_before is None:
        session.execute(delete(SyncMark).where(SyncMark.company_key == key))
    else:
        session.get(SyncMark, key).checked_through = mark_before
    session.commit()
    return {"work": work, "plan": plan, "problems": problems,
            "seconds": {"load_work": tw - t0, "read_customers": tr - tw, "remember": t1 - tr,
                        "checks_versions": t2 - t1, "build": t3 - t2, "check_applications": t4 - t3,
                        "total": t4 - t0, "cpu": time.process_time() - c0}}


def work_sizes(work: Any) -> dict[str, int]:
    from booksync.domain import Kind

    return {"invoices": work.count(Kind.INVOICE), "credit_memos": work.count(Kind.CREDIT_MEMO),
            "payments": work.count(Kind.PAYMENT),
            "changed_invoices": len(work.changed_invoices), "changed_credit_memos": len(work.changed_credit_memos),
            "changed_payments": len(work.changed_payments), "deleted_payments": len(work.deleted_payments),
            "changed_members": len(work.changed_members),
            "linked_payments_touching": len(work.linked_payments_touching), "members": len(work.members),
            "links": len(work.links)}


def rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


# ---------------------------------------------------------------------- phases


def phase_generate(args: argparse.Namespace) -> dict[str, Any]:
    from booksync.config import Home
    from booksync.simulator import create_company
    from booksync.store.db import upgrade

    import scale_data

    home = Home.load(args.home, create=True)
    t0 = time.perf_counter()
    upgrade(home.database_url)
    counts = scale_data.generate(db_path(home), args.size)
    t1 = time.perf_counter()
    create_company(home.company_path, "Scale Benchmark Association", overwrite=True)
    return {"counts": counts.as_dict(), "seconds": round(t1 - t0, 2), "peak_mib": peak_mib(),
            "db_mib": round(os.path.getsize(db_path(home)) / 2**20, 1)}


def phase_scan(args: argparse.Namespace) -> dict[str, Any]:
    from booksync.config import Home

    home = Home.load(args.home)
    base = peak_mib()
    times, cpus, rows = [], [], 0
    with profiled(args, "scan"):
        for _ in range(args.repeat):
            db = sqlite3.connect(db_path(home))
            c0 = time.process_time()
            t0 = time.perf_counter()
            rows = 0
            for table in SCAN_TABLES:
                for _row in db.execute(f"SELECT * FROM {table}"):
                    rows += 1
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            db.close()
    return {"rows": rows, "seconds": round(statistics.median(times), 4), "all": [round(t, 4) for t in times],
            "cpu_s": round(statistics.median(cpus), 4), "peak_mib": peak_mib(), "base_mib": base}


def phase_full(args: argparse.Namespace) -> dict[str, Any]:
    from booksync.books.desktop.adapter import DesktopBooks
    from booksync.simulator import open_company
    from booksync.sync.options import SyncOptions
    from booksync.sync.run import Run

    home, sessions = open_home(args)
    base = peak_mib()
    company = open_company(home.company_path, app_name="booksync")
    try:
        port = DesktopBooks(company, backup_source=company)
        t0 = time.perf_counter()
        snapshot = port.snapshot(balances=False, customers=False)  # as Run.execute reads it
        snapshot_s = time.perf_counter() - t0
        key = port.company_key
        run = Run(sessions, port, home, Quiet(), SyncOptions())
        with sessions() as session:
            with profiled(args, "full"):
                found = plan_like_engine(session, run, snapshot, key)
            peak = peak_mib()
            plan, work = found["plan"], found["work"]
            result = {"seconds": rounded(found["seconds"]), "snapshot_s": round(snapshot_s, 4), "peak_mib": peak,
                      "base_mib": base, "operations": plan.size, "counts": plan.counts(),
                      "adjustments": len(plan.adjustments), "problems": [str(p.__dict__) for p in found["problems"]],
                      "work": work_sizes(work)}
            del found, plan, work
        # Setup, after the peak was taken: plan again and mark the whole history as synchronized.
        t1 = time.perf_counter()
        result["links_written"] = mark_synced(home, key, run, snapshot, sessions)
        result["mark_synced_s"] = round(time.perf_counter() - t1, 2)
    finally:
        company.close()
    return result


def engine_run(home: Any, sessions: Any, dry_run: bool) -> dict[str, Any]:
    """The real ``Run.execute`` (what ``booksync sync --yes`` does, less the command line), against the
    simulated company of ``home``: times, peak memory, what was planned and applied, the run folder's size."""
    from booksync.books.desktop.adapter import DesktopBooks
    from booksync.simulator import open_company
    from booksync.sync.options import SyncOptions
    from booksync.sync.run import Run

    base = peak_mib()
    company = open_company(home.company_path, app_name="booksync")
    try:
        port = DesktopBooks(company, backup_source=company)
        run = Run(sessions, port, home, Quiet(), SyncOptions(dry_run=dry_run))
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = run.execute()
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
        peak = peak_mib()
        folder = home.runs_dir / run.run_id
        staged = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0
        key = port.company_key
    finally:
        company.close()
    if result.exit_code != 0:
        raise SystemExit(f"the run ended with {result.exit_code}: {result.message} {result.problems[:5]}")
    planned = sum(result.planned.values())
    applied = sum(result.applied.values())
    return {"seconds": round(seconds, 3), "cpu_s": round(cpu, 3), "peak_mib": peak, "base_mib": base,
            "status": result.status, "planned": planned, "applied": applied, "counts": result.planned,
            "ops_per_s": round(applied / seconds, 1) if applied else 0.0,
            "staged_mib": round(staged / 2**20, 1), "run_id": run.run_id, "company_key": key}


def phase_dry_run(args: argparse.Namespace) -> dict[str, Any]:
    """``booksync sync --dry-run`` on the whole history: planning, the checks, the working files (every
    request message, plan.txt, plan.json), streamed. The store is left as it was (marks, run row, folder)."""
    home, sessions = open_home(args)
    with profiled(args, "dry-run"):
        result = engine_run(home, sessions, dry_run=True)
    db = sqlite3.connect(db_path(home), isolation_level=None)
    for table in ("sync_outstanding", "sync_marks"):
        db.execute(f"DELETE FROM {table} WHERE company_key=?", (result["company_key"],))
    db.execute("DELETE FROM sync_runs WHERE id=?", (result["run_id"],))
    db.close()
    shutil.rmtree(home.runs_dir / result["run_id"], ignore_errors=True)
    return result


def phase_sync(args: argparse.Namespace) -> dict[str, Any]:
    """A confirmed first sync of the whole history (customers, items, methods, every invoice, credit memo
    and payment), on a copy of the home's store and company: the user's ``booksync sync --yes``, with its
    backup. The copy is removed afterwards."""
    from booksync.config import Home
    from booksync.store.db import open_store

    source, _ = open_home(args)
    copy = source.path.parent / (source.path.name + "-sync")
    shutil.rmtree(copy, ignore_errors=True)
    home = Home.load(copy, create=True)
    shutil.copyfile(db_path(source), copy / "billing.db")
    shutil.copyfile(source.company_path, home.company_path)
    try:
        with profiled(args, "sync"):
            result = engine_run(home, open_store(home.database_url, migrate=False), dry_run=False)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return result


def mark_synced(home: Any, key: str, run: Any, snapshot: Any, sessions: Any) -> int:
    """One link row per invoice, credit memo and payment, as the engine would record after adding it: the
    history is planned again and each add's fingerprint, written JSON and planned stamp go to a spill file,
    then into the link table."""
    import pickle

    from booksync.domain import Action, Kind
    from booksync.sync.written import written_json

    import scale_data

    kinds = {Kind.INVOICE, Kind.CREDIT_MEMO, Kind.PAYMENT}
    spill_path = home.path / "mark-synced.spill"
    with spill_path.open("wb") as spill:
        def keep(ops: list[Any]) -> None:
            pickle.dump([(op.kind.value, op.local_id, op.number, op.fingerprint, op.written or written_json(op.payload),
                          scale_data.stamp(op.stamp)) for op in ops if op.action is Action.ADD and op.kind in kinds],
                        spill)

        with sessions() as session:
            plan_like_engine(session, run, snapshot, key, keep=keep)
    now = scale_data.stamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    db = sqlite3.connect(db_path(home), isolation_level=None)
    db.execute("BEGIN")
    written = 0
    sql = ("INSERT INTO links (company_key, kind, local_id, local_key, remote_id, edit_sequence, qb_name, fingerprint, "
           "written, source_updated_at, run_id, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
    with spill_path.open("rb") as spill:
        while True:
            try:
                chunk = pickle.load(spill)
            except EOFError:
                break
            # local_key: the record's own number, as the engine keys links (store/links.py link_key)
            db.executemany(sql, [(key, kind, local_id, number, f"BENCH-{kind}-{local_id}", EDIT_SEQUENCE, number,
                                  fp, text, stamp, "bench-history", now)
                                 for kind, local_id, number, fp, text, stamp in chunk])
            written += len(chunk)
    spill_path.unlink()
    db.execute("INSERT OR REPLACE INTO sync_marks (company_key, checked_through, run_id) VALUES (?,?,?)",
               (key, now, "bench-history"))
    db.execute("COMMIT")
    db.close()
    return written


def apply_plan(session: Any, snapshot: Any, key: str, limits: Any, n_invoices: int) -> Any:
    """Every customer, the items and payment methods, then the first ``n_invoices`` invoices by date.
    Returns the plan and the Work it was made from."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from booksync.domain import Kind
    from booksync.store.models import Application, GLAccount, Invoice, Member, Payment
    from booksync.sync.customers import CustomerResolution
    from booksync.sync.planner import Planner
    from booksync.sync.work import Work

    work = Work()
    work.gl_accounts = {g.id: g for g in session.scalars(select(GLAccount))}
    work.members = {m.id: m for m in session.scalars(select(Member))}
    work.invoices = list(session.scalars(select(Invoice).where(Invoice.status == "open")
                                         .order_by(Invoice.date, Invoice.number).limit(n_invoices)
                                         .options(selectinload(Invoice.lines))))
    # One payment of each method, planned and then dropped, so that the payment methods are created.
    for method in list(session.scalars(select(Payment.method).distinct())):
        work.payments.append(session.scalars(
            select(Payment).where(Payment.method == method).limit(1)
            .options(selectinload(Payment.applications).selectinload(Application.invoice),
                     selectinload(Payment.applications).selectinload(Application.credit_memo))).first())
    customers = CustomerResolution(missing=sorted(work.members.values(), key=lambda m: m.number))
    plan = Planner(work, snapshot, customers, limits, key).build(create_customers=True)
    plan.operations = [op for op in plan.operations if op.kind is not Kind.PAYMENT]
    plan.size = len(plan.operations)
    return plan, work


def message_batches(ops: list[Any], size: int = 50) -> list[list[Any]]:
    """The engine's messages (sync/staging.py StagedPlan.put): one kind and action each, at most ``size``."""
    out: list[list[Any]] = []
    for op in ops:
        if out and out[-1][0].kind is op.kind and out[-1][0].action is op.action and len(out[-1]) < size:
            out[-1].append(op)
        else:
            out.append([op])
    return out


def kind_label(op: Any) -> str:
    return f"{op.action.value} {op.kind.value}"


def phase_apply_port(args: argparse.Namespace) -> dict[str, Any]:
    from booksync.books.desktop.adapter import DesktopBooks
    from booksync.simulator import open_company
    from booksync.sync.options import SyncOptions
    from booksync.sync.run import Run

    home, sessions = open_home(args)
    base = peak_mib()
    copy = home.path / "company-port.qbsim"
    with open_company(home.company_path, app_name="booksync") as company:
        company.backup_to(copy)
    company = open_company(copy, app_name="booksync")
    try:
        port = DesktopBooks(company)
        snapshot = port.snapshot()
        key = port.company_key
        run = Run(sessions, port, home, Quiet(), SyncOptions())
        with sessions() as session:
            plan, _ = apply_plan(session, snapshot, key, port.limits, args.apply_invoices)
        batches = message_batches(plan.operations)
        resolved: dict[tuple[str, int], str] = {}

        def resolve(ref: Any) -> str | None:
            if ref.remote_id:
                return ref.remote_id
            return resolved.get((ref.kind, ref.local_id)) if ref.local_id is not None else None

        per: dict[str, dict[str, float]] = {}
        with profiled(args, "apply-port"):
            for batch in batches:
                c0 = time.process_time()
                t0 = time.perf_counter()
                outcomes = port.send(batch, resolve)
                spent = time.perf_counter() - t0
                cpu = time.process_time() - c0
                for op, outcome in zip(batch, outcomes):
                    if outcome.status != "done":
                        raise SystemExit(f"{kind_label(op)} {op.number} was refused: {outcome.error}")
                    resolved[(op.kind.value, op.local_id)] = outcome.remote_id
                row = per.setdefault(kind_label(batch[0]), {"operations": 0, "messages": 0, "seconds": 0.0,
                                                            "cpu": 0.0})
                row["operations"] += len(batch)
                row["messages"] += 1
                row["seconds"] += spent
                row["cpu"] += cpu
        return {"per_kind": summarize(per), "peak_mib": peak_mib(), "base_mib": base}
    finally:
        company.close()
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(copy) + suffix).unlink(missing_ok=True)


def summarize(per: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for label, row in per.items():
        out[label] = {"operations": int(row["operations"]), "messages": int(row["messages"]),
                      "seconds": round(row["seconds"], 3), "cpu_s": round(row.get("cpu", 0.0), 3),
                      "ops_per_s": round(row["operations"] / row["seconds"], 1) if row["seconds"] else 0.0,
                      "ops_per_cpu_s": round(row["operations"] / row["cpu"], 1) if row.get("cpu") else 0.0,
                      "requests_per_message": round(row["operations"] / row["messages"], 1)}
    adds = [r for label, r in per.items() if label.startswith("add ")]
    ops = sum(r["operations"] for r in adds)
    secs = sum(r["seconds"] for r in adds)
    cpu = sum(r.get("cpu", 0.0) for r in adds)
    out["all adds"] = {"operations": int(ops), "messages": int(sum(r["messages"] for r in adds)),
                       "seconds": round(secs, 3), "cpu_s": round(cpu, 3),
                       "ops_per_s": round(ops / secs, 1) if secs else 0.0,
                       "ops_per_cpu_s": round(ops / cpu, 1) if cpu else 0.0,
                       "requests_per_message": round(ops / max(1, sum(r["messages"] for r in adds)), 1)}
    return out


def phase_apply_engine(args: argparse.Namespace) -> dict[str, Any]:
    from booksync.books.desktop.adapter import DesktopBooks
    from booksync.domain import Kind, Plan
    from booksync.simulator import open_company
    from booksync.store.models import SyncRun
    from booksync.sync.options import SyncOptions
    from booksync.sync.run import Run

    home, sessions = open_home(args)
    base = peak_mib()
    company = open_company(home.company_path, app_name="booksync")
    try:
        port = DesktopBooks(company, backup_source=company)
        snapshot = port.snapshot()
        key = port.company_key
        run = Run(sessions, port, home, Quiet(), SyncOptions())
        run.run_id = "bench-apply"
        per: dict[str, dict[str, float]] = {}
        with sessions() as session:
            # As in Run.execute: the versions planned from go to the journal, and ``work`` stays referenced
            # (the session's identity map holds the members weakly).
            plan, work = apply_plan(session, snapshot, key, port.limits, args.apply_invoices)
            run._stamps = work.stamps()
            record = SyncRun(id=run.run_id, company_key=key, status="planned", folder="")
            session.add(record)
            session.commit()
            parts = [[op for op in plan.operations if op.kind is not Kind.INVOICE],
                     [op for op in plan.operations if op.kind is Kind.INVOICE]]
            with profiled(args, "apply-engine"):
                for ops in parts:
                    part = Plan(operations=ops, size=len(ops))
                    batches = message_batches(ops)
                    c0 = time.process_time()
                    t0 = time.perf_counter()
                    applied, error = run.apply(session, record, part, lambda b=batches: iter(b), key)
                    spent = time.perf_counter() - t0
                    cpu = time.process_time() - c0
                    if error is not None:
                        raise SystemExit(error)
                    total = sum(len(b) for b in batches)
                    for batch in batches:
                        row = per.setdefault(kind_label(batch[0]), {"operations": 0, "messages": 0, "seconds": 0.0,
                                                                    "cpu": 0.0})
                        row["operations"] += len(batch)
                        row["messages"] += 1
                        # Run.apply is timed as a whole: share its time out by operations.
                        row["seconds"] += spent * len(batch) / total
                        row["cpu"] += cpu * len(batch) / total
            del work  # kept alive until here on purpose
        return {"per_kind": summarize(per), "peak_mib": peak_mib(), "base_mib": base}
    finally:
        company.close()


class LinkBackedPort:
    """The simulated company, except that ``transactions()`` and ``versions()`` answer from the link table: the
    history was linked by ``mark_synced`` rather than written into the simulator, so QuickBooks'
    current version of a linked transaction is the one booksync recorded (no conflict)."""

    def __init__(self, inner: Any, database: str) -> None:
        self.inner = inner
        self.limits = inner.limits
        self.db = sqlite3.connect(database)
        self.asked = 0

    def snapshot(self, balances: bool = True, customers: bool = True) -> Any:
        return self.inner.snapshot(balances, customers)

    def find_customers(self, list_ids: Any = (), names: Any = ()) -> Any:
        return self.inner.find_customers(list_ids, names)

    @property
    def company_key(self) -> str:
        return self.inner.company_key

    def deposits_holding(self, payment_ids: list[str], since: str) -> Any:
        return self.inner.deposits_holding(payment_ids, since)

    def versions(self, kind: str, remote_ids: list[str]) -> dict[str, str]:
        return {remote_id: txn.edit_sequence for remote_id, txn in self.transactions(kind, remote_ids).items()}

    def transactions(self, kind: str, remote_ids: list[str]) -> dict[str, Any]:
        from booksync.books.port import RemoteTxn

        out = {}
        self.asked += len(remote_ids)
        for start in range(0, len(remote_ids), 500):
            chunk = remote_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for remote_id, edit_sequence, written in self.db.execute(
                    f"SELECT remote_id, edit_sequence, written FROM links WHERE company_key=? AND kind=? "
                    f"AND remote_id IN ({marks})", [self.company_key, kind, *chunk]):
                data = json.loads(written or "{}")
                total = Decimal(data["total"]) if "total" in data else sum(
                    (Decimal(line["amount"]) for line in data.get("lines") or []), Decimal("0.00"))
                out[remote_id] = RemoteTxn(remote_id=remote_id, kind=kind, edit_sequence=edit_sequence,
                                           customer_id="", date=data.get("date", ""), total=total)
        return out


def change_invoices(home: Any, count: int) -> list[int]:
    """Bump the first line of ``count`` invoices spread over the history by one unit of its rate."""
    import scale_data

    db = sqlite3.connect(db_path(home), isolation_level=None)
    (n,) = db.execute("SELECT COUNT(*) FROM invoices").fetchone()
    step = max(1, n // count)
    ids = [1 + k * step for k in range(min(count, n))]
    now = scale_data.stamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    db.execute("BEGIN")
    for invoice_id in ids:
        line_id, quantity, rate = db.execute("SELECT id, quantity, rate FROM invoice_lines WHERE invoice_id=? "
                                             "AND seq=1", (invoice_id,)).fetchone()
        new_rate = Decimal(rate) + 1
        db.execute("UPDATE invoice_lines SET rate=?, amount=? WHERE id=?",
                   (str(new_rate), int(Decimal(quantity) * new_rate * 100), line_id))
        db.execute("UPDATE invoices SET updated_at=? WHERE id=?", (now, invoice_id))
    db.execute("COMMIT")
    db.close()
    return ids


def phase_incremental(args: argparse.Namespace) -> dict[str, Any]:
    from booksync.books.desktop.adapter import DesktopBooks
    from booksync.simulator import open_company
    from booksync.sync.load import load_work
    from booksync.sync.options import SyncOptions
    from booksync.sync.run import Run

    home, sessions = open_home(args)
    base = peak_mib()
    company = open_company(home.company_path, app_name="booksync")
    try:
        port = LinkBackedPort(DesktopBooks(company, backup_source=company), db_path(home))
        t0 = time.perf_counter()
        snapshot = port.snapshot(balances=False, customers=False)  # as Run.execute reads it
        snapshot_s = time.perf_counter() - t0
        key = port.company_key
        run = Run(sessions, port, home, Quiet(), SyncOptions())
        # A second sync with nothing changed: what load_work costs when it finds nothing.
        nothing = []
        for _ in range(args.repeat):
            with sessions() as session:
                t0 = time.perf_counter()
                work = load_work(session, key)
                nothing.append(time.perf_counter() - t0)
                empty = work.is_empty()
        changed = change_invoices(home, args.changes)
        totals, parts, found = [], [], None
        with profiled(args, "incremental"):
            for _ in range(args.repeat):
                with sessions() as session:
                    port.asked = 0
                    found = plan_like_engine(session, run, snapshot, key)
                    totals.append(found["seconds"]["total"])
                    parts.append(found["seconds"])
        median = sorted(range(len(totals)), key=lambda i: totals[i])[len(totals) // 2]
        return {"seconds": rounded(parts[median]), "all": [round(t, 4) for t in totals],
                "nothing_changed_load_work_s": round(statistics.median(nothing), 4), "nothing_changed_empty": empty,
                "snapshot_s": round(snapshot_s, 4), "customers_read": len(snapshot.customers),
                "changed": len(changed), "operations": found["plan"].size,
                "counts": found["plan"].counts(), "versions_asked": port.asked,
                "problems": [str(p.__dict__) for p in found["problems"]], "work": work_sizes(found["work"]),
                "peak_mib": peak_mib(), "base_mib": base}
    finally:
        company.close()


PHASE_FUNCS = {"generate": phase_generate, "scan": phase_scan, "sync": phase_sync, "dry-run": phase_dry_run,
               "full": phase_full, "apply-port": phase_apply_port,
               "apply-engine": phase_apply_engine, "incremental": phase_incremental}


# ---------------------------------------------------------------------- orchestration (parent side)


def run_phase(args: argparse.Namespace, phase: str, size: int, home: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--home", str(home), "--size", str(size),
           "--repeat", str(args.repeat), "--changes", str(args.changes), "--apply-invoices",
           str(args.apply_invoices)]
    if args.profile:
        cmd += ["--profile", str(Path(args.profile).resolve())]
    if args.tracemalloc:
        cmd += ["--tracemalloc", str(Path(args.tracemalloc).resolve())]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"phase {phase} at {size:,} failed (exit {proc.returncode}):\n{proc.stdout}")
    result = json.loads(lines[-1][len(RESULT):])
    result["wall_s"] = round(wall, 2)
    return result


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    code = ""
    try:  # read-only: which commit, and whether the product code had uncommitted changes
        repo = HERE.parent
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "src"], capture_output=True,
                               text=True, timeout=10).stdout.splitlines()
        code = head + (f" + {len(dirty)} uncommitted file(s) under src/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform(), "date": dt.date.today().isoformat(),
            "code": code}


def fmt_s(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def table(results: dict[int, dict[str, Any]]) -> str:
    sizes = sorted(results)
    head = "| measure | " + " | ".join(f"{s:,}" for s in sizes) + " | target |"
    rows = [head, "|---|" + "---|" * len(sizes) + "---|"]

    def row(label: str, fn: Any, target: str = "") -> None:
        cells = []
        for s in sizes:
            try:
                cells.append(fn(results[s]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("–")
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    first = results[10_000] if 10_000 in results else results[sizes[0]]
    row("invoices / lines", lambda r: f"{r['generate']['counts']['invoices']:,} / "
                                      f"{r['generate']['counts']['invoice_lines']:,}")
    row("credit memos", lambda r: f"{r['generate']['counts']['credit_memos']:,}")
    row("payments / applications", lambda r: f"{r['generate']['counts']['payments']:,} / "
                                             f"{r['generate']['counts']['applications']:,}")
    row("members", lambda r: f"{r['generate']['counts']['members']:,}")
    row("generate the store (setup), s", lambda r: fmt_s(r["generate"]["seconds"]))
    row("bare scan of the same rows, s", lambda r: fmt_s(r["scan"]["seconds"]))
    row("full planning: load_work, s", lambda r: fmt_s(r["full"]["seconds"]["load_work"]))
    row("full planning: reading the customers it needs (find_customers), s",
        lambda r: fmt_s(r["full"]["seconds"].get("read_customers", 0.0)))
    row("full planning: checks + versions, s", lambda r: fmt_s(r["full"]["seconds"]["checks_versions"]))
    row("full planning: build (CorrectionPlanner), s", lambda r: fmt_s(r["full"]["seconds"]["build"]))
    row("full planning: check_applications, s", lambda r: fmt_s(r["full"]["seconds"]["check_applications"]))
    row("**full planning, s**", lambda r: fmt_s(r["full"]["seconds"]["total"]))
    row("**full planning / bare scan**", lambda r: f"{r['full']['seconds']['total'] / r['scan']['seconds']:.0f}×",
        "≤ 3×")
    row("full planning / bare scan, CPU time", lambda r: f"{r['full']['seconds']['cpu'] / r['scan']['cpu_s']:.0f}×")
    row("full plan operations", lambda r: f"{r['full']['operations']:,}")
    row("ops planned per second (full)", lambda r: f"{r['full']['operations'] / r['full']['seconds']['total']:,.0f}")
    row("**first sync, whole history (Run.execute, confirmed), s**", lambda r: fmt_s(r["sync"]["seconds"]))
    row("first sync: operations applied / per second", lambda r: f"{r['sync']['applied']:,} / "
                                                                 f"{r['sync']['ops_per_s']:,.0f}", "≥ 1,000/s")
    row("dry run, whole history (plan + checks + working files), s", lambda r: fmt_s(r["dry-run"]["seconds"]))
    row("dry run: working files, MiB", lambda r: f"{r['dry-run']['staged_mib']:,.0f}")
    row("reading QuickBooks (snapshot), full / incremental, s",
        lambda r: f"{fmt_s(r['full']['snapshot_s'])} / {fmt_s(r['incremental']['snapshot_s'])}")
    row("second sync, nothing changed: load_work, s", lambda r: fmt_s(r["incremental"]["nothing_changed_load_work_s"]))
    row("incremental (100 changed invoices): load_work, s",
        lambda r: fmt_s(r["incremental"]["seconds"]["load_work"]))
    row("incremental: checks + versions + build + check_applications, s",
        lambda r: fmt_s(r["incremental"]["seconds"]["total"] - r["incremental"]["seconds"]["load_work"]))
    row("**incremental planning, s** (median)", lambda r: fmt_s(r["incremental"]["seconds"]["total"]), "< 1 s")
    row("incremental planning, CPU s", lambda r: fmt_s(r["incremental"]["seconds"]["cpu"]))
    row("**incremental / its 10k time**",
        lambda r: f"{r['incremental']['seconds']['total'] / first['incremental']['seconds']['total']:.1f}×",
        "≤ 1.5× at 1M")
    row("incremental / its 10k time, CPU",
        lambda r: f"{r['incremental']['seconds']['cpu'] / first['incremental']['seconds']['cpu']:.1f}×")
    row("incremental plan operations", lambda r: ", ".join(f"{v} {k}" for k, v in sorted(r["incremental"]["counts"]
                                                                                          .items())))
    for label, phase in (("apply, port only (DesktopBooks.send)", "apply-port"),
                         ("apply, engine (Run.apply: journal + links)", "apply-engine")):
        row(f"{label}: invoice adds/s", lambda r, p=phase: f"{r[p]['per_kind']['add invoice']['ops_per_s']:,.0f}",
            "≥ 1,000")
        row(f"{label}: customer adds/s", lambda r, p=phase: f"{r[p]['per_kind']['add customer']['ops_per_s']:,.0f}")
        row(f"{label}: all adds/s", lambda r, p=phase: f"{r[p]['per_kind']['all adds']['ops_per_s']:,.0f}")
        row(f"{label}: invoice adds per CPU s", lambda r, p=phase:
            f"{r[p]['per_kind']['add invoice']['ops_per_cpu_s']:,.0f}")
    row("requests per message, invoice adds / all adds",
        lambda r: f"{r['apply-port']['per_kind']['add invoice']['requests_per_message']:.1f} / "
                  f"{r['apply-port']['per_kind']['all adds']['requests_per_message']:.1f}", "≥ 50")
    for phase in ("scan", "sync", "dry-run", "full", "apply-port", "apply-engine", "incremental"):
        row(f"peak RSS, {phase}, MiB", lambda r, p=phase: f"{r[p]['peak_mib']:,.0f}",
            "< 300 MB at 1M" if phase in ("sync", "dry-run", "full", "incremental") else "")
    row("peak RSS after imports (baseline), MiB", lambda r: f"{r['full']['base_mib']:,.0f}")
    row("load average (1 min) before/after: full, apply-engine, incremental", lambda r: ", ".join(
        "/".join(f"{x:.1f}" for x in r[p]["load"]) for p in ("full", "apply-engine", "incremental")))
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="transactions (invoices + credit memos + payments) per store, comma separated")
    parser.add_argument("--workdir", help="where the homes go (default: a temporary folder, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the homes")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the scan and the incremental planning")
    parser.add_argument("--changes", type=int, default=100, help="invoices changed for the incremental planning")
    parser.add_argument("--apply-invoices", type=int, default=20_000, help="invoice adds in the apply phases")
    parser.add_argument("--phases", default=",".join(PHASES), help="phases to run (default: all)")
    parser.add_argument("--profile", help="folder for cProfile output of each phase (timings then include overhead)")
    parser.add_argument("--tracemalloc", help="folder for tracemalloc summaries of each phase (slow)")
    parser.add_argument("--json", help="write the results here (default: WORKDIR/results.json)")
    parser.add_argument("--table", metavar="RESULTS_JSON", help="only print the table of an earlier run's results")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # child process: one phase, one JSON line
        load_before = os.getloadavg()[0]
        result = PHASE_FUNCS[args.phase](args)
        # The machine may be shared: the 1-minute load average before and after the phase.
        result["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        print(RESULT + json.dumps(result, default=str), flush=True)
        return 0

    if args.table:
        data = json.loads(Path(args.table).read_text())
        m = data["machine"]
        print(f"machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']}, Python {m['python']}, SQLite {m['sqlite']}; "
              f"code {m.get('code', '?')}; {m['date']}\ncommand: {data['command']}\n")
        print(table({int(k): v for k, v in data["results"].items()}))
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    phases = [p for p in args.phases.split(",") if p]
    work = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="booksync-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    command = "benchmarks/scale.py " + " ".join(a for a in sys.argv[1:])
    print(f"machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory']}, Python {info['python']}, "
          f"SQLite {info['sqlite']}; work folder {work}", flush=True)
    results: dict[int, dict[str, Any]] = {}
    out_json = Path(args.json) if args.json else work / "results.json"
    try:
        for size in sizes:
            home = work / f"home-{size}"
            if "generate" in phases and home.exists():
                shutil.rmtree(home)
            results[size] = {}
            t0 = time.perf_counter()
            for phase in phases:
                print(f"{size:>9,} {phase} ...", flush=True)
                result = run_phase(args, phase, size, home)
                results[size][phase] = result
                print(f"{size:>9,} {phase}: {result['wall_s']:.1f} s wall, peak {result.get('peak_mib', 0):,.0f} MiB",
                      flush=True)
                out_json.write_text(json.dumps({"machine": info, "command": command, "results": results}, indent=2))
            results[size]["wall_s"] = round(time.perf_counter() - t0, 1)
            print(f"{size:>9,} done in {results[size]['wall_s']:.0f} s", flush=True)
            if not args.keep and not args.workdir:
                shutil.rmtree(home, ignore_errors=True)
    finally:
        out_json.write_text(json.dumps({"machine": info, "command": command, "results": results}, indent=2))
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if set(phases) >= set(PHASES):
        print()
        print(table(results))
    print(f"\nresults: {out_json if (args.json or args.keep or args.workdir) else '(work folder removed; use --json)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
