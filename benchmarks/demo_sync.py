#!/usr/bin/env python3
"""Benchmark: the demo chamber's full sync into the simulated company.

Runs ``booksync demo --no-sync`` (setup, not measured), then ``booksync sync --yes``
in a child process, N times, and prints wall time, operations, operations per second
and peak memory (max RSS of the child). Then times the second sync (nothing to send).

Usage: .venv/bin/python benchmarks/demo_sync.py [--repeat N]
Results are recorded in docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "booksync.cli.main"]


def run(args: list[str]) -> tuple[float, int, str]:
    """Run the CLI; return (seconds, peak RSS of the child in MiB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(CLI + args, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    # ru_maxrss of children is the maximum over all children so far (KiB on Linux).
    return seconds, max(after, before) // 1024, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}")
    full, second, peaks, ops = [], [], [], 0
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            home = str(Path(tmp) / "home")
            run(["demo", "--no-sync", "--home", home])
            seconds, peak, out = run(["sync", "--yes", "--json", "--home", home])
            result = json.loads(out)
            ops = sum(result["applied"].values())
            full.append(seconds)
            peaks.append(peak)
            seconds2, _, _ = run(["sync", "--yes", "--home", home])
            second.append(seconds2)
            print(f"run {i + 1}: full sync {seconds:.2f} s ({ops} operations), second sync {seconds2:.2f} s")
    print(f"full sync: median {statistics.median(full):.2f} s, {ops / statistics.median(full):.0f} operations/s "
          f"(process start and reading QuickBooks included)")
    print(f"second sync (nothing to send): median {statistics.median(second):.2f} s")
    print(f"peak memory (max RSS of any child process): {max(peaks)} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
