"""Issue 20.4: the commands booksync prints are commands the user can paste: the program as it was started
(after `make demo` that is .venv/bin/booksync, not on PATH) and --home with the home actually used."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from booksync.cli.common import command_name, copyable


def test_copyable_adds_the_program_and_the_home_quoted():
    home = Path("/tmp/our chamber")
    prog = command_name()
    assert copyable('link it by hand: booksync members map 1001 "Customer name"', home) == (
        f"link it by hand: {prog} members map --home '/tmp/our chamber' 1001 \"Customer name\"")
    assert copyable("edited in QuickBooks after booksync wrote it", home) == (
        "edited in QuickBooks after booksync wrote it")  # not a command
    assert copyable("booksync init --home /x", home) == f"{prog} init --home /x"  # a home already named


def pasted(line: str, marker: str) -> list[str]:
    """The command after ``marker`` on ``line``, split as a shell would."""
    return shlex.split(line.split(marker, 1)[1])


def test_init_and_an_unmapped_account_print_commands_that_run(cli, tmp_path):
    home = tmp_path / "our chamber"
    init = cli("init", "--home", str(home))
    assert init.code == 0, init
    line = next(l for l in init.stdout.splitlines() if l.startswith("Next:"))
    command = pasted(line, "or connect a company: ")
    assert command == [command_name(), "simulator", "init", "--home", str(home)], line
    assert Path(command[0]).is_file()
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0  # pasted into a shell

    accounts = tmp_path / "accounts.csv"
    accounts.write_text("number,name,type\n4100,Dues,Income\n")
    members = tmp_path / "members.csv"
    members.write_text("number,name\n1001,Acme Hardware\n")
    invoices = tmp_path / "invoices.csv"
    invoices.write_text("number,member,date,gl_account,amount\nINV1,1001,2025-03-01,4100,100.00\n")
    for kind, path in (("gl-accounts", accounts), ("members", members), ("invoices", invoices)):
        assert cli("import", kind, str(path), "--home", str(home)).code == 0
    stopped = cli("sync", "--home", str(home), "--yes")
    assert stopped.code == 3, stopped
    line = next(l for l in stopped.stdout.splitlines() if "accounts to choose from:" in l)
    command = pasted(line, "choose from: ")
    assert command == [command_name(), "accounts", "xref", "--home", str(home), "--quickbooks"], line
    shown = subprocess.run(command, capture_output=True, text=True)
    assert shown.returncode == 0 and "Checking" in shown.stdout, shown.stderr
