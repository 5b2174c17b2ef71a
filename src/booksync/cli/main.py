"""The ``booksync`` command line: a thin layer of Click commands over the service functions.

Exit codes: the table of :mod:`booksync.exits`, printed at the end of every command's ``--help``.
With ``--json`` every path prints exactly one JSON object on standard output (:class:`BooksyncGroup`
adds one for usage errors, interruptions and unexpected errors).
"""
from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import click
from rich.markup import escape

from booksync import __version__
from booksync.exits import (EXIT_BAD_ANSWER, EXIT_BUSY, EXIT_CHECKS, EXIT_CONNECTION, EXIT_DECLINED, EXIT_DISAGREE,
                            EXIT_REFUSED, EXIT_UNEXPECTED, EXIT_USAGE, MEANING, help_epilog)
from booksync.cli.output import console, err, fail_json, json_printed

_STATUS = {EXIT_USAGE: "usage", EXIT_CHECKS: "stopped", EXIT_DECLINED: "declined", EXIT_REFUSED: "refused",
           EXIT_CONNECTION: "connection", EXIT_DISAGREE: "disagree", EXIT_BUSY: "busy", EXIT_BAD_ANSWER: "bad-answer"}
"""The ``status`` of a JSON object printed for a command that stopped without printing one, by exit code."""


def _wants_json() -> bool:
    return "--json" in sys.argv[1:]


COMMANDS = {
    "init": "booksync.cli.import_cmd:init", "import": "booksync.cli.import_cmd:import_cmd",
    "sync": "booksync.cli.sync_cmd:sync", "reconcile": "booksync.cli.reconcile_cmd:reconcile",
    "demo": "booksync.cli.demo_cmd:demo",
    "accounts": "booksync.cli.mapping:accounts", "members": "booksync.cli.mapping:members",
    "invoices": "booksync.cli.txn_cmd:invoices", "credit-memos": "booksync.cli.txn_cmd:credit_memos",
    "sales-receipts": "booksync.cli.txn_cmd:sales_receipts", "payments": "booksync.cli.txn_cmd:payments",
    "deposits": "booksync.cli.deposits_cmd:deposits",
    "runs": "booksync.cli.runs:runs", "backups": "booksync.cli.backups:backups",
    "simulator": "booksync.cli.simulator_cmd:simulator", "company": "booksync.cli.online_cmd:company",
    "serve": "booksync.cli.webconnector_cmd:serve", "qwc": "booksync.cli.webconnector_cmd:qwc",
    "webconnector": "booksync.cli.webconnector_cmd:webconnector", "users": "booksync.cli.web_cmd:users",
}
"""Every command of ``booksync``: its name and where it is defined (``module:attribute``), one module per topic.

The root names its commands by import path (Click's lazily loaded subcommands) and loads one when it is asked
for it: the command modules use the helpers of ``common.py``, whose :func:`~booksync.cli.common.copyable` walks
this tree, so the root must not import them (an import cycle); and a command starts without importing the
others."""


class LazyCommands(Mapping[str, click.Command]):
    """The root's commands (:data:`COMMANDS`) as Click's ``Group.commands`` mapping: each module is imported the
    first time its command is asked for, and the command gets the exit code table in its --help then."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, _, attribute = self._paths[name].partition(":")  # KeyError: no such command
            command = getattr(importlib.import_module(module), attribute)
            _add_exit_codes(command)
            self._loaded[name] = command
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


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
            # Raised here only by a question (Click turns end of input or Ctrl-C at a prompt into Abort);
            # an interrupt outside a question is Click's own "Aborted!" after invoke returns.
            message = "A question got no answer (the input ended or was interrupted); nothing was changed."
            advice = "To run without the question, add the option that answers it (--yes; the command's --help names it)."
            err.print(f"\n[bold red]{escape(message)}[/] {escape(advice)}")
            if _wants_json() and not json_printed():
                fail_json("no-answer", EXIT_USAGE, message, advice)
            sys.exit(EXIT_USAGE)
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


def _add_exit_codes(command: click.Command) -> None:
    """Every command's --help ends with the exit code table (booksync.exits)."""
    command.epilog = "\n\n".join(filter(None, [command.epilog, help_epilog()]))
    for sub in getattr(command, "commands", {}).values():
        _add_exit_codes(sub)


cli.commands = LazyCommands(COMMANDS)  # type: ignore[assignment]
cli.epilog = help_epilog()


def main() -> None:
    cli(prog_name="booksync")


if __name__ == "__main__":
    main()
