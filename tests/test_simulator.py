"""The simulated QuickBooks Desktop company behaves as QuickBooks is documented to.

Every test talks qbXML to a fresh company in process; the autouse schema guard
validates each request and response.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from booksync.qbxml import build
from booksync.errors import (CannotModify, ClosedPeriod, ConnectionFailure, InvalidReference, InvalidValue,
                                   NameInUse, OutOfDate)
from booksync.qbxml.parse import parse_response
from booksync.simulator import InUse, open_company
from booksync.simulator.processor import Processor

from conftest import assert_valid_qbxml

_ORIGINAL_PROCESS = Processor.process  # captured at import, before the autouse guard wraps it

HRESULT_PARSE = 0x80040400
HRESULT_NOT_AUTHORIZED = 0x80040418


@pytest.fixture
def dues(qb):
    """A service item 'Dues' posting to Membership Dues."""
    return qb.add_item("Dues", "Membership Dues")


@pytest.fixture
def acme(qb):
    return qb.add_customer("Acme Widgets").findtext("ListID")


def txn_count(qb, txn_type: str) -> int:
    return qb.count("SELECT COUNT(*) FROM txns WHERE txn_type=?", txn_type)


# ---------------------------------------------------------------------- identifiers and edit sequences


def test_adds_assign_list_ids_and_txn_ids(qb, dues):
    """CustomerAdd returns a new ListID, InvoiceAdd a new TxnID; querying by them finds the same records."""
    a = qb.add_customer("Acme Widgets")
    b = qb.add_customer("Beta Books")
    ids = {a.findtext("ListID"), b.findtext("ListID")}
    assert len(ids) == 2 and all(ids)
    assert qb.customer(a.findtext("ListID")).findtext("Name") == "Acme Widgets"
    inv = qb.sales("Invoice", a.findtext("ListID"), "125.00").raise_for_status().rets[0]
    txn_id = inv.findtext("TxnID")
    assert txn_id and txn_id not in ids
    assert qb.txn("Invoice", txn_id).findtext("CustomerRef/ListID") == a.findtext("ListID")
    assert inv.findtext("Subtotal") == "125.00"


def test_customer_mod_changes_the_edit_sequence_and_refuses_a_stale_one(qb, acme):
    """CustomerMod with the current EditSequence succeeds and yields a new one; the old one then gets 3200."""
    first = qb.customer(acme).findtext("EditSequence")
    ret = qb.ok("CustomerMod", {"ListID": acme, "EditSequence": first, "Phone": "555-0100"})
    second = ret.findtext("EditSequence")
    assert second and second != first
    assert qb.customer(acme).findtext("Phone") == "555-0100"
    stale = qb.one("CustomerMod", {"ListID": acme, "EditSequence": first, "Phone": "555-0199"})
    assert stale.code == 3200
    assert isinstance(stale.error(), OutOfDate)
    current = qb.customer(acme)
    assert current.findtext("Phone") == "555-0100"
    assert current.findtext("EditSequence") == second


def test_invoice_mod_changes_the_edit_sequence_and_refuses_a_stale_one(qb, acme, dues):
    """InvoiceMod yields a new EditSequence; the old one is then refused with 3200 and the invoice keeps the accepted
    change."""
    inv = qb.sales("Invoice", acme, "100.00").raise_for_status().rets[0]
    txn_id, first = inv.findtext("TxnID"), inv.findtext("EditSequence")
    ret = qb.ok("InvoiceMod", {"TxnID": txn_id, "EditSequence": first, "Memo": "changed"})
    assert ret.findtext("EditSequence") != first
    stale = qb.one("InvoiceMod", {"TxnID": txn_id, "EditSequence": first, "Memo": "stale"})
    assert stale.code == 3200 and isinstance(stale.error(), OutOfDate)
    assert qb.txn("Invoice", txn_id).findtext("Memo") == "changed"


# ---------------------------------------------------------------------- names and references


@pytest.mark.parametrize("second", ["Acme Widgets", "ACME WIDGETS", "acme widgets"])
def test_duplicate_customer_name_is_refused_case_insensitively(qb, second):
    """A second customer with the same name, in any letter case, is refused with 3100 and not created."""
    qb.add_customer("Acme Widgets")
    rs = qb.one("CustomerAdd", {"Name": second})
    assert rs.code == 3100 and isinstance(rs.error(), NameInUse)
    assert qb.count("SELECT COUNT(*) FROM lists WHERE kind='Customer'") == 1


def test_customer_name_clashing_with_a_vendor_is_refused(qb):
    """Names are unique across customers and vendors: a new company's vendor blocks the same customer name."""
    vendors = [r.findtext("Name") for r in qb.one("VendorQuery").rets]
    assert "Riverside Office Supply" in vendors
    rs = qb.one("CustomerAdd", {"Name": "RIVERSIDE office supply"})
    assert rs.code == 3100 and isinstance(rs.error(), NameInUse)
    assert qb.count("SELECT COUNT(*) FROM lists WHERE kind='Customer'") == 0


