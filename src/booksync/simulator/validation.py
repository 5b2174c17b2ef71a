"""What QuickBooks checks in a request before it looks at the company: enumerated values and string lengths.

* An enumerated element (``ENUMTYPE`` in qbxmlops130.xsd, e.g. PaidStatus, ActiveStatus, MatchCriterion,
  TxnDelType) holding a value the schema does not list makes the message invalid, as any other schema
  violation does: QuickBooks' request processor refuses the whole message before processing any request
  (HRESULT 0x80040400, reference/quickbooks-desktop.md §1 "Element order"; the enumerations are the XSD's,
  carried in :data:`booksync.qbxml.schema.ENUMS`).
* A string longer than the schema's ``maxLength`` for its field (qbxmlops130.xsd; the lengths are printed in
  qbxmlops130-annotated.xml, e.g. ``<Name>STRTYPE</Name> <!-- max length = 41 for QBD -->`` in CustomerAdd;
  carried in :data:`booksync.qbxml.schema.MAX_LENGTH`) is refused with statusCode 3070 and nothing of the
  request is stored. The message is QuickBooks' own: ``The string "a5ad6d73" in the field "AccountNumber" is
  too long.`` (a captured AccountAddRs with statusCode 3070 in the tests of a public Python Web Connector
  service, ``qbwc`` package, tests/test_parser.py; reference §9 lists 3070 as "string too long").
"""
from __future__ import annotations

from lxml import etree

from booksync.errors import ConnectionFailure
from booksync.qbxml.schema import ENUMS, MAX_LENGTH
from booksync.simulator.common import HRESULT_PARSE, PARSE_MESSAGE, Refusal


def check_enums(el: etree._Element) -> None:
    """Raise :class:`ConnectionFailure` (HRESULT 0x80040400) when an enumerated child of ``el``, at any depth,
    holds a value its schema does not allow."""
    allowed = ENUMS.get(el.tag, {})
    for child in el:
        if not isinstance(child.tag, str):
            continue
        values = allowed.get(child.tag)
        if values is not None and (child.text or "") not in values:
            raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE,
                                    f'<{child.tag}> in <{el.tag}> holds "{child.text or ""}", not one of the '
                                    f"values the schema allows ({', '.join(values)})")
        if len(child):
            check_enums(child)


def check_lengths(el: etree._Element) -> None:
    """Raise :class:`Refusal` 3070 for the first string child of ``el``, at any depth, longer than its field's
    maximum length."""
    limits = MAX_LENGTH.get(el.tag, {})
    for child in el:
        if not isinstance(child.tag, str):
            continue
        limit = limits.get(child.tag)
        value = child.text or ""
        if limit is not None and len(value) > limit:
            raise Refusal(3070, f'The string "{value}" in the field "{child.tag}" is too long.')
        if len(child):
            check_lengths(child)
