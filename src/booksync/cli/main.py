"""The ``booksync`` command line: a thin layer of Click commands over the service functions.

Exit codes: the table of :mod:`booksync.exits`, printed at the end of every command's ``--help``.
With ``--json`` every path prints exactly one JSON object on standard output (:class:`BooksyncGroup`
adds one for usage errors, interruptions and unexpected errors).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from booksync import __version__
from booksync.exits import (EXIT_BUSY, EXIT_CHECKS, EXIT_DECLINED, EXIT_REFUSED, EXIT_UNEXPECTED, EXIT_USAGE, MEANING,
                     help_epilog)
from booksync.cli.common import (EXIT_BAD_ANSWER, EXIT_CONNECTION, EXIT_DISAGREE, console, copyable, err, fail_json,
                                 home_option, json_printed, load_home, sessions_for)

_STATUS = {EXIT_USAGE: "usage", EXIT_CHECKS: "stopped", EXIT_DECLINED: "declined", EXIT_REFUSED: "refused",
           EXIT_CONNECTION: "connection", EXIT_DISAGREE: "disagree", EXIT_BUSY: "busy", EXIT_BAD_ANSWER: "bad-answer"}
"""The ``status`` of a JSON object printed for a command that stopped without printing one, by exit code."""


def _wants_json() -> bool:
    return "--json" in sys.argv[1:]


class BooksyncGroup(click.Group):
    """Turns unexpected exceptions into one clear message and exit code 1; usage and set-up errors exit 2;
    with ``--json`` each of them also prints its JSON object (unless the command printed one already)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if exc.exit_code == 1:  # Click's default: here every ClickException is a usage or set-up problem
                exc.exit_code = EXIT_USAGE
            if _wants_json() and not json_printed():
                fail_json("usage", exc.exit_code, exc.format_message())
            raise
        except click.exceptions.Abort:
            if _wants_json() and not json_printed():
                fail_json("interrupted", EXIT_UNEXPECTED, "Interrupted before the command finished.")
            raise
        except click.exceptions.Exit:
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else EXIT_UNEXPECTED
            if code and _wants_json() and not json_printed() and not console.export_text(clear=False).strip():
                # A refusal printed for people only: the same words as one JSON object (exits.py).
                said = [line.strip() for line in err.export_text().splitlines() if line.strip()]
                fail_json(_STATUS.get(code, "failed"), code, said[0] if said else MEANING.get(code, "failed"),
                          " ".join(said[1:]))
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log_path = _write_crash(exc)
            message = f"An unexpected error occurred: {type(exc).__name__}: {exc}"
            err.print(f"[bold red]An unexpected error occurred:[/] {escape(type(exc).__name__)}: {escape(str(exc))}")
            if log_path:
                err.print(f"The details are in {log_path}")
            if _wants_json() and not json_printed():
                fail_json("error", EXIT_UNEXPECTED, message, f"The details are in {log_path}" if log_path else "")
            sys.exit(EXIT_UNEXPECTED)


def _write_crash(exc: Exception) -> str:
    for handler in logging.getLogger("booksync").handlers:
        if isinstance(handler, logging.FileHandler):
            logging.getLogger("booksync").error("unexpected error", exc_info=exc)
            return handler.baseFilename
    return ""


@click.group(cls=BooksyncGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="booksync")
def cli() -> None:
    """Keep QuickBooks in step with your membership billing.

    booksync synchronizes members, invoices, credit memos and payments from the
    billing store into a QuickBooks company. It checks the account cross
    references, plans every change, writes nothing until you confirm, backs up
    first and never creates duplicates.

    Start with 'booksync demo --home DIR' to try it on a demo chamber of commerce.
    """


# ---------------------------------------------------------------------- init


@cli.command()
@home_option
def init(home_dir: Path | None) -> None:
    """Create a booksync home folder with a default configuration and an empty billing store."""
    home = load_home(home_dir, create=True)
    sessions_for(home)
    console.print(f"booksync home ready in {home.path}")
    console.print(escape(copyable("Next: import your billing data (booksync import KIND FILE.csv), then create or "
                                  "connect a company: booksync simulator init", home)))


# ---------------------------------------------------------------------- the other command groups


from booksync.cli import (backups, demo_cmd, import_cmd, mapping, online_cmd, reconcile_cmd, runs,  # noqa: E402
                          simulator_cmd, sync_cmd, txn_cmd, web_cmd, webconnector_cmd)

for command in (import_cmd.import_cmd, sync_cmd.sync, reconcile_cmd.reconcile, demo_cmd.demo,
                mapping.accounts, mapping.members, simulator_cmd.simulator, runs.runs, backups.backups,
                txn_cmd.invoices, txn_cmd.credit_memos, txn_cmd.payments, online_cmd.company,
                webconnector_cmd.serve, webconnector_cmd.qwc, webconnector_cmd.webconnector, web_cmd.users):
    cli.add_command(command)


def _add_exit_codes(command: click.Command) -> None:
    """Every command's --help ends with the exit code table (booksync.exits)."""
    command.epilog = "\n\n".join(filter(None, [command.epilog, help_epilog()]))
    for sub in getattr(command, "commands", {}).values():
        _add_exit_codes(sub)


_add_exit_codes(cli)


def main() -> None:
    cli(prog_name="booksync")


if __name__ == "__main__":
    main()
