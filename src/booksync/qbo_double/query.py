"""The query language subset of the QuickBooks Online test double.

``SELECT * | COUNT(*) FROM Entity [WHERE cond [AND cond]...] [ORDERBY field [ASC|DESC]]
[STARTPOSITION n] [MAXRESULTS n]`` with ``=, <, >, <=, >=, IN (...), LIKE '%x%'``; one entity per
query, no OR, no projections; STARTPOSITION is 1-based, MAXRESULTS defaults to 100 and may not exceed
1000 (reference/quickbooks-online.md §5, Intuit data-queries page). Name lists (Customer, Vendor,
Employee, Item, Account, PaymentMethod) return only active objects unless the WHERE clause names
``Active`` (reference §3.6: "Inactive name-list objects: query Active = false"). Keywords are
case-insensitive; string literals use single quotes with ``\\'`` escapes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from booksync.qbo_double.rules import NAME_LISTS, Fault

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|=|<|>|\(|\)|,|\*)|(?P<word>[A-Za-z0-9_.\-:+]+))")


def _fault(detail: str) -> Fault:
    return Fault(4000, "Error parsing query", f"QueryParserError: {detail}", status=400)


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[tuple[str, str, Any]] = field(default_factory=list)
    order: tuple[str, bool] | None = None
    start: int = 1
    max_results: int = 100


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _fault(f"unexpected text at {text[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
    return out


def _literal(kind: str, value: str) -> Any:
    if kind == "str":
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def parse(text: str) -> Query:
    """Parse a query; raises the double's 4000 QueryParserError Fault (4001 for a page out of range)."""
    parser = _Parser(_tokens(text))
    parser.take("SELECT")
    count = parser.projection()
    parser.take("FROM")
    query = Query(entity=parser.take()[1], count=count)
    if parser.peek() == "WHERE":
        parser.take()
        parser.conditions(query)
    parser.order_and_page(query)
    if parser.i != len(parser.toks):
        raise _fault(f"unexpected {parser.toks[parser.i][1]!r}")
    if query.max_results > 1000:
        raise Fault(4001, "Invalid query", f"QueryValidationError: value {query.max_results} is too large. Max "
                                           "allowed value is 1000", status=400)
    if query.start < 1:
        raise Fault(4001, "Invalid query", "QueryValidationError: STARTPOSITION starts at 1", status=400)
    return query


class _Parser:
    """The tokens of one query and the position reached."""

    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise _fault(f"unexpected end of query, expected {expected or 'more'}")
        tok = self.toks[self.i]
        if expected and tok[1].upper() != expected:
            raise _fault(f"expected {expected}, found {tok[1]!r}")
        self.i += 1
        return tok

    def peek(self) -> str:
        return self.toks[self.i][1].upper() if self.i < len(self.toks) else ""

    def projection(self) -> bool:
        """``*`` (False) or ``COUNT(*)`` (True); QuickBooks Online's query language has no column lists here."""
        if self.peek() == "*":
            self.take()
            return False
        if self.peek().startswith("COUNT"):
            for expected in (None, "(", "*", ")"):
                self.take(expected)
            return True
        raise _fault("only SELECT * and SELECT COUNT(*) are supported (no projections)")

    def conditions(self, query: Query) -> None:
        """``field OP value`` joined by AND (no OR); OP one of = < > <= >= LIKE, or IN (values)."""
        while True:
            fld = self.take()[1]
            op = self.take()[1].upper()
            if op == "IN":
                query.where.append((fld, "IN", self.in_list()))
            elif op in ("=", "<", ">", "<=", ">=", "LIKE"):
                kind, value = self.take()
                query.where.append((fld, op, _literal(kind, value)))
            else:
                raise _fault(f"unsupported operator {op!r}")
            if self.peek() == "AND":
                self.take()
                continue
            if self.peek() == "OR":
                raise _fault("OR is not supported")
            return

    def in_list(self) -> list[Any]:
        self.take("(")
        values = []
        while True:
            kind, value = self.take()
            values.append(_literal(kind, value))
            sep = self.take()[1]
            if sep == ")":
                return values
            if sep != ",":
                raise _fault("expected , or ) in IN list")

    def order_and_page(self, query: Query) -> None:
        """``ORDERBY field [ASC|DESC]`` (or ORDER BY), ``STARTPOSITION n``, ``MAXRESULTS n``."""
        if self.peek() in ("ORDERBY", "ORDER"):
            if self.take()[1].upper() == "ORDER":
                self.take("BY")
            fld = self.take()[1]
            descending = False
            if self.peek() in ("ASC", "DESC"):
                descending = self.take()[1].upper() == "DESC"
            query.order = (fld, descending)
        if self.peek() == "STARTPOSITION":
            self.take()
            query.start = int(self.take()[1])
        if self.peek() == "MAXRESULTS":
            self.take()
            query.max_results = int(self.take()[1])


def _value(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op == "IN":
        return any(_compare(actual, "=", w) for w in wanted)
    if actual is None:
        return False
    if isinstance(wanted, bool):
        return bool(actual) == wanted if op == "=" else False
    if isinstance(wanted, Decimal):
        try:
            actual = Decimal(str(actual))
        except InvalidOperation:
            return False
    else:
        actual, wanted = str(actual), str(wanted)
    if op == "LIKE":
        pattern = "^" + ".*".join(re.escape(p) for p in str(wanted).split("%")) + "$"
        return re.match(pattern, str(actual), re.I) is not None
    if op == "=":
        return actual == wanted if not isinstance(actual, str) else actual.casefold() == str(wanted).casefold()
    return {"<": actual < wanted, ">": actual > wanted, "<=": actual <= wanted, ">=": actual >= wanted}[op]


def run(query: Query, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects matching ``query``, ordered and paged (count queries: all matches)."""
    where = list(query.where)
    if query.entity in NAME_LISTS and not any(f.lower() == "active" for f, _, _ in where):
        where.append(("Active", "=", True))
    rows = [o for o in objects if all(_compare(_value(o, f), op, w) for f, op, w in where)]
    if query.order is not None:
        fld, descending = query.order

        def key(o: dict[str, Any]) -> Any:
            v = _value(o, fld)
            return (0, int(v), "") if isinstance(v, str) and v.isdigit() else (1, 0, str(v or ""))

        rows.sort(key=key, reverse=descending)
    else:
        rows.sort(key=lambda o: int(o["Id"]))
    if query.count:
        return rows
    return rows[query.start - 1:query.start - 1 + query.max_results]
