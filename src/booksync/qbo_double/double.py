"""The QuickBooks Online test double: state, limits, fault injection, and its Starlette application.

:class:`QboDouble` holds the companies (:class:`~.company.Company`), the OAuth server
(:class:`~.oauth.OAuthServer`), the limits and counters; :meth:`QboDouble.app` is the ASGI application
that :mod:`.server` runs with uvicorn on 127.0.0.1.

The Accounting API (``/v3/company/{realm}/...``), as far as booksync uses it:

* ``GET companyinfo/{realm}``, ``GET preferences`` (``AccountingInfoPrefs.BookCloseDate``,
  ``SalesFormsPrefs.CustomTxnNumbers``), ``GET {entity}/{id}``, ``GET|POST query``;
* ``POST {entity}`` create or update (body with ``Id`` and ``SyncToken``; ``sparse``),
  ``?operation=delete``, ``?operation=void`` (Invoice), ``?operation=update&include=void`` (Payment);
* ``POST batch``: ``BatchItemRequest`` of at most ``batch_limit`` (30) items, each create/update/delete,
  ``optionsData: "void"``, or a ``Query``; items are independent; the answer is HTTP 200 with one
  ``BatchItemResponse`` per item carrying the entity or its own ``Fault`` (reference §5).

Every call needs a valid Bearer token for that realm (401 with the lower-case ``fault`` shape otherwise)
and — with ``strict_minorversion``, stricter than Intuit, to catch omissions — ``minorversion`` ≥ 75.

Limits per realm (reference §5): ``rate_limit`` requests per ``rate_window`` seconds (500 per 60 s;
with ``count_batch_items`` each batch item counts as a request), ``batch_rate_limit`` batches per
window (40), ``concurrency_limit`` requests in flight (10). Over any of them: HTTP 429 with
``message=ThrottleExceeded; errorCode=003001; statusCode=429``.

``requestid`` (reference §9): a POST with a requestid already seen for the realm is answered with the
stored answer, and nothing is done again. The double stores an answer only when the request changed
something (a successful write, or a batch with at least one successful item): a request refused as a
whole changed nothing and may be retried under the same id after the cause is fixed (how Intuit treats
refused requests is not documented: **assumption**).

Fault injection (tests and benchmarks): :meth:`QboDouble.drop_responses` commits the next matching
requests and then breaks the connection before the answer's body is sent (a "lost response");
:meth:`QboDouble.throttle_next` answers the next requests 429 before doing anything (or, with ``status=403``,
403 with the XML fault 3001 Intuit has also answered throttled calls with: ruckus/quickbooks-ruby#338,
routablehq/python-quickbooks#43); ``latency`` delays every API answer (without blocking other requests).

Test-only control endpoints (not part of Intuit's API): ``GET /_double/stats``,
``POST /_double/config`` (JSON of :class:`DoubleConfig` fields), ``POST /_double/faults``
(``{"drop": n, "path": "batch", "throttle": n, "throttle_status": 403}``), ``POST /_double/book-close-date`` (``{"realm", "date"}``),
``POST /_double/revoke`` (``{"realm"}``: the company's administrator disconnects the app, every token is revoked).
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from booksync.money import json_dumps, json_loads
from booksync.qbo_double.company import ENTITIES, TRANSACTIONS, Company, Fault
from booksync.qbo_double.oauth import OAuthServer
from booksync.qbo_double.query import parse as parse_query
from booksync.qbo_double.query import run as run_query

DEFAULT_REALM = "9341453050143221"
DEFAULT_CLIENT_ID = "ABbooksyncTestDoubleClientId"
DEFAULT_CLIENT_SECRET = "booksync-test-double-secret"
ENTITY_PATHS = {e.lower(): e for e in ENTITIES}


@dataclass
class DoubleConfig:
    """The double's behaviour; every field can be changed while it runs (``/_double/config``)."""

    rate_limit: int = 500
    rate_window: float = 60.0
    batch_rate_limit: int = 40
    concurrency_limit: int = 10
    count_batch_items: bool = True
    batch_limit: int = 30
    latency: float = 0.0
    strict_minorversion: bool = True
    access_ttl: float = 3600.0
    refresh_ttl: float = 8726400.0
    rotation_grace: float = 0.0


