"""booksync.qbxml.build: request messages in schema order, ISO-8859-1, escaped, valid."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from booksync.qbxml import build
from booksync.qbxml.schema import ORDER

from conftest import assert_valid_qbxml

CUSTOMER_FIELDS = {
    "Name": "Smith & Sons Hardware",
    "IsActive": True,
    "CompanyName": "Smith & Sons Hardware",
    "FirstName": "Robert",
    "LastName": "Smith",
    "BillAddress": {"PostalCode": "45402", "City": "Dayton", "Addr1": "5359 Needmore Rd", "State": "OH"},
    "Phone": "(937) 555-4516",
    "Email": "billing@example.com",
    "AccountNumber": "1007",
    "ExternalGUID": "{6F1C3A52-9D1E-4F7B-8A2D-5B0C1E9A7D31}",
}


def child_tags(el: etree._Element) -> list[str]:
    return [c.tag for c in el]


def in_schema_order(el: etree._Element) -> bool:
    order = ORDER[el.tag]
    positions = [order.index(tag) for tag in child_tags(el)]
    return positions == sorted(positions)


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(CUSTOMER_FIELDS)), st.permutations(["PostalCode", "City", "Addr1", "State"]))
def test_children_come_out_in_schema_order_whatever_the_dict_order(keys, address_keys):
    """However the caller orders the dict, CustomerAdd and its BillAddress come out in the XSD's order."""
    fields = {k: CUSTOMER_FIELDS[k] for k in keys}
    fields["BillAddress"] = {k: CUSTOMER_FIELDS["BillAddress"][k] for k in address_keys}
    el = build.aggregate("CustomerAdd", fields)
    assert child_tags(el) == ["Name", "IsActive", "CompanyName", "FirstName", "LastName", "BillAddress", "Phone",
                              "Email", "AccountNumber", "ExternalGUID"]
    assert child_tags(el.find("BillAddress")) == ["Addr1", "City", "State", "PostalCode"]
    assert in_schema_order(el)


def test_reversed_invoice_with_lines_is_written_in_schema_order(qbxml_schema):
    """An InvoiceAdd given back to front (lines first) is written in schema order and validates."""
    body = {
        "InvoiceLineAdd": [{"Amount": "325.00", "Rate": "325", "Quantity": "1", "Desc": "Dues",
                            "ItemRef": {"ListID": "80000001-1"}}],
        "Memo": "2025 dues", "DueDate": dt.date(2025, 2, 1), "RefNumber": "INV10001",
        "TxnDate": dt.date(2025, 1, 2), "CustomerRef": {"FullName": "Smith & Sons Hardware"},
    }
    rq = build.request("InvoiceAdd", body, 7)
    inv = rq.find("InvoiceAdd")
    assert child_tags(inv) == ["CustomerRef", "TxnDate", "RefNumber", "DueDate", "Memo", "InvoiceLineAdd"]
    assert child_tags(inv.find("InvoiceLineAdd")) == ["ItemRef", "Desc", "Quantity", "Rate", "Amount"]
    assert rq.get("requestID") == "7"
    assert_valid_qbxml(qbxml_schema, build.message([rq]))


@pytest.mark.parametrize("name, fields", [
    ("CustomerAdd", {"Name": "x", "Nickname": "y"}),
    ("CustomerAdd", {"Name": "x", "BillAddress": {"Street": "1 Main St"}}),
    ("InvoiceAdd", {"CustomerRef": {"ListID": "1", "Name": "x"}}),
])
def test_unknown_child_raises_key_error(name, fields):
    """A child the schema does not allow raises KeyError naming it, even when nested."""
    with pytest.raises(KeyError, match="Nickname|Street|Name"):
        build.aggregate(name, fields)


def test_unknown_aggregate_raises_key_error():
    """Building an element the schema does not know raises KeyError."""
    with pytest.raises(KeyError, match="not a known qbXML aggregate"):
        build.aggregate("CustomerAddd", {"Name": "x"})


def test_message_is_iso_8859_1_with_the_qbxml_processing_instruction():
    """message() declares ISO-8859-1, carries <?qbxml version="13.0"?>, and encodes Latin-1 characters as
    single bytes; characters outside Latin-1 become character references."""
    data = build.message([build.request("CustomerAdd", {"Name": "Café Olé Dvořák"}, 1)])
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<?qbxml version="13.0"?>\n<QBXML>')
    assert b"Caf\xe9 Ol\xe9 Dvo&#345;\xe1k" in data
    root = etree.fromstring(data)
    assert root.findtext("QBXMLMsgsRq/CustomerAddRq/CustomerAdd/Name") == "Café Olé Dvořák"
    assert root.find("QBXMLMsgsRq").get("onError") == "stopOnError"
    pi = root.getprevious()
    assert isinstance(pi, etree._ProcessingInstruction) and pi.target == "qbxml" and pi.text == 'version="13.0"'


