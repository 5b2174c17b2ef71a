"""Scripts: one table of exit codes, and with --json exactly one JSON object on standard output on every path.

Issue 20.7: `sync --json` without --yes printed "Aborted!" and no JSON at the final question; `--yes` with
corrections exited 4 "declined" although nobody declined; "not a booksync home" exited 1 (an unexpected
error); `sync --help` listed 0 and 3-6 only.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from booksync.exits import MEANING, ExitCode

from conftest import CompanyDB, demo_csv

JSON_COMMANDS = [("import", "members", "members.csv"), ("sync",), ("reconcile",), ("accounts", "xref"),
                 ("members", "map", "1001", "Someone"), ("runs", "list"), ("runs", "show", "20260101-000000"),
                 ("runs", "confirm", "--latest"), ("runs", "undo", "20260101-000000"), ("backups", "list"),
                 ("company", "disconnect", "online"),
                 ("company", "status"), ("webconnector", "status"), ("users", "list"),
                 ("accounts", "items"), ("payments", "methods"), ("accounts", "classes"),
                 ("deposits", "suggest", "--amount", "1.00", "--date", "2025-03-10")]
"""Every command that takes --json, with arguments that get it past Click's parsing."""


def one_json_object(result) -> dict:
    """Standard output is exactly one JSON object (scripts parse it with json.loads)."""
    data = json.loads(result.stdout)
    assert isinstance(data, dict), result
    return data


def test_every_json_command_is_listed():
    """The list above is every command with --json (a new one must be added to it)."""
    import click

    from booksync.cli.main import cli as booksync_cli

    found = set()

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + (name,))
        if any(p.name == "as_json" for p in command.params):
            found.add(path)

    walk(booksync_cli, ())
    listed = {tuple(a for a in args if a.isalpha() or "-" in a and not a.startswith("-"))[:2] for args in JSON_COMMANDS}
    assert {p[:2] for p in found} - {("demo",)} <= listed | {("import",)}, found


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=[" ".join(a[:2]) for a in JSON_COMMANDS])
def test_not_a_booksync_home_is_a_set_up_error_with_one_json_object(args, cli, tmp_path):
    empty = tmp_path / "not-a-home"
    empty.mkdir()
    result = cli(*args, "--home", str(empty), "--json")
    assert result.code == ExitCode.USAGE == 2, result
    data = one_json_object(result)
    assert data["exit_code"] == 2 and "is not a booksync home" in data["message"], data
    assert "is not a booksync home" in result.stderr


@pytest.mark.parametrize("args", [("sync", "--on-conflict", "sometimes"), ("reconcile", "--no-such-option"),
                                  ("runs", "show")])
def test_a_usage_error_with_json_prints_one_json_object(args, cli, tmp_path):
    result = cli(*args, "--home", str(tmp_path), "--json")
    assert result.code == 2, result
    data = one_json_object(result)
    assert data["status"] == "usage" and data["exit_code"] == 2 and data["message"], data


def test_json_sync_without_yes_at_the_final_question_says_why_in_json(nosync_copy, cli, company_db):
    """Nobody can answer "Do you want to update QuickBooks ...?" (standard input is empty): one JSON object,
    the usage exit code, advice to add --yes, and nothing written."""
    before = company_db(nosync_copy.company).fingerprint()
    result = cli("sync", "--home", str(nosync_copy.path), "--create-customers", "--json", input="")
    assert result.code == 2, result
    assert "Aborted!" not in result.output
    data = one_json_object(result)
    assert data["status"] == "no-answer" and data["exit_code"] == 2, data
    assert "Do you want to update QuickBooks" in data["message"] and "--yes" in data["advice"], data
    assert result.writes == [] and company_db(nosync_copy.company).fingerprint() == before


def test_unattended_sync_with_corrections_needs_the_corrections_log_not_declined(demo_copy, cli, company_db):
    """--yes reaches the Corrections Log gate without --corrections-log: nobody declined, the run could not
    go on; exit 2 with one JSON object saying to add --corrections-log."""
    paid = {p["apply_to"] for p in demo_csv("payments.csv")}
    invoice = next(r["number"] for r in demo_csv("invoices.csv") if r["number"] not in paid)
    home = str(demo_copy.path)
    assert cli("invoices", "void", invoice, "--home", home).code == 0
    before = company_db(demo_copy.company).fingerprint()
    result = cli("sync", "--home", home, "--yes", "--json")
    assert result.code == 2, result
    data = one_json_object(result)
    assert data["status"] == "needs-corrections-log" and data["exit_code"] == 2, data
    assert "--corrections-log PATH" in data["message"] and "Nothing was written" in data["message"], data
    assert "declined" not in data["message"]
    assert result.writes == [] and company_db(demo_copy.company).fingerprint() == before
    # and without --json the person reads the same sentence
    text = cli("sync", "--home", home, "--yes")
    assert text.code == 2 and "add --corrections-log PATH" in text.stdout, text


def test_a_company_that_cannot_be_reached_is_exit_6_with_one_json_object(demo_copy, cli):
    (demo_copy.path / "company.qbsim").unlink()
    for args in (("reconcile",), ("sync", "--yes")):
        result = cli(*args, "--home", str(demo_copy.path), "--json")
        assert result.code == ExitCode.CONNECTION == 6, result
        data = one_json_object(result)
        assert data["status"] == "connection-failed" and data["exit_code"] == 6, data


def test_the_table_is_the_readme_s_and_every_code_has_a_meaning():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} | {MEANING[code]} |" in readme, code


def test_listings_print_one_json_object_and_name_a_run_run_id_everywhere(demo_home, cli):
    """Before: `runs list`, `backups list` and `users list` printed a JSON array, and a run's id was "id" in
    `runs list`/`runs show`, "run" in `backups list` and "run_id" in `sync`/`runs confirm`."""
    home = str(demo_home.path)
    runs = one_json_object(cli("runs", "list", "--json", "--home", home))["runs"]
    backups = one_json_object(cli("backups", "list", "--json", "--home", home))["backups"]
    assert runs and backups
    assert {r["run_id"] for r in runs} >= {b["run_id"] for b in backups}
    shown = one_json_object(cli("runs", "show", runs[0]["run_id"], "--json", "--home", home))
    assert shown["run_id"] == runs[0]["run_id"]
    assert one_json_object(cli("users", "list", "--json", "--home", home)) == {"users": []}
