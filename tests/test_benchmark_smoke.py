"""The scale benchmark (benchmarks/scale.py) still runs, and measures what it says it measures.

Runs every phase at 500 transactions (about 15 s), with the qbXML schema guard in the
benchmark's child processes. No timing is asserted: speed is recorded in
docs/performance.md, never tested.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "scale.py"
GUARD_DIR = Path(__file__).resolve().parent / "qbxml_guard"
DEFAULT_XSD = REPO / "tests" / "data" / "qbxml" / "13.0" / "qbxmlops130.xsd"


def test_scale_benchmark_runs_at_500_transactions(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("BOOKSYNC_HOME", "QBXML_GUARD_XSD", "QBXML_GUARD_LOG")}
    env["PYTHONPATH"] = os.pathsep.join([str(GUARD_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])
    xsd = Path(os.environ.get("QBXML_XSD") or DEFAULT_XSD)
    assert xsd.is_file(), f"the qbXML schema is missing: {xsd}"
    env["QBXML_GUARD_XSD"] = str(xsd)
    fd, log_name = tempfile.mkstemp(prefix="qbxml-guard-", suffix=".jsonl")
    os.close(fd)
    env["QBXML_GUARD_LOG"] = log_name
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "500", "--apply-invoices", "100",
                               "--repeat", "1", "--workdir", str(tmp_path / "work"), "--json", str(out)],
                              capture_output=True, text=True, env=env, timeout=300)
        guard = [json.loads(line) for line in Path(log_name).read_text().splitlines() if line.strip()]
    finally:
        Path(log_name).unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert any(e.get("event") == "request" for e in guard), "the qbXML guard saw no message"
    assert not [e for e in guard if e.get("event") == "violation"], guard
    assert "full planning / bare scan" in proc.stdout

    data = json.loads(out.read_text())
    assert data["machine"]["cpus"] and data["machine"]["python"]
    r = data["results"]["500"]
    counts = r["generate"]["counts"]
    assert counts["transactions"] == 500
    assert counts["invoices"] and counts["credit_memos"] and counts["payments"]
    assert counts["invoice_lines"] > counts["invoices"] and counts["applications"] >= counts["payments"]
    assert r["scan"]["rows"] >= 500 and r["scan"]["seconds"] > 0

    # Full planning: everything is added, nothing stops the plan.
    full = r["full"]
    assert full["problems"] == []
    assert full["counts"]["add invoice"] == counts["invoices"]
    assert full["counts"]["add credit_memo"] == counts["credit_memos"]
    assert full["counts"]["add payment"] == counts["payments"]
    assert full["counts"]["add customer"] == full["work"]["members"]
    assert full["links_written"] == counts["transactions"]
    assert full["peak_mib"] > 0

    # Apply: the adds went through, in messages of the engine's size.
    for phase in ("apply-port", "apply-engine"):
        per = r[phase]["per_kind"]
        assert per["add invoice"]["operations"] == 100
        assert per["add invoice"]["requests_per_message"] == 50
        assert per["add customer"]["operations"] == counts["members"]
        assert per["all adds"]["ops_per_s"] > 0

    # Incremental: the linked history is seen as synchronized; the 100 changed invoices are corrected.
    inc = r["incremental"]
    assert inc["nothing_changed_empty"] is True
    assert inc["problems"] == []
    assert inc["changed"] == 100
    assert inc["work"]["changed_invoices"] == 100 and inc["work"]["invoices"] == 0
    assert inc["counts"]["mod invoice"] == 100
    assert inc["versions_asked"] >= 100


def test_snapshot_benchmark_reads_every_customer_both_ways(capsys, monkeypatch) -> None:
    """benchmarks/snapshot.py (reading QuickBooks with many customers) runs; in-process, so the
    conftest guard checks its requests (IncludeRetElement on every iterator page) against the schema."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.setattr("booksync.books.desktop.adapter.PAGE", 2)  # three customers: a Start page and a Continue page
    import snapshot

    monkeypatch.setattr(sys, "argv", ["snapshot.py", "--customers", "3", "--repeat", "1"])
    assert snapshot.main() == 0
    out = capsys.readouterr().out
    assert "3 customers, as a sync reads it (no balances): median" in out
    assert "3 customers, with balances: median" in out
