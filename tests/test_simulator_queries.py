"""The simulated company honours or refuses each query filter, as QuickBooks does (issue 17, item 14).

Sources: Intuit's qbXML 13.0 schema and its annotated sample (qbxmlops130-annotated.xml, InvoiceQueryRq,
ReceivePaymentToDepositQueryRq), Intuit's OSR, and reference/quickbooks-desktop.md. The autouse schema guard
validates every request and response.
"""
from __future__ import annotations

import pytest


@pytest.fixture
def dues(qb):
    return qb.add_item("Dues", "Membership Dues")


@pytest.fixture
def acme(qb):
    return qb.add_customer("Acme Widgets").findtext("ListID")


def _invoice(qb, customer, amount, ref):
    return qb.sales("Invoice", customer, amount, ref=ref).raise_for_status().rets[0].findtext("TxnID")


def test_include_linked_txns_lists_payments_and_credits_applied_to_an_invoice(qb, acme, dues):
    """IncludeLinkedTxns=true adds a LinkedTxn per payment and per credit memo applied (amounts negative);
    without it no LinkedTxn comes back."""
    inv = _invoice(qb, acme, "100.00", "INV1")
    cm = qb.sales("CreditMemo", acme, "30.00", ref="CM1").raise_for_status().rets[0].findtext("TxnID")
    pay = qb.payment(acme, "50.00", [{"TxnID": inv, "PaymentAmount": "50.00",
                                      "SetCredit": [{"CreditTxnID": cm, "AppliedAmount": "30.00"}]}])
    pay_id = pay.raise_for_status().rets[0].findtext("TxnID")
    ret = qb.ok("InvoiceQuery", {"TxnID": inv, "IncludeLinkedTxns": True})
    links = [(e.findtext("TxnID"), e.findtext("TxnType"), e.findtext("LinkType"), e.findtext("Amount"))
             for e in ret.findall("LinkedTxn")]
    assert sorted(links) == sorted([(pay_id, "ReceivePayment", "AMTTYPE", "-50.00"),
                                    (cm, "CreditMemo", "AMTTYPE", "-30.00")])
    assert ret.findtext("BalanceRemaining") == "20.00"
    assert qb.ok("InvoiceQuery", {"TxnID": inv}).find("LinkedTxn") is None
    credit = qb.ok("CreditMemoQuery", {"TxnID": cm, "IncludeLinkedTxns": True})
    assert [(e.findtext("TxnID"), e.findtext("TxnType"), e.findtext("Amount"))
            for e in credit.findall("LinkedTxn")] == [(inv, "Invoice", "30.00")]


# ---------------------------------------------------------------------- not found (item 13)

UNKNOWN_LIST_ID = "80000999-1234567890"


def test_a_query_by_an_unknown_list_id_is_refused_with_3120_and_returns_nothing(qb, acme):
    """Captured: CustomerQueryRs statusCode 3120 'Object "8000001B-1405768916" specified in the request cannot be
    found.  QuickBooks error message: Invalid argument.  The specified record does not exist in the list.'
    (qbwc/qbwc spec/session_spec.rb). Nothing is returned, not even the customer that exists."""
    rs = qb.one("CustomerQuery", {"ListID": [acme, UNKNOWN_LIST_ID]})
    assert rs.code == 3120 and rs.severity == "Error"
    assert rs.message == (f'Object "{UNKNOWN_LIST_ID}" specified in the request cannot be found.  QuickBooks error '
                          "message: Invalid argument.  The specified record does not exist in the list.")
    assert rs.rets == []


def test_a_query_by_an_unknown_full_name_warns_500_and_returns_nothing(qb, acme):
    """Captured: CustomerQueryRs statusCode 500 (Warn) 'The query request has not been fully completed. There was
    a required element ("bleech") that could not be found in QuickBooks.'"""
    rs = qb.one("CustomerQuery", {"FullName": ["Acme Widgets", "bleech"]})
    assert (rs.code, rs.severity) == (500, "Warn")
    assert rs.message == ('The query request has not been fully completed. There was a required element ("bleech") '
                          "that could not be found in QuickBooks.")
    assert rs.rets == []
    assert len(qb.one("CustomerQuery", {"FullName": ["acme widgets"]}).rets) == 1


