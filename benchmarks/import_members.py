#!/usr/bin/env python3
"""Benchmark: ``booksync import members`` of a large members file (issue 19 item 10).

Writes a members CSV of N data rows (every column filled, ~150 bytes a row), creates a fresh home
(``booksync init``, SQLite unless BOOKSYNC_DATABASE_URL says otherwise), then imports the file in a child
process and prints the wall time and the child's peak memory (max RSS). ``--again`` imports the same file a
second time (every member unchanged: the update path). Nothing here asserts a time; the figures go to
docs/performance.md.

Usage: .venv/bin/python benchmarks/import_members.py [--rows 1000000] [--again]
"""
from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "booksync.cli.main"]
HEADER = ("number,name,company,contact_first,contact_last,address1,address2,city,state,postal_code,email,phone,"
          "status,qb_customer\n")


def write_members(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        for i in range(rows):
            fh.write(f"M{i:07d},Member Business {i},Member Business {i} LLC,Ann,Müller,{i} Main Street,Suite {i % 90},"
                     f"Springfield,IL,{62700 + i % 99:05d},office{i}@example.org,217-555-{i % 10000:04d},"
                     f"{'active' if i % 7 else 'inactive'},\n")
    return path.stat().st_size


def run(args: list[str]) -> tuple[float, int, str]:
    """Run the CLI in a child; (seconds, peak RSS of the children so far in MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(CLI + args, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--again", action="store_true", help="import the same file a second time too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        size = write_members(folder / "members.csv", args.rows)
        run(["init", "--home", str(folder / "home")])
        print(f"{platform.python_implementation()} {platform.python_version()}, {args.rows} rows, "
              f"{size / 1e6:.1f} MB")
        seconds, peak, out = run(["import", "members", str(folder / "members.csv"), "--home", str(folder / "home")])
        print(f"first import: {seconds:.1f} s, peak {peak} MiB  ({out.strip().splitlines()[-1]})")
        if args.again:
            seconds, peak, out = run(["import", "members", str(folder / "members.csv"), "--home",
                                      str(folder / "home")])
            print(f"second import: {seconds:.1f} s, peak so far {peak} MiB  ({out.strip().splitlines()[-1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
