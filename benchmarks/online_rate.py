#!/usr/bin/env python3
"""Benchmark: operations per minute against QuickBooks Online's 500-requests-per-minute ceiling.

Intuit allows 500 requests per minute per company (realm), at most 40 batch requests per minute and 30
operations per batch (reference/quickbooks-online.md §5). booksync counts every operation inside a batch as
one request (the conservative reading), so the ceiling for writes is 500 operations per minute, and the
target (issue 7) is at least 90% of it.

Waiting minutes for each measurement would make the benchmark slow, so time is **scaled**: the test
double's window is ``--window`` seconds (default 6 s) instead of 60 s, with the same 500-request limit and
40-batch limit; booksync's pacing uses the same window (its settings ``rate_window_seconds``); the double's
latency is scaled the same way (``--latency``, default 0.03 s for roughly 300 ms of a real API call). A
"minute" below is one window. ``--window 60 --latency 0.3`` measures in real time (about 5 minutes).

1. **batched**: `booksync demo --no-sync`, then the real `booksync sync --yes` (a child process) against the
   double: 2,280 operations in batches of 30. Reported: operations per minute over the whole update, and
   in steady state (after the first window, whose burst a sliding window allows), as % of 500.
2. **one operation per batch** (for comparison): the port sends customer adds one per batch request for
   three windows; the 40-batches-per-minute limit and the latency bound it.

Usage: .venv/bin/python benchmarks/online_rate.py [--window 6] [--latency 0.03] [--skip-single]
Results are recorded in docs/performance.md ("QuickBooks Online").
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from booksync.books.online.adapter import open_online  # noqa: E402
from booksync.books.online.auth import begin_authorization, complete_authorization  # noqa: E402
from booksync.config import Home  # noqa: E402
from booksync.domain import Action, CustomerData, Kind, Operation  # noqa: E402
from booksync.qbo_double import (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DoubleConfig, DoubleServer,  # noqa: E402
                                 QboDouble)
from booksync.sync.written import external_guid  # noqa: E402

CLI = [sys.executable, "-m", "booksync.cli.main"]
CEILING = 500


def connect(home: Home, server: DoubleServer, window: float, **online: object) -> Home:
    section = home.settings.setdefault("online", {})
    section.update(server.settings())
    section.update({"rate_window_seconds": window, "requests_per_minute": 490, "batches_per_minute": 38,
                    "backoff_seconds": window / 60, **online})
    home.save()
    url = begin_authorization(home.path, home.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    tokens = complete_authorization(home.path, httpx.get(url).headers["location"])
    home = Home.load(home.path)
    home.settings["company"]["kind"] = "online"
    home.settings["online"].update(realm_id=tokens.realm_id, environment="sandbox", client_id=DEFAULT_CLIENT_ID)
    home.save()
    return Home.load(home.path)


def rates(log: list[dict], window: float) -> dict[str, float]:
    """Operations per (scaled) minute from the double's log of batch requests."""
    writes = [r for r in log if r["path"] == "batch" and r.get("status") == 200]
    ops = sum(r["items"] for r in writes)
    start, end = writes[0]["t"], writes[-1]["t"] + writes[-1].get("ms", 0) / 1000
    elapsed = end - start
    steady = [r for r in writes if r["t"] >= start + window]
    steady_ops = sum(r["items"] for r in steady)
    steady_elapsed = end - (start + window)
    reads = sum(1 for r in log if r["path"] != "batch" and start <= r["t"] <= end)
    return {"operations": ops, "batches": len(writes), "seconds": elapsed,
            "per_minute": ops / elapsed * window,
            "steady_per_minute": steady_ops / steady_elapsed * window if steady_elapsed > 0 else 0.0,
            "requests_per_minute": (ops + reads) / elapsed * window}


def batched(window: float, latency: float) -> dict[str, float]:
    double = QboDouble(config=DoubleConfig(rate_limit=CEILING, rate_window=window, batch_rate_limit=40,
                                           latency=latency))
    with tempfile.TemporaryDirectory() as tmp, DoubleServer(double) as server:
        home_dir = Path(tmp) / "home"
        subprocess.run(CLI + ["demo", "--no-sync", "--home", str(home_dir)], check=True, capture_output=True)
        connect(Home.load(home_dir), server, window)
        double.reset_stats()
        started = time.perf_counter()
        proc = subprocess.run(CLI + ["sync", "--yes", "--json", "--home", str(home_dir)], capture_output=True,
                              text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"sync failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        applied = sum(json.loads(proc.stdout)["applied"].values())
        out = rates(double.stats.log, window)
        out.update(applied=applied, wall=wall, throttled=double.stats.throttled,
                   max_batch=double.stats.max_batch_items)
        return out


def single(window: float, latency: float, windows: int = 3) -> dict[str, float]:
    double = QboDouble(config=DoubleConfig(rate_limit=CEILING, rate_window=window, batch_rate_limit=40,
                                           latency=latency))
    with tempfile.TemporaryDirectory() as tmp, DoubleServer(double) as server:
        home = connect(Home.load(Path(tmp) / "home", create=True), server, window, batch_size=1)
        with open_online(home) as port:
            key = port.company_key
            n = 0
            deadline = time.monotonic() + windows * window
            while time.monotonic() < deadline:
                ops = []
                for _ in range(10):
                    n += 1
                    ops.append(Operation(seq=n, action=Action.ADD, kind=Kind.CUSTOMER, local_id=n, number=str(n),
                                         description="", payload=CustomerData(
                                             name=f"Member {n}", external_guid=external_guid(key, Kind.CUSTOMER, n))))
                port.send(ops, lambda ref: None)
        out = rates(double.stats.log, window)
        out.update(throttled=double.stats.throttled)
        return out


def main() -> int:
    logging.getLogger("booksync").setLevel(logging.ERROR)  # the 429 retries are counted, not printed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=6.0, help="seconds standing for one minute")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to each API answer")
    parser.add_argument("--skip-single", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}; one minute = {args.window} s, "
          f"latency {args.latency} s; ceiling {CEILING} requests/minute (batch items counted)")
    b = batched(args.window, args.latency)
    print(f"batched (demo sync, real CLI): {b['applied']} operations in {b['batches']} batch requests "
          f"(largest {b['max_batch']}), update phase {b['seconds']:.1f} s = {b['seconds'] / args.window:.2f} minutes; "
          f"{b['per_minute']:.0f} operations/minute ({b['per_minute'] / CEILING:.1%} of {CEILING}); steady state "
          f"{b['steady_per_minute']:.0f}/minute ({b['steady_per_minute'] / CEILING:.1%}); all requests "
          f"{b['requests_per_minute']:.0f}/minute; 429 answers: {b['throttled']}; whole command {b['wall']:.1f} s")
    if not args.skip_single:
        s = single(args.window, args.latency)
        print(f"one operation per batch request: {s['operations']} operations in {s['seconds']:.1f} s; "
              f"{s['per_minute']:.0f} operations/minute ({s['per_minute'] / CEILING:.1%} of {CEILING}); "
              f"429 answers: {s['throttled']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