def test_invoice_for_an_unknown_customer_is_refused(qb, dues):
    """InvoiceAdd naming a customer that does not exist is refused with 3140; no invoice is written."""
    rs = qb.sales("Invoice", "DEADBEEF-1234567890", "10.00")
    assert rs.code == 3140 and isinstance(rs.error(), InvalidReference)
    assert txn_count(qb, "Invoice") == 0


def test_invoice_for_an_inactive_customer_is_refused(qb, dues):
    """InvoiceAdd for an inactive customer is refused with 3140 ('inactive'); no invoice is written."""
    gone = qb.add_customer("Lapsed Member", IsActive=False).findtext("ListID")
    rs = qb.sales("Invoice", gone, "10.00")
    assert rs.code == 3140 and isinstance(rs.error(), InvalidReference)
    assert "inactive" in rs.message
    assert txn_count(qb, "Invoice") == 0


def test_payment_deposited_to_an_income_account_is_refused(qb, acme):
    """A payment whose DepositToAccountRef is an Income account is refused with 3140 and not written."""
    rs = qb.payment(acme, "50.00", deposit_to="Membership Dues")
    assert rs.code == 3140 and isinstance(rs.error(), InvalidReference)
    assert txn_count(qb, "ReceivePayment") == 0


def test_payment_without_deposit_account_lands_in_undeposited_funds(qb, acme):
    """Without DepositToAccountRef a payment goes to Undeposited Funds, whose balance then holds it."""
    ret = qb.payment(acme, "50.00").raise_for_status().rets[0]
    assert ret.findtext("DepositToAccountRef/FullName") == "Undeposited Funds"
    (uf,) = qb.one("AccountQuery", {"FullName": "Undeposited Funds"}).rets
    assert uf.findtext("Balance") == "50.00"
    (checking,) = qb.one("AccountQuery", {"FullName": "Checking"}).rets
    assert checking.findtext("Balance") == "0.00"


def test_payment_to_a_bank_account_is_accepted(qb, acme):
    """A payment may be deposited straight to a Bank account."""
    ret = qb.payment(acme, "75.00", deposit_to="Checking").raise_for_status().rets[0]
    assert ret.findtext("DepositToAccountRef/ListID") == qb.account_id("Checking")


def test_application_above_the_open_balance_is_refused(qb, acme, dues):
    """Applying more than an invoice's open balance is refused with 3210 and nothing is written; applying exactly the
    balance pays it."""
    inv = qb.sales("Invoice", acme, "100.00").raise_for_status().rets[0]
    txn_id = inv.findtext("TxnID")
    rs = qb.payment(acme, "150.00", [{"TxnID": txn_id, "PaymentAmount": "150.00"}])
    assert rs.code == 3210 and isinstance(rs.error(), InvalidValue)
    assert txn_count(qb, "ReceivePayment") == 0
    assert qb.txn("Invoice", txn_id).findtext("BalanceRemaining") == "100.00"
    paid = qb.payment(acme, "100.00", [{"TxnID": txn_id, "PaymentAmount": "100.00"}]).raise_for_status()
    assert paid.rets[0].findtext("AppliedToTxnRet/Amount") == "100.00"
    assert qb.txn("Invoice", txn_id).findtext("IsPaid") == "true"


def test_closing_date_refuses_adds_dated_on_or_before_it(qb, acme, dues):
    """With a closing date set, an invoice dated on or before it gets 3171; the day after is accepted."""
    qb.company.set_meta("closing_date", "2025-06-30")
    (prefs,) = qb.one("PreferencesQuery").rets
    assert prefs.findtext("AccountingPreferences/ClosingDate") == "2025-06-30"
    for date in ("2025-06-30", "2024-12-31"):
        rs = qb.sales("Invoice", acme, "10.00", date=date)
        assert rs.code == 3171 and isinstance(rs.error(), ClosedPeriod), date
    assert qb.payment(acme, "10.00", date="2025-06-01").code == 3171
    assert txn_count(qb, "Invoice") == 0 and txn_count(qb, "ReceivePayment") == 0
    qb.sales("Invoice", acme, "10.00", date="2025-07-01").raise_for_status()
    assert txn_count(qb, "Invoice") == 1


