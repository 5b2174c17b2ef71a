#!/usr/bin/env python3
"""Benchmark: ``booksync import`` of large G/L account, invoice and payment files (issue 19 item 10).

Writes a small members file and G/L accounts file, then an invoices file of N records (one line each) and a
payments file of N payments (each applying to one invoice), creates a fresh home (``booksync init``, SQLite
unless BOOKSYNC_DATABASE_URL says otherwise) and imports them in order, each in a child process of its own,
printing each import's wall time and the child's own peak memory (max RSS). Nothing here asserts a time;
the figures go to docs/performance.md ("Large imports").

Usage: .venv/bin/python benchmarks/import_transactions.py [--records 100000]
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The CLI in a child that reports its own peak RSS (KiB on Linux) on its last line of standard error.
CHILD = ("import resource, sys\n"
         "from booksync.cli.main import cli\n"
         "try:\n"
         "    cli(sys.argv[1:], prog_name='booksync')\n"
         "finally:\n"
         "    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
MEMBERS = 1000


def write_files(folder: Path, records: int) -> dict[str, Path]:
    paths = {kind: folder / f"{kind}.csv" for kind in ("gl-accounts", "members", "invoices", "payments")}
    paths["gl-accounts"].write_text("number,name,type\n4000,Dues,Income\n4100,Events,Income\n"
                                    "1499,Undeposited Funds,OtherCurrentAsset\n", encoding="utf-8")
    with paths["members"].open("w", encoding="utf-8") as fh:
        fh.write("number,name\n")
        fh.writelines(f"M{i:05d},Member {i}\n" for i in range(MEMBERS))
    with paths["invoices"].open("w", encoding="utf-8") as fh:
        fh.write("number,member,date,memo,gl_account,description,quantity,rate,amount\n")
        fh.writelines(f"INV{i:07d},M{i % MEMBERS:05d},2025-{1 + i % 12:02d}-{1 + i % 28:02d},Annual dues,"
                      f"{4000 + 100 * (i % 2)},Dues {i},1,{100 + i % 50}.00,{100 + i % 50}.00\n"
                      for i in range(records))
    with paths["payments"].open("w", encoding="utf-8") as fh:
        fh.write("number,member,date,amount,method,deposit_account,apply_to,apply_amount\n")
        fh.writelines(f"R{i:07d},M{i % MEMBERS:05d},2025-{1 + i % 12:02d}-{1 + i % 28:02d},{100 + i % 50}.00,Check,"
                      f"1499,INV{i:07d},{100 + i % 50}.00\n" for i in range(records))
    return paths


def run(args: list[str]) -> tuple[float, int, str]:
    """Run the CLI in a child; (seconds, the child's peak RSS in MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    peak = int(proc.stderr.strip().splitlines()[-1].split()[1]) // 1024
    return seconds, peak, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_files(folder, args.records)
        home = str(folder / "home")
        run(["init", "--home", home])
        print(f"{platform.python_implementation()} {platform.python_version()}, {args.records} records")
        for kind, path in paths.items():
            seconds, peak, out = run(["import", kind, str(path), "--home", home])
            print(f"{kind}: {path.stat().st_size / 1e6:.1f} MB, {seconds:.1f} s, peak {peak} MiB  "
                  f"({out.strip().splitlines()[-1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
