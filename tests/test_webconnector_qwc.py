"""`booksync qwc`, `booksync webconnector ...` and `booksync runs confirm` at the command line.

The .qwc rules come from the guide, ch. 4 (p.33–39) and Appendix A (QBWC1000/1001/1010);
reference/quickbooks-desktop.md §12 summarizes them.
"""
from __future__ import annotations

import shutil
import tomllib
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from booksync.cli.main import cli
from booksync.qbxml.parse import parse_xml
from booksync.services.connector_state import ConnectorState
from booksync.services.qwc import REQUIRED

PASSWORD = "correct horse battery"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def initialized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("qwc") / "home"
    assert run("init", "--home", str(path)).exit_code == 0
    return path


@pytest.fixture
def home(initialized: Path, tmp_path: Path) -> Path:
    """A fresh `booksync init` home (copied from one made once per module)."""
    return Path(shutil.copytree(initialized, tmp_path / "home"))


def with_user(home: Path) -> Path:
    result = run("webconnector", "set-password", "--user", "office", "--password-stdin", "--home", str(home),
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    return home


def settings(home: Path) -> dict:
    return tomllib.loads((home / "booksync.toml").read_text())["webconnector"]


def test_the_qwc_file_is_well_formed_and_complete(home, tmp_path):
    with_user(home)
    out = tmp_path / "booksync.qwc"
    result = run("qwc", "--home", str(home), "--url", "https://books.example.org/qbwc", "--out", str(out),
                 "--every-minutes", "30")
    assert result.exit_code == 0, result.output
    root = parse_xml(out.read_bytes(), ".qwc file")
    assert root.tag == "QBWCXML"
    fields = {child.tag: child.text or "" for child in root}
    assert set(REQUIRED) <= set(fields)
    assert all(fields[name] for name in REQUIRED if name != "AppID")  # AppID may be empty (guide p.35)
    assert fields["AppName"] == "booksync" and fields["UserName"] == "office" and fields["QBType"] == "QBFS"
    assert fields["AppURL"] == "https://books.example.org/qbwc"
    assert fields["AppSupport"] == "https://books.example.org/qbwc/support"
    assert len(fields["AppDescription"]) <= 80
    for name in ("OwnerID", "FileID"):
        assert fields[name].startswith("{") and uuid.UUID(fields[name].strip("{}"))
    assert root.findtext("Scheduler/RunEveryNMinutes") == "30"
    assert fields["IsReadOnly"] == "false"
    assert PASSWORD not in out.read_text() and "argon2" not in out.read_text()

    again = tmp_path / "again.qwc"
    assert run("qwc", "--home", str(home), "--url", "https://books.example.org/qbwc", "--out", str(again)).exit_code == 0
    second = {child.tag: child.text for child in parse_xml(again.read_bytes(), ".qwc file")}
    assert (second["OwnerID"], second["FileID"]) == (fields["OwnerID"], fields["FileID"])  # stable for the install
    assert (settings(home)["owner_id"], settings(home)["file_id"]) == (fields["OwnerID"], fields["FileID"])
    assert "Scheduler" not in second


def test_localhost_may_use_http(home):
    with_user(home)
    result = run("qwc", "--home", str(home), "--url", "http://localhost:8080/qbwc")
    assert result.exit_code == 0 and "<AppURL>http://localhost:8080/qbwc</AppURL>" in result.output


@pytest.mark.parametrize("args, complaint", [
    (["--url", "http://books.example.org/qbwc"], "must use https"),
    (["--url", "https://192.168.1.20/qbwc"], "IP address"),
    (["--url", "http://127.0.0.1:8080/qbwc"], "IP address"),
    (["--url", "https://books.example.org/qbwc", "--support-url", "https://help.example.com/"], "same host"),
    (["--url", "books.example.org"], "full http(s) URL"),
])
def test_urls_the_web_connector_would_refuse(home, args, complaint):
    with_user(home)
    result = run("qwc", "--home", str(home), *args)
    assert result.exit_code == 2 and complaint in result.output


def test_no_qwc_without_a_user(home):
    result = run("qwc", "--home", str(home), "--url", "https://books.example.org/qbwc")
    assert result.exit_code == 2 and "set-password" in result.output


def test_the_password_is_stored_as_an_argon2_hash(home):
    with_user(home)
    stored = settings(home)
    assert stored["user"] == "office" and stored["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in (home / "booksync.toml").read_text()
    short = run("webconnector", "set-password", "--user", "x", "--password-stdin", "--home", str(home),
                input="short\n")
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    prompted = run("webconnector", "set-password", "--user", "clerk", "--home", str(home),
                   input="another passphrase\nanother passphrase\n")
    assert prompted.exit_code == 0 and settings(home)["user"] == "clerk"


def test_status_and_forget_company(home):
    with_user(home)
    state = ConnectorState(company_file_id="{ABC}", company_name="Riverside", company_key="{ABC}")
    state.save(home)
    shown = run("webconnector", "status", "--home", str(home))
    assert "Riverside" in shown.output and "password set" in shown.output
    forgot = run("webconnector", "forget-company", "--home", str(home))
    assert forgot.exit_code == 0 and "Riverside" in forgot.output
    assert ConnectorState.load(home).company_file_id == ""


def test_runs_confirm_needs_a_run_awaiting_confirmation(home):
    neither = run("runs", "confirm", "--home", str(home))
    assert neither.exit_code == 2 and "RUN_ID or --latest" in neither.output
    nothing = run("runs", "confirm", "--latest", "--home", str(home))
    assert nothing.exit_code == 2 and "No run is awaiting confirmation" in nothing.output


def test_the_qwc_url_host_is_added_to_the_allowed_hosts(home):
    """Issue 19 item 2: booksync serve refuses Host names it does not know; the name the Web Connector uses is
    the .qwc's AppURL, so writing the .qwc allows it (once)."""
    with_user(home)
    for _ in range(2):
        result = run("qwc", "--home", str(home), "--url", "https://books.example.org/qbwc")
        assert result.exit_code == 0
    web = tomllib.loads((home / "booksync.toml").read_text())["web"]
    assert web["allowed_hosts"] == ["books.example.org"]
    assert run("qwc", "--home", str(home), "--url", "http://localhost:8080/qbwc").exit_code == 0
    assert tomllib.loads((home / "booksync.toml").read_text())["web"]["allowed_hosts"] == ["books.example.org"]
