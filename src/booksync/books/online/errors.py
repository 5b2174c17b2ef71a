"""QuickBooks Online refusals as typed errors that say what happened and what to do.

QuickBooks Online answers a refused request with a *Fault* holding one or more *Error* entries
(``code`` as a string, ``Message``, ``Detail``, ``element``). Three shapes occur
(reference/quickbooks-online.md §6, from Intuit's "Handling common errors" page and
python-quickbooks issues #118, #120, #250, #369):

1. ``{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type": "ValidationFault"}}``
2. ``{"fault": {"error": [{"message", "detail", "code"}], "type": "AUTHENTICATION"}}`` (auth, throttling)
3. XML ``<Fault type="AuthenticationFault"><Error code="100">...`` (some 401s, even when JSON was asked)

:func:`parse_fault` reads all three and keeps **every** Error, not only the first.
:func:`fault_error` classifies by code **and** message, because Intuit's own pages disagree on some
codes (the 2017 "top errors" blog calls 6210 a duplicate document number, the Common-errors page calls
it Account Period Closed; a python-quickbooks user saw 5010 with "Account Period Closed", #208).

The record-level errors subclass booksync's typed errors (:mod:`booksync.errors`), above every port, so
code that asks "was the name in use?" or "was it out of date?" works for both QuickBooks products;
``code`` keeps QuickBooks Online's own number (6240, 5010...), ``message`` keeps Intuit's words followed
by what to do, and ``advice`` holds the what-to-do sentence alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from booksync.errors import (CannotModify, ClosedPeriod, ConnectionFailure, InvalidReference, InvalidValue,
                             NameInUse, OutOfDate, RecordLocked, Refused)


@dataclass(frozen=True)
class FaultEntry:
    """One ``Error`` of a Fault: ``code`` (Intuit's string, e.g. "6240"), Message, Detail, element."""

    code: str
    message: str
    detail: str = ""
    element: str = ""

    @property
    def number(self) -> int:
        """The code as a number (``"003001"`` → 3001); 0 when it is not numeric."""
        return int(self.code) if self.code.isdigit() else 0

    def text(self) -> str:
        """``"6240 Duplicate Name Exists Error: The name supplied already exists. (element DisplayName)"``."""
        out = f"{self.code} {self.message}".strip()
        if self.detail and self.detail != self.message:
            out += f": {self.detail}"
        if self.element:
            out += f" (element {self.element})"
        return out


def parse_fault(body: Any) -> tuple[str, list[FaultEntry]]:
    """Return (fault type, every Error entry) of a QuickBooks Online fault, or ("", []) when there is none.

    ``body`` is the parsed JSON (dict), or the raw text of an XML answer.
    """
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if "<Fault" not in text:
            return "", []
        fault_type = (re.search(r'<Fault[^>]*type="([^"]*)"', text) or [None, ""])[1]
        entries = []
        for m in re.finditer(r'<Error[^>]*code="([^"]*)"[^>]*>(.*?)</Error>', text, re.S):
            message = re.search(r"<Message>(.*?)</Message>", m.group(2), re.S)
            detail = re.search(r"<Detail>(.*?)</Detail>", m.group(2), re.S)
            entries.append(FaultEntry(m.group(1), message.group(1).strip() if message else "",
                                      detail.group(1).strip() if detail else ""))
        return fault_type, entries
    if not isinstance(body, dict):
        return "", []
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, dict):
        return "", []
    errors = fault.get("Error") or fault.get("error") or []
    if isinstance(errors, dict):
        errors = [errors]
    entries = []
    for e in errors:
        if not isinstance(e, dict):
            continue
        entries.append(FaultEntry(code=str(e.get("code") or e.get("Code") or ""),
                                  message=str(e.get("Message") or e.get("message") or ""),
                                  detail=str(e.get("Detail") or e.get("detail") or ""),
                                  element=str(e.get("element") or e.get("Element") or "")))
    return str(fault.get("type") or ""), entries


# ---------------------------------------------------------------------- record-level refusals


class QboFault(Refused):
    """A request QuickBooks Online refused (a Fault).

    Attributes (besides :class:`~booksync.errors.Refused`'s ``code`` and ``message``):
        errors: every Error of the fault (:class:`FaultEntry`), in Intuit's order.
        fault_type: e.g. "ValidationFault".
        advice: what to do, one sentence.
        record: the record concerned, for people (e.g. "payment R20001").
        intuit_tid: the ``intuit_tid`` response header, for Intuit support.
    """

    def __init__(self, errors: list[FaultEntry], fault_type: str = "", advice: str = "", record: str = "",
                 intuit_tid: str = "") -> None:
        errors = errors or [FaultEntry("0", "QuickBooks Online refused the request without saying why")]
        said = "; ".join(e.text() for e in errors)
        super().__init__(errors[0].number, "Error", said + (f" — {advice}" if advice else ""))
        self.errors = errors
        self.record = record
        self.fault_type = fault_type
        self.advice = advice
        self.intuit_tid = intuit_tid

    def __str__(self) -> str:
        return f"QuickBooks Online error {self.message}"