# ---------------------------------------------------------------------- message level


@pytest.mark.invalid_qbxml_request
def test_children_out_of_order_fail_the_whole_message(qb):
    """QuickBooks rejects a message whose elements are out of schema order with HRESULT 0x80040400,
    and processes none of its requests."""
    message = (b'<?xml version="1.0" encoding="ISO-8859-1"?><?qbxml version="13.0"?><QBXML>'
               b'<QBXMLMsgsRq onError="continueOnError">'
               b'<CustomerAddRq requestID="1"><CustomerAdd><Name>Good One</Name></CustomerAdd></CustomerAddRq>'
               b'<CustomerAddRq requestID="2"><CustomerAdd><IsActive>true</IsActive><Name>Bad Order</Name>'
               b"</CustomerAdd></CustomerAddRq></QBXMLMsgsRq></QBXML>")
    with pytest.raises(ConnectionFailure) as raised:
        qb.company.process(message)
    assert raised.value.hresult == HRESULT_PARSE
    assert qb.count("SELECT COUNT(*) FROM lists WHERE kind='Customer'") == 0


@pytest.mark.invalid_qbxml_request
def test_iterator_on_a_query_that_does_not_support_it_fails(qb):
    """AccountQuery has no iterator in qbXML: asking for one is a parse failure (0x80040400)."""
    with pytest.raises(ConnectionFailure) as raised:
        qb.company.process(build.message([build.request("AccountQuery", None, 1, iterator="Start")]))
    assert raised.value.hresult == HRESULT_PARSE


def test_customer_query_iterator_pages_with_remaining_count(qb):
    """iterator=Start/Continue returns pages of MaxReturned with iteratorRemainingCount, covering every
    customer exactly once, in name order."""
    names = [f"Member {n:02d}" for n in range(1, 8)]
    for name in reversed(names):
        qb.add_customer(name)
    first = qb.one("CustomerQuery", {"MaxReturned": 3}, iterator="Start").raise_for_status()
    assert (len(first.rets), first.remaining) == (3, 4) and first.iterator_id
    pages, rs = [first], first
    while rs.remaining:
        rs = qb.one("CustomerQuery", {"MaxReturned": 3}, iterator="Continue",
                    iteratorID=first.iterator_id).raise_for_status()
        assert rs.iterator_id == first.iterator_id
        pages.append(rs)
    assert [(len(p.rets), p.remaining) for p in pages] == [(3, 4), (3, 1), (1, 0)]
    assert [r.findtext("Name") for p in pages for r in p.rets] == names


def test_stop_on_error_stops_after_the_first_failure_and_keeps_earlier_requests(qb):
    """stopOnError: no response after the failed request; the request before it stays committed."""
    rs = qb.send(build.request("CustomerAdd", {"Name": "First"}, 1),
                 build.request("CustomerAdd", {"Name": "first"}, 2),
                 build.request("CustomerAdd", {"Name": "Third"}, 3), on_error="stopOnError")
    assert [(r.request_id, r.code) for r in rs] == [("1", 0), ("2", 3100)]
    names = {r.findtext("Name") for r in qb.one("CustomerQuery").rets}
    assert names == {"First"}


def test_continue_on_error_processes_the_rest(qb):
    """continueOnError answers every request: the failed one in the middle does not stop the third."""
    rs = qb.send(build.request("CustomerAdd", {"Name": "First"}, 1),
                 build.request("CustomerAdd", {"Name": "first"}, 2),
                 build.request("CustomerAdd", {"Name": "Third"}, 3), on_error="continueOnError")
    assert [(r.request_id, r.code) for r in rs] == [("1", 0), ("2", 3100), ("3", 0)]
    names = {r.findtext("Name") for r in qb.one("CustomerQuery").rets}
    assert names == {"First", "Third"}


