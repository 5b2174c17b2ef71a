"""The .qwc file a user loads into QuickBooks Web Connector (guide ch. 4, p.33–39; reference §12).

Root ``<QBWCXML>``, children in the order of the guide's Listing 4-1 (any order is accepted,
p.38). Rules checked here, each one a Web Connector error otherwise:

* AppURL uses HTTPS, except ``http://localhost`` for testing (p.17, p.35; QBWC1010);
* AppURL and AppSupport are not IP addresses (QBWC1001, QBWC1002) and use the same host (QBWC1000);
* OwnerID and FileID are GUIDs made once for the booksync install and kept in booksync.toml
  (``webconnector.owner_id`` / ``file_id``), so a .qwc written again names the same application
  and company link (p.36–37; re-registering with other GUIDs fails with QBWC1039, reference §12);
* the password is never in the file (p.38, UserName).
"""
from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

REQUIRED = ("AppName", "AppID", "AppURL", "AppDescription", "AppSupport", "UserName", "OwnerID", "FileID", "QBType")
"""Elements the guide's Table 4-1 marks required (AppID may be empty)."""


class QwcError(ValueError):
    """The .qwc file cannot be written as asked; the message says what to change."""


def new_guid() -> str:
    """A GUID in the form the Web Connector's samples use: ``{XXXXXXXX-XXXX-...}``, upper case."""
    return "{" + str(uuid.uuid4()).upper() + "}"


def _host(url: str, what: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QwcError(f"{what} must be a full http(s) URL, not {url!r}.")
    host = parts.hostname.lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise QwcError(f"{what} {url} uses an IP address; the Web Connector refuses those (QBWC1001/QBWC1002). Use "
                       "a host name (localhost for testing on the QuickBooks PC).")
    return parts.scheme, host


def check_urls(app_url: str, support_url: str) -> None:
    """Raise :class:`QwcError` unless the URLs follow the Web Connector's rules (module docstring)."""
    scheme, host = _host(app_url, "The AppURL")
    if scheme != "https" and host != "localhost":
        raise QwcError(f"The AppURL {app_url} must use https://; the Web Connector accepts http:// only for "
                       "localhost (QBWC1010). Serve booksync behind HTTPS (booksync serve --ssl-certfile/"
                       "--ssl-keyfile, or a reverse proxy).")
    _, support_host = _host(support_url, "The AppSupport URL")
    if support_host != host:
        raise QwcError(f"AppSupport ({support_url}) and AppURL ({app_url}) must use the same host (QBWC1000).")


def default_support_url(app_url: str) -> str:
    """``APP_URL/support``: booksync serves its support page there, on the same host."""
    parts = urlsplit(app_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/support", "", ""))


@dataclass
class QwcSettings:
    """What goes into the .qwc file. ``every_minutes`` 0 leaves the Scheduler out."""

    app_name: str
    app_url: str
    user_name: str
    owner_id: str
    file_id: str
    support_url: str = ""
    description: str = "booksync: synchronizes membership billing into QuickBooks."
    app_id: str = ""
    every_minutes: int = 0


def build_qwc(s: QwcSettings) -> bytes:
    """The .qwc document (UTF-8 XML). Raises :class:`QwcError` when a rule is broken."""
    support = s.support_url or default_support_url(s.app_url)
    check_urls(s.app_url, support)
    if not s.user_name:
        raise QwcError("No Web Connector user is set: run 'booksync webconnector set-password --user NAME' first.")
    for name, value in (("OwnerID", s.owner_id), ("FileID", s.file_id)):
        try:
            uuid.UUID(value.strip("{}"))
        except ValueError:
            raise QwcError(f"{name} {value!r} is not a GUID.") from None
    if s.every_minutes < 0:
        raise QwcError("The schedule must be a positive number of minutes.")
    root = etree.Element("QBWCXML")
    for tag, value in (("AppName", s.app_name), ("AppID", s.app_id), ("AppURL", s.app_url),
                       ("AppDescription", s.description[:80]), ("AppSupport", support), ("UserName", s.user_name),
                       ("OwnerID", s.owner_id), ("FileID", s.file_id), ("QBType", "QBFS")):
        etree.SubElement(root, tag).text = value
    if s.every_minutes:
        etree.SubElement(etree.SubElement(root, "Scheduler"), "RunEveryNMinutes").text = str(s.every_minutes)
    # IsReadOnly false: booksync writes to the company (reference §12 on the guide's inverted wording).
    etree.SubElement(root, "IsReadOnly").text = "false"
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
