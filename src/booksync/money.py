"""Money as ``Decimal`` with two places: parsing, rounding and formatting, and JSON that keeps it exact.

QuickBooks Desktop's AMTTYPE allows no decimals or exactly two
(``qbxmltypes130.xsd``; reference/quickbooks-desktop.md §4), so every amount
booksync stores or sends goes through :func:`to_money`.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

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


# ---------------------------------------------------------------------- JSON with exact amounts
# QuickBooks Online sends and accepts amounts as JSON numbers ("TotalAmt": 1675.00). Python's json turns numbers
# into float and cannot write Decimal at all: these read with parse_float=Decimal and write a Decimal digit for
# digit, for the Online port (books/online/payloads.py) and the QuickBooks Online double alike.


def json_dumps(value: Any, indent: int | None = None) -> str:
    """Serialize ``value`` (dicts, lists, str, int, bool, None, ``Decimal``, dates) as JSON text.

    ``Decimal`` values are written as JSON numbers with their exact digits; ``date`` as
    ``"YYYY-MM-DD"``. Raises ``TypeError`` for ``float`` (never exact) and other types.
    ``indent`` pretty-prints (the staged working files), else the text is compact.
    """
    parts: list[str] = []
    _write(value, parts, indent, 0)
    return "".join(parts)


def _write(value: Any, out: list[str], indent: int | None, depth: int) -> None:
    if value is None or isinstance(value, (bool, str)):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"cannot send {value!r} to QuickBooks Online")
        # Plain notation: str(Decimal("1E+2")) would be "1E+2", valid JSON but not what people read.
        out.append(format(value, "f"))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        raise TypeError("floats are never sent to QuickBooks Online; use Decimal")
    elif isinstance(value, (dt.date, dt.datetime)):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        for n, (key, item) in enumerate(value.items()):
            if n:
                out.append(",")
            if indent is not None:
                out.append("\n" + " " * (indent * (depth + 1)))
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(": " if indent is not None else ":")
            _write(item, out, indent, depth + 1)
        if indent is not None:
            out.append("\n" + " " * (indent * depth))
        out.append("}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            if indent is not None:
                out.append("\n" + " " * (indent * (depth + 1)))
            _write(item, out, indent, depth + 1)
        if indent is not None:
            out.append("\n" + " " * (indent * depth))
        out.append("]")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__} for QuickBooks Online")


def json_loads(text: str | bytes) -> Any:
    """Parse JSON text; non-integer numbers become ``Decimal`` (never ``float``)."""
    return json.loads(text, parse_float=Decimal)
