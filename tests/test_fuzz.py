"""Fuzzing the qbXML response parser for a fixed time budget: only MalformedResponse (or, through the
books port, another QuickBooks error) may come out, whatever the bytes.

Inputs are random bytes, random text, and real answers of the simulator (captured once) mutated at the
byte level (cut, drop, insert, flip, repeat) and at the XML level (drop an element, rename it, change
an attribute or a text). Each answer goes through :func:`parse_response` with and without its request,
through the Ret accessors, and through the QuickBooks Desktop port's reading (snapshot) and writing
(send). The budget is ``BOOKSYNC_FUZZ_SECONDS`` (default 20); Hypothesis shrinks any failure it finds.
(The Web Connector's SOAP endpoint is fuzzed by its own tests.)
"""
from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from booksync.books.desktop.adapter import DesktopBooks
from booksync.domain import Action, Kind, LineData, Operation, Ref, SalesData
from booksync.qbxml import build
from booksync.errors import BooksError
from booksync.qbxml.parse import MalformedResponse, boolean, date, decimal, parse_response, text

BUDGET = float(os.environ.get("BOOKSYNC_FUZZ_SECONDS", "20"))
SEEDS: list[tuple[bytes, bytes]] = []
"""(request, answer) pairs captured from the simulator."""
TAGS = ["CustomerRet", "InvoiceRet", "HostRet", "CompanyRet", "CustomerAddRs", "InvoiceAddRs", "CustomerQueryRs",
        "ListID", "TxnID", "EditSequence", "QBXMLMsgsRs", "QBXML", "Balance", "IsActive", "TxnDate", "x"]
ATTRS = ["statusCode", "statusSeverity", "requestID", "iteratorRemainingCount", "iteratorID", "retCount"]
VALUES = ["0", "1", "500", "3100", "-1", "99999", "abc", "", "Info", "Warn", "Error", "1e3", "1.5", " 0", "2",
          "NaN", "true", "TRUE", "2025-02-30", "9" * 40, "\u00e9", "<", "&amp;"]


@pytest.fixture(scope="module", autouse=True)
def seeds(qb_module):
    """Real request/answer pairs: reading a company, adding, querying with lines, a refusal, an iterator."""
    qb = qb_module
    acme = qb.add_customer("Acme Widgets").findtext("ListID")
    qb.add_item("Dues", "Membership Dues")
    requests = [
        [build.request("HostQuery", None, 1), build.request("CompanyQuery", None, 2),
         build.request("PreferencesQuery", None, 3)],
        [build.request("AccountQuery", {"ActiveStatus": "All"}, 1)],
        [build.request("CustomerAdd", {"Name": "Bolt & Nut Supply"}, 1)],
        [build.request("CustomerAdd", {"Name": "Acme Widgets"}, 1)],
        [build.request("InvoiceAdd", {"CustomerRef": {"ListID": acme}, "TxnDate": dt.date(2025, 3, 1),
                                      "RefNumber": "INV1", "InvoiceLineAdd": [{"ItemRef": {"FullName": "Dues"},
                                                                               "Amount": "325.00"}]}, 1)],
        [build.request("InvoiceQuery", {"IncludeLineItems": True}, 1)],
        [build.request("CustomerQuery", {"MaxReturned": 1}, 1, iterator="Start")],
        [build.request("ItemQuery", None, 1), build.request("PaymentMethodQuery", None, 2)],
    ]
    SEEDS.clear()
    for rqs in requests:
        message = build.message(rqs, on_error="continueOnError")
        SEEDS.append((message, qb.company.process(message)))
    yield SEEDS


@pytest.fixture(scope="module")
def qb_module(tmp_path_factory):
    from booksync.simulator import create_company, open_company

    from conftest import QB

    path = tmp_path_factory.mktemp("fuzz") / "company.qbsim"
    create_company(path, "Fuzz Chamber")
    with open_company(path, app_name="booksync") as company:
        yield QB(company)


def _byte_mutation(data: bytes, op: tuple) -> bytes:
    kind, a, b, blob = op
    n = max(len(data), 1)
    i, j = sorted((a % n, b % n))
    if kind == "cut":
        return data[:i]
    if kind == "drop":
        return data[:i] + data[j:]
    if kind == "insert":
        return data[:i] + blob + data[i:]
    if kind == "flip":
        return data[:i] + bytes([(data[i] if i < len(data) else 0) ^ (b % 255 + 1)]) + data[i + 1:]
    return data[:j] + data[i:j] + data[j:]  # repeat a slice


