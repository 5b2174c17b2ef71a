"""SOAP for the Web Connector: read a call, write its answer, document/literal as QBWebConnectorSvc.wsdl says.

The WSDL (``../shared/qbwc/QBWebConnectorSvc.wsdl``) declares eight operations in the namespace
``http://developer.intuit.com/`` (which must not change, guide p.41), document/literal and
wrapped: the body holds ``<op>`` with one child per parameter, the answer ``<opResponse>`` with
``<opResult>``; ``authenticateResult`` is an ArrayOfString of ``<string>`` elements.

Calls are parsed with booksync's safe parser (:func:`booksync.qbxml.parse.parse_xml`: a document
type declaration is refused before parsing, as SOAP 1.1 §3 forbids one anyway; no entities, no
network), after a first reading that builds nothing and stops at the first node over
:data:`MAX_ELEMENTS` or deeper than :data:`MAX_DEPTH` (:func:`check_shape`). Answers are always well-formed SOAP: a result envelope, or a Fault. SOAP 1.1 is what
QBWC speaks; a SOAP 1.2 call is answered in 1.2.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from booksync.qbxml.parse import MalformedResponse, parse_xml

TNS = "http://developer.intuit.com/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CONTENT_TYPES = {SOAP11: "text/xml; charset=utf-8", SOAP12: "application/soap+xml; charset=utf-8"}

OPERATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "serverVersion": (("strVersion", "string"),),
    "clientVersion": (("strVersion", "string"),),
    "authenticate": (("strUserName", "string"), ("strPassword", "string")),
    "sendRequestXML": (("ticket", "string"), ("strHCPResponse", "string"), ("strCompanyFileName", "string"),
                       ("qbXMLCountry", "string"), ("qbXMLMajorVers", "int"), ("qbXMLMinorVers", "int")),
    "receiveResponseXML": (("ticket", "string"), ("response", "string"), ("hresult", "string"),
                           ("message", "string")),
    "connectionError": (("ticket", "string"), ("hresult", "string"), ("message", "string")),
    "getLastError": (("ticket", "string"),),
    "closeConnection": (("ticket", "string"),),
}
"""The WSDL's operations and their parameters, in order, with their XML Schema types."""

MAX_ELEMENTS = 1000
"""Most nodes a SOAP request may hold. A Web Connector call has about ten (Envelope, Body, the operation and
its parameters, guide ch. 4); qbXML travels inside them as escaped text, not as elements."""
MAX_DEPTH = 32
"""Deepest nesting a SOAP request may have (a Web Connector call nests four: Envelope, Body, operation, parameter)."""
FEED_BYTES = 64 * 1024
"""The shape check reads the body in pieces of this size, so it stops soon after a limit."""

NOT_SUPPORTED = {"getInteractiveURL", "interactiveDone", "interactiveRejected"}
"""Interactive-mode callbacks of the guide (p.71–76) that are not in the WSDL: booksync never asks
for interactive mode, so these are answered with a Fault."""
ALIASES = {"getServerVersion": "serverVersion"}
"""The guide's name (p.74) for the WSDL's serverVersion."""


