"""Open the books port a home is configured for."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from booksync.config import ConfigError, Home
from booksync.books.desktop.adapter import DesktopBooks


@contextmanager
def open_books(home: Home) -> Iterator[DesktopBooks]:
    """Connect to the configured company for one session.

    Raises :class:`~booksync.errors.ConnectionFailure` when the company
    file is missing, in use, or the application is not authorized.
    """
    kind = home.settings["company"].get("kind", "simulator")
    # The OwnerID of booksync's .qwc: the company's FileID under it is the key of booksync's records.
    owner_id = str(home.settings.get("webconnector", {}).get("owner_id", ""))
    if kind == "rp2":
        # QuickBooks Desktop on this Windows PC, through QBXMLRP2 (books/desktop/rp2.py; settings in [rp2]).
        from booksync.books.desktop.rp2 import open_rp2

        with open_rp2(home.settings) as transport:
            yield DesktopBooks(transport, owner_id=owner_id)
        return
    if kind == "online":
        # QuickBooks Online through the Accounting API (books/online/adapter.py; settings in [online], tokens in online/).
        from booksync.books.online.adapter import open_online

        with open_online(home) as port:
            yield port
        return
    if kind != "simulator":
        raise ConfigError(f"company kind {kind!r} is not supported by this command; use the simulator, or run "
                          "'booksync serve' for the Web Connector")
    from booksync.simulator import open_company

    company = open_company(home.company_path, app_name=home.settings["company"].get("app_name", "booksync"))
    try:
        yield DesktopBooks(company, backup_source=company, owner_id=owner_id)
    finally:
        company.close()