def _tree_mutation(data: bytes, op: tuple) -> bytes:
    kind, index, pick = op
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return data
    nodes = list(root.iter())
    node = nodes[index % len(nodes)]
    if kind == "drop" and node.getparent() is not None:
        node.getparent().remove(node)
    elif kind == "rename":
        node.tag = TAGS[pick % len(TAGS)]
    elif kind == "attr":
        node.set(ATTRS[pick % len(ATTRS)], VALUES[index % len(VALUES)])
    elif kind == "text":
        node.text = VALUES[pick % len(VALUES)]
    elif kind == "move" and len(nodes) > 2:
        other = nodes[pick % len(nodes)]
        if other is not node and other not in list(node.iterancestors()) and other.getparent() is not None:
            other.getparent().remove(other)
            node.append(other)
    return etree.tostring(root)


byte_ops = st.tuples(st.sampled_from(["cut", "drop", "insert", "flip", "repeat"]), st.integers(0, 10 ** 6),
                     st.integers(0, 10 ** 6), st.binary(max_size=12))
tree_ops = st.tuples(st.sampled_from(["drop", "rename", "attr", "text", "move"]), st.integers(0, 10 ** 4),
                     st.integers(0, 10 ** 4))


@st.composite
def mutated(draw) -> tuple[bytes, bytes]:
    request, answer = SEEDS[draw(st.integers(0, len(SEEDS) - 1))]
    for op in draw(st.lists(st.one_of(tree_ops, byte_ops), min_size=1, max_size=4)):
        answer = _tree_mutation(answer, op) if len(op) == 3 else _byte_mutation(answer, op)
    return request, answer


def _operation() -> Operation:
    data = SalesData(customer=Ref("customer", None, "80000001-1", "Acme"), date=dt.date(2025, 3, 1),
                     ref_number="INV1", lines=(LineData(Ref("item", None, "80000002-1", "Dues"), "Dues", Decimal(1),
                                                        Decimal(325), Decimal("325.00")),))
    return Operation(seq=1, action=Action.ADD, kind=Kind.INVOICE, local_id=1, number="INV1", description="Invoice",
                     payload=data)


class Canned:
    def __init__(self, answer: bytes | str) -> None:
        self.answer = answer

    def process(self, message: bytes) -> bytes | str:
        return self.answer


def exercise(answer: bytes | str, request: bytes) -> None:
    """Everything booksync does with an answer; only QuickBooks errors may escape."""
    for with_request in (False, True):
        try:
            responses = parse_response(answer, request=request if with_request else None)
        except MalformedResponse:
            continue
        for rs in responses:
            rs.ok, rs.error() if not rs.ok else None  # noqa: B018 - building the typed error must not fail
            for ret in rs.rets:
                for child in ret.iter():
                    if not isinstance(child.tag, str) or child is ret:
                        continue
                    path = child.tag
                    text(ret, path)
                    for accessor in (decimal, boolean, date):
                        try:
                            accessor(ret, path)
                        except MalformedResponse:
                            pass
    port = DesktopBooks(Canned(answer))
    for call in (port.snapshot, lambda: port.send([_operation()], lambda ref: None),
                 lambda: port.find_added("invoice", "INV1", ""), lambda: port.transactions("invoice", ["1-1"])):
        try:
            call()
        except BooksError:
            pass


FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(data=st.one_of(st.binary(max_size=600), st.text(max_size=300),
                      st.text(st.characters(codec="utf-8"), max_size=50).map(lambda t: f"<QBXML><QBXMLMsgsRs>{t}"
                                                                                      "</QBXMLMsgsRs></QBXML>")))
def _fuzz_random(data):
    exercise(data, SEEDS[0][0])


@FUZZ
@given(pair=mutated(), as_text=st.booleans())
def _fuzz_mutated(pair, as_text):
    request, answer = pair
    if as_text:
        answer = answer.decode("utf-8", "replace")
    exercise(answer, request)


def test_fuzz_the_response_parser_for_a_fixed_budget(seeds):
    """Random and mutated answers, for BOOKSYNC_FUZZ_SECONDS: no exception but QuickBooks' typed errors."""
    deadline = time.monotonic() + BUDGET
    rounds = 0
    while rounds < 2 or time.monotonic() < deadline:
        (_fuzz_random if rounds % 3 == 0 else _fuzz_mutated)()
        rounds += 1
    assert rounds >= 2


def test_the_seeds_are_real_answers_that_parse(seeds):
    """The unmutated seeds parse against their requests (so mutations start from valid answers)."""
    for request, answer in seeds:
        parse_response(answer, request=request)