def test_a_processing_instruction_between_requests_is_ignored(qb):
    """XML processing instructions are not requests: a schema-valid message holding one is answered normally."""
    message = (b'<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
               b'<?note sent by a test?><HostQueryRq requestID="1"/></QBXMLMsgsRq></QBXML>')
    (rs,) = parse_response(qb.company.process(message))
    assert rs.kind == "HostQuery" and rs.code == 0


# ---------------------------------------------------------------------- deposits, deletes and voids


def test_a_deposited_payment_cannot_be_deleted(qb, acme):
    """A payment inside a deposit refuses TxnDel (CannotModify) and stays; an undeposited one can be deleted."""
    held = qb.payment(acme, "60.00").raise_for_status().rets[0].findtext("TxnID")
    free = qb.payment(acme, "40.00").raise_for_status().rets[0].findtext("TxnID")
    deposit = qb.ok("DepositAdd", {"TxnDate": "2025-03-20", "DepositToAccountRef": {"FullName": "Checking"},
                                   "DepositLineAdd": [{"PaymentTxnID": held}]})
    assert deposit.findtext("DepositTotal") == "60.00"
    rs = qb.one("TxnDel", {"TxnDelType": "ReceivePayment", "TxnID": held})
    assert rs.code == 3160 and isinstance(rs.error(), CannotModify)
    assert qb.txn("ReceivePayment", held) is not None
    qb.one("TxnDel", {"TxnDelType": "ReceivePayment", "TxnID": free}).raise_for_status()
    assert qb.txn("ReceivePayment", free) is None


def test_a_deposited_payment_cannot_be_changed(qb, acme):
    """A payment inside a deposit refuses changes (3170, CannotModify) until it is removed from the deposit."""
    pid = qb.payment(acme, "60.00").raise_for_status().rets[0]
    txn_id = pid.findtext("TxnID")
    qb.ok("DepositAdd", {"TxnDate": "2025-03-20", "DepositToAccountRef": {"FullName": "Checking"},
                         "DepositLineAdd": [{"PaymentTxnID": txn_id}]})
    seq = qb.txn("ReceivePayment", txn_id).findtext("EditSequence")
    rs = qb.one("ReceivePaymentMod", {"TxnID": txn_id, "EditSequence": seq, "TotalAmount": "65.00"})
    assert rs.code == 3170 and isinstance(rs.error(), CannotModify)
    rs = qb.one("ReceivePaymentMod", {"TxnID": txn_id, "EditSequence": seq, "Memo": "check 1042"})
    assert rs.code == 3170 and isinstance(rs.error(), CannotModify)
    after = qb.txn("ReceivePayment", txn_id)
    assert after.findtext("TotalAmount") == "60.00" and after.findtext("Memo") is None
    assert after.findtext("EditSequence") == seq


def test_an_invoice_cannot_shrink_below_what_is_applied_to_it(qb, acme, dues):
    """InvoiceMod whose new lines total less than the payments applied is refused with 3210."""
    inv = qb.sales("Invoice", acme, "100.00").raise_for_status().rets[0]
    txn_id = inv.findtext("TxnID")
    qb.payment(acme, "80.00", [{"TxnID": txn_id, "PaymentAmount": "80.00"}]).raise_for_status()
    seq = qb.txn("Invoice", txn_id).findtext("EditSequence")
    rs = qb.one("InvoiceMod", {"TxnID": txn_id, "EditSequence": seq,
                               "InvoiceLineMod": [{"TxnLineID": "-1", "ItemRef": {"FullName": "Dues"},
                                                   "Amount": "50.00"}]})
    assert rs.code == 3210 and isinstance(rs.error(), InvalidValue)
    assert qb.txn("Invoice", txn_id).findtext("Subtotal") == "100.00"


def test_voiding_an_invoice_sets_its_amount_to_zero(qb, acme, dues):
    """TxnVoid of an invoice sets its total, balance and line amounts to 0 and clears the customer's balance."""
    inv = qb.sales("Invoice", acme, "250.00").raise_for_status().rets[0].findtext("TxnID")
    assert qb.customer(acme).findtext("Balance") == "250.00"
    qb.one("TxnVoid", {"TxnVoidType": "Invoice", "TxnID": inv}).raise_for_status()
    (ret,) = qb.one("InvoiceQuery", {"TxnID": inv, "IncludeLineItems": True}).rets
    assert ret.findtext("Subtotal") == "0.00"
    assert ret.findtext("BalanceRemaining") == "0.00"
    assert [line.findtext("Amount") for line in ret.findall("InvoiceLineRet")] == ["0.00"]
    assert qb.customer(acme).findtext("Balance") == "0.00"