THROTTLE_403 = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse '
                'xmlns="http://schema.intuit.com/finance/v3" time="2015-07-29T09:08:26.384-07:00"><Fault type="SERVICE">'
                '<Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=403</Message>'
                '<Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>')
"""A throttled call as Intuit has answered it with HTTP 403 (ruckus/quickbooks-ruby#338,
routablehq/python-quickbooks#43): the same fault 3001 as the 429, in XML."""


class DroppedResponse(Exception):
    """Raised inside the server to break the connection after a request was committed."""


@dataclass
class Stats:
    """What the double saw. ``log`` holds one dict per API request (time, method, path, status, items...)."""

    log: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0
    replays: int = 0
    dropped: int = 0
    max_in_flight: int = 0
    max_batch_items: int = 0
    minorversions: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": len(self.log), "throttled": self.throttled, "replays": self.replays,
                "dropped": self.dropped, "max_in_flight": self.max_in_flight,
                "max_batch_items": self.max_batch_items, "minorversions": sorted(self.minorversions),
                "log": self.log}


class QboDouble:
    """A QuickBooks Online stand-in (see the module docstring). Thread-safe; one lock guards everything."""

    def __init__(self, realm_id: str = DEFAULT_REALM, company_name: str = "Riverside Regional Chamber of Commerce",
                 client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                 redirect_uris: tuple[str, ...] = (), config: DoubleConfig | None = None) -> None:
        self.lock = threading.RLock()
        self.config = config or DoubleConfig()
        self.offset = 0.0
        self.companies: dict[str, Company] = {}
        self.oauth = OAuthServer(clock=self.clock, consent_realm=realm_id)
        self.oauth.register_client(client_id, client_secret, redirect_uris)
        self._apply_config()
        self.add_company(realm_id, company_name)
        self.realm_id = realm_id
        self.stats = Stats()
        self._window: dict[str, deque[tuple[float, int, bool]]] = {}
        self._in_flight: dict[str, int] = {}
        self._replay: dict[tuple[str, str], tuple[int, bytes]] = {}
        self._drops: list[list[Any]] = []
        self._throttle_next = 0
        self._throttle_status = 429

    # ------------------------------------------------------------------ state helpers for tests

    def clock(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the double's clock forward (token expiry without waiting)."""
        with self.lock:
            self.offset += seconds

    def configure(self, **changes: Any) -> None:
        with self.lock:
            self.config = dataclasses.replace(self.config, **changes)
            self._apply_config()

    def _apply_config(self) -> None:
        self.oauth.access_ttl = self.config.access_ttl
        self.oauth.refresh_ttl = self.config.refresh_ttl
        self.oauth.rotation_grace = self.config.rotation_grace

    def add_company(self, realm_id: str, name: str, seed: bool = True) -> Company:
        with self.lock:
            company = Company(realm_id, name, self.clock, seed=seed)
            self.companies[realm_id] = company
            return company

    @property
    def company(self) -> Company:
        """The default company."""
        return self.companies[self.realm_id]

    def drop_responses(self, count: int = 1, path: str = "") -> None:
        """Commit the next ``count`` API requests whose path contains ``path``, then lose their answers."""
        with self.lock:
            self._drops.append([path, count])

    def throttle_next(self, count: int, status: int = 429) -> None:
        """Answer the next ``count`` API requests with ``status`` (429, or 403 as Intuit has too) and fault 3001
        before doing anything."""
        with self.lock:
            self._throttle_next += count
            self._throttle_status = status

    def reset_stats(self) -> None:
        with self.lock:
            self.stats = Stats()

    def writes(self, realm_id: str | None = None) -> int:
        """Entities created, changed or deleted in the company so far."""
        return self.companies[realm_id or self.realm_id].writes

    # ------------------------------------------------------------------ limits

    def _admit(self, realm: str, weight: int, batch: bool) -> bool:
        cfg = self.config
        now = time.monotonic()
        window = self._window.setdefault(realm, deque())
        while window and window[0][0] <= now - cfg.rate_window:
            window.popleft()
        used = sum(w for _, w, _ in window)
        batches = sum(1 for _, _, b in window if b)
        if used + weight > cfg.rate_limit or (batch and batches + 1 > cfg.batch_rate_limit):
            return False
        window.append((now, weight, batch))
        return True

    def _should_drop(self, path: str) -> bool:
        with self.lock:
            for entry in self._drops:
                if entry[0] in path and entry[1] > 0:
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._drops.remove(entry)
                    self.stats.dropped += 1
                    return True
        return False

    # ------------------------------------------------------------------ the API

    def handle(self, realm: str, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        """Execute one API call against ``realm`` (no auth or limits here); (status, JSON body)."""
        company = self.companies.get(realm)
        if company is None:
            raise Fault(3100, "ApplicationAuthorizationFailed", f"no company {realm}", status=403,
                        fault_type="AuthorizationFault")
        parts = [p for p in path.split("/") if p]
        time_now = company.now()
        if parts == ["batch"] and method == "POST":
            return 200, {"BatchItemResponse": self._batch(company, body), "time": time_now}
        if parts and parts[0] == "query":
            statement = params.get("query") or (body if isinstance(body, str) else "")
            return 200, {"QueryResponse": self._query(company, statement), "time": time_now}
        if len(parts) == 2 and parts[0] == "companyinfo" and method == "GET":
            return 200, {"CompanyInfo": {"Id": "1", "CompanyName": company.name, "LegalName": company.name,
                                         "Country": "US", "FiscalYearStartMonth": "January", "SyncToken": "0",
                                         "domain": "QBO"}, "time": time_now}
        if parts == ["preferences"] and method == "GET":
            # Class tracking: Intuit's Preferences entity, AccountingInfoPrefs.ClassTrackingPerTxnLine / PerTxn ("These
            # settings correspond to how classes are assigned when Track classes ... is set to On").
            prefs: dict[str, Any] = {"AccountingInfoPrefs": {
                                         "CustomerTerminology": "Customers",
                                         "ClassTrackingPerTxnLine": company.class_tracking == "line",
                                         "ClassTrackingPerTxn": company.class_tracking == "txn"},
                                     "SalesFormsPrefs": {"CustomTxnNumbers": company.custom_txn_numbers}}
            if company.book_close_date:
                prefs["AccountingInfoPrefs"]["BookCloseDate"] = company.book_close_date
            return 200, {"Preferences": prefs, "time": time_now}
        entity = ENTITY_PATHS.get(parts[0].lower()) if parts else None
        if entity is None:
            raise Fault(500, "Unsupported Operation", f"Unsupported path {path}")
        if method == "GET" and len(parts) == 2:
            obj = company.find(entity, parts[1])
            if obj is None:
                raise Fault(610, "Object Not Found", f"Object Not Found : {entity} {parts[1]} does not exist.")
            return 200, {entity: company.out(entity, obj), "time": time_now}
        if method != "POST" or len(parts) != 1 or not isinstance(body, dict):
            raise Fault(500, "Unsupported Operation", f"Unsupported {method} {path}")
        operation = params.get("operation", "")
        if operation == "delete":
            return 200, {entity: company.delete(entity, body), "time": time_now}
        if operation == "void" or (operation == "update" and params.get("include") == "void"):
            return 200, {entity: company.out(entity, company.void(entity, body)), "time": time_now}
        obj = company.update(entity, body) if body.get("Id") else company.create(entity, body)
        return 200, {entity: company.out(entity, obj), "time": time_now}

    def _query(self, company: Company, statement: str) -> dict[str, Any]:
        query = parse_query(statement)
        if query.entity not in company.entities:
            raise Fault(4000, "Error parsing query", f"QueryParserError: Invalid context declaration : "
                                                     f"{query.entity}")
        rows = run_query(query, list(company.entities[query.entity].values()))
        if query.count:
            return {"totalCount": len(rows)}
        if not rows:
            return {}
        balances = company.balances() if query.entity == "Customer" else None
        return {query.entity: [company.out(query.entity, r, balances) for r in rows],
                "startPosition": query.start, "maxResults": len(rows)}

    def _batch(self, company: Company, body: Any) -> list[dict[str, Any]]:
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "BatchItemRequest is missing in the request", "BatchItemRequest")
        if len(items) > self.config.batch_limit:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        f"Business Validation Error: a batch request holds at most {self.config.batch_limit} "
                        f"items; this one has {len(items)}.", "BatchItemRequest")
        answers = []
        for item in items:
            bid = str(item.get("bId", ""))
            try:
                answers.append({"bId": bid, **self._batch_item(company, item)})
            except Fault as fault:
                answers.append({"bId": bid, "Fault": fault.fault()})
        return answers

    def _batch_item(self, company: Company, item: dict[str, Any]) -> dict[str, Any]:
        if "Query" in item:
            return {"QueryResponse": self._query(company, item["Query"])}
        entity = next((k for k in item if k in ENTITIES), None)
        if entity is None:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "The batch item names no entity", "BatchItemRequest")
        body = item[entity]
        operation = item.get("operation", "create")
        if operation == "delete":
            return {entity: company.delete(entity, body)}
        if operation == "update" and item.get("optionsData") == "void":
            return {entity: company.out(entity, company.void(entity, body))}
        if operation == "update":
            return {entity: company.out(entity, company.update(entity, body))}
        if operation == "create":
            return {entity: company.out(entity, company.create(entity, body))}
        raise Fault(2170, "Invalid Enumeration", f"Invalid Enumeration : operation {operation}", "operation")

    # ------------------------------------------------------------------ the web application

    def app(self) -> Any:
        """The ASGI application (Starlette routes wrapped by the lost-response injector)."""
        routes = [
            Route("/.well-known/openid_configuration", self._discovery),
            Route("/.well-known/openid_sandbox_configuration", self._discovery),
            Route("/connect/oauth2", self._authorize),
            Route("/oauth2/v1/tokens/bearer", self._token, methods=["POST"]),
            Route("/oauth2/v1/tokens/revoke", self._revoke, methods=["POST"]),
            Route("/v3/company/{realm}/{rest:path}", self._api, methods=["GET", "POST"]),
            Route("/_double/stats", self._stats),
            Route("/_double/config", self._config, methods=["POST"]),
            Route("/_double/faults", self._faults, methods=["POST"]),
            Route("/_double/book-close-date", self._close_books, methods=["POST"]),
            Route("/_double/revoke", self._revoke_realm, methods=["POST"]),
        ]
        starlette = Starlette(routes=routes)

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http" or not scope["path"].startswith("/v3/"):
                await starlette(scope, receive, send)
                return
            state = {"drop": False}
            scope["booksync.drop"] = state

            async def guarded_send(message: dict[str, Any]) -> None:
                if state["drop"] and message["type"] == "http.response.body":
                    # Headers went out; the body never will: the client sees the connection break.
                    raise DroppedResponse("the double dropped this response on purpose")
                await send(message)

            await starlette(scope, receive, guarded_send)

        return app

    async def _discovery(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"issuer": base, "authorization_endpoint": f"{base}/connect/oauth2",
                             "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                             "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
                             "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
                             "jwks_uri": f"{base}/oauth2/v1/keys"})

    async def _authorize(self, request: Request) -> Response:
        with self.lock:
            status, where = self.oauth.authorize(dict(request.query_params))
        if status == 302:
            return RedirectResponse(where, status_code=302)
        return PlainTextResponse(where, status_code=status)

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        with self.lock:
            status, body = self.oauth.token(request.headers.get("authorization", ""), form)
        return JSONResponse(body, status_code=status)

    async def _revoke(self, request: Request) -> Response:
        try:
            token = json_loads(await request.body()).get("token", "")
        except ValueError:
            token = ""
        with self.lock:
            status = self.oauth.revoke(request.headers.get("authorization", ""), token)
        return Response(status_code=status)

    async def _api(self, request: Request) -> Response:
        realm = request.path_params["realm"]
        rest = request.path_params["rest"]
        params = dict(request.query_params)
        started = time.monotonic()
        record: dict[str, Any] = {"t": time.time(), "method": request.method, "path": rest,
                                  "minorversion": params.get("minorversion"), "requestid": params.get("requestid"),
                                  **({"query": params["query"]} if "query" in params else {})}
        raw = await request.body()
        body: Any = None
        if raw:
            content_type = request.headers.get("content-type", "")
            try:
                body = json_loads(raw) if "json" in content_type else raw.decode()
            except ValueError:
                return self._fault_response(Fault(2010, "Request has invalid or unsupported property",
                                                  "The request body is not valid JSON"), record)
        items = len(body.get("BatchItemRequest") or []) if rest == "batch" and isinstance(body, dict) else 0
        record["items"] = items
        refused = self._refuse_session(request, realm, params, record)
        if refused is not None:
            return refused
        try:
            throttled = self._throttle(realm, items, rest == "batch", record)
            if throttled is not None:
                return throttled
            if self.config.latency:
                await asyncio.sleep(self.config.latency)
            return self._answer(request, realm, rest, params, body, record)
        finally:
            with self.lock:
                self._in_flight[realm] -= 1
            record["ms"] = round((time.monotonic() - started) * 1000, 2)

    def _refuse_session(self, request: Request, realm: str, params: dict[str, str],
                        record: dict[str, Any]) -> Response | None:
        """Log the request, then refuse an access token the double did not issue for ``realm`` (401, fault
        3200) or, with ``strict_minorversion``, a minorversion before 75; otherwise count it in flight (None)."""
        with self.lock:
            self.stats.log.append(record)
            if params.get("minorversion"):
                self.stats.minorversions.add(params["minorversion"])
            reason = self.oauth.check(request.headers.get("authorization", "")[7:], realm)
            if reason:
                record["status"] = 401
                return JSONResponse({"fault": {"error": [{"message": "message=AuthenticationFailed; "
                                                         "errorCode=003200; statusCode=401",
                                                         "detail": reason, "code": "3200"}],
                                               "type": "AUTHENTICATION"}, "time": dt.datetime.now().isoformat()},
                                    status_code=401)
            mv = params.get("minorversion", "")
            if self.config.strict_minorversion and (not mv.isdigit() or int(mv) < 75):
                return self._fault_response(Fault(2010, "Request has invalid or unsupported property",
                                                  f"minorversion {mv or '(none)'}: send 75 or later (the double's "
                                                  "strict check)", "minorversion"), record)
            self._in_flight[realm] = self._in_flight.get(realm, 0) + 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight[realm])
        return None

    def _throttle(self, realm: str, items: int, batch: bool, record: dict[str, Any]) -> Response | None:
        """429 (fault 3001) when a throttle was asked for, too many requests are in flight, or the realm's
        window is full (reference §5); None when the request may go ahead."""
        with self.lock:
            weight = items if (items and self.config.count_batch_items) else 1
            throttled = self._throttle_next > 0 or self._in_flight[realm] > self.config.concurrency_limit \
                or not self._admit(realm, weight, batch)
            if throttled:
                status = self._throttle_status if self._throttle_next > 0 else 429
                self._throttle_next = max(0, self._throttle_next - 1)
                self.stats.throttled += 1
                record["status"] = status
                if status == 403:
                    return Response(THROTTLE_403, status_code=403, media_type="application/xml")
                return JSONResponse({"fault": {"error": [{
                    "message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                    "detail": "The request limit was reached.", "code": "003001"}], "type": "SERVICE"},
                    "time": dt.datetime.now().isoformat()}, status_code=429)
            self.stats.max_batch_items = max(self.stats.max_batch_items, items)
        return None

    def _answer(self, request: Request, realm: str, rest: str, params: dict[str, str], body: Any,
                record: dict[str, Any]) -> Response:
        """Handle the request, or replay the answer recorded for the same requestid of a POST that wrote
        (reference §9: QuickBooks Online answers a repeated requestid from its record)."""
        requestid = params.get("requestid", "")
        with self.lock:
            key = (realm, requestid)
            if requestid and request.method == "POST" and key in self._replay:
                status, payload = self._replay[key]
                self.stats.replays += 1
                record["status"], record["replay"] = status, True
                return Response(payload, status_code=status, media_type="application/json")
            company = self.companies.get(realm)
            writes_before = company.writes if company else 0
            try:
                status, answer = self.handle(realm, request.method, rest, params, body)
            except Fault as fault:
                return self._fault_response(fault, record)
            payload = json_dumps(answer).encode()
            if requestid and request.method == "POST" and company is not None and company.writes > writes_before:
                self._replay[key] = (status, payload)
            record["status"] = status
        if self._should_drop(rest):
            request.scope["booksync.drop"]["drop"] = True
        return Response(payload, status_code=status, media_type="application/json",
                        headers={"intuit_tid": f"double-{len(self.stats.log)}"})

    def _fault_response(self, fault: Fault, record: dict[str, Any]) -> Response:
        record["status"] = fault.status
        body = {"Fault": fault.fault(), "time": dt.datetime.now().isoformat()}
        return Response(json_dumps(body), status_code=fault.status, media_type="application/json")

    async def _stats(self, request: Request) -> Response:
        with self.lock:
            data = self.stats.as_dict()
            data["writes"] = {realm: c.writes for realm, c in self.companies.items()}
            data["grants"] = dict(self.oauth.grants)
            if request.query_params.get("log") != "1":
                data.pop("log")
            return Response(json_dumps(data), media_type="application/json")

    async def _config(self, request: Request) -> Response:
        changes = json_loads(await request.body())
        self.configure(**{k: v for k, v in changes.items() if k in DoubleConfig.__dataclass_fields__})
        return JSONResponse({k: str(v) for k, v in dataclasses.asdict(self.config).items()})

    async def _faults(self, request: Request) -> Response:
        spec = json_loads(await request.body())
        if spec.get("drop"):
            self.drop_responses(int(spec["drop"]), spec.get("path", ""))
        if spec.get("throttle"):
            self.throttle_next(int(spec["throttle"]), int(spec.get("throttle_status", 429)))
        if spec.get("reset_stats"):
            self.reset_stats()
        return JSONResponse({"ok": True})

    async def _close_books(self, request: Request) -> Response:
        spec = json_loads(await request.body())
        with self.lock:
            self.companies[spec.get("realm") or self.realm_id].book_close_date = spec.get("date") or None
        return JSONResponse({"ok": True})


    async def _revoke_realm(self, request: Request) -> Response:
        spec = json_loads(await request.body() or b"{}")
        realm = str(spec.get("realm") or self.realm_id)
        with self.lock:
            self.oauth.revoke_realm(realm)
        return JSONResponse({"ok": True, "realm": realm})


def transaction_count(company: Company) -> dict[str, int]:
    """How many transactions of each type the company holds (tests)."""
    return {entity: len(company.entities[entity]) for entity in TRANSACTIONS}
