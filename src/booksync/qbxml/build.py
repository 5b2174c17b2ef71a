"""Build qbXML 13.0 request message sets from plain Python values.

An aggregate is a ``dict``: keys are child element names, values are

* ``str``, ``int``, ``Decimal``, ``datetime.date`` or ``bool`` for a leaf;
* a ``dict`` for a child aggregate;
* a ``list`` for a repeated child;
* ``None`` to leave the child out.

Keys starting with ``@`` become attributes. Children are written in the order
the schema requires (:mod:`booksync.qbxml.schema`, generated from Intuit's
qbxmlops130.xsd); an unknown child raises ``KeyError`` rather than producing a
message QuickBooks would refuse with HRESULT 0x80040400
(reference/quickbooks-desktop.md §1, "Element order").
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from lxml import etree

from booksync.qbxml.schema import ORDER

QBXML_VERSION = "13.0"


INDEX: dict[str, dict[str, int]] = {tag: {name: i for i, name in enumerate(order)} for tag, order in ORDER.items()}
"""Position of every child in its parent's schema order (:data:`booksync.qbxml.schema.ORDER`)."""


def _text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float):
        raise TypeError("floats are not allowed in qbXML values; use Decimal")
    return str(value)


def append(parent: etree._Element, name: str, value: Any) -> None:
    """Append child ``name`` holding ``value`` to ``parent`` (see module docstring)."""
    if value is None:
        return
    if isinstance(value, list):
        for v in value:
            append(parent, name, v)
        return
    el = etree.SubElement(parent, name)
    if isinstance(value, dict):
        fill(el, value)
    else:
        el.text = _text(value)


def fill(el: etree._Element, fields: dict[str, Any]) -> etree._Element:
    """Fill aggregate ``el`` with ``fields`` in schema order. Raises ``KeyError``
    for a child the schema does not allow in this aggregate.

    Sorts the fields given by their schema position rather than walking the aggregate's whole
    order (``InvoiceRet`` has 51 children; an answer names a dozen): the simulator's answers and
    booksync's requests are built here."""
    index = INDEX.get(el.tag)
    if index is None:
        raise KeyError(f"{el.tag} is not a known qbXML aggregate")
    present = []
    for key, value in fields.items():
        if key.startswith("@"):
            if value is not None:
                el.set(key[1:], _text(value))
            continue
        pos = index.get(key)
        if pos is None:
            raise KeyError(f"{key} is not a child of {el.tag}")
        if value is not None:
            present.append((pos, key))
    present.sort()
    sub = etree.SubElement
    for _, key in present:
        value = fields[key]
        if type(value) is str:  # most leaves: no call to append (a first sync builds millions)
            sub(el, key).text = value
        else:
            append(el, key, value)
    return el


def aggregate(name: str, fields: dict[str, Any]) -> etree._Element:
    """Return a new element ``name`` filled with ``fields`` in schema order."""
    return fill(etree.Element(name), fields)


def request(kind: str, body: dict[str, Any] | None, request_id: str | int | None = None,
            **attrs: Any) -> etree._Element:
    """Build one ``<{kind}Rq>`` element.

    For adds and mods (``kind`` ending in "Add" or "Mod") ``body`` is the inner
    aggregate (e.g. the ``InvoiceAdd`` fields); for queries, TxnDel and TxnVoid
    it is the request's own children. ``attrs`` are extra attributes such as
    ``iterator`` or ``iteratorID``.
    """
    rq = etree.Element(f"{kind}Rq")
    if request_id is not None:
        rq.set("requestID", str(request_id))
    for k, v in attrs.items():
        if v is not None:
            rq.set(k, _text(v))
    body = body or {}
    if (kind.endswith("Add") or kind.endswith("Mod")) and kind not in ("DataExtAdd",):
        inner = {k: v for k, v in body.items() if k != "@defMacro"}
        el = aggregate(kind, inner)
        if "@defMacro" in body:
            el.set("defMacro", body["@defMacro"])
        rq.append(el)
    else:
        fill(rq, body)
    return rq


def message(requests: Iterable[etree._Element], on_error: str = "stopOnError",
            version: str = QBXML_VERSION) -> bytes:
    """Wrap request elements in a ``QBXML/QBXMLMsgsRq`` message set and serialize.

    Returns ISO-8859-1 bytes with the ``<?qbxml version?>`` processing
    instruction QuickBooks needs. Characters outside ISO-8859-1 become numeric
    character references; booksync's field rules transliterate names before this.
    """
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq", onError=on_error)
    for rq in requests:
        msgs.append(rq)
    body = etree.tostring(root, encoding="ISO-8859-1", xml_declaration=False, pretty_print=True)
    return (b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            + f'<?qbxml version="{version}"?>\n'.encode() + body)


def ref(list_id: str | None = None, full_name: str | None = None) -> dict[str, str]:
    """A ``*Ref`` aggregate: by ListID when known, else by FullName."""
    if list_id:
        return {"ListID": list_id}
    if full_name:
        return {"FullName": full_name}
    raise ValueError("a reference needs a ListID or a FullName")
