"""qbXML status codes mapped to booksync's typed errors (:mod:`booksync.errors`), keeping QuickBooks' own
status code and message.

Status code ranges and meanings: reference/quickbooks-desktop.md §2 and §9
(Intuit, "Status codes in response messages",
https://developer.intuit.com/app/developer/qbdesktop/docs/develop/exploring-the-quickbooks-desktop-sdk/status-codes-in-response-messages).
Connection HRESULTs: §10 of the same reference.
"""
from __future__ import annotations

from booksync.errors import (CannotModify, ClosedPeriod, InvalidReference, InvalidValue, NameInUse, NotFound,
                             OutOfDate, RecordLocked, Refused)

LOCK_TEXTS = ("modified by another user", "could not be locked", "failed to acquire the lock",
              "list element is in use", "is in use by another user")


_BY_CODE: dict[int, type[Refused]] = {
    3100: NameInUse, 3120: NotFound, 3140: InvalidReference, 3171: ClosedPeriod,
    3200: OutOfDate, 3210: InvalidValue, 3160: CannotModify,
}


def status_error(code: int, severity: str, message: str, request_type: str = "",
                 request_id: str = "") -> Refused:
    """Return the typed error for a QuickBooks status (code ≥ 1000)."""
    cls: type[Refused]
    if code in (3170, 3175, 3176, 3180):
        lowered = message.lower()
        cls = RecordLocked if any(t in lowered for t in LOCK_TEXTS) else CannotModify
    elif 3000 <= code < 3100:
        cls = InvalidValue
    else:
        cls = _BY_CODE.get(code, Refused)
    return cls(code, severity, message, request_type, request_id)