class SoapFault(Exception):
    """A call booksync answers with a SOAP Fault. ``client`` True: the caller's fault (soap:Client)."""

    def __init__(self, message: str, client: bool = True, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.client = client
        self.status = status


@dataclass
class Call:
    """One parsed SOAP call: ``operation`` (a WSDL name), ``params`` by name, ``envelope`` namespace."""

    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    envelope: str = SOAP11


def _int(value: str | None) -> int:
    try:
        return int((value or "").strip() or 0)
    except ValueError:
        raise SoapFault(f"{value!r} is not an integer") from None


class _Shape:
    """An lxml parser target that builds nothing: it counts nodes and nesting, and stops the parse (by
    raising :class:`SoapFault`) at the first node over a limit."""

    def __init__(self, max_elements: int, max_depth: int) -> None:
        self.max_elements, self.max_depth = max_elements, max_depth
        self.nodes = self.depth = 0

    def _node(self) -> None:
        self.nodes += 1
        if self.nodes > self.max_elements:
            raise SoapFault(f"The SOAP request has more than {self.max_elements} elements; a Web Connector call "
                            "has about ten. Nothing was done.")

    def start(self, *_: Any) -> None:
        self._node()
        self.depth += 1
        if self.depth > self.max_depth:
            raise SoapFault(f"The SOAP request nests elements more than {self.max_depth} deep; a Web Connector "
                            "call nests four. Nothing was done.")

    def end(self, *_: Any) -> None:
        self.depth -= 1

    def comment(self, *_: Any) -> None:
        self._node()

    def pi(self, *_: Any) -> None:
        self._node()

    def doctype(self, *_: Any) -> None:
        raise SoapFault("The SOAP request carries a DTD (<!DOCTYPE>), which SOAP forbids; refused.")

    def data(self, _: str) -> None:
        pass

    def close(self) -> None:
        return None


def check_shape(body: bytes, max_elements: int = MAX_ELEMENTS, max_depth: int = MAX_DEPTH) -> None:
    """Read ``body`` once without building anything and raise :class:`SoapFault` as soon as it holds more
    than ``max_elements`` nodes (elements, comments, processing instructions) or nests deeper than
    ``max_depth``: a body under the size limit made of millions of empty elements is refused after reading
    the first ``max_elements`` of them, before any tree exists. Syntax errors are left to the real parse
    (which reports them), and so are DTDs (refused before parsing there)."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return
    parser = etree.XMLParser(target=_Shape(max_elements, max_depth), resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False)
    view = memoryview(body)
    try:
        for at in range(0, len(view), FEED_BYTES):
            parser.feed(bytes(view[at:at + FEED_BYTES]))
        parser.close()
    except (etree.XMLSyntaxError, etree.LxmlError, ValueError, LookupError):
        return


def parse_call(body: bytes, max_elements: int = MAX_ELEMENTS, max_depth: int = MAX_DEPTH) -> Call:
    """Parse a SOAP request. Raises :class:`SoapFault` when it is not a SOAP call of the WSDL, or holds more
    nodes or deeper nesting than a call can (:func:`check_shape`, before any tree is built)."""
    if not body.strip():
        raise SoapFault("The request is empty; the Web Connector sends a SOAP envelope.")
    check_shape(body, max_elements, max_depth)
    try:
        root = parse_xml(body, "SOAP request")
    except MalformedResponse as exc:
        raise SoapFault(str(exc).replace("the SOAP request", "The SOAP request", 1)) from None
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or namespace not in CONTENT_TYPES:
        raise SoapFault("The request is not a SOAP envelope.")
    body_el = root.find(f"{{{namespace}}}Body")
    children = [c for c in body_el if isinstance(c.tag, str)] if body_el is not None else []
    if not children:
        raise SoapFault("The SOAP envelope has no body.")
    op_el = children[0]
    qname = etree.QName(op_el)
    name = ALIASES.get(qname.localname, qname.localname)
    if name in NOT_SUPPORTED:
        raise SoapFault(f"{name} is not supported: booksync does not use the Web Connector's interactive mode.")
    if qname.namespace != TNS or name not in OPERATIONS:
        raise SoapFault(f"Unknown operation {{{qname.namespace}}}{qname.localname}; this service implements "
                        f"{', '.join(OPERATIONS)} in namespace {TNS}.")
    values: dict[str, etree._Element] = {}
    for child in op_el:
        if isinstance(child.tag, str):
            values.setdefault(etree.QName(child).localname, child)
    params: dict[str, Any] = {}
    for pname, ptype in OPERATIONS[name]:
        el = values.get(pname)
        nil = el is not None and (el.get(f"{{{XSI}}}nil") or "").strip() in ("true", "1")
        raw = None if el is None or nil else (el.text or "")
        params[pname] = _int(raw) if ptype == "int" else raw
    return Call(name, params, namespace)


def _envelope(namespace: str) -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{namespace}}}Envelope", nsmap={"soap": namespace, "xsi": XSI,
                                                          "xsd": "http://www.w3.org/2001/XMLSchema"})
    return env, etree.SubElement(env, f"{{{namespace}}}Body")


def response(call: Call, result: Any) -> bytes:
    """The answer envelope for ``call`` carrying ``result`` (str, int, or list of str for authenticate)."""
    env, body = _envelope(call.envelope)
    wrapper = etree.SubElement(body, f"{{{TNS}}}{call.operation}Response", nsmap={None: TNS})
    value = etree.SubElement(wrapper, f"{{{TNS}}}{call.operation}Result")
    if isinstance(result, list):
        for item in result:
            etree.SubElement(value, f"{{{TNS}}}string").text = "" if item is None else str(item)
    else:
        value.text = "" if result is None else str(result)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault(message: str, client: bool = True, namespace: str = SOAP11) -> bytes:
    """A SOAP Fault envelope (1.1: faultcode/faultstring; 1.2: Code/Reason)."""
    env, body = _envelope(namespace)
    f = etree.SubElement(body, f"{{{namespace}}}Fault")
    if namespace == SOAP12:
        code = etree.SubElement(etree.SubElement(f, f"{{{namespace}}}Code"), f"{{{namespace}}}Value")
        code.text = "soap:Sender" if client else "soap:Receiver"
        reason = etree.SubElement(etree.SubElement(f, f"{{{namespace}}}Reason"), f"{{{namespace}}}Text")
        reason.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        reason.text = message
    else:
        etree.SubElement(f, "faultcode").text = "soap:Client" if client else "soap:Server"
        etree.SubElement(f, "faultstring").text = message
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")
