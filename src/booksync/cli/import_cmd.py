"""``booksync init`` and ``booksync import``: a new home, and a CSV file or an Excel workbook of one kind into its
billing store."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from booksync.exits import EXIT_CHECKS
from booksync.kinds import IMPORT_KINDS
from booksync.cli.common import (console, copyable, err, home_option, json_option, load_home, sessions_for,
                                 setup_logging)


@click.command()
@home_option
def init(home_dir: Path | None) -> None:
    """Create a booksync home folder with a default configuration and an empty billing store."""
    home = load_home(home_dir, create=True)
    sessions_for(home)
    console.print(f"booksync home ready in {home.path}")
    console.print(escape(copyable("Next: import your billing data (booksync import KIND FILE.csv), then create or "
                                  "connect a company: booksync simulator init", home)))


@click.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--date-format", type=click.Choice(["iso", "us"]), default=None,
              help="Dates as YYYY-MM-DD (iso) or MM/DD/YYYY (us; ISO dates are read too). "
                   "Default: the home's import.date_format, else iso.")
@click.option("--amounts", type=click.Choice(["strict", "lenient"]), default=None,
              help="strict: plain numbers only (1250.00); lenient: also $1,250.00 and (25.00). "
                   "Default: the home's import.amounts, else strict.")
@click.option("--encoding", default=None, metavar="NAME",
              help="The CSV file's text encoding (e.g. utf-8, windows-1252, utf-16). Default: detected.")
@click.option("--sheet", default=None, metavar="NAME", help="The sheet of an .xlsx workbook to read. Default: the first.")
@home_option
@json_option
def import_cmd(kind: str, file: Path, date_format: str | None, amounts: str | None, encoding: str | None,
               sheet: str | None, home_dir: Path | None, as_json: bool) -> None:
    """Import a CSV file or an Excel workbook (.xlsx) of KIND into the billing store.

    Records with a number already in the store are updated. A file with any bad
    row is not imported at all; every problem is listed with its row, column,
    value and reason. Column layouts and settings: docs/import.md.
    """
    from booksync.sources.csvfile.importer import import_file
    from booksync.sources.report import MAX_PROBLEMS, ImportFailed
    from booksync.sources.values import ImportOptions

    home = load_home(home_dir)
    setup_logging(home)
    try:
        options = ImportOptions.from_settings(home.settings.get("import", {}), date_format=date_format,
                                              amounts=amounts, encoding=encoding, sheet=sheet)
    except ValueError as exc:
        raise click.ClickException(f"booksync.toml [import]: {exc}") from None
    sessions = sessions_for(home)
    with sessions() as session:
        try:
            result = import_file(session, kind, file, options)
        except ImportFailed as exc:
            if as_json:
                console.print_json(json.dumps({"imported": False, "total": exc.total,
                                               "problems": [p.__dict__ for p in exc.problems]}))
            else:
                err.print(f"[bold red]{escape(file.name)} was not imported[/] ({exc.total} problem(s); "
                          "nothing from this file was written):")
                for p in exc.problems:
                    err.print(f"  {escape(str(p))}")
                if exc.more:
                    err.print(f"  ... and {exc.more} more problem(s)")
            sys.exit(EXIT_CHECKS)
    if as_json:
        console.print_json(json.dumps({"imported": True, **{k: v for k, v in result.__dict__.items()
                                                            if k != "warnings"},
                                       "warnings": [w.__dict__ for w in result.warnings]}))
        return
    console.print(f"Imported {file.name}: {result.added} added, {result.updated} updated, "
                  f"{result.unchanged} unchanged.")
    if result.read_as and result.read_as != "CSV, UTF-8":
        console.print(f"Read as {escape(result.read_as)}.")
    if result.warnings:
        err.print(f"[yellow]{len(result.warnings)} warning(s)[/] (imported anyway):")
        for w in result.warnings[:MAX_PROBLEMS]:
            err.print(f"  {escape(str(w))}")
        if len(result.warnings) > MAX_PROBLEMS:
            err.print(f"  ... and {len(result.warnings) - MAX_PROBLEMS} more warning(s)")
