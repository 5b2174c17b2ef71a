"""Open the books port a home is configured for: a table from the company kind (``[company] kind`` in
booksync.toml) to the function that opens it.

Adding a target is a folder under ``books/`` holding its port and an opener (a context manager taking the
:class:`~booksync.config.Home` and yielding a :class:`~booksync.books.port.BooksPort`), and one row in
:data:`OPENERS`. Openers are named by module and function and imported when used, so a command working with the
simulator never loads QuickBooks Online's HTTP client, nor the Windows request processor's COM bindings.
"""
from __future__ import annotations

import importlib
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterator

from booksync.books.port import BooksPort
from booksync.config import Home
from booksync.errors import ConfigError

Opener = Callable[[Home], AbstractContextManager[BooksPort]]

OPENERS: dict[str, str] = {
    # The simulated QuickBooks Desktop company file (booksync/simulator).
    "simulator": "booksync.books.desktop.openers:open_simulator",
    # QuickBooks Desktop on this Windows PC, through QBXMLRP2 (settings in [rp2]).
    "rp2": "booksync.books.desktop.openers:open_request_processor",
    # QuickBooks Online through the Accounting API (settings in [online], tokens in online/).
    "online": "booksync.books.online.session:open_online",
}
"""Company kind → ``module:function`` of its opener. Kind "webconnector" has none: QuickBooks Desktop calls
booksync through the Web Connector (``booksync serve``), which opens its own sessions."""


def opener(kind: str) -> Opener:
    """The opener of company kind ``kind``. Raises :class:`~booksync.errors.ConfigError` for a kind no command
    can open (the Web Connector's, or one booksync does not know)."""
    target = OPENERS.get(kind)
    if target is None:
        raise ConfigError(f"company kind {kind!r} is not supported by this command; use the simulator, or run "
                          "'booksync serve' for the Web Connector")
    module, _, name = target.partition(":")
    found: Opener = getattr(importlib.import_module(module), name)
    return found


@contextmanager
def open_books(home: Home) -> Iterator[BooksPort]:
    """Connect to the configured company for one session.

    Raises :class:`~booksync.errors.ConfigError` for a company kind no command opens, and
    :class:`~booksync.errors.ConnectionFailure` when the company file is missing, in use, or the application is
    not authorized.
    """
    kind = str(home.settings["company"].get("kind", "simulator"))
    with opener(kind)(home) as port:
        yield port
