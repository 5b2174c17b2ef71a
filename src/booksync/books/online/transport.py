"""HTTP to the QuickBooks Online Accounting API: pacing, retries, token refresh, paged queries.

Intuit's limits (reference/quickbooks-online.md §5; Intuit blog "IDG concurrent API use changes",
https://blogs.intuit.com/blog/2016/08/08/idg-concurrent-api-use-changes-coming-soon/; Intuit Batch page):
500 requests per minute per realm, batch requests included; at most 10 concurrent requests per app and
realm; at most 40 batch requests per minute and 30 operations per batch. Exceeding either request limit
gives HTTP 429 (``message=ThrottleExceeded; errorCode=003001``).

:class:`RealmLimiter` keeps booksync under them without waiting for a 429: a semaphore caps concurrent
requests, a sliding window caps requests per window. With ``count_batch_items`` (the default) every
operation inside a batch counts as one request, the conservative reading of the reference's "count every
item against the rate limit"; the default pace is 490 a minute, a 2% margin for clock skew between
booksync and Intuit. When a 429 comes anyway the whole realm pauses (not just the one request) and the
request is retried with exponential backoff, a bounded number of times.

:class:`QboClient` adds ``minorversion`` to every call (75: from 2025-08-01 Intuit answers lower values
as 75; reference §1), refreshes the access token once on a 401, retries network failures and 5xx with
the same ``requestid`` (so a create whose answer was lost is answered from Intuit's record, not done
twice; reference §9), and pages queries with STARTPOSITION/MAXRESULTS (at most 1000 per page; reference §5).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import httpx

from booksync import __version__
from booksync.books.online import payloads as qbo_json
from booksync.books.online.errors import (FaultEntry, OnlineConnectionFailure, QboThrottled, QboUnreachable, ReconnectNeeded,
                         fault_error, parse_fault)

log = logging.getLogger("booksync.online")

PAGE = 1000
"""MAXRESULTS per query page: QuickBooks Online's maximum (reference §5)."""


