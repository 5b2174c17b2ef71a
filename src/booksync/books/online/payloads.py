"""JSON for the QuickBooks Online Accounting API with exact money.

QuickBooks Online sends and accepts amounts as JSON numbers (``"TotalAmt": 1675.00``). Python's
``json`` turns numbers into ``float`` and cannot write ``Decimal`` at all, so booksync reads with
``parse_float=Decimal`` (:func:`loads`) and writes with :func:`dumps`, which prints a ``Decimal`` digit for digit
(``Decimal("150.00")`` → ``150.00``): no binary rounding anywhere between the billing store and
QuickBooks (DESIGN.md, Invariants: "Amounts are Decimal with two places; never float"). The codec itself is
:func:`booksync.money.json_dumps` / :func:`~booksync.money.json_loads`, shared with the QuickBooks Online double.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from booksync.money import json_dumps as dumps  # noqa: F401 - the port's names for the codec
from booksync.money import json_loads as loads  # noqa: F401
from booksync.money import to_money


def money(value: Any) -> Decimal:
    """An amount read from QuickBooks Online JSON (``int``, ``Decimal``, text or None) as a two-place Decimal.

    QuickBooks Online writes whole amounts without decimals (``"Amount": 1675``), so ints are
    accepted; None and "" are 0.00. Raises :class:`booksync.money.MoneyError` for more than two decimals.
    """
    if value is None or value == "":
        return Decimal("0.00")
    return to_money(value)


def number(value: Any) -> Decimal:
    """A quantity or unit price read from QuickBooks Online JSON, exact (``Decimal``)."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):
        raise TypeError("floats are never read from QuickBooks Online; parse with loads()")
    return value if isinstance(value, Decimal) else Decimal(str(value))
