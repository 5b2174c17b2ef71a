"""What the user reads when the accounting system refuses an operation during apply: what happened, to which
record, what to do (:func:`explain_refusal`).

The advice is chosen by the error's type (:mod:`booksync.errors`: :class:`~booksync.errors.NameInUse`,
:class:`~booksync.errors.InvalidReference`, :class:`~booksync.errors.ClosedPeriod`,
:class:`~booksync.errors.OutOfDate`, :class:`~booksync.errors.InvalidValue`, a transient refusal such as
:class:`~booksync.errors.RecordLocked`), never by a target's status code; each port maps its own codes to those
types (qbXML status codes in :mod:`booksync.qbxml.errors`, QuickBooks Online faults in
:mod:`booksync.books.online.errors`). The message quotes the target's own code and words.
"""
from __future__ import annotations

from booksync.books.port import Outcome
from booksync.domain import Operation, operation_words
from booksync.errors import ClosedPeriod, InvalidReference, InvalidValue, NameInUse, OutOfDate, Refused

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
"""Seconds to wait before resending after a transient refusal (a record locked by another user)."""

_OTHERWISE = "Correct the record and synchronize again; operations before it were applied."


def _advice(error: Refused, web: bool) -> str:
    """What to do about a refusal without advice of its own, by its type."""
    if isinstance(error, NameInUse):
        return ("Another customer, vendor or other name in QuickBooks already uses this name: rename one of them "
                "or link the member to the existing customer " + ("on its Bill Info tab." if web else
                                                                  "with 'booksync members map'."))
    if isinstance(error, InvalidReference):
        return ("A customer, item or account it refers to is missing, inactive or of the wrong type in "
                "QuickBooks: check the cross references " + ("(the Cross Reference Accounts page) and the member's "
                                                             "Bill Info tab." if web else
                                                             "('booksync accounts xref') and the member's Bill Info."))
    if isinstance(error, ClosedPeriod):
        return ("It is dated on or before QuickBooks' closing date: change the date, or ask the accountant "
                "to move the closing date.")
    if isinstance(error, OutOfDate):
        return "It was changed in QuickBooks since booksync read it: synchronize again."
    if isinstance(error, InvalidValue):
        return ("A value is not accepted (for example a payment larger than what is due): correct the record "
                "in the billing store and synchronize again.")
    return _OTHERWISE


def explain_refusal(op: Operation, outcome: Outcome, face: str = "cli") -> str:
    """What happened, to which record, what to do — for a refused operation, in the words of ``face``: "cli"
    names commands, "web" the pages of the web interface."""
    error = outcome.error
    what = f"QuickBooks refused to {operation_words(op.action, op.kind)} {op.number} ({op.description})"
    if getattr(error, "advice", ""):
        return f"{what}: {error}. Operations before it were applied."
    if isinstance(error, Refused) and error.transient:
        return (f"{what}: status {error.code}, \"{error.message}\". Another QuickBooks user holds the record; "
                f"booksync retried {len(RETRY_DELAYS)} times. Ask them to finish and close the record, then "
                "synchronize again; operations before it were applied.")
    if isinstance(error, Refused):
        return f"{what}: status {error.code}, \"{error.message}\". {_advice(error, face == 'web')}"
    return f"{what}: {error}"