class QboNameInUse(QboFault, NameInUse):
    """6240 Duplicate Name Exists: display names are unique across customers, vendors and employees."""


class QboStaleObject(QboFault, OutOfDate):
    """5010 Stale Object Error: the SyncToken sent is not the object's current one."""


class QboDepositedTransaction(QboFault, CannotModify):
    """6540 Deposited Transaction cannot be changed: the payment is in a deposit."""


class QboDuplicateDocNumber(QboFault, InvalidValue):
    """6140 Duplicate Document Number: another transaction of the type has this DocNumber."""


class QboClosedPeriod(QboFault, ClosedPeriod):
    """6210 Account Period Closed: the change is dated on or before the books' closing date."""


class QboInvalidReference(QboFault, InvalidReference):
    """610 (inactive or deleted), 2500 (no such record), 6430 and deposit-account refusals (wrong type)."""


class QboInvalidValue(QboFault, InvalidValue):
    """Validation errors 2000–4999 and the business-validation catch-all 6000."""


class QboThrottled(QboFault, RecordLocked):
    """ThrottleExceeded (code 003001, HTTP 429 or 403: ruckus/quickbooks-ruby#338) still refused after booksync's
    bounded retries, or in one item of a batch; transient (the engine resends)."""

    transient = True


class QboServerError(QboFault):
    """10000 and above: an Intuit system failure; transient."""

    transient = True


class QboUnsupported(QboFault):
    """An operation QuickBooks Online's API does not offer (e.g. voiding a credit memo)."""


# Advice, by class and sometimes by what was sent. Sources: reference/quickbooks-online.md §3, §6.
_NAME_ADVICE = {
    "customer": "QuickBooks Online keeps display names unique across customers, vendors and employees, and "
                "another one already uses this name: rename one of them in QuickBooks Online, or link the "
                "member to the existing customer with 'booksync members map NUMBER \"Customer name\"'",
    "item": "another item already uses this name in QuickBooks Online: rename or make inactive that item, "
            "then synchronize again",
    "payment_method": "another payment method already uses this name in QuickBooks Online: synchronize again "
                      "(booksync will use it)",
}
ADVICE = {
    QboStaleObject: "it was changed in QuickBooks Online after booksync read it (its SyncToken moved on): "
                    "synchronize again; booksync reads the current version and reports the edit as a conflict",
    QboDepositedTransaction: "the payment is part of a deposit in QuickBooks Online, and a deposited payment cannot "
                             "be changed, voided or deleted: in QuickBooks Online open the deposit and remove this "
                             "payment from it (or delete the deposit), synchronize again, then deposit the payment "
                             "again",
    QboDuplicateDocNumber: "another transaction of this type already has this number in QuickBooks Online: "
                           "renumber one of them (in the billing store or in QuickBooks Online), then synchronize "
                           "again",
    QboClosedPeriod: "it is dated on or before the closing date of the books in QuickBooks Online, which the API "
                     "cannot pass: change its date in the billing store, or ask the accountant to move the closing "
                     "date (Settings > Account and settings > Advanced > Close the books)",
    QboInvalidValue: "QuickBooks Online did not accept a value (its words are above): correct the record in the "
                     "billing store and synchronize again",
    QboThrottled: "QuickBooks Online allows 500 requests a minute per company and booksync kept hitting that "
                  "limit: synchronize again in a few minutes; nothing of this request was written",
    QboServerError: "QuickBooks Online had an internal failure: synchronize again later; nothing of this request "
                    "was written",
}
_CODE_ADVICE = {
    # Refusals of the whole company or connection rather than of a record (reference §6): what a person must do.
    6190: "the QuickBooks Online company's subscription has ended or has a billing problem (Invalid Company "
          "Status): the company's administrator must resolve it in QuickBooks Online (Settings > Account and "
          "settings > Billing & subscription), then synchronize again; nothing of this request was written",
    120: "the Intuit user who connected booksync no longer has access to this company (for example lost admin "
         "rights): reconnect as a company administrator with 'booksync company connect online'",
    130: "the request reached the wrong QuickBooks Online environment for this company (sandbox or production): "
         "check environment and the API base in booksync.toml [online], then reconnect with 'booksync company "
         "connect online --sandbox' or '--production'",
}
_INACTIVE_ADVICE = ("something it refers to (customer, item, account or payment method) was made inactive or deleted "
                    "in QuickBooks Online: make it active again there, or correct the cross reference ('booksync "
                    "accounts xref') or the member's Bill Info ('booksync members map')")