@pytest.mark.parametrize("key", ["TxnID", "RefNumber"])
def test_a_transaction_query_naming_one_unknown_txn_warns_500_and_returns_nothing(qb, acme, dues, key):
    """A lookup by TxnID or RefNumber naming a transaction QuickBooks lacks: 500 (Warn), no partial result."""
    inv = qb.sales("Invoice", acme, "10.00", ref="INV1").raise_for_status().rets[0]
    known = inv.findtext("TxnID") if key == "TxnID" else "INV1"
    rs = qb.one("InvoiceQuery", {key: [known, "NOPE-1"]})
    assert (rs.code, rs.severity, rs.rets) == (500, "Warn", [])
    assert '("NOPE-1") that could not be found in QuickBooks.' in rs.message
    assert len(qb.one("InvoiceQuery", {key: [known]}).rets) == 1


def test_a_customer_without_transactions_can_be_deleted_one_with_transactions_cannot(qb, acme, dues):
    unused = qb.add_customer("Unused Co").findtext("ListID")
    assert qb.one("ListDel", {"ListDelType": "Customer", "ListID": unused}).code == 0
    assert qb.one("CustomerQuery", {"ListID": unused}).code == 3120
    qb.sales("Invoice", acme, "10.00", ref="INV1").raise_for_status()
    refused = qb.one("ListDel", {"ListDelType": "Customer", "ListID": acme})
    assert refused.code == 3160
    assert refused.message == ('The customer "Acme Widgets" cannot be deleted because it is used in 1 '
                               "transaction(s). Make it inactive, or merge it into another customer.")
    assert qb.one("CustomerQuery", {"ListID": acme}).code == 0


def test_merging_a_customer_moves_its_transactions_and_removes_it(qb, acme, dues):
    inv = qb.sales("Invoice", acme, "10.00", ref="INV1").raise_for_status().rets[0].findtext("TxnID")
    other = qb.add_customer("Acme Holdings")
    source = qb.customer(acme)
    stale = qb.one("ListMerge", {"ListMergeType": "Customer",
                                 "MergeFrom": {"ListID": acme, "EditSequence": "1"},
                                 "MergeTo": {"ListID": other.findtext("ListID"),
                                             "EditSequence": other.findtext("EditSequence")}})
    assert stale.code == 3200
    qb.one("ListMerge", {"ListMergeType": "Customer",
                         "MergeFrom": {"ListID": acme, "EditSequence": source.findtext("EditSequence")},
                         "MergeTo": {"ListID": other.findtext("ListID"),
                                     "EditSequence": other.findtext("EditSequence")}}).raise_for_status()
    assert qb.one("CustomerQuery", {"ListID": acme}).code == 3120
    assert qb.txn("Invoice", inv).findtext("CustomerRef/ListID") == other.findtext("ListID")


# ---------------------------------------------------------------------- filters honoured (item 14)


def _refs(rs):
    return sorted(r.findtext("RefNumber") for r in rs.raise_for_status().rets)


def test_paid_status_counts_a_partly_paid_invoice_as_not_paid(qb, acme, dues):
    """PaidStatus: PaidOnly / NotPaidOnly (qbxml130.xsd); a partly paid invoice has a balance, so it is NotPaid."""
    paid, part, open_ = (_invoice(qb, acme, "100.00", ref) for ref in ("PAID", "PART", "OPEN"))
    qb.payment(acme, "140.00", [{"TxnID": paid, "PaymentAmount": "100.00"},
                                {"TxnID": part, "PaymentAmount": "40.00"}]).raise_for_status()
    assert _refs(qb.one("InvoiceQuery", {"PaidStatus": "PaidOnly"})) == ["PAID"]
    assert _refs(qb.one("InvoiceQuery", {"PaidStatus": "NotPaidOnly"})) == ["OPEN", "PART"]
    assert _refs(qb.one("InvoiceQuery", {"PaidStatus": "All"})) == ["OPEN", "PAID", "PART"]


