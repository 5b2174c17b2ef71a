#!/usr/bin/env python3
"""Generate ``src/booksync/qbxml/schema.py`` from Intuit's qbXML 13.0 XSD.

booksync builds qbXML from dictionaries; the schema fixes the order of every
aggregate's children and the maximum length of many strings.  This script
flattens the content model of the aggregates booksync uses (and everything
they contain) into two tables, so the product needs no XSD at run time.

Usage: python tools/gen_qbxml_schema.py tests/data/qbxml/13.0/qbxmlops130.xsd
"""
from __future__ import annotations

import pprint
import sys
from pathlib import Path

from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"

ROOTS = [
    "HostQueryRq", "HostQueryRs", "CompanyQueryRq", "CompanyQueryRs",
    "PreferencesQueryRq", "PreferencesQueryRs",
    "AccountQueryRq", "AccountQueryRs", "AccountAddRq", "AccountAddRs",
    "ItemQueryRq", "ItemQueryRs", "ItemServiceAddRq", "ItemServiceAddRs",
    "ItemServiceQueryRq", "ItemServiceQueryRs",
    "ItemNonInventoryAddRq", "ItemNonInventoryAddRs", "ItemOtherChargeAddRq", "ItemOtherChargeAddRs",
    "ItemGroupAddRq", "ItemGroupAddRs", "ClassQueryRq", "ClassQueryRs", "ClassAddRq", "ClassAddRs",
    "CustomerQueryRq", "CustomerQueryRs", "CustomerAddRq", "CustomerAddRs",
    "CustomerModRq", "CustomerModRs",
    "VendorQueryRq", "VendorQueryRs", "VendorAddRq", "VendorAddRs",
    "InvoiceQueryRq", "InvoiceQueryRs", "InvoiceAddRq", "InvoiceAddRs",
    "InvoiceModRq", "InvoiceModRs",
    "CreditMemoQueryRq", "CreditMemoQueryRs", "CreditMemoAddRq", "CreditMemoAddRs",
    "CreditMemoModRq", "CreditMemoModRs",
    "ReceivePaymentQueryRq", "ReceivePaymentQueryRs", "ReceivePaymentAddRq",
    "ReceivePaymentAddRs", "ReceivePaymentModRq", "ReceivePaymentModRs",
    "DepositQueryRq", "DepositQueryRs", "DepositAddRq", "DepositAddRs",
    "DepositModRq", "DepositModRs",
    "TxnDelRq", "TxnDelRs", "TxnVoidRq", "TxnVoidRs", "ListDelRq", "ListDelRs",
    "DataExtAddRq", "DataExtAddRs",
    "PaymentMethodQueryRq", "PaymentMethodQueryRs", "PaymentMethodAddRq", "PaymentMethodAddRs",
    "ReceivePaymentToDepositQueryRq", "ReceivePaymentToDepositQueryRs", "ListDelRq", "ListDelRs",
    "ListMergeRq", "ListMergeRs",
    "SalesReceiptQueryRq", "SalesReceiptQueryRs", "SalesReceiptAddRq", "SalesReceiptAddRs",
    "SalesReceiptModRq", "SalesReceiptModRs",
]


class Schema:
    def __init__(self, path: Path) -> None:
        self.elements: dict[str, etree._Element] = {}
        self.types: dict[str, etree._Element] = {}
        self.groups: dict[str, etree._Element] = {}
        self._load(path, set())

    def _load(self, path: Path, seen: set[Path]) -> None:
        if path in seen:
            return
        seen.add(path)
        root = etree.parse(str(path)).getroot()
        for child in root:
            if child.tag == XS + "include":
                self._load(path.parent / child.get("schemaLocation"), seen)
            elif child.tag == XS + "element":
                self.elements[child.get("name")] = child
            elif child.tag == XS + "complexType":
                self.types[child.get("name")] = child
            elif child.tag == XS + "group":
                self.groups[child.get("name")] = child

    def content(self, element: etree._Element):
        """Return (children, lengths) of an element declaration: ordered child
        declarations and the maxLength of simple children."""
        ctype = element.find(XS + "complexType")
        if ctype is None and element.get("type") in self.types:
            ctype = self.types[element.get("type")]
        if ctype is None:
            return None
        out: list[etree._Element] = []
        self._walk(ctype, out)
        return out

    def _walk(self, node, out):
        for child in node:
            tag = child.tag
            if tag == XS + "element":
                out.append(child)
            elif tag in (XS + "sequence", XS + "choice", XS + "all"):
                self._walk(child, out)
            elif tag == XS + "group":
                self._walk(self.groups[child.get("ref")], out)


