"""Every refusal the issue lists (reference/quickbooks-online.md §6) becomes a message saying what happened, to
which record, and what to do — classified by code *and* words, since Intuit's pages disagree on some codes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from booksync.books.port import Outcome
from booksync.books.online.errors import (DEPOSIT_ACCOUNT_ADVICE, FaultEntry, QboClosedPeriod, QboDepositedTransaction,
                                       QboDuplicateDocNumber, QboInvalidReference, QboInvalidValue, QboNameInUse,
                                       QboStaleObject, fault_error, parse_fault)
from booksync.domain import Action, Kind, operation_words
from booksync.errors import CannotModify, ClosedPeriod, InvalidReference, InvalidValue, NameInUse, OutOfDate
from booksync.sync.refusals import explain_refusal
from test_online_support import Ops

OPS = Ops("qbo:1")
CUSTOMER = OPS.customer(1, "City Utilities")
INVOICE = OPS.sales(Kind.INVOICE, 7, "1", "2", "10.00", "INV10007")
PAYMENT = OPS.payment(3, "1", "10.00", "4")
PAYMENT_MOD = OPS.change(Action.MOD, Kind.PAYMENT, 3, "55", "2")

CASES = [
    # (what, operation, kind, Intuit's entry, class, qbXML class, words of the advice)
    ("6240 duplicate name", CUSTOMER, "customer",
     FaultEntry("6240", "Duplicate Name Exists Error", "The name supplied already exists. : Another customer, vendor "
                "or employee is already using this name.", "DisplayName"),
     QboNameInUse, NameInUse, ["rename one of them", "booksync members map"]),
    ("5010 stale", PAYMENT_MOD, "payment",
     FaultEntry("5010", "Stale Object Error", "You and root were working on this at the same time. root finished "
                "before you did, so your work was not saved."),
     QboStaleObject, OutOfDate, ["changed in QuickBooks Online after booksync read it", "synchronize again",
                                 "conflict"]),
    ("6540 deposited", PAYMENT_MOD, "payment",
     FaultEntry("6540", "Deposited Transaction cannot be changed", "This transaction has been deposited. If you "
                "want to change or delete it, you must edit the deposit it appears on and remove it first."),
     QboDepositedTransaction, CannotModify, ["part of a deposit", "remove this payment from it",
                                             "synchronize again"]),
    ("6140 duplicate doc number", INVOICE, "invoice",
     FaultEntry("6140", "Duplicate Document Number Error", "Duplicate Document Number Error : You must specify a "
                "different number. This number has already been used. DocNumber=INV10007 is assigned to "
                "TxnType=Invoice with TxnId=148", "DocNumber"),
     QboDuplicateDocNumber, InvalidValue, ["already has this number", "renumber one of them"]),
    ("6210 closed books", INVOICE, "invoice",
     FaultEntry("6210", "Account Period Closed, Cannot Update Through Services API",
                "The account period has closed and the books are closed."),
     QboClosedPeriod, ClosedPeriod, ["closing date", "change its date in the billing store",
                                     "Close the books"]),
    ("6200 closed books (Harvest's number)", INVOICE, "invoice",
     FaultEntry("6200", "Account Period Closed", ""),
     QboClosedPeriod, ClosedPeriod, ["closing date"]),
    ("5010 worded as a closed period (python-quickbooks #208)", INVOICE, "invoice",
     FaultEntry("5010", "Stale Object Error", "Account Period Closed, Cannot Update Through Services API"),
     QboClosedPeriod, ClosedPeriod, ["closing date"]),
    ("6210 worded as a duplicate number (2017 blog)", INVOICE, "invoice",
     FaultEntry("6210", "Duplicate Document Number Error", "DocNumber=INV10007 is assigned to TxnType=Invoice"),
     QboDuplicateDocNumber, InvalidValue, ["renumber one of them"]),
    ("610 inactive reference", INVOICE, "invoice",
     FaultEntry("610", "Object Not Found", "Something you're trying to use has been made inactive. Check the fields "
                "with accounts, customers, items, vendors or employees."),
     QboInvalidReference, InvalidReference, ["made inactive or deleted", "make it active again",
                                             "booksync accounts xref"]),
    ("610 deleted by another user", PAYMENT_MOD, "payment",
     FaultEntry("610", "Object Not Found", "Another user has deleted this transaction."),
     QboInvalidReference, InvalidReference, ["made inactive or deleted"]),
    ("invalid deposit account type (6000)", PAYMENT, "payment",
     FaultEntry("6000", "A business validation error has occurred while processing your request",
                "Business Validation Error: Select a bank account for this deposit.", "DepositToAccountRef"),
     QboInvalidReference, InvalidReference, [DEPOSIT_ACCOUNT_ADVICE]),
    ("2500 invalid reference", INVOICE, "invoice",
     FaultEntry("2500", "Invalid Reference Id", "Invalid Reference Id : Accounts element id 7 not found"),
     QboInvalidReference, InvalidReference, ["does not have", "booksync accounts xref"]),
    ("6000 other business rule: Intuit's words kept", INVOICE, "invoice",
     FaultEntry("6000", "A business validation error has occurred while processing your request",
                "Business Validation Error: You must set a transaction amount."),
     QboInvalidValue, InvalidValue, ["correct the record in the billing store"]),
]


@pytest.mark.parametrize("what, op, kind, entry, cls, desktop_cls, advice",
                         CASES, ids=[c[0] for c in CASES])
def test_each_refusal_says_what_happened_to_which_record_and_what_to_do(what, op, kind, entry, cls, desktop_cls,
                                                                        advice) -> None:
    error = fault_error([entry], "ValidationFault", kind=kind, record=f"{kind} {op.number}")
    assert type(error) is cls and isinstance(error, desktop_cls)
    assert error.code == entry.number and error.errors == [entry]
    for words in advice:
        assert words in error.advice, (what, error.advice)
    text = explain_refusal(op, Outcome(op.seq, "failed", error=error))
    # to which record: the action, kind and number; what happened: Intuit's code and words; what to do: the advice.
    assert f"QuickBooks refused to {operation_words(op.action.value, op.kind.value)} {op.number}" in text
    assert f"{entry.code} {entry.message}" in text and error.advice in text
    assert entry.detail in text  # Intuit's Detail verbatim (reference §6: "show Detail verbatim")
    if entry.element:
        assert f"(element {entry.element})" in text


def test_every_error_of_a_fault_is_kept_in_the_message() -> None:
    body = {"Fault": {"type": "ValidationFault", "Error": [
        {"Message": "Duplicate Document Number Error", "Detail": "DocNumber=INV10007 is assigned", "code": "6140",
         "element": "DocNumber"},
        {"Message": "String length is either shorter or longer than supported by specification",
         "Detail": "Max allowed length: 21", "code": "2050", "element": "PaymentRefNum"}]}}
    fault_type, entries = parse_fault(body)
    error = fault_error(entries, fault_type, kind="invoice", record="invoice INV10007")
    assert isinstance(error, QboDuplicateDocNumber) and [e.code for e in error.errors] == ["6140", "2050"]
    assert "6140 Duplicate Document Number Error" in str(error) and "2050 String length" in str(error)
    assert "(element PaymentRefNum)" in str(error)


@pytest.mark.parametrize("kind, words", [("item", "rename or make inactive that item"),
                                         ("payment_method", "booksync will use it")])
def test_a_duplicate_name_of_an_item_or_payment_method_has_its_own_advice(kind, words) -> None:
    error = fault_error([FaultEntry("6240", "Duplicate Name Exists Error", "The name supplied already exists.")],
                        kind=kind)
    assert isinstance(error, QboNameInUse) and words in error.advice and "members map" not in error.advice


def test_the_sample_operations_are_what_they_claim() -> None:
    assert PAYMENT.payload.total == Decimal("10.00") and INVOICE.payload.date == dt.date(2025, 3, 1)


@pytest.mark.parametrize("code, message, words", [
    ("6190", "Invalid Company Status", "subscription has ended"),
    ("120", "Authorization Failure", "reconnect as a company administrator"),
    ("130", "Accessing Wrong Cluster", "--sandbox' or '--production'"),
])
def test_refusals_of_the_whole_company_do_not_say_to_correct_the_record(code, message, words) -> None:
    error = fault_error([FaultEntry(code, message, "")], kind="invoice", record="invoice INV10007")
    assert words in error.advice and "correct the record" not in error.advice
    assert f"{code} {message}" in str(error)
