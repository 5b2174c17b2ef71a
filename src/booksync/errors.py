"""What an accounting system refused or failed to do, in booksync's words — above every port.

Each port maps its own codes to these types: qbXML status codes in :mod:`booksync.qbxml.errors`, QuickBooks
Online fault codes in :mod:`booksync.books.online.errors`. The sync engine, its advice
(:func:`booksync.sync.refusals.explain_refusal`) and the faces choose by type, never by a target's code;
``code`` and ``message`` keep the target's own words for the user and the log.
"""
from __future__ import annotations


class ConfigError(Exception):
    """The home folder or its configuration is missing or wrong."""


class BooksError(Exception):
    """Base of everything the accounting system (QuickBooks Desktop or Online) refused or failed to answer."""


class ConnectionFailure(BooksError):
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


class Refused(BooksError):
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


class NotFound(Refused):
    """3120: the object named in the request does not exist."""


class NameInUse(Refused):
    """3100: the name is already used by another customer, vendor, employee or other name."""


class InvalidReference(Refused):
    """3140: a reference is missing, inactive or of the wrong type."""


class ClosedPeriod(Refused):
    """3171 (and closing-date refusals): the change is dated on or before the closing date."""


class RecordLocked(Refused):
    """3170/3175/3176/3180 with a lock text: another user holds the record; retry later."""

    transient = True


class CannotModify(Refused):
    """3170/3180 without a lock text, and 3160 refusals to delete: a business rule."""


class OutOfDate(Refused):
    """3200: the EditSequence sent is not the current one."""


class InvalidValue(Refused):
    """3210 and format errors 3000–3099: a field value QuickBooks does not accept."""
