#!/usr/bin/env python3
"""Benchmark: reading QuickBooks before a sync (``DesktopBooks.snapshot``) with many customers.

Usage:
    .venv/bin/python benchmarks/snapshot.py --customers 50000

Creates a simulated company with ``--customers`` customers (name, company name, address, phone,
e-mail, account number; no transactions) in a temporary folder, then reads it as a sync does
(``snapshot(balances=False)``: IncludeRetElement, no Balance) and as reports and the web do
(``snapshot()``), ``--repeat`` times each, and prints the median CPU and wall seconds. Results are
recorded in docs/performance.md (fourth session).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from booksync.books.desktop.adapter import DesktopBooks
from booksync.qbxml import build
from booksync.simulator import open_company
from booksync.simulator.company import create_company


def fill(path: Path, n: int) -> None:
    create_company(path, "Snapshot benchmark")
    with open_company(path, app_name="booksync") as company:
        for start in range(0, n, 500):
            company.process(build.message([build.request("CustomerAdd", {
                "Name": f"Customer {i:06d} Hardware & Sons", "CompanyName": f"Customer {i} Hardware",
                "BillAddress": {"Addr1": "12 Main St", "City": "Springfield", "State": "IL", "PostalCode": "62701"},
                "Phone": "555-0100", "Email": f"c{i}@example.com", "AccountNumber": f"M{i:06d}"}, i)
                for i in range(start, min(n, start + 500))]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="booksync-snapshot-") as folder:
        path = Path(folder) / "company.qbsim"
        fill(path, args.customers)
        with open_company(path, app_name="booksync") as company:
            port = DesktopBooks(company)
            for label, balances in (("as a sync reads it (no balances)", False), ("with balances", True)):
                cpu, wall = [], []
                for _ in range(args.repeat):
                    c0, w0 = time.process_time(), time.perf_counter()
                    snapshot = port.snapshot(balances=balances)
                    cpu.append(time.process_time() - c0)
                    wall.append(time.perf_counter() - w0)
                print(f"{len(snapshot.customers):,} customers, {label}: median {statistics.median(cpu):.2f} CPU s, "
                      f"{statistics.median(wall):.2f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
