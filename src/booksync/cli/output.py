"""Where the command line prints: its two consoles, and the one JSON object ``--json`` promises.

Below every other module of :mod:`booksync.cli` (the root group in ``main.py`` uses it too), so that it imports
none of them."""
from __future__ import annotations

import json

from rich.console import Console

console = Console(highlight=False, soft_wrap=True, emoji=False, record=True)
"""Standard output; recorded, so that ``--json`` knows whether a command printed its object already."""
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, record=True)
"""Standard error; recorded, so that a refusal printed here also reaches ``--json`` (cli/main.py BooksyncGroup)."""


_JSON_PRINTED: list[bool] = []
"""Non-empty once :func:`fail_json` printed the command's JSON object (the last-resort handler then adds none)."""


def fail_json(status: str, code: int, message: str, advice: str = "") -> None:
    """For ``--json``: the failure as one JSON object on standard output, so scripts always get one.

    ``code`` is one of :mod:`booksync.exits`; the object is ``{"status", "exit_code", "message", "advice"}``."""
    print(json.dumps({"status": status, "exit_code": int(code), "message": message, "advice": advice}), flush=True)
    _JSON_PRINTED.append(True)


def json_printed() -> bool:
    return bool(_JSON_PRINTED)
