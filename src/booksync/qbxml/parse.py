"""Parse qbXML response message sets safely, and refuse answers booksync cannot trust.

XML is parsed without DTDs (a document carrying one is refused), external entities or network
access, and with a size bound, whether it comes from QuickBooks, the Web Connector or a file.

Every way an answer can be wrong ends in :class:`MalformedResponse` with a sentence saying what is
wrong, never in ``IndexError``, ``ValueError`` or a record taken from the wrong answer:

* not well-formed, truncated, empty, too large, or carrying a DTD;
* not a ``QBXML/QBXMLMsgsRs`` document, or holding something other than ``*Rs`` elements;
* status attributes missing or not what QuickBooks sends: ``statusCode`` outside Intuit's ranges
  (0–9199), ``statusSeverity`` other than Info/Warn/Error or contradicting the code (Error exactly
  when the code is 1000 or more), non-numeric iterator counts, a requestID answered twice;
* a response holding children its type does not have (``ORDER`` of :mod:`.schema`, from the XSD);
* a processed HostQuery/CompanyQuery/PreferencesQuery without its Ret (these queries have no filter:
  QuickBooks always has a host, a company and preferences), a processed Add or Mod without exactly one
  Ret naming the record (ListID or TxnID);
* with ``request=`` (the request message that was sent): an answer to a request that was not asked,
  of another type, out of order, or a Ret without the ListID/TxnID and EditSequence booksync relies on.

Status ranges: Intuit, "Status codes in response messages" (reference/quickbooks-desktop.md §2).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from booksync.errors import BooksError, Refused
from booksync.qbxml.errors import status_error
from booksync.qbxml.schema import ORDER

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest message booksync accepts (a 64 MiB qbXML answer is far beyond any sane iterator page)."""
MAX_STATUS_CODE = 9199
"""The highest status code of Intuit's ranges (9100–9199: macro errors); anything above is not QuickBooks'."""
SEVERITIES = ("Info", "Warn", "Error")
ALWAYS_ANSWERED = {"HostQuery": "HostRet", "CompanyQuery": "CompanyRet", "PreferencesQuery": "PreferencesRet"}
"""Queries without a filter: a processed answer always carries this Ret."""
RET_ID = {"AccountRet": "ListID", "CustomerRet": "ListID", "VendorRet": "ListID", "ItemServiceRet": "ListID",
          "PaymentMethodRet": "ListID", "InvoiceRet": "TxnID", "CreditMemoRet": "TxnID",
          "ReceivePaymentRet": "TxnID", "DepositRet": "TxnID"}
