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