_MISSING_ADVICE = ("it refers to a record QuickBooks Online does not have: check the cross references "
                   "('booksync accounts xref') and the member's Bill Info ('booksync members map'), then "
                   "synchronize again")
DEPOSIT_ACCOUNT_ADVICE = ("QuickBooks Online accepts payments only into a Bank or Other Current Asset account "
                          "(normally Undeposited Funds): correct the G/L account's cross reference, e.g. "
                          "booksync accounts xref --set NUMBER=\"Undeposited Funds\"")
_ITEM_ACCOUNT_ADVICE = ("a service item must post to an income account, not to Accounts Receivable or Accounts "
                        "Payable: correct the G/L account's cross reference ('booksync accounts xref')")


def classify(entries: list[FaultEntry]) -> type[QboFault]:
    """The error class for a fault's entries, by code and message (see the module docstring)."""
    first = entries[0] if entries else FaultEntry("0", "")
    code = first.number
    words = f"{first.message} {first.detail}".lower()
    if "duplicate document" in words or code == 6140:
        return QboDuplicateDocNumber
    if "period closed" in words or "period has closed" in words or "books are closed" in words \
            or code in (6200, 6210):
        return QboClosedPeriod
    if code == 6240 or "duplicate name" in words:
        return QboNameInUse
    if code == 5010 or "stale object" in words:
        return QboStaleObject
    if code == 6540 or "deposited transaction" in words:
        return QboDepositedTransaction
    if code == 3001 or "throttleexceeded" in words.replace(" ", ""):
        return QboThrottled  # in a batch item too (reference §6: RETRY), never a validation error
    if code in (610, 620, 2500, 6430) or "invalid reference" in words or "object not found" in words \
            or "invalid account type" in words or ("deposit" in words and "account" in words and code == 6000):
        return QboInvalidReference
    if code >= 10000:
        return QboServerError
    if 2000 <= code < 5000 or code == 6000 or code == 6070:
        return QboInvalidValue
    return QboFault


def fault_error(entries: list[FaultEntry], fault_type: str = "", kind: str = "", record: str = "",
                intuit_tid: str = "") -> QboFault:
    """The typed error for a fault answering an operation on a record of ``kind`` ("customer", "invoice"...).

    ``record`` names the record for people (e.g. 'customer "Main Street Dental"').
    """
    cls = classify(entries)
    first = entries[0] if entries else FaultEntry("0", "")
    words = f"{first.message} {first.detail}".lower()
    if cls is QboNameInUse:
        advice = _NAME_ADVICE.get(kind, _NAME_ADVICE["customer"])
    elif cls is QboInvalidReference:
        if "deposit" in words:
            advice = DEPOSIT_ACCOUNT_ADVICE
        elif first.number == 6430 or "invalid account type" in words:
            advice = _ITEM_ACCOUNT_ADVICE
        elif first.number == 610 or "inactive" in words or "deleted" in words:
            advice = _INACTIVE_ADVICE
        else:
            advice = _MISSING_ADVICE
    elif cls is QboFault and first.number in _CODE_ADVICE:
        advice = _CODE_ADVICE[first.number]
    else:
        advice = ADVICE.get(cls, "correct the record and synchronize again")
    return cls(entries, fault_type, advice, record, intuit_tid)


# ---------------------------------------------------------------------- the connection


class OnlineConnectionFailure(ConnectionFailure):
    """QuickBooks Online could not be reached, or refused booksync's authorization.

    A :class:`~booksync.errors.ConnectionFailure` (so the command line reports it and exits 6),
    without an HRESULT: ``message`` says what happened, ``advice`` what to do.
    """

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(0, message, advice)

    def __str__(self) -> str:
        return self.message + (f" {self.advice}" if self.advice else "")


class ReconnectNeeded(OnlineConnectionFailure):
    """The refresh token expired or was revoked (``invalid_grant``), or no tokens are stored: reconnect."""


class QboUnreachable(OnlineConnectionFailure):
    """Network failures or HTTP 5xx persisted through booksync's bounded retries."""


class ConnectError(Exception):
    """The OAuth authorization could not be completed (bad redirect URL, denied consent, wrong state)."""