def test_special_characters_are_escaped_and_round_trip():
    """& < > in text and quotes in attributes are escaped; the parsed value is the original string."""
    name = 'Bits <&> Bytes "Computer" Repair'
    rq = build.request("CustomerQuery", {"FullName": name}, 'a"b')
    data = build.message([rq], on_error="continueOnError")
    assert b"Bits &lt;&amp;&gt; Bytes" in data
    assert b'requestID="a&quot;b"' in data
    assert b"<&>" not in data
    root = etree.fromstring(data)
    assert root.findtext("QBXMLMsgsRq/CustomerQueryRq/FullName") == name
    assert root.find("QBXMLMsgsRq/CustomerQueryRq").get("requestID") == 'a"b'


def test_leaf_values_are_formatted_for_qbxml():
    """Booleans are true/false, dates ISO, Decimals verbatim, None leaves the child out; floats are refused."""
    el = build.aggregate("InvoiceAdd", {"CustomerRef": {"ListID": "1"}, "TxnDate": dt.date(2025, 1, 2),
                                        "IsPending": False, "Memo": None,
                                        "InvoiceLineAdd": [{"Amount": Decimal("10.50")}]})
    assert el.findtext("TxnDate") == "2025-01-02"
    assert el.findtext("IsPending") == "false"
    assert el.find("Memo") is None
    assert el.findtext("InvoiceLineAdd/Amount") == "10.50"
    with pytest.raises(TypeError, match="float"):
        build.aggregate("InvoiceAdd", {"InvoiceLineAdd": [{"Amount": 10.5}]})


def test_ref_needs_an_id_or_a_name():
    """ref() prefers the ListID, falls back to FullName, and refuses neither."""
    assert build.ref("80000001-1", "ignored") == {"ListID": "80000001-1"}
    assert build.ref(None, "Checking") == {"FullName": "Checking"}
    with pytest.raises(ValueError):
        build.ref()


REQUESTS = [
    ("HostQuery", None, {}),
    ("CustomerQuery", {"MaxReturned": 500, "ActiveStatus": "All"}, {"iterator": "Start"}),
    ("CustomerQuery", {"MaxReturned": 500}, {"iterator": "Continue", "iteratorID": "{abc}"}),
    ("AccountQuery", {"ActiveStatus": "All"}, {}),
    ("CustomerAdd", CUSTOMER_FIELDS, {}),
    ("CustomerMod", {"EditSequence": "17", "Name": "New name", "ListID": "80000001-1"}, {}),
    ("ItemServiceAdd", {"SalesOrPurchase": {"AccountRef": {"ListID": "1"}, "Desc": "Dues"}, "Name": "4020 Dues"}, {}),
    ("PaymentMethodAdd", {"PaymentMethodType": "ECheck", "Name": "ACH"}, {}),
    ("ReceivePaymentAdd", {"CustomerRef": {"ListID": "1"}, "TotalAmount": "100.00", "TxnDate": dt.date(2025, 1, 5),
                           "DepositToAccountRef": {"FullName": "Undeposited Funds"},
                           "AppliedToTxnAdd": [{"SetCredit": [{"AppliedAmount": "20.00", "CreditTxnID": "9-1"}],
                                                "PaymentAmount": "80.00", "TxnID": "8-1"}]}, {}),
    ("TxnDel", {"TxnID": "8-1", "TxnDelType": "ReceivePayment"}, {}),
    ("TxnVoid", {"TxnID": "8-1", "TxnVoidType": "Invoice"}, {}),
]


@pytest.mark.parametrize("kind, body, attrs", REQUESTS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REQUESTS)])
def test_requests_validate_against_the_schema(qbxml_schema, kind, body, attrs):
    """Requests of every kind booksync sends validate against qbxmlops130.xsd."""
    assert_valid_qbxml(qbxml_schema, build.message([build.request(kind, body, 1, **attrs)]))


def test_the_validator_catches_out_of_order_children(qbxml_schema):
    """The suite's schema check is not a rubber stamp: children out of order fail it."""
    bad = (b'<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
           b"<CustomerAddRq><CustomerAdd><IsActive>true</IsActive><Name>x</Name></CustomerAdd></CustomerAddRq>"
           b"</QBXMLMsgsRq></QBXML>")
    with pytest.raises(AssertionError, match="does not validate"):
        assert_valid_qbxml(qbxml_schema, bad)
