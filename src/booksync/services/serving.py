"""What serving booksync over HTTP takes from a home's ``[web]`` settings: the Host names it answers to and
whom it believes about a client's address. Used by ``booksync serve`` (command line), the web interface and
the combined server (:mod:`booksync.server`).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from booksync.config import Home

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


def allowed_hosts(web: dict[str, Any], bind: str | None = None) -> list[str]:
    """The Host names booksync answers to: the localhost names, the address it listens on (``bind``, unless
    it is every address) and ``web.allowed_hosts`` (``*.example.org`` allowed as in Starlette)."""
    hosts = [*LOCAL_HOSTS]
    if bind and bind not in WILDCARD_ADDRESSES:
        hosts.append(bind.strip("[]"))
    extra = web.get("allowed_hosts", [])
    hosts += [str(h).strip().lower() for h in ([extra] if isinstance(extra, str) else extra) if str(h).strip()]
    # A Host header names an IPv6 address in brackets ("[::1]:8080"), and Starlette compares it so.
    hosts = [f"[{h.strip('[]')}]" if ":" in h else h for h in hosts]
    return list(dict.fromkeys(hosts))


def proxy_options(web: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's options for ``X-Forwarded-For``: believed only from ``web.trusted_proxies`` (uvicorn's own
    default trusts 127.0.0.1, so any local program could claim any address and escape the sign-in limits)."""
    proxies = web.get("trusted_proxies", [])
    proxies = [proxies] if isinstance(proxies, str) else [str(p).strip() for p in proxies if str(p).strip()]
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": proxies}


def allow_host(home: Home, url: str) -> str:
    """Add the host of ``url`` (the .qwc's AppURL) to ``web.allowed_hosts`` unless already allowed (the server refuses
    other Host headers); returns the host added, or "". The caller saves the home."""
    host = (urlsplit(url).hostname or "").lower()
    allowed = allowed_hosts(home.settings["web"])
    if not host or any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in allowed):
        return ""
    home.settings["web"]["allowed_hosts"] = [*home.settings["web"].get("allowed_hosts", []), host]
    return host
