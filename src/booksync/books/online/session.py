"""Opening a QuickBooks Online session: the ``[online]`` settings checked, the realm's pace, the token provider
and the client put together into an :class:`~booksync.books.online.adapter.OnlineBooks` port.

This module sits above both :mod:`.auth` (tokens) and :mod:`.adapter` (the port), so that neither imports the
other; the books registry (:mod:`booksync.books.registry`) opens company kind "online" through
:func:`open_online`.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import urlsplit

from booksync.books.online.adapter import OnlineBooks
from booksync.books.online.auth import ENVIRONMENTS, TokenProvider, online_settings, reconnect_command
from booksync.books.online.errors import ReconnectNeeded
from booksync.books.online.transport import QboClient, RealmLimiter
from booksync.errors import ConfigError

log = logging.getLogger("booksync.online")


INTUIT_LIMITS = {"requests_per_minute": 500, "batches_per_minute": 40, "concurrent_requests": 10}
"""Intuit's limits per realm (reference §5): booksync never paces itself above them when it talks to Intuit."""


def checked_settings(cfg: dict[str, Any], environment: str, api_base: str) -> dict[str, Any]:
    """The numeric ``[online]`` settings the client needs, checked: a wrong one raises
    :class:`~booksync.config.ConfigError` naming it (the command line shows it, exit 1). Against Intuit's own
    API (``*.intuit.com``) the pace is capped at Intuit's limits, with a warning in the log; a proxy or the test
    double may be given more (the tests and the benchmark do)."""
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"booksync.toml [online] environment = {environment!r}: it must be \"sandbox\" or "
                          "\"production\"")
    out: dict[str, Any] = {}
    for key, kind in (("minorversion", int), ("requests_per_minute", int), ("batches_per_minute", int),
                      ("concurrent_requests", int), ("rate_window_seconds", float)):
        try:
            out[key] = kind(cfg[key])
        except (TypeError, ValueError):
            raise ConfigError(f"booksync.toml [online] {key} = {cfg[key]!r}: a number is needed") from None
        if out[key] <= 0:
            raise ConfigError(f"booksync.toml [online] {key} = {cfg[key]!r}: it must be more than 0")
    if out["minorversion"] < 75:
        raise ConfigError(f"booksync.toml [online] minorversion = {out['minorversion']}: it must be 75 or later "
                          "(QuickBooks Online answers 1-74 as 75 since 2025-08-01): set it to 75")
    host = (urlsplit(api_base).hostname or "").lower()
    if host == "intuit.com" or host.endswith(".intuit.com"):
        for key, limit in INTUIT_LIMITS.items():
            if out[key] > limit:
                log.warning("booksync.toml [online] %s = %s is above Intuit's limit; using %s", key, out[key], limit)
                out[key] = limit
        out["rate_window_seconds"] = max(out["rate_window_seconds"], 60.0)
    return out


@contextmanager
def open_online(home: Any) -> Iterator[OnlineBooks]:
    """The QuickBooks Online port of ``home`` (company kind "online"), for one session.

    Raises :class:`~booksync.books.online.errors.ReconnectNeeded` when the home is not connected.
    """
    cfg = online_settings(home.settings)
    realm = str(cfg.get("realm_id") or "")
    env = cfg.get("environment") or "sandbox"
    if not realm:
        raise ReconnectNeeded("booksync is not connected to a QuickBooks Online company yet.",
                              f"Connect: {reconnect_command(env)}")
    api_base = str(cfg.get(f"{env}_api_base", ""))
    pace = checked_settings(cfg, env, api_base)
    limiter = RealmLimiter.for_realm((api_base, realm), per_window=pace["requests_per_minute"],
                                     window=pace["rate_window_seconds"], concurrent=pace["concurrent_requests"],
                                     batches_per_window=pace["batches_per_minute"])
    client = QboClient(api_base, realm, TokenProvider(home.path, home.settings, realm),
                       minorversion=pace["minorversion"], limiter=limiter, timeout=float(cfg["timeout_seconds"]),
                       max_retries=int(cfg["max_retries"]), backoff=float(cfg["backoff_seconds"]),
                       count_batch_items=bool(cfg["count_batch_items"]))
    try:
        yield OnlineBooks(client, realm, int(cfg["batch_size"]), ledger=home.path / "online" / f"written-{realm}.jsonl",
                          environment=env)
    finally:
        log.info("QuickBooks Online session: %d request(s), %d throttled", client.requests, client.throttled)
        client.close()


def company_name(home: Any) -> str:
    """The connected QuickBooks Online company's name (CompanyInfo), read to prove the connection works.

    Raises :class:`~booksync.books.online.errors.OnlineConnectionFailure` or ``QboFault`` when it cannot be read."""
    with open_online(home) as port:
        info = port.client.get(f"companyinfo/{port.realm_id}").get("CompanyInfo") or {}
    return str(info.get("CompanyName", ""))
