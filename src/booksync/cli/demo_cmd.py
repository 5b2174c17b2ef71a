"""``booksync demo``: the demo chamber of commerce and a simulated QuickBooks company, then a sync."""
from __future__ import annotations

import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from booksync.config import database_url_of, initial_database_url
from booksync.kinds import IMPORT_KINDS
from booksync.cli.sync_cmd import CliInteraction, run_sync
from booksync.cli.sync_report import print_result
from booksync.cli.common import (books, console, copyable, err, home_option, json_option, load_home, sessions_for,
                                 setup_logging, sync_lock)


@click.command()
@home_option
@click.option("--no-sync", is_flag=True, help="Only create the demo billing store and company; do not synchronize.")
@click.option("--reset-database", is_flag=True,
              help="Empty the billing store's database even when no demo home in this folder points at it "
                   "(a PostgreSQL database left by a home whose folder was deleted).")
@json_option
def demo(home_dir: Path | None, no_sync: bool, reset_database: bool, as_json: bool) -> None:
    """Create the demo chamber of commerce and a simulated QuickBooks company, then synchronize.

    Imports about 400 members and two years of dues, events, sponsorships,
    advertising, credit memos and payments; creates a simulated QuickBooks
    Desktop company with a standard chart of accounts; cross references are
    already set. Runs the sync unattended unless --no-sync. Running it again
    in the same home starts the demo afresh: the home's billing store
    (its SQLite file, or its PostgreSQL database) is emptied first.
    A new home whose database already holds tables is refused unless
    --reset-database.
    """
    from booksync.services.syncing import sync_options
    from booksync.simulator import create_company

    target = (home_dir or Path("booksync-demo")).expanduser().resolve()
    _start_afresh(target, reset_database)
    home = load_home(target, create=True)
    home.settings["demo"] = {"is_demo": True}
    home.save()
    setup_logging(home)
    out = err if as_json else console
    sessions = sessions_for(home)
    _import_demo_data(sessions, out)
    create_company(home.company_path, "Riverside Regional Chamber of Commerce", overwrite=True)
    out.print(f"Created the simulated QuickBooks company {home.company_path}")
    if no_sync:
        out.print(escape(copyable("\nNext: booksync sync   (it will ask before creating customers and before "
                                  "updating QuickBooks)", home)))
        return
    ui = CliInteraction(assume_yes=True, create_customers=True, quiet=as_json, home=home)
    with sync_lock(home, as_json), books(home, as_json) as port:
        try:
            result = run_sync(sessions, port, home, ui, sync_options(home.settings), as_json)
        finally:
            ui.close_progress()
    print_result(result, as_json, home)
    if not as_json and result.exit_code == 0:
        console.print("\nWhat to try next:")
        for command, what in (("reconcile", "the books agree, member by member"),
                              ("sync", "a second run has nothing to send"),
                              ("accounts xref", "the G/L account cross references"),
                              ("simulator request FILE.xml", "ask the company in qbXML")):
            console.print(f"  {escape(copyable(f'booksync {command}', home))}")
            console.print(f"      {what}")
    sys.exit(result.exit_code)


def _start_afresh(target: Path, reset_database: bool) -> None:
    """Empty the demo home at ``target`` (its billing store, company, runs, backups and logs) when there is one.
    Refuses (usage error) a home that is not a demo, and a database no demo here owns that holds tables, unless
    ``reset_database``."""
    from sqlalchemy import make_url

    from booksync.store import db

    config = target / "booksync.toml"
    demo_url = None
    if config.exists():
        existing = load_home(target)
        if not existing.settings.get("demo", {}).get("is_demo"):
            raise click.ClickException(f"{target} holds a booksync home that is not a demo; choose another --home.")
        demo_url = existing.database_url
    new_url = database_url_of(target, initial_database_url(target))
    # A database no demo here owns that is not empty: never import the demo over someone's billing.
    tables = db.store_tables(new_url) if new_url != demo_url else []
    if tables and not reset_database:
        shown = make_url(new_url).render_as_string(hide_password=True)
        raise click.ClickException(
            f"the billing store's database {shown} already holds {len(tables)} tables, and no demo home "
            f"in {target} points at it (a home whose folder was deleted, or another home, may own it). "
            f"Nothing was changed. To empty it and start the demo there: "
            + copyable(f"booksync demo --home {shlex.quote(str(target))} --reset-database", None))
    if demo_url is not None:
        db.reset_database(demo_url)  # the demo's own store, whatever database it is in
        for name in ("company.qbsim", "company.qbsim-wal", "company.qbsim-shm", "runs", "backups", "logs"):
            path = target / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        config.unlink()
    if tables:
        db.reset_database(new_url)


def _import_demo_data(sessions: Any, out: Any) -> None:
    """Import the bundled demo file of every kind ``booksync import`` reads (booksync/demo/data/KIND.csv, with
    "_" for "-"), G/L accounts first, then as :data:`booksync.kinds.IMPORT_KINDS` orders them."""
    from booksync.sources.csvfile.importer import import_file

    data = resources.files("booksync.demo") / "data"
    with sessions() as session:
        for kind in sorted(IMPORT_KINDS, key=lambda k: k != "gl-accounts"):
            with resources.as_file(data / f"{kind.replace('-', '_')}.csv") as path:
                result = import_file(session, kind, path)
            out.print(f"Imported {result.added:5d} {kind.replace('-', ' ')}")
