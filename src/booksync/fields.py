"""QuickBooks field rules, in one place: what a value must look like for QuickBooks to hold it.

Two kinds of rule live here:

* **Text rules**, applied by the planner to every value it sends (:class:`FieldFitter`). A value
  that must change to fit QuickBooks (too long, a reserved colon, a character QuickBooks Desktop
  cannot store, a name already in use, a control character) is changed by one deterministic rule
  and recorded as an :class:`~booksync.domain.Adjustment`, so the plan shows it.
* **Amount rules**, applied by the importer so a record QuickBooks would refuse never enters the
  billing store (:func:`amount_problem`, :func:`quantity_problem`, :func:`sales_total_problem`,
  :func:`payment_total_problem`).

Sources. Lengths: each books port's :class:`Limits` (QuickBooks Desktop's from Intuit's ``qbxmlops130.xsd``
through :mod:`booksync.qbxml.schema`, reference/quickbooks-desktop.md §4; QuickBooks Online's from Intuit's
entity pages, reference/quickbooks-online.md §4). Characters: QuickBooks
Desktop stores ISO-8859-1 only (reference §1, "Characters"). The colon separates a parent from its
child in a list's FullName ("Parent:Child"), so a name must not hold one (reference §4, FullName; the
simulator refuses it with 3020 as QuickBooks does). Amounts: ``AMTTYPE`` allows at most 13 digits before
the point and none or exactly two after it; ``QUANTYPE``/``PRICETYPE`` at most 10 digits before and 5
after (``qbxmltypes130.xsd``; reference §4). Signs: a line of a service item may be negative, a discount
(https://www.zed-systems.com/support/KB/a138/how-to-import-negative-amounts-on-transactions.aspx), but
QuickBooks refuses an invoice whose total is below zero ("Transaction amount must be positive",
https://www.ontime360.com/support/kb/a231/quickbooks-transaction-amount-must-be-positive.aspx): a negative
invoice is a credit memo, and a negative credit memo an invoice. A total of exactly zero is allowed (the
schema's AMTTYPE includes 0.00, and QuickBooks saves a $0.00 invoice, e.g. a complimentary membership).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from anyascii import anyascii

from booksync.domain import Adjustment

_SPACES = re.compile(r"\s+")
# C0 and C1 control characters: XML 1.0 cannot carry most of them and QuickBooks shows none of them.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

AMOUNT_DIGITS = 13
"""Digits before the decimal point of a qbXML AMTTYPE (``[+-]?[0-9]{1,13}(\\.[0-9]{2})?``)."""
AMOUNT_DECIMALS = 2
QUANTITY_DIGITS = 10
"""Digits before the point of QUANTYPE and PRICETYPE (``[+-]?[0-9]{1,10}(\\.[0-9]{1,5})?``)."""
QUANTITY_DECIMALS = 5
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Limits:
    """Field limits of an accounting system, in characters: what the planner cuts each value to.

    Each books port sets its own (:data:`booksync.books.desktop.limits.DESKTOP_LIMITS`, read from the qbXML
    schema; ``ONLINE_LIMITS`` in :mod:`booksync.books.online.adapter`, from Intuit's entity pages).
    ``latin1_only``: the system stores ISO-8859-1 text only (values outside it are transliterated).
    """

    customer_name: int
    company_name: int
    first_name: int
    last_name: int
    address_line: int
    city: int
    state: int
    postal_code: int
    phone: int
    email: int
    account_number: int
    customer_notes: int
    item_name: int
    item_description: int
    payment_method_name: int
    invoice_ref_number: int
    payment_ref_number: int
    memo: int
    line_description: int
    latin1_only: bool
    check_number: int = 21
    """A sales receipt's check number or confirmation: Desktop CheckNumber (25, SalesReceiptAdd), Online
    PaymentRefNum (21, the SalesReceipt entity page)."""


def cut(value: str, limit: int) -> str:
    """Cut ``value`` to ``limit`` characters, at the last space when one falls in the second half,
    so that names lose whole words ("...Economic Development Corporation" -> "...Economic")."""
    if len(value) <= limit:
        return value
    head = value[:limit]
    if value[limit] != " ":
        space = head.rfind(" ")
        if space >= limit // 2:
            head = head[:space]
    return head.rstrip(" -,&/")


def _latin1(value: str) -> str:
    """Transliterate every character outside ISO-8859-1 (anyascii: "ř" -> "r", "🍕" -> ":pizza:")."""
    out = []
    for ch in value:
        if ord(ch) < 256:
            out.append(ch)
        else:
            out.append(anyascii(ch))
    return "".join(out)


def _clean(value: str) -> str:
    """Whitespace collapsed, ends trimmed, control characters dropped."""
    return _CONTROLS.sub("", _SPACES.sub(" ", value)).strip()


def escape_unicode(value: str) -> str:
    """``value`` with every character outside ISO-8859-1 written as ``<U+XXXX>`` ("Dvořák" ->
    "Dvo<U+0159>ák"): how an original is kept in a QuickBooks Desktop note, which is ISO-8859-1 too."""
    return "".join(ch if ord(ch) < 256 else f"<U+{ord(ch):04X}>" for ch in value)


@dataclass
class FieldFitter:
    """Fits values to :class:`Limits`, collecting :class:`Adjustment` records.

    Every method returns the value QuickBooks receives; when it differs from the billing store's
    value an :class:`Adjustment` (record, field, original, adjusted, reason) is appended to
    :attr:`adjustments`. The result is always ISO-8859-1 when ``limits.latin1_only``, free of
    control characters, and at most ``limit`` characters.
    """

    limits: Limits
    adjustments: list[Adjustment] = field(default_factory=list)

    def _storable(self, value: str) -> tuple[str, list[str]]:
        """The value as QuickBooks can store it, with the reasons for each change (not yet cut)."""
        original = value or ""
        if original.isascii() and original.isprintable() and original == original.strip() and "  " not in original:
            return original, []  # NFC, transliteration and cleaning cannot change it (finding 2)
        reasons = []
        fitted = unicodedata.normalize("NFC", original)
        if fitted != original and _clean(fitted) != _clean(original):
            reasons.append("characters in decomposed form were composed (Unicode NFC)")
        if self.limits.latin1_only:
            converted = _latin1(fitted)
            if converted != fitted:
                reasons.append("characters QuickBooks Desktop cannot store were transliterated")
                fitted = converted
        cleaned = _clean(fitted)
        if _CONTROLS.search(_SPACES.sub(" ", fitted)):
            reasons.append("control characters were removed")
        return cleaned, reasons

    def text(self, record: str, label: str, value: str, limit: int, reason_prefix: str = "") -> str:
        """Collapse whitespace, drop control characters, transliterate where needed, and cut to ``limit``."""
        original = value or ""
        fitted, reasons = self._storable(original)
        if len(fitted) > limit:
            fitted = cut(fitted, limit)
            reasons.append(f"longer than {limit} characters")
        if reasons:
            self.adjustments.append(Adjustment(record, label, original, fitted, reason_prefix + "; ".join(reasons)))
        return fitted

    def name(self, record: str, label: str, value: str, limit: int, fallback: str = "") -> str:
        """A list name: like :meth:`text`, and a colon (QuickBooks' parent:child separator) becomes a dash.

        Transliteration comes first, because it can itself produce colons ("🍕" -> ":pizza:", "∶" -> ":").
        When nothing storable is left (a name of characters with no transliteration), ``fallback``
        (e.g. "Member 1042") stands in, fitted the same way.
        """
        original = value or ""
        base, reasons = self._storable(original)
        if ":" in base:
            base = _clean(base.replace(": ", " - ").replace(":", "-"))
            reasons.append("a colon separates parent and child names in QuickBooks")
        if len(base) > limit:
            base = cut(base, limit)
            reasons.append(f"longer than {limit} characters")
        if not base and fallback:
            stand_in, _ = self._storable(fallback)
            base = cut(stand_in.replace(":", "-"), limit)
            reasons.append("nothing of the name can be stored in QuickBooks; a stand-in is used")
        if reasons:
            self.adjustments.append(Adjustment(record, label, original, base, "; ".join(reasons)))
        return base

    def unique(self, record: str, label: str, name: str, suffix: str, limit: int, taken: str) -> str:
        """Make ``name`` unique by appending `` (suffix)``, cutting the base so the result fits ``limit``.

        ``taken`` says who holds the plain name (shown in the plan). A suffix too long to leave half of
        ``limit`` for the name keeps its last characters (member numbers differ most at their end)."""
        storable, _ = self._storable(suffix)
        storable = storable.replace(":", "-")
        if not storable:
            # Nothing of the suffix can be stored (e.g. a member number of private-use characters): a stable
            # digest of it still tells the names apart.
            storable = hashlib.sha256(suffix.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        room = max(1, limit // 2 - 3)
        tail = f" ({storable})" if len(storable) <= room else f" ({storable[-room:]})"
        base = cut(name, limit - len(tail))
        result = (base + tail).strip()[:limit]
        self.adjustments.append(Adjustment(record, label, name, result, f"the name is already used by {taken}"))
        return result

    def ref_number(self, record: str, label: str, value: str, limit: int) -> str:
        """A reference number longer than ``limit`` keeps its last ``limit`` characters (the distinctive end)."""
        fitted = self.text(record, label, value, 10 ** 6)
        if len(fitted) > limit:
            self.adjustments.append(Adjustment(record, label, value, fitted[-limit:],
                                               f"longer than {limit} characters; the last {limit} are kept"))
            fitted = fitted[-limit:]
        return fitted

    def notes(self, record: str, limit: int) -> str:
        """A note keeping the originals of this record's transliterated values, for a notes field
        (QuickBooks Desktop: CustomerAdd/CustomerMod ``Notes``). Characters outside ISO-8859-1 are
        written as ``<U+XXXX>`` so the note itself can be stored. Returns "" when nothing was
        transliterated. Call it after fitting the record's other fields."""
        kept = [f"{a.field}: {escape_unicode(a.original)}" for a in self.adjustments
                if a.record == record and "transliterated" in a.reason]
        if not kept:
            return ""
        return cut("Original in the billing store - " + "; ".join(kept), limit)


# ---------------------------------------------------------------------- amount rules (applied at import)


def _digits(value: Decimal) -> tuple[int, int]:
    """(digits before the point, digits after it) of a finite Decimal, ignoring trailing zeros.

    Computed from the digits themselves: ``normalize()`` would round to the context's 28 digits and
    could pass 1.0000000000000000000000000000001 as 1."""
    _sign, digit_tuple, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{value} is not a finite number")
    digits = list(digit_tuple)
    if not any(digits):
        return 1, 0
    while exponent < 0 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    if exponent >= 0:
        return len(digits) + exponent, 0
    return max(1, len(digits) + exponent), -exponent


def _number_problem(value: Decimal, decimals: int, decimals_word: str, digits: int) -> str | None:
    """Why ``value`` has more than ``decimals`` places or ``digits`` digits before the point, or None."""
    before, after = _digits(value)
    if after > decimals:
        return f"has more than {decimals_word} decimals"
    if before > digits:
        return f"is larger than QuickBooks accepts ({digits} digits before the decimal point)"
    return None


def amount_problem(value: Decimal) -> str | None:
    """Why QuickBooks cannot hold ``value`` as an amount (AMTTYPE), or None."""
    return _number_problem(value, AMOUNT_DECIMALS, "two", AMOUNT_DIGITS)


def quantity_problem(value: Decimal) -> str | None:
    """Why QuickBooks cannot hold ``value`` as a quantity or rate (QUANTYPE, PRICETYPE), or None."""
    return _number_problem(value, QUANTITY_DECIMALS, "five", QUANTITY_DIGITS)


def sales_total_problem(kind: str, total: Decimal) -> str | None:
    """Why QuickBooks refuses an invoice or credit memo (``kind`` "invoice" or "credit memo") with
    this total, or None. Lines may be negative; the total must not be (module docstring)."""
    if total < 0:
        other = "a credit memo" if kind == "invoice" else "an invoice"
        return (f"the lines total {total}; QuickBooks does not accept {'an' if kind == 'invoice' else 'a'} "
                f"{kind} with a negative total: enter it as {other}")
    return amount_problem(total)


def payment_total_problem(total: Decimal, applies_credit: bool) -> str | None:
    """Why QuickBooks refuses a payment of ``total``, or None. A payment is never negative (a refund is
    another transaction); a payment of 0.00 only serves to apply a credit memo's credit to an invoice."""
    if total < 0:
        return "a payment must not be negative (record a refund in QuickBooks instead)"
    if total == 0 and not applies_credit:
        return "a payment of 0.00 records nothing unless it applies a credit memo (apply_credit_memo)"
    return amount_problem(total)


def receipt_total_problem(total: Decimal) -> str | None:
    """Why booksync refuses a sales receipt of ``total``, or None. Lines may be negative (a discount); the total
    must not be: money paid back is a refund (issue 21 item 2: ARRefundCreditCard, a Check, Online's
    RefundReceipt), which keeps the deposit account's history right, where a negative sales receipt would book
    it as negative income. (Whether QuickBooks itself refuses a negative SalesReceipt is not verified; the
    amount's own limits are QuickBooks', :func:`amount_problem`.)"""
    if total < 0:
        return (f"the lines total {total}; a sales receipt records money received, never paid back: record a "
                "refund instead (in QuickBooks, or as a refund in the billing system)")
    return amount_problem(total)
