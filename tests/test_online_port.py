"""The QuickBooks Online books port against the test double: reading, writing, batches, requestid,
refusals as typed errors, pacing and 429."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal

import pytest

from booksync.books.online.adapter import ONLINE_LIMITS, request_id
from booksync.books.online.errors import (QboClosedPeriod, QboDepositedTransaction, QboDuplicateDocNumber, QboFault,
                                       QboInvalidReference, QboNameInUse, QboStaleObject, QboUnreachable,
                                       QboUnsupported, parse_fault)
from booksync.books.online.transport import RealmLimiter
from booksync.books.online import payloads as qbo_json
from booksync.domain import Action, Kind
from booksync.errors import CannotModify, ClosedPeriod, InvalidReference, NameInUse, OutOfDate
from booksync.sync.refusals import explain_refusal
from test_online_support import (Ops, account_id, home, no_refs, point_home_at, port_of,  # noqa: F401
                                 seed_customer_and_item, server)


def test_snapshot_maps_accounts_lists_and_the_closing_date(home, server) -> None:  # noqa: F811
    server.double.company.book_close_date = "2024-12-31"
    with port_of(home) as port:
        snap = port.snapshot()
        assert port.company_key == f"qbo:{server.double.realm_id}"
    accounts = snap.account_by_name()
    assert accounts["undeposited funds"].account_type == "OtherCurrentAsset"
    assert accounts["undeposited funds"].special == "UndepositedFunds" and accounts["undeposited funds"].holds_deposits
    assert accounts["checking"].account_type == "Bank" and accounts["checking"].holds_deposits
    assert accounts["membership dues:corporate"].account_type == "Income"
    assert not accounts["membership dues:corporate"].holds_deposits
    assert accounts["accounts receivable"].special == "AccountsReceivable"
    assert snap.company.closing_date == dt.date(2024, 12, 31)
    assert snap.company.name == "Riverside Regional Chamber of Commerce"
    assert {"city utilities", "jordan ellis"} <= set(snap.names_in_use())  # vendors and employees
    assert {m.name for m in snap.payment_methods} >= {"Cash", "Check", "Visa"}
    assert ONLINE_LIMITS.customer_name == 100 and not ONLINE_LIMITS.latin1_only


def test_a_snapshot_without_customers_is_still_complete_and_find_customers_filters_it(home, server) -> None:  # noqa: F811
    """QuickBooks Online reads every list either way (the backup exports them); find_customers answers from them."""
    wanted, _ = seed_customer_and_item(server.double)
    with server.double.lock:
        server.double.company.create("Customer", {"DisplayName": "Not Asked For"})
    with port_of(home) as port:
        snap = port.snapshot(balances=False, customers=False)
        assert snap.complete and len(snap.customers) == 2
        customers, others = port.find_customers([wanted], ["CITY UTILITIES", "Nobody"])
    assert [(c.list_id, c.name) for c in customers] == [(wanted, "Main Street Dental")]
    assert [(o.name.casefold(), o.kind) for o in others] == [("city utilities", "Vendor")]


def test_customers_are_read_past_1000_with_paged_queries(home, server) -> None:  # noqa: F811
    company = server.double.company
    with server.double.lock:
        for n in range(1205):
            company.entities["Customer"][str(90000 + n)] = {
                "Id": str(90000 + n), "SyncToken": "0", "DisplayName": f"Member {n:04d}",
                "FullyQualifiedName": f"Member {n:04d}", "Active": n % 10 != 0}
    with port_of(home) as port:
        customers = port.snapshot().customers
    assert len(customers) == 1205
    assert sum(not c.is_active for c in customers) == 121
    queries = [r for r in server.double.stats.log if r["path"] == "query"]
    assert all(r["minorversion"] == "75" for r in server.double.stats.log)
    pages = [r["query"] for r in queries if r["query"].startswith("SELECT * FROM Customer")]
    assert [p.split("STARTPOSITION ")[1] for p in pages] == ["1 MAXRESULTS 1000", "1001 MAXRESULTS 1000"]


def test_render_is_the_json_batch_with_exact_amounts(home, server) -> None:  # noqa: F811
    with port_of(home) as port:
        port.snapshot()
        ops = Ops(port.company_key)
        op = ops.sales(Kind.INVOICE, 1, "7", "8", "1234.50", "INV1")
        text = port.render([op], no_refs).decode()
    assert "1234.50" in text and "1234.5," not in text
    doc = json.loads(text, parse_float=Decimal)
    (batch,) = doc["batches"]
    assert batch["requestid"] == op.payload.external_guid.strip("{}").lower()
    item = batch["BatchItemRequest"][0]
    assert item["operation"] == "create" and item["Invoice"]["Line"][0]["Amount"] == Decimal("1234.50")
    assert qbo_json.dumps({"a": Decimal("1E+2")}) == '{"a":100}'
    with pytest.raises(TypeError):
        qbo_json.dumps({"a": 1.5})


def test_messages_are_split_into_batches_of_30_with_stable_requestids(home, server) -> None:  # noqa: F811
    with port_of(home) as port:
        ops = Ops(port.company_key)
        batch = [ops.customer(n, f"Customer {n}") for n in range(1, 46)]
        outcomes = port.send(batch, no_refs)
    assert [o.status for o in outcomes] == ["done"] * 45
    assert len({o.remote_id for o in outcomes}) == 45 and all(o.edit_sequence == "0" for o in outcomes)
    assert outcomes[0].name == "Customer 1"
    writes = [r for r in server.double.stats.log if r["path"] == "batch"]
    assert [r["items"] for r in writes] == [30, 15]
    assert request_id(batch[:30]) == request_id(batch[:30]) != request_id(batch[30:])
    assert all(len(r["requestid"]) <= 36 for r in writes)


def test_a_lost_answer_is_retried_with_the_same_requestid_and_nothing_is_doubled(home, server) -> None:  # noqa: F811
    customer, item = seed_customer_and_item(server.double)
    undeposited = account_id(server.double, "Undeposited Funds")
    server.double.drop_responses(2, "batch")  # the invoice batch and the payment batch both lose their answer
    with port_of(home) as port:
        ops = Ops(port.company_key)
        (invoice,) = port.send([ops.sales(Kind.INVOICE, 1, customer, item, "325.00", "INV10001")], no_refs)
        assert invoice.status == "done"
        payments = port.send([ops.payment(n, customer, "100.00", undeposited) for n in (1, 2, 3)], no_refs)
    assert [p.status for p in payments] == ["done"] * 3
    company = server.double.company
    assert len(company.entities["Invoice"]) == 1 and len(company.entities["Payment"]) == 3
    assert server.double.stats.dropped == 2 and server.double.stats.replays == 2


def test_a_lost_answer_in_one_run_is_answered_from_the_record_in_the_next(home, server) -> None:  # noqa: F811
    customer, _ = seed_customer_and_item(server.double)
    undeposited = account_id(server.double, "Undeposited Funds")
    home.settings["online"]["max_retries"] = 0
    home.save()
    server.double.drop_responses(1, "batch")
    with port_of(home) as port:
        ops = Ops(port.company_key)
        batch = [ops.payment(n, customer, "50.00", undeposited) for n in (1, 2)]
        with pytest.raises(QboUnreachable):
            port.send(batch, no_refs)  # the run stops; its journal keeps both payments as "sent"
        again = port.send(batch, no_refs)  # the next run sends the same operations
    assert [o.status for o in again] == ["done", "done"]
    assert len(server.double.company.entities["Payment"]) == 2


def refusal(port, op):  # noqa: ANN001, ANN201
    (outcome,) = port.send([op], no_refs)
    assert outcome.status == "failed", outcome
    return outcome.error


def test_refusals_become_typed_errors_that_say_what_to_do(home, server) -> None:  # noqa: F811
    double = server.double
    customer, item = seed_customer_and_item(double)
    undeposited = account_id(double, "Undeposited Funds")
    with port_of(home) as port:
        ops = Ops(port.company_key)
        # 6240: DisplayName is unique across customers, vendors and employees.
        name_op = ops.customer(1, "City Utilities")
        error = refusal(port, name_op)
        assert isinstance(error, QboNameInUse) and isinstance(error, NameInUse) and error.code == 6240
        assert "booksync members map" in error.advice
        text = explain_refusal(name_op, port.send([name_op], no_refs)[0])
        assert "customer 1001" in text and "6240" in text and "rename one of them" in text
        # 6140: duplicate DocNumber.
        assert port.send([ops.sales(Kind.INVOICE, 1, customer, item, "10.00", "INV1")], no_refs)[0].status == "done"
        assert isinstance(refusal(port, ops.sales(Kind.INVOICE, 2, customer, item, "10.00", "INV1")),
                          QboDuplicateDocNumber)
        # 6210: dated on or before the closing date.
        double.company.book_close_date = "2024-12-31"
        error = refusal(port, ops.sales(Kind.INVOICE, 3, customer, item, "10.00", "INV3", date=dt.date(2024, 6, 1)))
        assert isinstance(error, QboClosedPeriod) and isinstance(error, ClosedPeriod)
        assert "closing date" in error.advice
        double.company.book_close_date = None
        # 610: an inactive item.
        with double.lock:
            double.company.update("Item", {"Id": item, "SyncToken": "0", "sparse": True, "Active": False})
        error = refusal(port, ops.sales(Kind.INVOICE, 4, customer, item, "10.00", "INV4"))
        assert isinstance(error, QboInvalidReference) and isinstance(error, InvalidReference) and error.code == 610
        assert "inactive" in error.advice
        # A payment deposited to an income account.
        error = refusal(port, ops.payment(1, customer, "5.00", account_id(double, "Events")))
        assert isinstance(error, QboInvalidReference) and "Undeposited Funds" in error.advice
        # 5010: a stale SyncToken.
        (added,) = port.send([ops.customer(2, "Oak Street Bakery")], no_refs)
        with double.lock:
            double.company.update("Customer", {"Id": added.remote_id, "SyncToken": "0", "sparse": True,
                                               "Notes": "edited in QuickBooks"})
        mod = ops.customer(2, "Oak Street Bakery Inc")
        mod.action, mod.remote_id, mod.edit_sequence = Action.MOD, added.remote_id, added.edit_sequence
        error = refusal(port, mod)
        assert isinstance(error, QboStaleObject) and isinstance(error, OutOfDate) and error.code == 5010
        # 6540: a deposited payment cannot be deleted.
        (paid,) = port.send([ops.payment(2, customer, "10.00", undeposited)], no_refs)
        with double.lock:
            double.company.create("Deposit", {"DepositToAccountRef": {"value": account_id(double, "Checking")},
                                              "Line": [{"Amount": Decimal("10.00"), "LinkedTxn": [
                                                  {"TxnId": paid.remote_id, "TxnType": "Payment",
                                                   "TxnLineId": "0"}]}]})
        error = refusal(port, ops.change(Action.DELETE, Kind.PAYMENT, 2, paid.remote_id))
        assert isinstance(error, QboDepositedTransaction) and isinstance(error, CannotModify) and error.code == 6540
        assert "remove this payment from it" in error.advice
        # Voiding a credit memo (a zeroing update of the lines read first) that is no longer in QuickBooks Online:
        # refused before anything is written.
        batches = sum(r["path"] == "batch" for r in double.stats.log)
        error = refusal(port, ops.change(Action.VOID, Kind.CREDIT_MEMO, 9, "999", "0"))
        assert isinstance(error, QboFault) and "no longer in QuickBooks Online" in str(error)
        assert sum(r["path"] == "batch" for r in double.stats.log) == batches


def test_every_fault_of_a_batch_is_read(home, server) -> None:  # noqa: F811
    customer, item = seed_customer_and_item(server.double)
    with port_of(home) as port:
        ops = Ops(port.company_key)
        first = port.send([ops.sales(Kind.INVOICE, 1, customer, item, "10.00", "INV1")], no_refs)
        assert first[0].status == "done"
        batch = [ops.sales(Kind.INVOICE, 2, customer, item, "20.00", "INV2"),
                 ops.sales(Kind.INVOICE, 3, customer, item, "30.00", "INV1"),
                 ops.sales(Kind.INVOICE, 4, customer, item, "40.00", "X" * 22, memo="m" * 4001)]
        later = ops.sales(Kind.INVOICE, 5, customer, item, "50.00", "INV5")
        port.batch_size = 3
        outcomes = port.send(batch + [later], no_refs)
    assert [o.status for o in outcomes] == ["done", "failed", "failed", "not processed"]
    assert isinstance(outcomes[1].error, QboDuplicateDocNumber)
    assert [e.code for e in outcomes[2].error.errors] == ["2050", "2050"]
    assert {e.element for e in outcomes[2].error.errors} == {"DocNumber", "PrivateNote"}
    kind, entries = parse_fault('<IntuitResponse><Fault type="AuthenticationFault"><Error code="100">'
                                '<Message>General Authentication Error</Message></Error></Fault></IntuitResponse>')
    assert kind == "AuthenticationFault" and entries[0].code == "100"


def test_payments_apply_invoices_and_credit_memos_and_balances_follow(home, server) -> None:  # noqa: F811
    customer, item = seed_customer_and_item(server.double)
    undeposited = account_id(server.double, "Undeposited Funds")
    with port_of(home) as port:
        ops = Ops(port.company_key)
        (inv,) = port.send([ops.sales(Kind.INVOICE, 1, customer, item, "750.00", "INV1")], no_refs)
        (cm,) = port.send([ops.sales(Kind.CREDIT_MEMO, 1, customer, item, "425.00", "CM1")], no_refs)
        (pay,) = port.send([ops.payment(1, customer, "300.00", undeposited, inv.remote_id, "300.00",
                                        cm.remote_id, "425.00")], no_refs)
        assert pay.status == "done", pay
        snap = port.snapshot()
        txns = port.transactions("payment", [pay.remote_id])
        invoices = port.transactions("invoice", [inv.remote_id])
    balance = {c.list_id: c.balance for c in snap.customers}[customer]
    assert balance == Decimal("25.00")  # 750 - 425 - 300
    assert server.double.company.find("Invoice", inv.remote_id)["Balance"] == Decimal("25.00")
    assert txns[pay.remote_id].total == Decimal("300.00") and txns[pay.remote_id].deposit_account_id == undeposited
    assert txns[pay.remote_id].applied == [(inv.remote_id, Decimal("725.00"))]
    assert invoices[inv.remote_id].lines == [(item, Decimal("750.00"))]


def test_void_and_delete_read_the_current_synctoken_first(home, server) -> None:  # noqa: F811
    customer, item = seed_customer_and_item(server.double)
    with port_of(home) as port:
        ops = Ops(port.company_key)
        (inv,) = port.send([ops.sales(Kind.INVOICE, 1, customer, item, "100.00", "INV1")], no_refs)
        (cm,) = port.send([ops.sales(Kind.CREDIT_MEMO, 1, customer, item, "10.00", "CM1")], no_refs)
        voided, deleted = port.send([ops.change(Action.VOID, Kind.INVOICE, 1, inv.remote_id)], no_refs) + \
            port.send([ops.change(Action.DELETE, Kind.CREDIT_MEMO, 1, cm.remote_id)], no_refs)
    assert voided.status == "done" and voided.edit_sequence == "1"
    assert server.double.company.find("Invoice", inv.remote_id)["TotalAmt"] == Decimal("0.00")
    assert deleted.status == "done" and server.double.company.find("CreditMemo", cm.remote_id) is None


# ---------------------------------------------------------------------- pacing


def test_429_pauses_and_retries_until_everything_is_done(tmp_path, server) -> None:  # noqa: F811
    from test_online_support import connect
    from booksync.config import Home

    server.double.configure(rate_limit=20, rate_window=1.0)
    h = Home.load(tmp_path / "h", create=True)
    point_home_at(h, server, batch_size=10, backoff_seconds=0.1, max_retries=8)
    h = connect(h, server)
    with port_of(h) as port:
        ops = Ops(port.company_key)
        outcomes = port.send([ops.customer(n, f"Throttled {n}") for n in range(1, 61)], no_refs)
        throttled = port.client.throttled
    assert [o.status for o in outcomes] == ["done"] * 60
    assert throttled > 0 and server.double.stats.throttled == throttled
    assert sum(1 for c in server.double.company.entities["Customer"].values()
               if c["DisplayName"].startswith("Throttled")) == 60


def test_the_limiter_keeps_under_the_double_so_no_429_comes(tmp_path, server) -> None:  # noqa: F811
    from test_online_support import connect
    from booksync.config import Home

    server.double.configure(rate_limit=40, rate_window=1.0)
    h = Home.load(tmp_path / "h", create=True)
    point_home_at(h, server, batch_size=10, requests_per_minute=39, rate_window_seconds=1.0)
    h = connect(h, server)
    with port_of(h) as port:
        ops = Ops(port.company_key)
        start = time.monotonic()
        outcomes = port.send([ops.customer(n, f"Paced {n}") for n in range(1, 121)], no_refs)
        elapsed = time.monotonic() - start
    assert all(o.status == "done" for o in outcomes)
    assert server.double.stats.throttled == 0
    assert elapsed >= 2.0  # 120 operations at 39 per second need at least three windows


def test_limiter_caps_concurrency_and_the_window() -> None:
    limiter = RealmLimiter(per_window=1000, window=60, concurrent=3)
    active, peak, lock = [0], [0], threading.Lock()

    def work() -> None:
        with limiter.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 3 and limiter.max_in_flight == 3
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    paced = RealmLimiter(per_window=5, window=10, concurrent=10, batches_per_window=2, clock=lambda: now[0],
                         sleep=sleep)
    for _ in range(5):
        with paced.slot():
            pass
    assert not slept
    with paced.slot(weight=3):
        pass
    assert now[0] == pytest.approx(paced.span) == pytest.approx(10.2)  # waited for the window (+2% guard)
    with paced.slot(batch=True), paced.slot(batch=True):
        pass
    with paced.slot(batch=True):  # the third batch in a window waits
        pass
    assert now[0] >= 2 * paced.span


def test_the_double_refuses_more_than_30_per_batch_and_missing_minorversion(home, server) -> None:  # noqa: F811
    import httpx

    from booksync.books.online.auth import TokenStore

    token = TokenStore(home.path).load(server.double.realm_id).access_token
    url = f"{server.url}/v3/company/{server.double.realm_id}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    items = [{"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"C{n}"}} for n in range(31)]
    too_many = httpx.post(f"{url}/batch?minorversion=75", headers=headers,
                          content=json.dumps({"BatchItemRequest": items}))
    assert too_many.status_code == 400 and "at most 30" in too_many.text
    no_version = httpx.get(f"{url}/preferences", headers=headers)
    assert no_version.status_code == 400 and "minorversion" in no_version.text
    assert not any(c["DisplayName"] == "C0" for c in server.double.company.entities["Customer"].values())


def test_find_added_recognises_what_booksync_created(home, server) -> None:  # noqa: F811
    customer, item = seed_customer_and_item(server.double)
    undeposited = account_id(server.double, "Undeposited Funds")
    with port_of(home) as port:
        port.snapshot()
        ops = Ops(port.company_key)
        cust, inv, pay = ops.customer(1, "Oak Street Bakery"), ops.sales(Kind.INVOICE, 1, customer, item, "10.00",
                                                                         "INV1"), \
            ops.payment(1, customer, "10.00", undeposited)
        done = [port.send([op], no_refs)[0] for op in (cust, inv, pay)]
        found = [port.find_added(op.kind.value, ref, op.payload.external_guid)
                 for op, ref in ((cust, "Oak Street Bakery"), (inv, "INV1"), (pay, "R1"))]
        assert found == [(done[0].remote_id, "0", "Oak Street Bakery"), (done[1].remote_id, "0", ""),
                         (done[2].remote_id, "0", "")]
        other = ops.payment(2, customer, "10.00", undeposited)
        assert port.find_added("payment", "R1", other.payload.external_guid) is None  # same ref, not booksync's
        assert port.find_added("invoice", "INV9", inv.payload.external_guid) is None
    note = server.double.company.find("Payment", done[2].remote_id)["PrivateNote"]
    assert note == f"Receipt R1\n[booksync {pay.payload.external_guid.strip('{}')}]"


# ---------------------------------------------------------------------- issue 17: throttling answered with 403

THROTTLE_403 = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse '
                'xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE"><Error code="3001"><Message>'
                'message=ThrottleExceeded; errorCode=003001; statusCode=403</Message><Detail>The request limit was '
                'reached.  Try again later</Detail></Error></Fault></IntuitResponse>')
"""The answer Intuit gave (ruckus/quickbooks-ruby#338, routablehq/python-quickbooks#43)."""


class _Tokens:
    def access_token(self) -> str:
        return "token"

    def after_unauthorized(self, token: str) -> str:
        return token


def _client(*answers):  # noqa: ANN002, ANN202
    import httpx

    from booksync.books.online.transport import QboClient

    replies = list(answers)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body, kind = replies.pop(0)
        return httpx.Response(status, content=body.encode(), headers={"Content-Type": kind})

    client = QboClient("https://qbo.test", "123", _Tokens(), http=httpx.Client(transport=httpx.MockTransport(handler)),
                       backoff=0.001, sleep=lambda s: None, limiter=RealmLimiter(per_window=1000))
    return client, seen


def test_a_throttle_fault_with_http_403_is_retried_not_reported_as_lost_rights() -> None:
    client, seen = _client((403, THROTTLE_403, "application/xml"),
                           (200, json.dumps({"CompanyInfo": {"Id": "1"}}), "application/json"))
    resp = client.request("GET", "companyinfo/123")
    assert resp.status == 200 and len(seen) == 2 and client.throttled == 1


def test_a_403_without_the_throttle_code_still_asks_to_reconnect() -> None:
    from booksync.books.online.errors import OnlineConnectionFailure

    denied = THROTTLE_403.replace("3001", "3100").replace("ThrottleExceeded", "AuthorizationFailed")
    client, seen = _client((403, denied, "application/xml"))
    with pytest.raises(OnlineConnectionFailure) as refused:
        client.request("GET", "companyinfo/123")
    assert "lost admin rights" in str(refused.value) and len(seen) == 1


def test_a_throttle_fault_in_a_batch_item_is_transient() -> None:
    from booksync.books.online.errors import FaultEntry, QboThrottled, fault_error

    error = fault_error([FaultEntry("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                                    "The request limit was reached.  Try again later")], "SERVICE", "payment")
    assert isinstance(error, QboThrottled) and error.transient and "lost" not in str(error)