class RealmLimiter:
    """Pacing for one realm, shared by every client of the realm in this process.

    ``per_window`` requests (weights) per ``window`` seconds, ``batches_per_window`` batch requests per
    window, at most ``concurrent`` at a time. ``clock``/``sleep`` are injectable for tests.

    Two rules together: a sliding window never lets more than ``per_window`` through in any ``window``
    seconds (the hard cap), and requests are spread evenly (a generic cell rate algorithm: one unit every
    ``window / per_window`` seconds, ``burst`` units ahead at most). Without the spreading, a sliding window
    sends its whole budget at once and again the instant the oldest requests leave it; Intuit's window
    starts a little later than booksync's (the request travels), so those bursts overlap there and draw
    429s. Spread out, the pace is steady and stays under Intuit's count. Both rules count over a window
    ``GUARD`` (2%) longer than Intuit's: a request that travels up to 2% of the window longer than the one
    that left booksync's window before it (1.2 s of a minute) still cannot make Intuit count one too many.
    """

    GUARD = 0.02

    _registry: dict[tuple[str, str], "RealmLimiter"] = {}
    _registry_lock = threading.Lock()

    def __init__(self, per_window: int = 490, window: float = 60.0, concurrent: int = 10,
                 batches_per_window: int = 38, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, burst: int = 30) -> None:
        self.per_window = max(1, int(per_window))
        self.window = float(window)
        self.batches_per_window = max(1, int(batches_per_window))
        self.burst = max(1, int(burst))
        self._tat = 0.0
        """Theoretical arrival time of the next unit (the spreading rule); likewise ``_batch_tat`` for batches."""
        self._batch_tat = 0.0
        self.concurrent = max(1, int(concurrent))
        self.span = self.window * (1 + self.GUARD)
        self.clock = clock
        self.sleep = sleep
        self._slots = threading.BoundedSemaphore(self.concurrent)
        self._lock = threading.Lock()
        self._sent: deque[tuple[float, int, bool]] = deque()
        self._used = 0
        self._batches = 0
        self._paused_until = 0.0
        self.waited = 0.0
        """Seconds spent waiting for the window (for the benchmark)."""
        self.in_flight = 0
        self.max_in_flight = 0

    @classmethod
    def for_realm(cls, key: tuple[str, str], **kwargs: Any) -> "RealmLimiter":
        """The process-wide limiter of (API base, realm); created with ``kwargs`` the first time or when
        the settings changed."""
        with cls._registry_lock:
            limiter = cls._registry.get(key)
            wanted = (int(kwargs.get("per_window", 490)), float(kwargs.get("window", 60.0)),
                      int(kwargs.get("concurrent", 10)), int(kwargs.get("batches_per_window", 38)))
            if limiter is None or (limiter.per_window, limiter.window, limiter.concurrent,
                                   limiter.batches_per_window) != wanted:
                limiter = cls(**kwargs)
                cls._registry[key] = limiter
            return limiter

    def pause(self, seconds: float) -> None:
        """Hold every request of the realm for ``seconds`` (after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0][0] <= now - self.span:
            _, weight, batch = self._sent.popleft()
            self._used -= weight
            self._batches -= batch

    def _reserve(self, weight: int, batch: bool) -> None:
        weight = min(max(1, weight), self.per_window)
        while True:
            with self._lock:
                now = self.clock()
                self._expire(now)
                unit = self.span / self.per_window
                batch_unit = self.span / self.batches_per_window
                if self._paused_until > now:
                    wait = self._paused_until - now
                elif self._tat - unit * self.burst > now:
                    wait = self._tat - unit * self.burst - now
                elif batch and self._batch_tat - batch_unit > now:
                    wait = self._batch_tat - batch_unit - now
                elif self._used + weight <= self.per_window and (not batch or self._batches < self.batches_per_window):
                    self._sent.append((now, weight, batch))
                    self._used += weight
                    self._batches += batch
                    self._tat = max(self._tat, now) + weight * unit
                    if batch:
                        self._batch_tat = max(self._batch_tat, now) + batch_unit
                    return
                else:
                    # The oldest request leaving the window frees the most budget soonest.
                    wait = self._sent[0][0] + self.span - now
            wait = max(wait, 0.0005)
            self.waited += wait
            self.sleep(wait)

    @contextmanager
    def slot(self, weight: int = 1, batch: bool = False) -> Iterator[None]:
        """Hold one of the concurrent slots and ``weight`` of the window's budget for one request."""
        self._slots.acquire()
        try:
            self._reserve(weight, batch)
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                with self._lock:
                    self.in_flight -= 1
        finally:
            self._slots.release()


class Tokens(Protocol):
    def access_token(self) -> str: ...

    def after_unauthorized(self, rejected: str) -> str: ...


@dataclass
class ApiResponse:
    """An answer of the API: HTTP ``status``, parsed ``data`` (dict, or the text when not JSON), ``intuit_tid``."""

    status: int
    data: Any
    intuit_tid: str = ""


