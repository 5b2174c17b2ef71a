"""Parse qbXML response message sets safely.

XML is parsed without DTDs, external entities or network access, and with a
size bound, whether it comes from QuickBooks, the Web Connector or a file.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from .errors import QBError, StatusError, status_error

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest message booksync accepts (a 64 MiB qbXML answer is far beyond any sane iterator page)."""


class MalformedResponse(QBError):
    """QuickBooks' answer is not a qbXML response booksync can trust."""


def safe_parser() -> etree.XMLParser:
    """An lxml parser with entities, DTDs and network access disabled."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True)


def parse_xml(data: bytes | str, what: str = "qbXML message") -> etree._Element:
    """Parse ``data`` into an element; raises :class:`MalformedResponse`."""
    if isinstance(data, str):
        data = data.encode("utf-8") if not data.lstrip().startswith("<?xml") else _reencode(data)
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedResponse(f"the {what} is {len(data)} bytes, over the limit of {MAX_MESSAGE_BYTES}")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedResponse(f"the {what} is not well-formed XML: {exc}") from exc
    if root is None:
        raise MalformedResponse(f"the {what} is empty")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise MalformedResponse(f"the {what} uses XML entities, which booksync does not accept")
    return root


def _reencode(text: str) -> bytes:
    # A str that declares an encoding cannot be handed to lxml as str; drop the declaration.
    end = text.find("?>")
    return text[end + 2:].encode("utf-8")


@dataclass
class Response:
    """One ``*Rs`` element of a response message set.

    Attributes:
        kind: the response element name without "Rs", e.g. "InvoiceAdd".
        request_id: requestID echoed by QuickBooks ("" when absent).
        code: statusCode; 0–999 mean the request was processed.
        severity: statusSeverity ("Info", "Warn", "Error").
        message: statusMessage.
        rets: the ``*Ret`` children.
        iterator_id / remaining: iteratorID and iteratorRemainingCount of a query.
    """

    kind: str
    request_id: str
    code: int
    severity: str
    message: str
    rets: list[etree._Element] = field(default_factory=list)
    iterator_id: str = ""
    remaining: int = 0

    @property
    def ok(self) -> bool:
        return self.code < 1000

    def error(self) -> StatusError:
        return status_error(self.code, self.severity, self.message, self.kind, self.request_id)

    def raise_for_status(self) -> "Response":
        """Return self when processed (codes 0–999, which include warnings); raise the typed error otherwise."""
        if not self.ok:
            raise self.error()
        return self


def parse_response(data: bytes | str) -> list[Response]:
    """Parse a response message set into its responses, in order.

    Raises :class:`MalformedResponse` when the message is not XML, is not a
    QBXML response, or a response lacks its status attributes.
    """
    root = parse_xml(data, "QuickBooks response")
    if root.tag != "QBXML":
        raise MalformedResponse(f"the QuickBooks response starts with <{root.tag}>, not <QBXML>")
    msgs = root.find("QBXMLMsgsRs")
    if msgs is None:
        raise MalformedResponse("the QuickBooks response has no QBXMLMsgsRs")
    out = []
    for rs in msgs:
        if not isinstance(rs.tag, str) or not rs.tag.endswith("Rs"):
            raise MalformedResponse(f"unexpected element <{rs.tag}> in the QuickBooks response")
        try:
            code = int(rs.get("statusCode", ""))
        except ValueError:
            raise MalformedResponse(f"<{rs.tag}> has no valid statusCode") from None
        out.append(Response(
            kind=rs.tag[:-2], request_id=rs.get("requestID", ""), code=code,
            severity=rs.get("statusSeverity", ""), message=rs.get("statusMessage", ""),
            rets=[c for c in rs if isinstance(c.tag, str) and c.tag.endswith("Ret")],
            iterator_id=rs.get("iteratorID", ""),
            remaining=int(rs.get("iteratorRemainingCount", "0") or 0)))
    return out


# Accessors for Ret elements ---------------------------------------------------------------


def text(el: etree._Element, path: str, default: str = "") -> str:
    """Text at ``path`` (e.g. "CustomerRef/ListID") under ``el``, or ``default``."""
    found = el.find(path)
    return found.text or "" if found is not None else default


def decimal(el: etree._Element, path: str) -> Decimal:
    value = text(el, path)
    try:
        return Decimal(value) if value else Decimal("0.00")
    except ArithmeticError:
        raise MalformedResponse(f"{el.tag}/{path} is not an amount: {value!r}") from None


def boolean(el: etree._Element, path: str, default: bool = False) -> bool:
    value = text(el, path)
    return default if not value else value == "true"


def date(el: etree._Element, path: str) -> dt.date | None:
    value = text(el, path)
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise MalformedResponse(f"{el.tag}/{path} is not a date: {value!r}") from None
