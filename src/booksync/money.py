"""Money as ``Decimal`` with two places: parsing, rounding and formatting.

QuickBooks Desktop's AMTTYPE allows no decimals or exactly two
(``qbxmltypes130.xsd``; reference/quickbooks-desktop.md §4), so every amount
booksync stores or sends goes through :func:`to_money`.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    """A value that is not an amount with at most two decimals."""


def to_money(value: object) -> Decimal:
    """Return ``value`` as a two-place ``Decimal``.

    Accepts ``Decimal``, ``int`` and strings such as ``"125"``, ``"125.5"``,
    ``"125.50"``. Raises :class:`MoneyError` for floats (never exact), for
    text that is not a number, and for more than two decimals, which would be
    silently rounded otherwise.
    """
    if isinstance(value, float):
        raise MoneyError("amounts must not be floats")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not an amount")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise MoneyError(f"{value!r} has more than two decimals")
    return amount.quantize(CENT)


def fmt(amount: Decimal) -> str:
    """Format an amount for qbXML: exactly two decimals, no separators."""
    return str(amount.quantize(CENT))


def quantity(value: object) -> Decimal:
    """Parse a line quantity or rate: a ``Decimal`` with at most five decimals
    (qbXML QUANTYPE and PRICETYPE). Raises :class:`MoneyError` otherwise."""
    if isinstance(value, float):
        raise MoneyError("quantities must not be floats")
    try:
        q = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{value!r} is not a number") from exc
    if not q.is_finite() or q.as_tuple().exponent < -5:  # type: ignore[operator]
        raise MoneyError(f"{value!r} has more than five decimals")
    return q.quantize(Decimal(1)) if q == q.to_integral_value() else q
