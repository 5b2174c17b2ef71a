"""QuickBooks field rules, applied in one place before planning.

Every value that must change to fit QuickBooks (too long, a reserved colon, a
character QuickBooks Desktop cannot store, a name already in use) is changed
by one deterministic rule and recorded as an :class:`~booksync.domain.Adjustment`
so the plan can show it. Limits come from the books port (for QuickBooks
Desktop: ``qbxmlops130.xsd`` via :mod:`booksync.qbxml.schema`; reference
/quickbooks-desktop.md §4).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from anyascii import anyascii

from ..domain import Adjustment

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Limits:
    """Field limits of an accounting system (characters)."""

    customer_name: int = 41
    company_name: int = 41
    first_name: int = 25
    last_name: int = 25
    address_line: int = 41
    city: int = 31
    state: int = 21
    postal_code: int = 13
    phone: int = 21
    email: int = 1023
    account_number: int = 99
    item_name: int = 31
    payment_method_name: int = 31
    invoice_ref_number: int = 11
    payment_ref_number: int = 20
    memo: int = 4095
    line_description: int = 4095
    latin1_only: bool = True


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
    out = []
    for ch in value:
        try:
            ch.encode("iso-8859-1")
            out.append(ch)
        except UnicodeEncodeError:
            out.append(anyascii(ch))
    return "".join(out)


@dataclass
class FieldFitter:
    """Fits values to :class:`Limits`, collecting :class:`Adjustment` records."""

    limits: Limits
    adjustments: list[Adjustment] = field(default_factory=list)

    def text(self, record: str, label: str, value: str, limit: int, reason_prefix: str = "") -> str:
        """Collapse whitespace, transliterate where needed, and cut to ``limit`` characters."""
        original = value or ""
        fitted = _SPACES.sub(" ", original).strip()
        reasons = []
        if self.limits.latin1_only:
            converted = _latin1(fitted)
            if converted != fitted:
                reasons.append("characters QuickBooks Desktop cannot store were transliterated")
                fitted = converted
        if len(fitted) > limit:
            fitted = cut(fitted, limit)
            reasons.append(f"longer than {limit} characters")
        if reasons:
            self.adjustments.append(Adjustment(record, label, original, fitted, "; ".join(reasons)))
        return fitted

    def name(self, record: str, label: str, value: str, limit: int) -> str:
        """A list name: like :meth:`text`, and the colon (QuickBooks' parent:child separator) becomes a dash."""
        base = _SPACES.sub(" ", value or "").strip()
        reasons = []
        if ":" in base:
            base = base.replace(": ", " - ").replace(":", "-")
            reasons.append("a colon separates parent and child names in QuickBooks")
        if self.limits.latin1_only:
            converted = _latin1(base)
            if converted != base:
                reasons.append("characters QuickBooks Desktop cannot store were transliterated")
                base = converted
        if len(base) > limit:
            base = cut(base, limit)
            reasons.append(f"longer than {limit} characters")
        if reasons:
            self.adjustments.append(Adjustment(record, label, value, base, "; ".join(reasons)))
        return base

    def unique(self, record: str, label: str, name: str, suffix: str, limit: int, taken: str) -> str:
        """Make ``name`` unique by appending `` (suffix)``, cutting the base so the result fits ``limit``.

        ``taken`` says who holds the plain name (shown in the plan)."""
        tail = f" ({suffix})"
        result = cut(name, limit - len(tail)) + tail
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