class QboClient:
    """The Accounting API of one realm (``{api_base}/v3/company/{realm_id}/...``).

    ``tokens`` supplies access tokens (:class:`~booksync.books.online.auth.TokenProvider`). ``http`` may be
    given (tests); otherwise an ``httpx.Client`` is made and closed by :meth:`close`.
    """

    def __init__(self, api_base: str, realm_id: str, tokens: Tokens, minorversion: int = 75,
                 limiter: RealmLimiter | None = None, timeout: float = 60.0, max_retries: int = 6,
                 backoff: float = 1.0, count_batch_items: bool = True, http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if int(minorversion) < 75:
            raise ValueError("minorversion must be 75 or later (Intuit ignores 1-74 since 2025-08-01)")
        self.api_base = api_base.rstrip("/")
        self.realm_id = realm_id
        self.tokens = tokens
        self.minorversion = int(minorversion)
        self.limiter = limiter or RealmLimiter()
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.count_batch_items = count_batch_items
        self.sleep = sleep
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout, headers={"Accept": "application/json",
                                                                   "User-Agent": f"booksync/{__version__}"})
        self.requests = 0
        """Requests sent, retries included (for the run log and the benchmark)."""
        self.throttled = 0
        """429 answers received."""

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def url(self, path: str) -> str:
        return f"{self.api_base}/v3/company/{self.realm_id}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ one request, with its retries

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
                weight: int = 1, batch: bool = False) -> ApiResponse:
        """Send one request; return the final answer (200, or a 4xx carrying a Fault).

        Retries (bounded by ``max_retries``): 429 with exponential backoff, pausing the realm; network
        failures and 5xx with backoff; 401 once, after refreshing the access token. ``params`` (the
        ``requestid`` among them) are identical on every retry.

        Raises :class:`QboThrottled` when 429 persists, :class:`QboUnreachable` when the network or
        5xx persists, :class:`ReconnectNeeded` when the tokens are refused, and
        :class:`OnlineConnectionFailure` on 403 (not authorized for this company).
        """
        params = {**(params or {}), "minorversion": self.minorversion}
        content = qbo_json.dumps(body).encode() if body is not None else None
        weight = weight if self.count_batch_items else 1
        token = self.tokens.access_token()
        refreshed = False
        attempt = 0
        while True:
            headers = {"Authorization": f"Bearer {token}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            try:
                with self.limiter.slot(weight, batch):
                    self.requests += 1
                    resp = self.http.request(method, self.url(path), params=params, content=content,
                                             headers=headers)
            except httpx.TransportError as exc:
                # The answer may be lost after QuickBooks committed; the retry carries the same requestid.
                attempt += 1
                self._unreachable(exc, attempt)
                log.warning("%s %s: %s; retry %d", method, path, type(exc).__name__, attempt)
                self.sleep(self._delay(attempt))
                continue
            tid = resp.headers.get("intuit_tid", "")
            data = _decode(resp)
            if resp.status_code == 401 and not refreshed:
                refreshed = True
                token = self.tokens.after_unauthorized(token)
                continue
            self._check_access(resp.status_code, data)
            if resp.status_code == 429 or resp.status_code == 403:  # 403 here: a throttle fault (3001)
                attempt += 1
                self._throttled(resp, tid, attempt, f"{method} {path}")
                continue
            if resp.status_code >= 500:
                attempt += 1
                self._server_failed(resp.status_code, data, tid, attempt)
                self.sleep(self._delay(attempt))
                continue
            return ApiResponse(resp.status_code, data, tid)

    def _unreachable(self, exc: Exception, attempt: int) -> None:
        """Raise :class:`QboUnreachable` when the network failed more than ``max_retries`` times."""
        if attempt > self.max_retries:
            raise QboUnreachable(f"QuickBooks Online could not be reached ({type(exc).__name__}) after "
                                 f"{self.max_retries} retries.",
                                 "Check the network connection and synchronize again; operations already "
                                 "confirmed were recorded, and a resent create is not duplicated.") from None

    def _check_access(self, status: int, data: Any) -> None:
        """Raise when QuickBooks Online refuses booksync's authorization: 401 after a refresh (the tokens'
        ``refused``, else :class:`ReconnectNeeded`), 403 that is not a throttle (:class:`OnlineConnectionFailure`)."""
        if status == 401:
            what = f"it refused a freshly refreshed access token ({_fault_text(data)})"
            refused = getattr(self.tokens, "refused", None)
            raise refused(what) if refused else ReconnectNeeded(
                f"QuickBooks Online no longer accepts booksync's authorization for company {self.realm_id}: "
                f"{what}.", "Reconnect: booksync company connect online")
        if status == 403 and not throttled(data):
            raise OnlineConnectionFailure(f"QuickBooks Online refused access to company {self.realm_id} "
                                          f"({_fault_text(data)}).",
                                          "The user who connected booksync may have lost admin rights, or the "
                                          "app lacks the accounting scope: reconnect as a company administrator.")

    def _throttled(self, resp: httpx.Response, tid: str, attempt: int, what: str) -> None:
        """A throttle answer: pause the realm (Retry-After, else backoff), or raise :class:`QboThrottled` after
        ``max_retries``."""
        self.throttled += 1
        if attempt > self.max_retries:
            raise QboThrottled([FaultEntry("003001", "ThrottleExceeded",
                                           f"HTTP {resp.status_code} after {self.max_retries} retries")],
                               "THROTTLE",
                               "QuickBooks Online allows 500 requests a minute per company and booksync "
                               "kept hitting that limit: synchronize again in a few minutes; nothing of "
                               "this request was written", intuit_tid=tid)
        delay = _retry_after(resp) or self._delay(attempt)
        log.warning("%s: HTTP %d (throttled); pausing %.1f s, retry %d", what, resp.status_code, delay, attempt)
        self.limiter.pause(delay)

    def _server_failed(self, status: int, data: Any, tid: str, attempt: int) -> None:
        """Raise :class:`QboUnreachable` when QuickBooks Online answered 5xx more than ``max_retries`` times."""
        if attempt > self.max_retries:
            raise QboUnreachable(f"QuickBooks Online kept failing (HTTP {status}, "
                                 f"{_fault_text(data)}; intuit_tid {tid}).",
                                 "Synchronize again later; a resent create is not duplicated.")

    def _delay(self, attempt: int) -> float:
        # Exponential backoff with a little jitter so several processes do not retry in step.
        return self.backoff * (2 ** (attempt - 1)) * (1 + random.random() * 0.1)

    # ------------------------------------------------------------------ reads

    def get(self, path: str, params: dict[str, Any] | None = None, kind: str = "") -> dict[str, Any]:
        """GET and return the JSON answer; a Fault raises its typed error (:func:`fault_error`)."""
        resp = self.request("GET", path, params)
        return self._ok(resp, kind)

    def _ok(self, resp: ApiResponse, kind: str = "") -> dict[str, Any]:
        fault_type, entries = parse_fault(resp.data)
        if resp.status != 200 or entries:  # a 200 may carry a Fault too (Error-codes page)
            raise fault_error(entries or [FaultEntry(str(resp.status), f"HTTP {resp.status}",
                                                     _fault_text(resp.data))], fault_type, kind,
                              intuit_tid=resp.intuit_tid)
        if not isinstance(resp.data, dict):
            raise fault_error([FaultEntry("0", "QuickBooks Online answered something that is not JSON",
                                          str(resp.data)[:200])], "", kind, intuit_tid=resp.intuit_tid)
        return resp.data

    def query(self, statement: str) -> dict[str, Any]:
        """Run one query; return its ``QueryResponse`` object."""
        return self.get("query", {"query": statement}).get("QueryResponse") or {}

    def query_all(self, entity: str, where: str = "", page: int = PAGE) -> Iterator[dict[str, Any]]:
        """Every ``entity`` matching ``where``, page by page (STARTPOSITION is 1-based, MAXRESULTS ≤ 1000)."""
        start = 1
        clause = f" WHERE {where}" if where else ""
        while True:
            rows = self.query(f"SELECT * FROM {entity}{clause} ORDERBY Id STARTPOSITION {start} "
                              f"MAXRESULTS {page}").get(entity) or []
            yield from rows
            if len(rows) < page:
                return
            start += page

    def post(self, path: str, body: Any, params: dict[str, Any] | None = None, weight: int = 1,
             batch: bool = False) -> ApiResponse:
        """POST ``body`` (JSON); return the answer without judging it (batches carry per-item faults)."""
        return self.request("POST", path, params, body, weight=weight, batch=batch)


def _decode(resp: httpx.Response) -> Any:
    try:
        return qbo_json.loads(resp.content) if resp.content else {}
    except ValueError:
        return resp.text


def throttled(data: Any) -> bool:
    """True when a fault is QuickBooks Online's throttle (code 3001, "ThrottleExceeded"), which Intuit has sent
    with HTTP 429 and also with HTTP 403 ("message=ThrottleExceeded; errorCode=003001; statusCode=403":
    ruckus/quickbooks-ruby#338, routablehq/python-quickbooks#43); a 403 without it is a refusal of access."""
    _, entries = parse_fault(data)
    return any(e.number == 3001 or "throttleexceeded" in f"{e.message} {e.detail}".lower().replace(" ", "")
               for e in entries)


def _fault_text(data: Any) -> str:
    _, entries = parse_fault(data)
    return "; ".join(e.text() for e in entries) if entries else (str(data)[:200] if data else "no details")


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return 0.0


def quote(value: str) -> str:
    """A string literal for a QuickBooks Online query: single quotes escaped with a backslash (reference §5)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
