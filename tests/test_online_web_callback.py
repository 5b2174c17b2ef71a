"""The OAuth callback page of the web interface (`booksync serve`, path /qbo/callback): Intuit — here the test
double's authorization page — sends the browser there with code, state and realmId; the page completes the
authorization the connect command started, against the double's token endpoint (127.0.0.1, no network)."""
from __future__ import annotations

import re
import warnings
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from booksync.books.online.auth import TokenStore, begin_authorization
from booksync.config import Home
from booksync.qbo_double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DoubleServer
from booksync.web.app import create_app
from booksync.services.users import set_user
from test_online_support import point_home_at, server  # noqa: F401 - fixture

USER, PASSWORD = "office", "river-chamber-2026"


@pytest.fixture
def home(tmp_path: Path, server: DoubleServer) -> Home:  # noqa: F811
    """A home not connected yet (company kind simulator), its [online] settings pointing at the double."""
    h = Home.load(tmp_path / "home", create=True)
    point_home_at(h, server)
    set_user(h.path, USER, PASSWORD)
    return Home.load(h.path)


@pytest.fixture
def client(home: Home):
    with TestClient(create_app(Home.load(home.path)), base_url="http://localhost:8080") as c:
        yield c


def sign_in(client: TestClient, next_path: str = "/") -> httpx.Response:
    page = client.get(f"/signin?next={next_path}" if next_path != "/" else "/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    nxt = unescape(re.search(r'name="next" value="([^"]*)"', page.text).group(1))
    return client.post("/signin", data={"csrf_token": token, "username": USER, "password": PASSWORD, "next": nxt},
                       follow_redirects=False)


def approve(home: Home) -> str:
    """`booksync company connect online` starts; the administrator approves at the double; return the path and
    query the browser is sent to (the redirect URI is the default, http://localhost:8080/qbo/callback: what
    `booksync serve` answers with its defaults)."""
    url = begin_authorization(home.path, home.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    location = httpx.get(url, follow_redirects=False).headers["location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost:8080", "/qbo/callback")
    return f"{parts.path}?{parts.query}"


def text(response: httpx.Response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def not_connected(home: Home, realm: str) -> None:
    again = Home.load(home.path)
    assert again.settings["company"]["kind"] == "simulator" and not again.settings["online"].get("realm_id")
    assert TokenStore(home.path).load(realm) is None


def test_the_callback_connects_after_signing_in(home: Home, client: TestClient,
                                                server: DoubleServer) -> None:  # noqa: F811
    callback = approve(home)
    # Signed out: the sign-in page first, and back to the callback (the code lives five minutes).
    gate = client.get(callback, follow_redirects=False)
    assert gate.status_code == 303 and gate.headers["location"].startswith("/signin?next=")
    not_connected(home, server.double.realm_id)
    signed = sign_in(client, gate.headers["location"].split("next=", 1)[1])
    assert signed.status_code == 303 and signed.headers["location"] == callback
    page = client.get(callback)
    assert page.status_code == 200, page.text
    shown = text(page)
    assert "Connected to QuickBooks Online" in shown
    assert f"Riverside Regional Chamber of Commerce (realm {server.double.realm_id}, sandbox)" in shown
    assert DEFAULT_CLIENT_SECRET not in page.text and "code=" not in page.text
    again = Home.load(home.path)
    assert again.settings["company"]["kind"] == "online"
    assert again.settings["online"]["realm_id"] == server.double.realm_id
    assert again.settings["online"]["sandbox_api_base"] == server.url  # what was saved before is kept
    tokens = TokenStore(home.path).load(server.double.realm_id)
    assert tokens is not None and tokens.access_token in server.double.oauth.access
    assert server.double.oauth.grants == {"authorization_code": 1}
    assert TokenStore(home.path).load_pending() is None
    # The same URL again (a reload): the code was spent and nothing is pending any more; the page says the home is
    # connected already rather than "nothing in progress", and changes nothing.
    reload = client.get(callback)
    assert reload.status_code == 200, reload.text
    shown = text(reload)
    assert "This authorization was completed already" in shown and "nothing changed" in shown
    assert f"(realm {server.double.realm_id}, sandbox)" in shown and "Not connected" not in shown
    assert server.double.oauth.grants == {"authorization_code": 1}


@pytest.mark.parametrize("case", ["access_denied", "state", "no code", "nothing pending"])
def test_the_callback_explains_why_it_did_not_connect(case: str, home: Home, client: TestClient,
                                                      server: DoubleServer) -> None:  # noqa: F811
    assert sign_in(client).status_code == 303
    if case == "nothing pending":
        callback = "/qbo/callback?code=AB123&state=x&realmId=1"
    else:
        if case == "access_denied":
            server.double.oauth.deny_next = True
        callback = approve(home)
        if case == "state":
            callback = re.sub(r"state=[^&]+", "state=someone-elses", callback)
        elif case == "no code":
            callback = re.sub(r"code=[^&]+&?", "", callback)
    page = client.get(callback)
    assert page.status_code == 400
    shown = text(page)
    assert "Not connected to QuickBooks Online" in shown
    expected = {"access_denied": "Intuit did not authorize booksync (access_denied)",
                "state": "does not belong to the authorization booksync started",
                "no code": "has no authorization code or realmId",
                "nothing pending": "No connection to QuickBooks Online is in progress"}[case]
    assert expected in shown
    not_connected(home, server.double.realm_id)
    assert not server.double.oauth.access and "authorization_code" not in server.double.oauth.grants


def test_intuit_unreachable_is_explained(home: Home, client: TestClient,
                                        server: DoubleServer) -> None:  # noqa: F811
    callback = approve(home)
    realm = server.double.realm_id
    server.stop()  # Intuit cannot be reached from booksync's computer
    assert sign_in(client).status_code == 303
    page = client.get(callback)
    assert page.status_code == 502
    shown = text(page)
    assert "Not connected to QuickBooks Online" in shown and "Could not read Intuit's OAuth discovery document" in shown
    not_connected(home, realm)
    assert TokenStore(home.path).load_pending() is not None  # still pending: the same URL can be tried again


def test_the_web_shows_the_connect_advice_as_the_full_command_for_the_served_home(home: Home, client: TestClient,
                                                                                   ) -> None:
    """The books error's advice is "Connect: booksync company connect online --sandbox" (the command line adds
    its --home); the browser cannot connect, so the page shows the whole command for the home it serves."""
    import shlex

    from booksync.services.quickbooks import advice_for_the_web

    home.settings["company"]["kind"] = "online"  # online, but not connected yet
    home.save()
    served = Home.load(home.path)
    with TestClient(create_app(served), base_url="http://localhost:8080") as c:
        assert sign_in(c).status_code == 303
        shown = text(c.get("/accounts"))
    command = f"booksync company connect online --home {shlex.quote(str(home.path))} --sandbox"
    assert "not connected to a QuickBooks Online company yet" in shown, shown
    assert command in shown and "run this command on the machine serving booksync" in shown, shown
    assert "Connect: booksync company connect online --sandbox" not in shown
    # The transport's placeholder form becomes the same command; other advice is kept as it is.
    assert advice_for_the_web("Reconnect: booksync company connect online --home HOME", served).endswith(
        f"booksync company connect online --home {shlex.quote(str(home.path))}")
    assert advice_for_the_web("Open QuickBooks.", served) == "Open QuickBooks."