"""The identifier of each Ret booksync reads. The XSD marks them optional only because IncludeRetElement
can leave them out; booksync always names them when it sends IncludeRetElement, so QuickBooks returns them."""
VERSIONED = frozenset({"CustomerRet", "InvoiceRet", "CreditMemoRet", "ReceivePaymentRet", "DepositRet"})
"""Rets whose EditSequence booksync keeps for later Mods."""
_INT = re.compile(r"[+-]?[0-9]{1,9}", re.ASCII)
_AMOUNT = re.compile(r"[+-]?[0-9]{1,13}(\.[0-9]{1,2})?", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class MalformedResponse(BooksError):
    """QuickBooks' answer is not a qbXML response booksync can trust."""


def safe_parser() -> etree.XMLParser:
    """An lxml parser with entities, DTDs and network access disabled."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True)


def parse_xml(data: bytes | str, what: str = "qbXML message") -> etree._Element:
    """Parse ``data`` into an element; raises :class:`MalformedResponse` (not XML, too large, empty,
    carrying a DTD or entities)."""
    if isinstance(data, str):
        if len(data) > MAX_MESSAGE_BYTES:
            raise MalformedResponse(f"the {what} is {len(data)} characters, over the limit of {MAX_MESSAGE_BYTES}")
        try:
            data = data.encode("utf-8") if not data.lstrip().startswith("<?xml") else _reencode(data)
        except UnicodeEncodeError:
            raise MalformedResponse(f"the {what} holds characters that are not text (lone surrogates)") from None
    if not isinstance(data, bytes):
        raise MalformedResponse(f"the {what} is not text or bytes but {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedResponse(f"the {what} is {len(data)} bytes, over the limit of {MAX_MESSAGE_BYTES}")
    if not data.strip():
        raise MalformedResponse(f"the {what} is empty")
    # Refuse a DTD before parsing, so an entity bomb is never expanded (checked again after parsing
    # for encodings where the bytes do not show it).
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MalformedResponse(f"the {what} carries a DTD (<!DOCTYPE>), which QuickBooks never sends; refused")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedResponse(f"the {what} is not well-formed XML (truncated or corrupted?): {exc}") from exc
    except (etree.LxmlError, ValueError, LookupError) as exc:
        raise MalformedResponse(f"the {what} cannot be read as XML: {exc}") from exc
    if root is None:
        raise MalformedResponse(f"the {what} is empty")
    if root.getroottree().docinfo.doctype:
        raise MalformedResponse(f"the {what} carries a DTD (<!DOCTYPE>), which QuickBooks never sends; refused")
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

    def error(self) -> Refused:
        return status_error(self.code, self.severity, self.message, self.kind, self.request_id)

    def raise_for_status(self) -> "Response":
        """Return self when processed (codes 0–999, which include warnings); raise the typed error otherwise."""
        if not self.ok:
            raise self.error()
        return self


def _tag(node: object) -> str:
    tag = getattr(node, "tag", None)
    return tag if isinstance(tag, str) else "a processing instruction"


def _count(rs: etree._Element, tag: str, attr: str) -> int:
    value = rs.get(attr)
    if value is None or value == "":
        return 0
    if not _INT.fullmatch(value) or int(value) < 0:
        raise MalformedResponse(f"<{tag}> has {attr}={value!r}, which is not a count")
    return int(value)


def _status(rs: etree._Element, tag: str) -> tuple[int, str]:
    raw = rs.get("statusCode")
    if raw is None or not _INT.fullmatch(raw.strip()):
        raise MalformedResponse(f"<{tag}> has no valid statusCode ({raw!r})")
    code = int(raw)
    if not 0 <= code <= MAX_STATUS_CODE:
        raise MalformedResponse(f"<{tag}> has statusCode {code}, which is not a QuickBooks status code "
                                f"(Intuit's codes run from 0 to {MAX_STATUS_CODE})")
    severity = rs.get("statusSeverity")
    if severity not in SEVERITIES:
        raise MalformedResponse(f"<{tag}> has statusSeverity {severity!r}; QuickBooks sends Info, Warn or Error")
    if (severity == "Error") != (code >= 1000):
        raise MalformedResponse(f"<{tag}> has statusCode {code} with statusSeverity {severity}; QuickBooks marks "
                                "exactly the codes from 1000 up as errors")
    return code, severity


def _check_children(rs: etree._Element, tag: str, kind: str, code: int) -> list[etree._Element]:
    """The Ret children of ``rs``, after checking them against the response type."""
    children = [c for c in rs if isinstance(c.tag, str)]
    allowed = ORDER.get(tag)
    if allowed is not None:
        for child in children:
            if child.tag not in allowed:
                raise MalformedResponse(f"<{tag}> holds <{child.tag}>, which a {kind} answer never holds")
    rets = [c for c in children if c.tag.endswith("Ret")]
    if code >= 1000:
        return rets
    expected = ALWAYS_ANSWERED.get(kind)
    if expected is not None and len(rets) != 1:
        raise MalformedResponse(f"QuickBooks processed the {kind} but its answer carries {len(rets)} <{expected}> "
                                "instead of one")
    if (kind.endswith("Add") or kind.endswith("Mod")) and allowed is not None and allowed[0].endswith("Ret"):
        if len(rets) != 1:
            raise MalformedResponse(f"QuickBooks accepted the {kind} (status {code}) but its answer carries "
                                    f"{len(rets)} <{allowed[0]}> instead of one: the record it wrote is unknown")
        id_tag = RET_ID.get(rets[0].tag)
        if id_tag is not None and not text(rets[0], id_tag).strip():
            raise MalformedResponse(f"QuickBooks accepted the {kind} but its <{rets[0].tag}> has no {id_tag}: the "
                                    "record it wrote is unknown")
    return rets


def parse_response(data: bytes | str, request: bytes | str | etree._Element | None = None) -> list[Response]:
    """Parse a response message set into its responses, in order.

    ``request``: the request message set that was sent (bytes, str or its root element). When given,
    each response must answer one of its requests, by requestID and type, in order, and every Ret
    booksync reads must carry its ListID/TxnID (and EditSequence for customers and transactions).

    Raises :class:`MalformedResponse` for anything listed in the module docstring; never another error.
    """
    root = parse_xml(data, "QuickBooks response")
    if root.tag != "QBXML":
        raise MalformedResponse(f"the QuickBooks response starts with <{_tag(root)}>, not <QBXML>")
    msgs = root.find("QBXMLMsgsRs")
    if msgs is None:
        raise MalformedResponse("the QuickBooks response has no QBXMLMsgsRs")
    out = []
    seen: set[str] = set()
    for rs in msgs:
        tag = _tag(rs)
        if not isinstance(rs.tag, str) or not tag.endswith("Rs") or len(tag) <= 2:
            shown = f"element <{tag}>" if isinstance(rs.tag, str) else tag
            raise MalformedResponse(f"unexpected {shown} in the QuickBooks response")
        kind = tag[:-2]
        code, severity = _status(rs, tag)
        request_id = rs.get("requestID", "")
        if request_id:
            if request_id in seen:
                raise MalformedResponse(f"the QuickBooks response answers requestID {request_id!r} twice")
            seen.add(request_id)
        rets = _check_children(rs, tag, kind, code)
        out.append(Response(
            kind=kind, request_id=request_id, code=code, severity=severity, message=rs.get("statusMessage", ""),
            rets=rets, iterator_id=rs.get("iteratorID", ""), remaining=_count(rs, tag, "iteratorRemainingCount")))
        _count(rs, tag, "retCount")
    if request is not None:
        _match_requests(out, request)
    return out


def _match_requests(responses: list[Response], request: bytes | str | etree._Element) -> None:
    """Check that ``responses`` answer ``request``'s requests (see :func:`parse_response`)."""
    root = request if isinstance(request, etree._Element) else parse_xml(request, "request message")
    msgs = root.find("QBXMLMsgsRq")
    asked = [] if msgs is None else [(rq.get("requestID", ""), rq.tag[:-2]) for rq in msgs
                                     if isinstance(rq.tag, str) and rq.tag.endswith("Rq")]
    position = {rid: (i, kind) for i, (rid, kind) in enumerate(asked) if rid}
    if len(responses) > len(asked):
        raise MalformedResponse(f"QuickBooks sent {len(responses)} answers to {len(asked)} request(s)")
    last = -1
    for i, rs in enumerate(responses):
        if rs.request_id:
            if rs.request_id not in position:
                raise MalformedResponse(f"QuickBooks answered request {rs.request_id!r} ({rs.kind}), which was not "
                                        "asked")
            index, kind = position[rs.request_id]
        else:
            index, kind = i, asked[i][1]
        if rs.kind != kind:
            raise MalformedResponse(f"QuickBooks answered the {kind} request {rs.request_id or index + 1} with a "
                                    f"{rs.kind} answer")
        if index <= last:
            raise MalformedResponse("QuickBooks' answers are not in the order of the requests")
        last = index
        if not rs.ok:
            continue
        for ret in rs.rets:
            id_tag = RET_ID.get(ret.tag)
            if id_tag is not None and not text(ret, id_tag).strip():
                raise MalformedResponse(f"the {rs.kind} answer holds a <{ret.tag}> without {id_tag}")
            if ret.tag in VERSIONED and not text(ret, "EditSequence").strip():
                raise MalformedResponse(f"the {rs.kind} answer holds a <{ret.tag}> without EditSequence")


# Accessors for Ret elements ---------------------------------------------------------------


def text(el: etree._Element, path: str, default: str = "") -> str:
    """Text at ``path`` (e.g. "CustomerRef/ListID") under ``el``, or ``default``."""
    found = el.find(path)
    return found.text or "" if found is not None else default


def decimal(el: etree._Element, path: str) -> Decimal:
    """The amount at ``path`` (0.00 when absent or empty); raises :class:`MalformedResponse` for anything
    but a qbXML amount (AMTTYPE: up to 13 digits, up to two decimals)."""
    value = text(el, path).strip()
    if not value:
        return Decimal("0.00")
    if not _AMOUNT.fullmatch(value):
        raise MalformedResponse(f"{el.tag}/{path} is not an amount: {value!r}")
    try:
        return Decimal(value)
    except (ArithmeticError, InvalidOperation):  # pragma: no cover - the pattern admits only valid numbers
        raise MalformedResponse(f"{el.tag}/{path} is not an amount: {value!r}") from None


def boolean(el: etree._Element, path: str, default: bool = False) -> bool:
    """The boolean at ``path`` (``default`` when absent or empty, as BOOLTYPE allows); raises
    :class:`MalformedResponse` for anything but true/false/1/0."""
    value = text(el, path).strip()
    if not value:
        return default
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise MalformedResponse(f"{el.tag}/{path} is not a boolean: {value!r}")


def date(el: etree._Element, path: str) -> dt.date | None:
    """The date at ``path`` (None when absent or empty); raises :class:`MalformedResponse` for anything
    but YYYY-MM-DD."""
    value = text(el, path).strip()
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise MalformedResponse(f"{el.tag}/{path} is not a date: {value!r}") from None