def test_customer_balance_is_invoices_minus_credit_memos_minus_payments(qb, acme, dues):
    """CustomerRet/Balance (and A/R) = invoices - credit memos - payments, including an unapplied payment."""
    inv = qb.sales("Invoice", acme, "500.00", ref="INV1").raise_for_status().rets[0].findtext("TxnID")
    qb.sales("Invoice", acme, "75.25", ref="INV2").raise_for_status()
    cm = qb.sales("CreditMemo", acme, "100.00", ref="CM1").raise_for_status().rets[0].findtext("TxnID")
    qb.payment(acme, "150.00", [{"TxnID": inv, "PaymentAmount": "150.00",
                                 "SetCredit": [{"CreditTxnID": cm, "AppliedAmount": "100.00"}]}]).raise_for_status()
    qb.payment(acme, "20.00").raise_for_status()
    assert qb.customer(acme).findtext("Balance") == "305.25"  # 500 + 75.25 - 100 - 150 - 20
    (ar,) = qb.one("AccountQuery", {"FullName": "Accounts Receivable"}).rets
    assert ar.findtext("Balance") == "305.25"
    assert qb.txn("Invoice", inv).findtext("BalanceRemaining") == "250.00"


@pytest.mark.parametrize("kind", ["TxnDel", "TxnVoid"])
def test_txn_del_and_void_responses_validate(qb, acme, dues, qbxml_schema, kind):
    """A successful TxnDel / TxnVoid response validates against qbxmlops130.xsd."""
    inv = qb.sales("Invoice", acme, "10.00").raise_for_status().rets[0].findtext("TxnID")
    request = build.request(kind, {f"{kind}Type": "Invoice", "TxnID": inv}, 1)
    response = _unguarded_process(qb, build.message([request]))
    (rs,) = parse_response(response)
    assert rs.code == 0
    assert_valid_qbxml(qbxml_schema, response, f"{kind} response")


def _unguarded_process(qb, message: bytes) -> bytes:
    """Send a message past the autouse guard (to assert on the raw response ourselves)."""
    return _ORIGINAL_PROCESS(qb.company.processor, message)


# ---------------------------------------------------------------------- sessions


def test_second_open_of_the_same_company_is_in_use(company_path: Path):
    """One process at a time: a second open gets InUse ('being used by another process') until the first closes."""
    with open_company(company_path):
        with pytest.raises(InUse) as raised:
            open_company(company_path)
        assert "being used by another process" in raised.value.message
        assert raised.value.advice
    with open_company(company_path) as again:
        assert again.meta("company_name") == "Test Chamber"


def test_unauthorized_application_cannot_connect(company_path: Path):
    """An application the company has not authorized gets HRESULT 0x80040418; once authorized it connects."""
    with pytest.raises(ConnectionFailure) as raised:
        open_company(company_path, app_name="SomeOtherApp")
    assert raised.value.hresult == HRESULT_NOT_AUTHORIZED
    assert "SomeOtherApp" in raised.value.message
    with open_company(company_path, app_name="booksync") as company:
        company.authorize("SomeOtherApp")
    with open_company(company_path, app_name="SomeOtherApp") as company:
        (rs,) = parse_response(company.process(build.message([build.request("CompanyQuery", None, 1)])))
        assert rs.rets[0].findtext("CompanyName") == "Test Chamber"


def test_missing_company_file_is_a_connection_failure(tmp_path: Path):
    """Opening a company file that does not exist is a ConnectionFailure saying so."""
    with pytest.raises(ConnectionFailure, match="does not exist"):
        open_company(tmp_path / "nowhere.qbsim")


def test_the_guard_validates_what_the_simulator_receives(qb, qbxml_guard):
    """The suite's in-process guard really checks requests: an out-of-order message is caught before
    QuickBooks sees it, and valid traffic is counted."""
    qb.one("HostQuery")
    assert qbxml_guard.requests == 1 and qbxml_guard.responses == 1
    bad = (b'<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
           b"<CustomerAddRq><CustomerAdd><IsActive>true</IsActive><Name>x</Name></CustomerAdd></CustomerAddRq>"
           b"</QBXMLMsgsRq></QBXML>")
    with pytest.raises(AssertionError, match="does not validate"):
        qb.company.process(bad)
    assert len(qbxml_guard.violations) == 1
    qbxml_guard.violations.clear()
