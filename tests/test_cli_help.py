"""Every command answers --help (exit 0) with its usage line and a description of itself."""
from __future__ import annotations

from pathlib import Path

import click
import pytest

from booksync.cli.main import cli as booksync_cli


def all_commands(group: click.Group = booksync_cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += all_commands(command, prefix + (name,))
        else:
            out.append(prefix + (name,))
    return out


def command_of(path: tuple[str, ...]) -> click.Command:
    command: click.Command = booksync_cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


COMMANDS = all_commands()


def test_the_expected_commands_exist():
    """The commands the README documents are registered."""
    names = {" ".join(p) for p in COMMANDS}
    assert {"init", "import", "sync", "reconcile", "demo", "accounts xref", "members map", "simulator init",
            "simulator request", "runs list", "runs show"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "booksync" for p in COMMANDS])
def test_help_exits_0_and_describes_the_command(cli, path):
    """`booksync ... --help` exits 0 and prints the usage line and the command's own description."""
    command = command_of(path)
    first_line = (command.help or "").strip().splitlines()[0] if command.help else ""
    assert len(first_line) > 10, f"{' '.join(path)} has no description"
    result = cli(*path, "--help")
    assert result.code == 0, result
    assert result.stdout.startswith(f"Usage: booksync {' '.join(path)}".rstrip())
    assert " ".join(first_line.split()) in " ".join(result.stdout.split())
    if isinstance(command, click.Group):
        assert "Commands:" in result.stdout
    else:
        assert "--help" in result.stdout
    # every --help ends with the one exit code table (booksync.exits)
    table = result.stdout[result.stdout.index("Exit codes:"):]
    codes = [words[0] for words in map(str.split, table.splitlines()[1:]) if words and words[0].isdigit()]
    assert codes == [str(n) for n in range(10)], table
    assert "usage or set-up" in table and "another sync is running" in table


def test_version(cli):
    """`booksync --version` prints the version."""
    result = cli("--version")
    assert result.code == 0
    assert result.stdout.startswith("booksync, version ")


def test_unknown_command_is_a_usage_error(cli):
    """A mistyped command exits 2 with Click's usage error."""
    result = cli("synchronise")
    assert result.code == 2
    assert "No such command" in result.stderr


def test_hints_name_the_program_as_it_was_started(monkeypatch, tmp_path):
    """After `make demo`, booksync is .venv/bin/booksync and not on PATH: the demo's "What to try next" must
    print a command the user can paste."""
    import sys

    from booksync.cli.common import command_name

    program = tmp_path / ".venv" / "bin" / "booksync"
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(sys, "argv", [str(program), "demo"])
    assert command_name() == str(program)
    monkeypatch.setattr(sys, "argv", ["/x/booksync/cli/main.py", "demo"])  # python -m booksync.cli.main
    assert command_name() == str(Path(sys.executable).parent / "booksync")  # the script of this Python's venv
    monkeypatch.setenv("PATH", str(program.parent))
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(program), "demo"])
    assert command_name() == "booksync"  # on PATH: the short name works
