"""`booksync serve` under attack, over HTTP (issue 19): the real server in a subprocess, its memory measured
from this process.

* sign-in limits that hold: a forged X-Forwarded-For is not believed, parallel guesses do not outrun the
  count (item 1);
* the Web Connector's authenticate: parallel calls with a real SOAP client (zeep) keep the server's memory
  bounded, whatever the number of calls (item 3);
* a SOAP body under the size limit but made of millions of elements is refused while it is read, before any
  tree is built (item 4).

Peak memory is the server's peak resident set (VmHWM, reset through /proc/PID/clear_refs before each attack)
on Linux; elsewhere psutil samples the resident set.
"""
from __future__ import annotations

import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from booksync.config import Home
from booksync.services.users import set_user

from conftest import copy_home
from test_webconnector import (PASSWORD, USER, WSDL, Server, fault_text, set_password, soap_call, start_server,
                               stop_server, strings, zeep)

MiB = 1024 * 1024
WEB_USER, WEB_PASSWORD = "office", "river-chamber-2026"

pytestmark = pytest.mark.skipif(not WSDL.is_file(), reason=f"Web Connector WSDL not found at {WSDL}")


class PeakMemory:
    """The peak resident set of process ``pid`` since :meth:`reset`, in bytes."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self._linux = sys.platform.startswith("linux") and Path(f"/proc/{pid}/clear_refs").exists()
        self._peak = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def reset(self) -> int:
        """Start measuring; returns the resident set now (the baseline)."""
        if self._linux:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        else:
            self._stop.clear()
            self._peak = self.process.memory_info().rss
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self.process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, self.process.memory_info().rss)

    def peak(self) -> int:
        if self._linux:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
            return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        return self._peak


@pytest.fixture
def server(nosync_home, cli, tmp_path) -> Server:
    """`booksync serve` over a copy of the demo, with a web user and a Web Connector password of argon2's
    default cost (64 MiB a check, as `booksync webconnector set-password` stores it)."""
    home = copy_home(nosync_home, tmp_path / "home").path
    set_user(home, WEB_USER, WEB_PASSWORD)
    set_password(cli, home)
    started = start_server(home)
    yield started
    stop_server(started)


def web_root(server: Server) -> str:
    return server.url.rsplit("/", 1)[0]


def signin_form(client: httpx.Client, root: str) -> dict[str, str]:
    page = client.get(f"{root}/signin")
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1), "next": "/"}


def log_text(server: Server) -> str:
    return (server.home / "logs" / "booksync.log").read_text(errors="replace")


# ---------------------------------------------------------------------- item 1: sign-in limits over HTTP


def test_a_forged_forwarded_for_header_does_not_escape_the_address_limit(server: Server) -> None:
    """uvicorn believed X-Forwarded-For from 127.0.0.1 by default: each guess with a new header counted for a
    new address. With no trusted proxy configured (the default), the socket's address counts."""
    root = web_root(server)
    with httpx.Client(timeout=30) as client:
        form = signin_form(client, root)
        codes = []
        for i in range(31):
            answer = client.post(f"{root}/signin", data={**form, "username": f"guess{i}", "password": "wrong-guess"},
                                 headers={"X-Forwarded-For": f"198.51.100.{i + 1}"}, follow_redirects=False)
            codes.append(answer.status_code)
    assert codes == [401] * 30 + [429]
    log = log_text(server)
    assert "sign-in failed for user guess0 from 127.0.0.1" in log
    assert "198.51.100." not in log and "wrong-guess" not in log


def test_parallel_guesses_are_counted_before_they_are_checked(server: Server) -> None:
    """60 guesses at once from one address: only the user's limit (10) reach the password check."""
    root = web_root(server)
    with httpx.Client(timeout=60) as client:
        form = signin_form(client, root)

        def guess(i: int) -> int:
            return client.post(f"{root}/signin", data={**form, "username": WEB_USER, "password": f"guess-{i}-x"},
                               follow_redirects=False).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(guess, range(60)))
        assert codes.count(401) == 10 and codes.count(429) == 50, codes
        right = client.post(f"{root}/signin", data={**form, "username": WEB_USER, "password": WEB_PASSWORD},
                            follow_redirects=False)
        assert right.status_code == 429
    assert log_text(server).count(f"sign-in failed for user {WEB_USER} from 127.0.0.1") == 10


# ---------------------------------------------------------------------- item 3: authenticate's memory


