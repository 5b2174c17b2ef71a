"""booksync's log file, ``logs/booksync.log`` in the home: one line per record, rotated by size.

* :class:`OneLineFormatter` escapes control characters in every message (a newline in a value a caller
  sent, a user name or a Web Connector message, cannot forge a line that the web Log page would show as
  booksync's), caps a message at :data:`MAX_MESSAGE_CHARS`, and indents the lines of a traceback, so a
  line at the left margin always starts a record.
* :func:`file_handler` rotates the file at ``logs.max_bytes`` (5 MiB), keeping ``logs.keep`` (5) older
  files, ``booksync.log.1`` the newest (``logging.handlers.RotatingFileHandler``): the log, copied into
  every backup, cannot grow without bound. Each process (``booksync serve``, a command) rotates the file
  it writes; a process that holds the file while another rotates it goes on writing into
  ``booksync.log.1`` until its own next rotation.
"""
from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path
from typing import Any

LOG_NAME = "booksync.log"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_MESSAGE_CHARS = 4000
"""Longest message written (longer ones are cut, with their length); values from callers are cut shorter
where they are logged (:func:`booksync.attempts.clip`)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class OneLineFormatter(logging.Formatter):
    """A record's message on one line (module docstring); tracebacks follow, indented."""

    def __init__(self, fmt: str = LOG_FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + f"…({len(message)} characters)"
        record.message = _escape(message).replace("\n", "\\n")
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        head, *rest = super().format(record).split("\n")
        return "\n".join([head, *("    " + _escape(line) for line in rest)])


def file_handler(logs_dir: Path, settings: dict[str, Any] | None = None) -> logging.Handler:
    """The rotating handler of ``logs_dir/booksync.log`` with :class:`OneLineFormatter`; ``settings`` is the
    home's ``[logs]`` section (``max_bytes``, ``keep``)."""
    settings = settings or {}
    logs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        logs_dir / LOG_NAME, maxBytes=max(0, int(settings.get("max_bytes", 5 * 1024 * 1024))),
        backupCount=max(1, int(settings.get("keep", 5))), encoding="utf-8")
    handler.setFormatter(OneLineFormatter())
    return handler


__all__ = ["OneLineFormatter", "file_handler", "LOG_NAME", "MAX_MESSAGE_CHARS"]
