"""Typed qbXML errors that keep QuickBooks' own status code and message.

Status code ranges and meanings: reference/quickbooks-desktop.md §2 and §9
(Intuit, "Status codes in response messages",
https://developer.intuit.com/app/developer/qbdesktop/docs/develop/exploring-the-quickbooks-desktop-sdk/status-codes-in-response-messages).
Connection HRESULTs: §10 of the same reference.
"""
from __future__ import annotations

LOCK_TEXTS = ("modified by another user", "could not be locked", "failed to acquire the lock",
              "list element is in use", "is in use by another user")


class QBError(Exception):
    """Base of everything QuickBooks refused or failed to answer."""


class ConnectionFailure(QBError):
    """QuickBooks could not be reached or refused the session (a COM HRESULT).

    Attributes: ``hresult`` (e.g. 0x80040418), ``message`` (QuickBooks' text), ``advice``;
    ``unprocessed``: QuickBooks certainly wrote nothing of the message that failed (its operations can
    be sent again without asking); ``outcome``: what the run had written when it failed, in words (set
    by the sync engine, "" before).
    """

    unprocessed = False
    outcome = ""

    def __init__(self, hresult: int, message: str, advice: str = "") -> None:
        super().__init__(f"{message} (HRESULT 0x{hresult:08X})")
        self.hresult = hresult
        self.message = message
        self.advice = advice


class StatusError(QBError):
    """A request QuickBooks answered with an error status (1000 and above).

    Attributes:
        code: statusCode.
        severity: statusSeverity ("Error").
        message: statusMessage, verbatim.
        request_type: e.g. "InvoiceAdd".
        request_id: the requestID of the refused request.
    """

    transient = False

    def __init__(self, code: int, severity: str, message: str, request_type: str = "",
                 request_id: str = "") -> None:
        super().__init__(f"QuickBooks status {code}: {message}")
        self.code = code
        self.severity = severity
        self.message = message
        self.request_type = request_type
        self.request_id = request_id


class NotFound(StatusError):
    """3120: the object named in the request does not exist."""


class NameInUse(StatusError):
    """3100: the name is already used by another customer, vendor, employee or other name."""


class InvalidReference(StatusError):
    """3140: a reference is missing, inactive or of the wrong type."""


class ClosedPeriod(StatusError):
    """3171 (and closing-date refusals): the change is dated on or before the closing date."""


class RecordLocked(StatusError):
    """3170/3175/3176/3180 with a lock text: another user holds the record; retry later."""

    transient = True


class CannotModify(StatusError):
    """3170/3180 without a lock text, and 3160 refusals to delete: a business rule."""


class OutOfDate(StatusError):
    """3200: the EditSequence sent is not the current one."""


class InvalidValue(StatusError):
    """3210 and format errors 3000–3099: a field value QuickBooks does not accept."""


_BY_CODE: dict[int, type[StatusError]] = {
    3100: NameInUse, 3120: NotFound, 3140: InvalidReference, 3171: ClosedPeriod,
    3200: OutOfDate, 3210: InvalidValue, 3160: CannotModify,
}


def status_error(code: int, severity: str, message: str, request_type: str = "",
                 request_id: str = "") -> StatusError:
    """Return the typed error for a QuickBooks status (code ≥ 1000)."""
    cls: type[StatusError]
    if code in (3170, 3175, 3176, 3180):
        lowered = message.lower()
        cls = RecordLocked if any(t in lowered for t in LOCK_TEXTS) else CannotModify
    elif 3000 <= code < 3100:
        cls = InvalidValue
    else:
        cls = _BY_CODE.get(code, StatusError)
    return cls(code, severity, message, request_type, request_id)
