"""Issue 20.5: answering No to "create customers?" ends with a short summary and the outcome, not 823 lines;
`members map` speaks of the command line, not of the web's search box."""
from __future__ import annotations

import csv

from booksync.cli.common import command_name


def test_no_to_create_customers_summarises_and_ends_with_the_outcome(nosync_copy, cli, company_db):
    home = nosync_copy.path
    before = company_db(nosync_copy.company).fingerprint()
    result = cli("sync", "--home", str(home), input="n\n")
    assert result.code == 4, result
    lines = result.stdout.strip().splitlines()
    assert len(lines) < 40, result.stdout  # was 823
    assert lines[-1] == "400 member(s) have no QuickBooks customer and none were created; nothing was written."
    listed = home / "logs" / next(p.name for p in (home / "logs").glob("problems-*.csv"))
    assert f"The full list: {listed}" in result.stdout
    rows = list(csv.DictReader(listed.open(encoding="utf-8")))
    assert len(rows) == 400 and all(r["problem"] == "has no QuickBooks customer" for r in rows)
    assert f"{command_name()} members map --home {home} " in rows[0]["to fix"]
    assert f"To create their customers: {command_name()} sync --home {home} --create-customers" in result.stdout
    assert f"{command_name()} members map --home {home} NUMBER \"Customer name\"" in result.stdout
    assert result.writes == [] and company_db(nosync_copy.company).fingerprint() == before


def test_members_map_to_an_unknown_customer_names_candidates_not_a_search_box(nosync_copy, cli, qb_customer=None):
    home = str(nosync_copy.path)
    result = cli("members", "map", "1001", "Blue Heron", "--home", home)
    assert result.code == 3, result
    assert "Search for it" not in result.output
    assert 'QuickBooks has no customer named "Blue Heron"; nothing was linked.' in result.stderr
    assert f"Give the full name exactly as QuickBooks has it: {command_name()} members map --home {home} 1001" \
        in result.stderr


def test_serve_prints_the_web_interface_and_what_to_do_first(cli, tmp_path):
    """Issue 20.8: `booksync serve` printed only the Web Connector's address ("every login will be refused")."""
    import httpx

    from test_webconnector import start_server, stop_server

    home = tmp_path / "chamber"
    assert cli("init", "--home", str(home)).code == 0
    assert "web interface" in cli("serve", "--help").stdout
    server = start_server(home)
    try:
        said = " ".join(server.output().split())
        base = server.url.removesuffix("/qbwc")
        assert f"The web interface: {base}/ (open it in a browser)" in said, said
        assert f"First add a user: {command_name()} users add --home {home} NAME" in said, said
        assert f"The Web Connector service: {server.url}" in said, said
        page = httpx.get(base + "/", follow_redirects=True, timeout=10)
        assert page.status_code == 200 and "Sign in" in page.text
    finally:
        stop_server(server)


def test_the_plan_and_runs_show_name_operations_in_words(demo_copy, cli, tmp_path):
    """Issue 20.9: "change invoice", "add payment method" (the web's words), never "mod invoice" or
    "payment_method", in the plan on the terminal, in plan.txt and in `runs show`."""
    import json

    from test_corrections import write_invoice
    from test_change_marks_adversarial import unpaid_single_line

    from booksync.domain import operation_words

    assert operation_words("mod deposit") == "change deposit"
    assert operation_words("add", "payment_method") == "add payment method"
    home = str(demo_copy.path)
    (number,) = unpaid_single_line(1)
    assert cli("import", "invoices", str(write_invoice(tmp_path, number, "12.34")), "--home", home).code == 0
    result = cli("sync", "--home", home, "--yes", "--corrections-log", str(tmp_path / "log.pdf"))
    assert result.code == 0, result
    assert "change invoice" in result.stdout and "mod invoice" not in result.stdout, result.stdout
    run = json.loads(cli("runs", "list", "--json", "--home", home).stdout)["runs"][0]
    shown = cli("runs", "show", run["run_id"], "--home", home)
    assert "Applied: 1 change invoice" in shown.stdout and "mod " not in shown.stdout, shown.stdout


def test_a_first_plan_says_add_payment_method(nosync_copy, cli):
    declined = cli("sync", "--home", str(nosync_copy.path), "--create-customers", input="n\n")
    assert declined.code == 4, declined
    assert "add payment method" in declined.stdout and "payment_method" not in declined.stdout, declined.stdout
    result = cli("sync", "--home", str(nosync_copy.path), "--dry-run", "--create-customers")
    assert result.code == 0, result
    folder = sorted(p for p in (nosync_copy.path / "runs").iterdir() if (p / "plan.txt").exists())[-1]
    header = (folder / "plan.txt").read_text().split("\n\n")[1]
    assert "add payment method" in header and "payment_method" not in header, header


def test_reconcile_says_what_it_is_reading(demo_home, cli):
    """Issue 20.10: reconcile sat silent after "Reading..."; each phase is said (a live Rich line on a terminal)."""
    result = cli("reconcile", "--home", str(demo_home.path))
    assert result.code == 0, result
    phases = [line for line in result.stderr.splitlines() if line.endswith("...")]
    assert phases[0].startswith("Reading QuickBooks: accounts, items and customers"), result.stderr
    assert "Reading the billing store..." in phases
    assert any(p.startswith("Reading QuickBooks' invoices (") for p in phases), phases
    assert any(p.startswith("Reading QuickBooks' payments (") for p in phases), phases


def test_phase_progress_on_a_terminal_is_a_live_line(capsys):
    """On a terminal the phases are a Rich progress line (transient), not printed lines."""
    import io

    from rich.console import Console

    from booksync.cli.progress import PhaseProgress

    screen = io.StringIO()
    progress = PhaseProgress(Console(file=screen, force_terminal=True, width=100))
    progress.update("Reading QuickBooks", 0, 1)
    progress.update("Examining records", 250, 1000)
    progress.close()
    assert progress.live and "\x1b[" in screen.getvalue()  # drawn with terminal controls
    plain = io.StringIO()
    lines = PhaseProgress(Console(file=plain, force_terminal=False))
    lines.update("Reading QuickBooks", 0, 1)
    lines.update("Examining records", 0, 1000)
    lines.update("Examining records", 1000, 1000)
    assert plain.getvalue().splitlines() == ["Reading QuickBooks...", "Examining records...",
                                             "  Examining records: 1000 of 1000"]
