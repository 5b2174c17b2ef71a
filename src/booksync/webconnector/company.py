"""Which QuickBooks company a Web Connector session reached, and whether booksync may write to it.

At the first sendRequestXML of a session the Web Connector passes the answers of a HostQuery,
a CompanyQuery and a PreferencesQuery (``strHCPResponse``, guide p.22, p.80). From them:

* the **qbXML version**: the highest the Web Connector's request processor speaks
  (qbXMLMajorVers/MinorVers, guide p.80, else HostRet/SupportedQBXMLVersion). booksync writes
  qbXML 13.0 (reference §3); a QuickBooks that speaks less is refused before anything is sent;
* the **company's FileID**: the Web Connector stores the .qwc's FileID in the company as a data
  extension named "FileID" under the .qwc's OwnerID the first time it connects, so that the web
  service "can always verify that it is talking to the expected company file" (guide p.36, p.52).

booksync records the FileID of the company the connection was set up for in
``webconnector.json`` (in the home) and refuses, before anything is read or written, a session
whose company does not carry it. Which FileID is recorded: the .qwc's own FileID when the company
carries it under booksync's OwnerID; otherwise, on the first session, the FileID the company
reports (a company that never met this .qwc, e.g. the simulator, which reports its own).
``booksync webconnector forget-company`` clears the record to move booksync to another company
on purpose.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from booksync.qbxml.build import QBXML_VERSION
from booksync.qbxml.parse import MalformedResponse, parse_response, text
from booksync.services.connector_state import ConnectorState

SUPPORTED_VERSION = tuple(int(p) for p in QBXML_VERSION.split("."))
"""The qbXML version booksync's messages are built for (and validated against)."""


class CompanyRefused(Exception):
    """The session reached a company booksync must not work with; the message says why and what to do."""


@dataclass
class CompanyInfo:
    """What the Web Connector's HostQuery/CompanyQuery/PreferencesQuery answers say.

    Attributes:
        name: CompanyRet/CompanyName.
        file_ids: (OwnerID, DataExtValue) of every DataExtRet named "FileID" in CompanyRet.
        product: HostRet/ProductName.
        versions: HostRet/SupportedQBXMLVersion values.
    """

    name: str
    file_ids: list[tuple[str, str]] = field(default_factory=list)
    product: str = ""
    versions: list[str] = field(default_factory=list)


def read_hcp(hcp: str) -> CompanyInfo:
    """Parse ``strHCPResponse``. Raises :class:`CompanyRefused` when it is missing or has no CompanyRet."""
    if not hcp or not hcp.strip():
        raise CompanyRefused("The Web Connector did not send QuickBooks' company information (strHCPResponse), so "
                             "booksync cannot check which company file is open; nothing was read or written. "
                             "Update the QuickBooks Web Connector and try again.")
    try:
        responses = {rs.kind: rs for rs in parse_response(hcp)}
    except MalformedResponse as exc:
        raise CompanyRefused(f"QuickBooks' company information is not readable ({exc}); nothing was read or "
                             "written.") from None
    company = responses.get("CompanyQuery")
    if company is None or not company.ok or not company.rets:
        raise CompanyRefused("QuickBooks' company information has no CompanyRet; booksync cannot check which "
                             "company file is open, so nothing was read or written.")
    ret = company.rets[0]
    info = CompanyInfo(name=text(ret, "CompanyName"))
    for ext in ret.findall("DataExtRet"):
        if text(ext, "DataExtName") == "FileID":
            info.file_ids.append((text(ext, "OwnerID"), text(ext, "DataExtValue")))
    host = responses.get("HostQuery")
    if host is not None and host.ok and host.rets:
        info.product = text(host.rets[0], "ProductName")
        info.versions = [e.text or "" for e in host.rets[0].findall("SupportedQBXMLVersion")]
    return info


def _version(value: str) -> tuple[int, int]:
    major, _, minor = value.strip().partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return 0, 0


def negotiate_version(major: int, minor: int, info: CompanyInfo | None = None) -> str:
    """The qbXML version to speak: booksync's (13.0) when the Web Connector reports at least that.

    ``major``/``minor`` are sendRequestXML's qbXMLMajorVers/qbXMLMinorVers (guide p.80); when they
    are 0 the HostRet's SupportedQBXMLVersion list decides. A newer QuickBooks accepts 13.0
    messages unchanged (reference §3). Raises :class:`CompanyRefused` when QuickBooks speaks less.
    """
    reported = (major, minor)
    if reported == (0, 0) and info is not None and info.versions:
        reported = max(_version(v) for v in info.versions)
    if reported == (0, 0):
        return QBXML_VERSION
    if reported < SUPPORTED_VERSION:
        raise CompanyRefused(f"This QuickBooks speaks qbXML {reported[0]}.{reported[1]}; booksync needs "
                             f"{QBXML_VERSION} (QuickBooks Desktop 2014 or later). Nothing was written. Update "
                             "QuickBooks, then update again from the Web Connector.")
    return QBXML_VERSION


def check_company(info: CompanyInfo, state: ConnectorState, owner_id: str, qwc_file_id: str,
                  company_file: str) -> bool:
    """Check that ``info`` is the company booksync is set up for (see module docstring).

    Returns True when this call recorded the company (the first session); the caller saves
    ``state``. Raises :class:`CompanyRefused` with what to do when it is another company.
    """
    values = [value for _, value in info.file_ids if value]
    if state.company_file_id:
        if any(_same_guid(value, state.company_file_id) for value in values):
            state.company_file = company_file or state.company_file
            return False
        found = ", ".join(values) or "none"
        raise CompanyRefused(
            f"The Web Connector opened the QuickBooks company \"{info.name}\" ({company_file or 'the open file'}, "
            f"FileID {found}), but booksync is set up for \"{state.company_name}\" (FileID "
            f"{state.company_file_id}). Nothing was read or written. Open the right company file in QuickBooks "
            "and update again; if booksync should work with this company from now on, run "
            "'booksync webconnector forget-company' first.")
    ours = [value for owner, value in info.file_ids if owner_id and _same_guid(owner, owner_id)]
    if qwc_file_id and any(_same_guid(v, qwc_file_id) for v in ours):
        chosen = qwc_file_id
    elif ours:
        chosen = ours[0]
    elif values:
        chosen = values[0]
    else:
        raise CompanyRefused(
            f"QuickBooks did not report a FileID for the company \"{info.name}\", so booksync cannot make sure it "
            "always writes to the same company file. Nothing was read or written. Remove booksync from the Web "
            "Connector and add its .qwc file again ('booksync qwc'), which stores the FileID in the company.")
    state.company_file_id = chosen
    state.company_name = info.name
    state.company_file = company_file
    state.recorded_at = dt.datetime.now().replace(microsecond=0).isoformat()
    return True


def _same_guid(a: str, b: str) -> bool:
    return a.strip("{} ").lower() == b.strip("{} ").lower()
