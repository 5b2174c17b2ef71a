"""Helpers shared by the command modules: options, home loading, logging, connections."""
from __future__ import annotations

import json
import logging
import re
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from rich.console import Console
from rich.markup import escape

from booksync.config import ConfigError, Home
from booksync.exits import (EXIT_BAD_ANSWER, EXIT_BUSY, EXIT_CONNECTION, EXIT_DISAGREE,  # noqa: F401 - re-exported
                     EXIT_UNEXPECTED, EXIT_USAGE)

console = Console(highlight=False, soft_wrap=True, emoji=False, record=True)
"""Standard output; recorded, so that ``--json`` knows whether a command printed its object already."""
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, record=True)
"""Standard error; recorded, so that a refusal printed here also reaches ``--json`` (cli/main.py BooksyncGroup)."""



def home_option(fn: Callable) -> Callable:
    return click.option("--home", "home_dir", type=click.Path(file_okay=False, path_type=Path),
                        envvar="BOOKSYNC_HOME", show_envvar=True,
                        help="booksync home folder (configuration, billing database, company, runs, backups, "
                             "logs). Default: ~/.booksync")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")(fn)


def load_home(home_dir: Path | None, create: bool = False) -> Home:
    """The home, after finishing a restore that was interrupted in it (cli/backups.py)."""
    try:
        home = Home.load(home_dir, create=create)
    except ConfigError as exc:
        raise click.ClickException(copyable(str(exc), None)) from None
    from booksync.cli.backups import finish_interrupted_restore

    finish_interrupted_restore(home)
    return home


def setup_logging(home: Home) -> Path:
    """Log to the home's logs/booksync.log (rotated, one line a record: :mod:`booksync.logfile`)."""
    from booksync.logfile import LOG_NAME, file_handler

    path = home.logs_dir / LOG_NAME
    handler = file_handler(home.logs_dir, home.settings.get("logs"))
    root = logging.getLogger("booksync")
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    return path


def sessions_for(home: Home):
    from booksync.store.db import open_store

    return open_store(home.database_url)


def command_name() -> str:
    """How to type booksync again in hints: "booksync" when that is on PATH and is this program, else the
    full path of the program as invoked (after `make demo` that is .venv/bin/booksync, not on PATH). Run as
    ``python -m booksync.cli.main``, the ``booksync`` script beside that Python when there is one."""
    import shutil

    started = Path(sys.argv[0])
    if started.name != "booksync":  # python -m booksync.cli.main
        started = Path(sys.executable).parent / "booksync"
        if not started.exists():
            return f"{shlex.quote(sys.executable)} -m booksync.cli.main"
    found = shutil.which("booksync")
    if found is not None and Path(found).resolve() == started.resolve():
        return "booksync"
    return shlex.quote(str(started.absolute()))


_BOOKSYNC_COMMAND = re.compile(r"(?<![\w/.-])booksync((?: [a-z][a-z-]*)+)")


def copyable(text: str, home: Home | Path | None) -> str:
    """Every ``booksync COMMAND ...`` in ``text`` made pasteable: the program as invoked (:func:`command_name`)
    and ``--home`` with the home actually used (quoted with shlex) right after the command's words, unless the
    text already names a home. Words after the command path (arguments, options) are kept as they are."""
    from booksync.cli.main import cli

    root = getattr(home, "path", home)
    prog = command_name()

    def rewrite(match: re.Match) -> str:
        words, group, path = match.group(1).split(), cli, []
        for word in words:
            sub = getattr(group, "commands", {}).get(word)
            if sub is None:
                break
            path.append(word)
            group = sub
        if not path:
            return match.group(0)
        rest = words[len(path):]
        home_part = [] if root is None or "--home" in text else ["--home", shlex.quote(str(root))]
        return " ".join([prog, *path, *home_part, *rest])

    return _BOOKSYNC_COMMAND.sub(rewrite, text)


_JSON_PRINTED: list[bool] = []
"""Non-empty once :func:`fail_json` printed the command's JSON object (the last-resort handler then adds none)."""


def fail_json(status: str, code: int, message: str, advice: str = "") -> None:
    """For ``--json``: the failure as one JSON object on standard output, so scripts always get one.

    ``code`` is one of :mod:`booksync.exits`; the object is ``{"status", "exit_code", "message", "advice"}``."""
    print(json.dumps({"status": status, "exit_code": int(code), "message": message, "advice": advice}), flush=True)
    _JSON_PRINTED.append(True)


def json_printed() -> bool:
    return bool(_JSON_PRINTED)


@contextmanager
def sync_lock(home: Home, as_json: bool = False) -> Iterator[None]:
    """Hold the home's sync lock (one sync at a time); exit 8 with who holds it otherwise."""
    from booksync.services.syncing import SyncBusy, sync_lock as engine_lock

    try:
        with engine_lock(home):
            yield
    except SyncBusy as exc:
        err.print(f"[bold red]{escape(str(exc))}[/]")
        if as_json:
            fail_json("busy", EXIT_BUSY, str(exc))
        sys.exit(EXIT_BUSY)


@contextmanager
def books(home: Home, as_json: bool = False) -> Iterator[Any]:
    """Open the company, turning connection failures into a clear message and exit code 6
    (and, with ``as_json``, a JSON object on standard output)."""
    from booksync.books.registry import open_books
    from booksync.errors import ConnectionFailure

    try:
        with open_books(home) as port:
            yield port
    except ConnectionFailure as exc:
        advice = copyable(exc.advice or "", home)
        err.print(f"[bold red]Could not connect to QuickBooks.[/] {escape(exc.message)}")
        if advice:
            err.print(escape(advice))
        if as_json:
            fail_json("connection-failed", EXIT_CONNECTION, f"Could not connect to QuickBooks. {exc.message}", advice)
        sys.exit(EXIT_CONNECTION)
    except ConfigError as exc:
        if as_json:
            fail_json("usage", EXIT_USAGE, str(exc))
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        from booksync.services.syncing import SyncBusy

        if isinstance(exc, SyncBusy):
            err.print(f"[bold red]{escape(str(exc))}[/]")
            if as_json:
                fail_json("busy", EXIT_BUSY, str(exc))
            sys.exit(EXIT_BUSY)
        raise