def test_ref_number_filter_and_range(qb, acme, dues):
    for ref in ("INV-100", "INV-200", "CM-100X"):
        _invoice(qb, acme, "1.00", ref)
    assert _refs(qb.one("InvoiceQuery", {"RefNumberFilter": {"MatchCriterion": "StartsWith", "RefNumber": "inv"}})) \
        == ["INV-100", "INV-200"]
    assert _refs(qb.one("InvoiceQuery", {"RefNumberFilter": {"MatchCriterion": "Contains", "RefNumber": "100"}})) \
        == ["CM-100X", "INV-100"]
    assert _refs(qb.one("InvoiceQuery", {"RefNumberFilter": {"MatchCriterion": "EndsWith", "RefNumber": "00"}})) \
        == ["INV-100", "INV-200"]
    assert _refs(qb.one("InvoiceQuery", {"RefNumberRangeFilter": {"FromRefNumber": "INV-150",
                                                                   "ToRefNumber": "INV-300"}})) == ["INV-200"]
    assert _refs(qb.one("InvoiceQuery", {"RefNumber": ["inv-100"]})) == ["INV-100"]
    assert qb.one("InvoiceQuery", {"RefNumberCaseSensitive": ["inv-100"]}).code == 500


def test_account_filter_with_children_and_deposit_accounts(qb, acme):
    qb.add_item("Dues", "Membership Dues:Individual")
    qb.add_item("Events", "Events")
    _invoice(qb, acme, "10.00", "DUES")
    qb.one("InvoiceAdd", {"CustomerRef": {"ListID": acme}, "TxnDate": "2025-03-01", "RefNumber": "EVT",
                          "InvoiceLineAdd": [{"ItemRef": {"FullName": "Events"}, "Amount": "5.00"}]}
           ).raise_for_status()
    assert _refs(qb.one("InvoiceQuery", {"AccountFilter": {"FullNameWithChildren": "Membership Dues"}})) == ["DUES"]
    assert qb.one("InvoiceQuery", {"AccountFilter": {"FullName": "Membership Dues"}}).code == 1
    assert _refs(qb.one("InvoiceQuery", {"AccountFilter": {"FullName": "Accounts Receivable"}})) == ["DUES", "EVT"]
    qb.one("ReceivePaymentAdd", {"CustomerRef": {"ListID": acme}, "TxnDate": "2025-03-15", "RefNumber": "CHK",
                                 "TotalAmount": "1.00", "DepositToAccountRef": {"FullName": "Checking"},
                                 "IsAutoApply": False}).raise_for_status()
    qb.one("ReceivePaymentAdd", {"CustomerRef": {"ListID": acme}, "TxnDate": "2025-03-15", "RefNumber": "UF",
                                 "TotalAmount": "2.00", "IsAutoApply": False}).raise_for_status()
    assert _refs(qb.one("ReceivePaymentQuery", {"AccountFilter": {"FullName": "Checking"}})) == ["CHK"]
    assert _refs(qb.one("ReceivePaymentQuery", {"AccountFilter": {"FullName": "Undeposited Funds"}})) == ["UF"]


def test_entity_filter_with_children_includes_jobs(qb, acme, dues):
    """A job (sub-customer) is added with ParentRef; EntityFilter/ListIDWithChildren covers the customer and its
    jobs, ListID the customer alone."""
    job = qb.ok("CustomerAdd", {"Name": "Annual Gala", "ParentRef": {"ListID": acme}, "JobStatus": "InProgress"})
    assert (job.findtext("FullName"), job.findtext("Sublevel"), job.findtext("JobStatus")) == \
        ("Acme Widgets:Annual Gala", "1", "InProgress")
    assert job.findtext("ParentRef/ListID") == acme
    other = qb.add_customer("Beta Books").findtext("ListID")
    _invoice(qb, acme, "1.00", "ACME")
    _invoice(qb, job.findtext("ListID"), "2.00", "GALA")
    _invoice(qb, other, "3.00", "BETA")
    assert _refs(qb.one("InvoiceQuery", {"EntityFilter": {"ListIDWithChildren": acme}})) == ["ACME", "GALA"]
    assert _refs(qb.one("InvoiceQuery", {"EntityFilter": {"FullNameWithChildren": "acme widgets"}})) == \
        ["ACME", "GALA"]
    assert _refs(qb.one("InvoiceQuery", {"EntityFilter": {"ListID": [acme]}})) == ["ACME"]
    assert _refs(qb.one("InvoiceQuery", {"EntityFilter": {"FullName": ["Beta Books", "Acme Widgets:Annual Gala"]}})) \
        == ["BETA", "GALA"]


