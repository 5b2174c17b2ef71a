"""JSON for the QuickBooks Online Accounting API with exact money.

QuickBooks Online sends and accepts amounts as JSON numbers (``"TotalAmt": 1675.00``). Python's
``json`` turns numbers into ``float`` and cannot write ``Decimal`` at all, so booksync reads with
``parse_float=Decimal`` and writes with :func:`dumps`, which prints a ``Decimal`` digit for digit
(``Decimal("150.00")`` → ``150.00``): no binary rounding anywhere between the billing store and
QuickBooks (DESIGN.md, Invariants: "Amounts are Decimal with two places; never float").
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from booksync.money import to_money


def dumps(value: Any, indent: int | None = None) -> str:
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


def loads(text: str | bytes) -> Any:
    """Parse JSON text; non-integer numbers become ``Decimal`` (never ``float``)."""
    return json.loads(text, parse_float=Decimal)


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
