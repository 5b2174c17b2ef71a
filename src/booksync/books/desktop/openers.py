"""Opening QuickBooks Desktop for one session: the simulated company file, or QuickBooks Desktop on this Windows PC
through the request processor (QBXMLRP2). Both give a :class:`~booksync.books.desktop.adapter.DesktopBooks` port;
the Web Connector's sessions are opened by :mod:`booksync.webconnector`, which QuickBooks calls.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from booksync.books.desktop.adapter import DesktopBooks
from booksync.config import Home


def owner_id(home: Home) -> str:
    """The OwnerID of booksync's .qwc: the company's FileID under it is the key of booksync's records."""
    return str(home.settings.get("webconnector", {}).get("owner_id", ""))


@contextmanager
def open_simulator(home: Home) -> Iterator[DesktopBooks]:
    """The simulated company file of ``home`` (company kind "simulator"), closed afterwards.

    Raises :class:`~booksync.errors.ConnectionFailure` when the file is missing or in use."""
    from booksync.simulator import open_company

    company = open_company(home.company_path, app_name=home.settings["company"].get("app_name", "booksync"))
    try:
        yield DesktopBooks(company, backup_source=company, owner_id=owner_id(home))
    finally:
        company.close()


@contextmanager
def open_request_processor(home: Home) -> Iterator[DesktopBooks]:
    """QuickBooks Desktop on this Windows PC through QBXMLRP2 (company kind "rp2"; settings in ``[rp2]``,
    :mod:`booksync.books.desktop.rp2`).

    Raises :class:`~booksync.errors.ConnectionFailure` when QuickBooks cannot be reached or refuses the session."""
    from booksync.books.desktop.rp2 import open_rp2

    with open_rp2(home.settings) as transport:
        yield DesktopBooks(transport, owner_id=owner_id(home))