def test_payments_to_deposit_are_those_waiting_in_undeposited_funds(qb, acme):
    """ReceivePaymentToDepositQuery lists payments in Undeposited Funds that no deposit holds."""
    assert qb.one("ReceivePaymentToDepositQuery").code == 1
    ids = {}
    for ref, to in (("R1", None), ("R2", None), ("R3", "Checking")):
        ids[ref] = qb.one("ReceivePaymentAdd", {
            "CustomerRef": {"ListID": acme}, "TxnDate": "2025-03-15", "RefNumber": ref, "TotalAmount": "5.00",
            "DepositToAccountRef": {"FullName": to} if to else None, "IsAutoApply": False}
        ).raise_for_status().rets[0].findtext("TxnID")
    qb.one("DepositAdd", {"TxnDate": "2025-03-20", "DepositToAccountRef": {"FullName": "Checking"},
                          "DepositLineAdd": [{"PaymentTxnID": ids["R1"]}]}).raise_for_status()
    (ret,) = qb.one("ReceivePaymentToDepositQuery").raise_for_status().rets
    assert (ret.findtext("TxnID"), ret.findtext("TxnType"), ret.findtext("RefNumber"), ret.findtext("Amount"),
            ret.findtext("CustomerRef/ListID")) == (ids["R2"], "ReceivePayment", "R2", "5.00", acme)


def test_an_unknown_or_stopped_iterator_is_refused_with_3391(qb):
    """Captured: '3391: The iteratorID "{dbd52aaa-...}" is not valid.' (consolibyte/quickbooks-php #183)."""
    for n in range(3):
        qb.add_customer(f"C{n}")
    bogus = "{dbd52aaa-a295-4d15-b675-fafa0f49fcf8}"
    rs = qb.one("CustomerQuery", {"MaxReturned": 1}, iterator="Continue", iteratorID=bogus)
    assert (rs.code, rs.message) == (3391, f'The iteratorID "{bogus}" is not valid.')
    start = qb.one("CustomerQuery", {"MaxReturned": 1}, iterator="Start").raise_for_status()
    assert start.remaining == 2
    stop = qb.one("CustomerQuery", {}, iterator="Stop", iteratorID=start.iterator_id)
    assert stop.code == 0
    assert qb.one("CustomerQuery", {"MaxReturned": 1}, iterator="Continue",
                  iteratorID=start.iterator_id).code == 3391


def test_an_iterator_does_not_outlive_its_session(company_path):
    from booksync.qbxml.parse import parse_response
    from booksync.qbxml import build
    from booksync.simulator import open_company

    with open_company(company_path, app_name="booksync") as company:
        (start,) = parse_response(company.process(build.message([build.request(
            "CustomerQuery", {"MaxReturned": 1}, 1, iterator="Start")])))
    with open_company(company_path, app_name="booksync") as company:
        (rs,) = parse_response(company.process(build.message([build.request(
            "CustomerQuery", {"MaxReturned": 1}, 1, iterator="Continue", iteratorID=start.iterator_id)])))
    assert rs.code == 3391


def test_a_filter_the_simulator_does_not_implement_is_refused_not_ignored(qb, acme):
    rs = qb.one("CustomerQuery", {"ClassFilter": {"FullName": ["East"]}})
    assert rs.code == 3250 and "ClassFilter" in rs.message
    rs = qb.one("InvoiceQuery", {"TxnDateRangeFilter": {"DateMacro": "ThisMonth"}})
    assert rs.code == 3250 and "DateMacro" in rs.message
