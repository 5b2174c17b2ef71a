"""explain_refusal (sync/refusals.py) chooses its advice by the error's type (booksync.errors), never by a status
code, and quotes the target's own code and words: what happened, to which record, what to do."""
from __future__ import annotations

import pytest

from booksync.books.port import Outcome
from booksync.domain import Action, Kind, Operation
from booksync.errors import (CannotModify, ClosedPeriod, InvalidReference, InvalidValue, NameInUse, NotFound,
                             OutOfDate, RecordLocked, Refused)
from booksync.qbxml.errors import status_error
from booksync.sync.refusals import RETRY_DELAYS, explain_refusal

OP = Operation(seq=7, action=Action.ADD, kind=Kind.INVOICE, local_id=3, number="INV10007",
               description="Invoice INV10007 for Acme Widgets, 2025-03-03, 150.00")
WHAT = "QuickBooks refused to add invoice INV10007 (Invoice INV10007 for Acme Widgets, 2025-03-03, 150.00)"

# (type, words of the advice at the command line, at the web interface): the words of the qbXML-code table they
# replace (3100, 3140, 3171, 3200, 3210), unchanged.
ADVICE = [
    (NameInUse, "rename one of them or link the member to the existing customer with 'booksync members map'.",
     "rename one of them or link the member to the existing customer on its Bill Info tab."),
    (InvalidReference, "check the cross references ('booksync accounts xref') and the member's Bill Info.",
     "check the cross references (the Cross Reference Accounts page) and the member's Bill Info tab."),
    (ClosedPeriod, "It is dated on or before QuickBooks' closing date: change the date, or ask the accountant to move "
     "the closing date.", "It is dated on or before QuickBooks' closing date"),
    (OutOfDate, "It was changed in QuickBooks since booksync read it: synchronize again.",
     "It was changed in QuickBooks since booksync read it: synchronize again."),
    (InvalidValue, "A value is not accepted (for example a payment larger than what is due): correct the record in "
     "the billing store and synchronize again.", "A value is not accepted"),
]


def refused(error: Exception, face: str = "cli") -> str:
    return explain_refusal(OP, Outcome(OP.seq, "failed", error=error), face=face)


@pytest.mark.parametrize("cls, cli, web", ADVICE)
def test_the_advice_follows_the_type_whatever_the_code(cls: type[Refused], cli: str, web: str) -> None:
    for code in (3100, 3140, 9999):  # the type decides, not the number
        error = cls(code, "Error", "QuickBooks' own words")
        text = refused(error)
        assert text == f"{WHAT}: status {code}, \"QuickBooks' own words\". {text.split('. ', 1)[1]}"
        assert text.endswith(cli) and web in refused(error, face="web")


@pytest.mark.parametrize("code, words", [(3100, "already uses this name"), (3140, "missing, inactive or of the wrong"),
                                         (3171, "closing date"), (3200, "changed in QuickBooks since"),
                                         (3210, "A value is not accepted")])
def test_qbxml_codes_reach_their_advice_through_their_types(code: int, words: str) -> None:
    text = refused(status_error(code, "Error", "the status message", "InvoiceAdd", "7"))
    assert f"status {code}, \"the status message\"" in text and words in text


@pytest.mark.parametrize("error", [NotFound(3120, "Error", "gone"), CannotModify(3160, "Error", "in use"),
                                   Refused(3999, "Error", "something else")])
def test_other_refusals_get_the_general_advice(error: Refused) -> None:
    assert refused(error) == (f"{WHAT}: status {error.code}, \"{error.message}\". Correct the record and synchronize "
                              "again; operations before it were applied.")


def test_a_record_locked_by_another_user_says_booksync_retried() -> None:
    text = refused(RecordLocked(3175, "Error", "The record is in use by another user"))
    assert f"booksync retried {len(RETRY_DELAYS)} times" in text and "Another QuickBooks user holds the record" in text


def test_an_error_with_its_own_advice_is_quoted_as_it_is() -> None:
    error = NameInUse(6240, "Error", "Duplicate Name Exists Error")
    error.advice = "rename it in QuickBooks Online"  # type: ignore[attr-defined]
    assert refused(error) == f"{WHAT}: {error}. Operations before it were applied."
