"""The simulated company refuses over-long strings and unknown enumerated values as QuickBooks does (issue 17,
item 12 and the enum part of item 14).

Sources: qbxmlops130.xsd / qbxmlops130-annotated.xml (lengths, enumerations); a captured AccountAddRs with
statusCode 3070 'The string "a5ad6d73" in the field "AccountNumber" is too long.' (simulator/validation.py).
"""
from __future__ import annotations

import pytest

from booksync.qbxml import build
from booksync.errors import ConnectionFailure
from booksync.simulator.processor import Processor

from test_simulator import _ORIGINAL_PROCESS  # the processor without the schema guard

HRESULT_PARSE = 0x80040400


@pytest.fixture(autouse=True)
def unguarded(monkeypatch):
    """These requests break the XSD on purpose (its maxLength and enumerations), which the suite's guard
    would stop before QuickBooks' stand-in sees them."""
    monkeypatch.setattr(Processor, "process", _ORIGINAL_PROCESS)


@pytest.fixture
def dues(qb):
    return qb.add_item("Dues", "Membership Dues")


@pytest.fixture
def acme(qb):
    return qb.add_customer("Acme Widgets").findtext("ListID")


def test_a_42_character_customer_name_is_refused_with_3070_and_not_stored(qb):
    name = "N" * 42
    rs = qb.one("CustomerAdd", {"Name": name})
    assert rs.code == 3070
    assert rs.message == f'The string "{name}" in the field "Name" is too long.'
    assert qb.count("SELECT COUNT(*) FROM lists WHERE kind='Customer'") == 0
    assert qb.one("CustomerAdd", {"Name": "N" * 41}).code == 0


def test_a_12_character_invoice_ref_number_is_refused(qb, acme, dues):
    rs = qb.sales("Invoice", acme, "10.00", ref="R" * 12)
    assert rs.code == 3070
    assert rs.message == f'The string "{"R" * 12}" in the field "RefNumber" is too long.'
    assert qb.count("SELECT COUNT(*) FROM txns") == 0
    assert qb.sales("Invoice", acme, "10.00", ref="R" * 11).code == 0


def test_a_4096_character_memo_is_refused_on_a_mod_and_the_invoice_keeps_its_memo(qb, acme, dues):
    inv = qb.sales("Invoice", acme, "10.00", ref="INV1").raise_for_status().rets[0]
    rs = qb.one("InvoiceMod", {"TxnID": inv.findtext("TxnID"), "EditSequence": inv.findtext("EditSequence"),
                               "Memo": "m" * 4096})
    assert rs.code == 3070 and 'in the field "Memo" is too long.' in rs.message
    assert qb.txn("Invoice", inv.findtext("TxnID")).findtext("Memo") is None
    assert qb.one("InvoiceMod", {"TxnID": inv.findtext("TxnID"), "EditSequence": inv.findtext("EditSequence"),
                                 "Memo": "m" * 4095}).code == 0


def test_a_nested_field_is_checked_too(qb):
    """BillAddress/City allows 31 characters (CustomerAdd in qbxmlops130-annotated.xml)."""
    rs = qb.one("CustomerAdd", {"Name": "Acme", "BillAddress": {"City": "C" * 32}})
    assert rs.code == 3070 and '"City" is too long' in rs.message


def test_an_enum_value_outside_the_schema_fails_the_whole_message(qb, acme):
    """PaidStatus allows All, PaidOnly, NotPaidOnly (qbxml130.xsd): another value is a schema violation, and
    QuickBooks refuses the whole message (HRESULT 0x80040400) before processing any request."""
    message = build.message([build.request("CustomerAdd", {"Name": "Beta"}, 1),
                             build.request("InvoiceQuery", {"PaidStatus": "Unpaid"}, 2)])
    with pytest.raises(ConnectionFailure) as caught:
        qb.company.process(message)
    assert caught.value.hresult == HRESULT_PARSE
    assert caught.value.message == "QuickBooks found an error when parsing the provided XML text stream."
    assert "PaidStatus" in caught.value.advice
    assert qb.count("SELECT COUNT(*) FROM lists WHERE name='Beta'") == 0


@pytest.mark.parametrize("kind,body,table", [
    ("CustomerAdd", {"Name": "Acme:Gala"}, "Customer"),
    ("ClassAdd", {"Name": "Events:Gala"}, "Class"),
    ("ItemServiceAdd", {"Name": "Dues:Gold", "SalesOrPurchase": {"AccountRef": {"FullName": "Membership Dues"}}},
     "ItemService"),
])
def test_a_list_name_with_a_colon_is_refused_with_3020_and_not_stored(qb, dues, kind, body, table):
    """The colon separates a parent from its child in FullName; before, ClassAdd "Events:Gala" was stored as a
    class of Sublevel 1 with no parent (and an item likewise)."""
    before = qb.count(f"SELECT COUNT(*) FROM lists WHERE kind='{table}'")
    rs = qb.one(kind, body)
    assert rs.code == 3020 and "contains a colon" in rs.message, rs.message
    assert qb.count(f"SELECT COUNT(*) FROM lists WHERE kind='{table}'") == before
