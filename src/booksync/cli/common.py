"""Helpers shared by the command modules: options, home loading, logging, connections."""
from __future__ import annotations

import logging
import re
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from rich.markup import escape

from booksync.cli.output import console, err, fail_json, json_printed  # noqa: F401 - the commands' helpers in one place
from booksync.config import ConfigError, Home
from booksync.exits import (EXIT_BAD_ANSWER, EXIT_BUSY, EXIT_CONNECTION, EXIT_DISAGREE,  # noqa: F401 - re-exported
                     EXIT_UNEXPECTED, EXIT_USAGE)


def home_option(fn: Callable) -> Callable:
    return click.option("--home", "home_dir", type=click.Path(file_okay=False, path_type=Path),
                        envvar="BOOKSYNC_HOME", show_envvar=True,
                        help="booksync home folder (configuration, billing database, company, runs, backups, "
                             "logs). Default: ~/.booksync")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")(fn)


def load_home(home_dir: Path | None, create: bool = False) -> Home:
    """The home, after finishing a restore that was interrupted in it (:func:`finish_interrupted_restore`)."""
    try:
        home = Home.load(home_dir, create=create)
    except ConfigError as exc:
        raise click.ClickException(copyable(str(exc), None)) from None
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


# ---------------------------------------------------------------------- restores (booksync backups restore)


def restore_parts(home: Any, pending: Any) -> bool:
    """Restore ``pending`` with its journal (store/restore.py), holding the company file first so that
    nothing is restored while it is in use. False (with the message printed) when it is in use."""
    from booksync.errors import ConnectionFailure
    from booksync.simulator import open_company
    from booksync.store.restore import COMPANY, run_restore

    company_copy = pending.folder / home.company_path.name
    try:
        company = open_company(home.company_path) if COMPANY in pending.parts else None
    except ConnectionFailure as exc:
        err.print(f"[bold red]Cannot restore the company file:[/] {escape(exc.message)} "
                  + ("Nothing was restored." if not pending.done else ""))
        return False
    try:
        if company is not None:
            company.db.close()
        run_restore(home.path, pending, home.database_url, lambda: sessions_for(home).kw["bind"],
                    home.company_path, company_copy)
    finally:
        if company is not None:
            company.close()
    return True


def finish_interrupted_restore(home: Any) -> None:
    """Finish a restore that was interrupted (``restore.json`` in the home) from its backup, before the
    command goes on. When it cannot be finished now (the backup is gone, the company file is in use) it
    says so and leaves the journal: a sync then refuses to run (exit 3)."""
    from booksync.store.restore import COMPANY, DATABASE, pending_restore

    pending = pending_restore(home.path)
    if pending is None:
        return
    missing = [p for p in pending.parts if p == DATABASE and not ((pending.folder / "billing.db").exists()
                                                                  or (pending.folder / "billing").is_dir())
               or p == COMPANY and not (pending.folder / home.company_path.name).exists()]
    if pending.run_id == "?" or missing:
        err.print(f"[bold red]{escape(pending.describe())}[/] The backup cannot finish it "
                  f"({escape(str(pending.folder))} is incomplete): restore another backup with "
                  "'booksync backups restore RUN'.")
        return
    err.print(f"{escape(pending.describe())} Finishing it from {escape(str(pending.folder))}...")
    with sync_lock(home):
        if pending_restore(home.path) is None:  # finished meanwhile by another command
            return
        pending.done = []  # each step copies from the backup again: harmless when it was done
        if restore_parts(home, pending):
            err.print(f"Restored {' and '.join(pending.parts)} as they were before run {pending.run_id}.")