def test_parallel_authenticate_calls_keep_the_servers_memory_bounded(server: Server) -> None:
    """40 parallel authenticate calls took the server to 2.2 GB (a 64 MiB argon2 hash each, all at once).
    Now at most web.concurrent_password_checks (2) checks run at once, and the attempts over the limit per
    user (10) are answered "busy" without any check."""
    calls = 24
    clients = [zeep.Client(str(WSDL)) for _ in range(calls)]
    services = [c.create_service("{http://developer.intuit.com/}QBWebConnectorSvcSoap", server.url) for c in clients]
    services[0].serverVersion("")  # warm: the first call imports and builds what every call shares
    memory = PeakMemory(server.process.pid)
    baseline = memory.reset()
    start = threading.Barrier(calls)

    def authenticate(i: int) -> list[str]:
        start.wait()
        return strings(services[i].authenticate(USER, f"wrong password {i}"))

    with ThreadPoolExecutor(calls) as pool:
        answers = list(pool.map(authenticate, range(calls)))
    growth = memory.peak() - baseline
    print(f"\n{calls} parallel authenticate calls: baseline {baseline / MiB:.0f} MiB, peak growth "
          f"{growth / MiB:.0f} MiB")
    assert growth < 4 * 64 * MiB  # two checks at once (64 MiB each), and room for the rest
    statuses = [a[1] for a in answers]
    assert statuses.count("nvu") == 10 and statuses.count("busy") == calls - 10, statuses
    assert strings(services[0].authenticate(USER, PASSWORD))[1] == "busy"  # the user's limit holds
    assert "wrong password" not in log_text(server)


# ---------------------------------------------------------------------- item 4: elements before authentication


def test_bodies_of_millions_of_elements_keep_the_servers_memory_bounded(server: Server) -> None:
    """Four parallel 10 MB bodies of 2.6 million empty elements each (under webconnector.max_body_bytes):
    each took the server from 122 MB to 436 MB while lxml built its tree. Now the shape check refuses each
    after its first thousand elements; what remains is the bodies themselves."""
    calls = 4
    inner = f"<strUserName>{USER}</strUserName><strPassword>x</strPassword>" + "<x/>" * 2_600_000
    body = soap_call("authenticate", inner).encode()
    assert len(body) < 10 * MiB
    memory = PeakMemory(server.process.pid)
    httpx.get(server.url, timeout=10)
    baseline = memory.reset()
    start = threading.Barrier(calls)

    def post(_: int) -> httpx.Response:
        start.wait()
        return httpx.post(server.url, content=body, headers={"Content-Type": "text/xml"}, timeout=120)

    with ThreadPoolExecutor(calls) as pool:
        answers = list(pool.map(post, range(calls)))
    growth = memory.peak() - baseline
    print(f"\n{calls} parallel bodies of 2.6 million elements ({len(body) / MiB:.1f} MiB each): baseline "
          f"{baseline / MiB:.0f} MiB, peak growth {growth / MiB:.0f} MiB")
    assert growth < 200 * MiB
    for answer in answers:
        assert answer.status_code == 500 and "more than 1000 elements" in fault_text(answer)
    assert "authenticate: refused" not in log_text(server)  # refused before authentication


# ---------------------------------------------------------------------- item 5: log injection and disk filling


def test_connection_error_text_can_neither_forge_log_lines_nor_fill_the_disk(server: Server) -> None:
    """connectionError logged the caller's text before checking the ticket: a newline forged a line the web
    Log page showed as booksync's, and 3 calls of 9 MB grew the log by 28 MB. Now an unknown ticket logs one
    fixed line, a known one logs its text escaped and cut."""
    log = server.home / "logs" / "booksync.log"
    forged_line = "2026-12-07 09:00:00,000 INFO booksync.web: office signed in from 127.0.0.1"
    big = "y" * (9 * MiB)
    before = log.stat().st_size
    for _ in range(3):
        body = soap_call("connectionError", f"<ticket>made-up</ticket><hresult>0x80040408</hresult>"
                                            f"<message>{big}\n{forged_line}</message>").encode()
        assert len(body) < 10 * 1024 * 1024
        answer = httpx.post(server.url, content=body, headers={"Content-Type": "text/xml"}, timeout=60)
        assert answer.status_code == 200 and ">done<" in answer.text
    assert log.stat().st_size - before < 1000
    service = zeep.Client(str(WSDL)).create_service("{http://developer.intuit.com/}QBWebConnectorSvcSoap",
                                                     server.url)
    ticket = strings(service.authenticate(USER, PASSWORD))[0]
    assert service.connectionError(ticket, "0x80040408\r\n" + forged_line, f"x\n{forged_line}\n{big}") == "done"
    assert log.stat().st_size - before < 5000
    lines = log.read_text(errors="replace").splitlines()
    assert not any(line.startswith("2026-12-07 09:00:00,000") for line in lines)
    assert any(f"x\\n{forged_line}\\nyyy" in line for line in lines)
    assert len(service.getLastError(ticket)) < 2000