def max_length(decl, schema) -> int | None:
    for r in decl.iter(XS + "maxLength"):
        return int(r.get("value"))
    return None


def enumeration(decl) -> tuple[str, ...] | None:
    values = tuple(e.get("value") for e in decl.iter(XS + "enumeration"))
    return values or None


def main(argv: list[str]) -> int:
    schema = Schema(Path(argv[0]).resolve())
    msgs = schema.elements["QBXMLMsgsRq"].find(XS + "complexType")
    msgs_rs = schema.elements["QBXMLMsgsRs"].find(XS + "complexType")
    local: dict[str, etree._Element] = {}
    for ct in (msgs, msgs_rs):
        for el in ct.iter(XS + "element"):
            if el.get("name"):
                local[el.get("name")] = el
    iterable = sorted(
        name for name, el in local.items()
        if name.endswith("QueryRq") and name in ROOTS
        and any(a.get("name") == "iterator"
                for a in schema.types[el.get("type")].iter(XS + "attribute")))
    order: dict[str, tuple[str, ...]] = {}
    lengths: dict[str, dict[str, int]] = {}
    enums: dict[str, dict[str, tuple[str, ...]]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in order:
            continue
        decl = local[name] if name in local else schema.elements.get(name)
        if decl is None:
            raise SystemExit(f"unknown element {name}")
        children = schema.content(decl)
        if children is None:
            continue
        names: list[str] = []
        for child in children:
            cname = child.get("ref") or child.get("name")
            if cname not in names:
                names.append(cname)
            values = enumeration(schema.elements[cname] if child.get("ref") else child)
            if values:
                enums.setdefault(name, {})[cname] = values
            if child.get("ref"):
                if schema.content(schema.elements[cname]) is not None:
                    todo.append(cname)
            else:
                limit = max_length(child, schema)
                if limit:
                    lengths.setdefault(name, {})[cname] = limit
                if child.get("type") in schema.types or child.find(XS + "complexType") is not None:
                    local.setdefault(cname, child)
                    todo.append(cname)
        order[name] = tuple(names)
    out = Path(__file__).resolve().parent.parent / "src/booksync/qbxml/schema.py"
    out.write_text(
        '"""Child order and string limits of the qbXML 13.0 aggregates booksync uses.\n\n'
        "Generated by ``tools/gen_qbxml_schema.py`` from Intuit's qbxmlops130.xsd; do not edit.\n"
        "ORDER maps an aggregate to its children in schema order (choices flattened);\n"
        'MAX_LENGTH maps an aggregate to {child: maximum characters}; ENUMS maps an\n'
        "aggregate to {child: the values the schema allows}; ITERABLE names the query\n"
        'requests that support iterators.\n"""\n\n'
        f"ORDER: dict[str, tuple[str, ...]] = {pprint.pformat(dict(sorted(order.items())), width=100)}\n\n"
        f"MAX_LENGTH: dict[str, dict[str, int]] = {pprint.pformat(dict(sorted(lengths.items())), width=100)}\n\n"
        f"ENUMS: dict[str, dict[str, tuple[str, ...]]] = {pprint.pformat(dict(sorted(enums.items())), width=100)}\n\n"
        "# Query requests that accept iterator=\"Start\"/\"Continue\".\n"
        f"ITERABLE: frozenset[str] = frozenset({pprint.pformat(iterable, width=100)})\n"
    )
    print(f"wrote {out}: {len(order)} aggregates")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
