"""A QuickBooks Online test double: a local HTTP server that behaves as the Accounting API and Intuit's
OAuth 2.0 server are documented to, for booksync's tests and benchmarks (no network).

* :mod:`.double` — :class:`QboDouble`: the API, limits (500 requests/min, 10 concurrent, 30 per batch,
  429), ``requestid`` replay, fault injection (lost responses), test control endpoints;
* :mod:`.company` — the accounting rules (SyncToken 5010, names 6240, deposits 6540, DocNumber 6140,
  closed books 6210, references 610/2500, field lengths 2050) and a seeded chart of accounts like the
  simulator's ``STANDARD_CHART``;
* :mod:`.oauth` — authorization page, token endpoint (rotating refresh tokens), revocation;
* :mod:`.query` — the query language subset;
* :mod:`.server` — :class:`DoubleServer`, uvicorn on 127.0.0.1 in a thread.

Run it on its own: ``python -m booksync.qbo_double --port 8790`` (see ``--help``). Documented in
docs/quickbooks-online.md.
"""
from booksync.qbo_double.company import Company, Fault
from booksync.qbo_double.double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM, DoubleConfig, QboDouble
from booksync.qbo_double.server import DoubleServer

__all__ = ["Company", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_REALM", "DoubleConfig",
           "DoubleServer", "Fault", "QboDouble"]
