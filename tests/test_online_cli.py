"""The QuickBooks Online commands as a person meets them (`booksync company ...` against the test double): the
redirect URI the connect command prints is one `booksync serve` answers with its defaults; a revoked
authorization says to reconnect; status --check; disconnect; a redirect URL pasted twice."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from booksync.books.online.auth import DEFAULT_REDIRECT_URI, TokenStore, online_settings
from booksync.cli.webconnector_cmd import serve
from booksync.cli.common import command_name
from booksync.config import Home
from booksync.qbo_double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DoubleServer
from booksync.qbo_double.__main__ import connect_hint
from booksync.server import create_app
from test_online_support import home, point_home_at, server  # noqa: F401 - fixtures


def start_connect(cli, home: Path, srv: DoubleServer, *extra: str):  # noqa: ANN001, ANN201
    """`booksync company connect online` with stdin holding only the secret: it prints the instructions and stops."""
    started = cli("company", "connect", "online", "--home", str(home), "--sandbox", "--client-id", DEFAULT_CLIENT_ID,
                  "--client-secret-stdin", "--api-base", srv.url,
                  "--discovery-url", f"{srv.url}/.well-known/openid_sandbox_configuration", *extra,
                  input=DEFAULT_CLIENT_SECRET + "\n")
    assert started.code == 0, str(started)
    return started


def authorization_url(output: str) -> str:
    return re.search(r"(http://127\.0\.0\.1:\d+/connect/oauth2\?\S+)", output).group(1)


def serve_default(name: str):  # noqa: ANN201
    return next(p.default for p in serve.params if p.name == name)


@pytest.fixture
def fresh(tmp_path: Path, server: DoubleServer) -> Home:  # noqa: F811
    """A home not connected yet, as `booksync init` writes it (booksync.toml holds every default)."""
    h = Home.load(tmp_path / "fresh", create=True)
    point_home_at(h, server)
    return Home.load(h.path)


# ---------------------------------------------------------------------- the redirect URI and `booksync serve`


def test_the_printed_redirect_uri_is_answered_by_serve_with_its_defaults(cli, fresh, server) -> None:  # noqa: F811
    started = start_connect(cli, fresh.path, server)
    printed = re.search(r"sends your browser to (\S+)\?code=", started.stdout).group(1)
    assert printed == DEFAULT_REDIRECT_URI == "http://localhost:8080/qbo/callback"
    # Intuit is asked to redirect exactly there.
    query = parse_qs(urlsplit(authorization_url(started.stdout)).query)
    assert query["redirect_uri"] == [printed]
    # `booksync serve` with no options listens there...
    parts = urlsplit(printed)
    assert parts.port == serve_default("port") and serve_default("host") in ("127.0.0.1", "localhost")
    assert f"'{command_name()} serve --home {fresh.path}' answers {printed}" in started.stdout  # pasteable
    # Every command it prints can be pasted: the program as installed and this home (issue 20 item 4).
    assert f"'{command_name()} users add --home {fresh.path}'" in started.stdout
    assert f"run:\n  {command_name()} company connect online --home {fresh.path} --redirect-url 'URL'" \
        in started.stdout
    # ...and the application it runs answers the path (the sign-in gate first, not "not found").
    with TestClient(create_app(fresh.path), base_url=f"{parts.scheme}://{parts.netloc}") as client:
        page = client.get(parts.path + "?code=x&state=y&realmId=1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin?next=")


def test_the_earlier_default_8765_becomes_8080_unless_chosen(cli, fresh, server) -> None:  # noqa: F811
    toml = fresh.path / "booksync.toml"
    raw = toml.read_text()
    assert 'redirect_uri = "http://localhost:8080/qbo/callback"' in raw  # what new homes hold
    # Homes made before the default changed hold 8765: it is read as 8080.
    toml.write_text(raw.replace("http://localhost:8080/qbo/callback", "http://localhost:8765/qbo/callback"))
    assert online_settings(Home.load(fresh.path).settings)["redirect_uri"] == DEFAULT_REDIRECT_URI
    # Someone who registered :8765 with the app says so once; it is kept, and serve is told the port.
    started = start_connect(cli, fresh.path, server, "--redirect-uri", "http://localhost:8765/qbo/callback")
    assert "sends your browser to http://localhost:8765/qbo/callback?code=" in started.stdout
    assert f"'{command_name()} serve --home {fresh.path} --port 8765'" in started.stdout
    assert online_settings(Home.load(fresh.path).settings)["redirect_uri"] == "http://localhost:8765/qbo/callback"
    query = parse_qs(urlsplit(authorization_url(started.stdout)).query)
    assert query["redirect_uri"] == ["http://localhost:8765/qbo/callback"]


def test_the_connect_help_names_the_default_redirect_uri(cli) -> None:
    shown = cli("company", "connect", "online", "--help")
    assert "http://localhost:8080/qbo/callback" in " ".join(shown.stdout.split())


# ---------------------------------------------------------------------- connecting, pasting twice


def test_a_redirect_url_used_twice_says_the_home_is_already_connected(cli, fresh, server) -> None:  # noqa: F811
    started = start_connect(cli, fresh.path, server)
    redirect = httpx.get(authorization_url(started.stdout), follow_redirects=False).headers["location"]
    path_only = redirect.split("localhost:8080", 1)[1]  # what a person copies may lack the host: enough
    done = cli("company", "connect", "online", "--home", str(fresh.path), "--redirect-url", path_only)
    assert done.code == 0, str(done)
    assert 'Connected to QuickBooks Online company "Riverside Regional Chamber of Commerce"' in done.stdout
    again = cli("company", "connect", "online", "--home", str(fresh.path), "--redirect-url", redirect)
    assert again.code == 0, str(again)
    assert f"already connected to QuickBooks Online company {server.double.realm_id}" in again.stdout
    assert "used already, nothing changed" in again.stdout
    # A URL of another attempt while nothing is pending is still refused.
    other = redirect.replace(f"realmId={server.double.realm_id}", "realmId=123")
    refused = cli("company", "connect", "online", "--home", str(fresh.path), "--redirect-url", other)
    assert refused.code == 6 and "No connection to QuickBooks Online is in progress" in refused.stderr


# ---------------------------------------------------------------------- revoked at Intuit, status, disconnect


def revoke_at_the_double(srv: DoubleServer) -> None:
    """The company's administrator disconnects booksync in QuickBooks Online (the double's control endpoint)."""
    answer = httpx.post(f"{srv.url}/_double/revoke", json={"realm": srv.double.realm_id})
    assert answer.status_code == 200 and answer.json()["realm"] == srv.double.realm_id


def test_status_check_and_sync_say_reconnect_after_the_admin_revoked(cli, home, server) -> None:  # noqa: F811
    shown = cli("company", "status", "--home", str(home.path))
    assert shown.code == 0 and "connected: True" in shown.stdout and "--check" in shown.stdout
    checked = cli("company", "status", "--home", str(home.path), "--check", "--json")
    assert checked.code == 0, str(checked)
    data = json.loads(checked.stdout)
    assert data["authorization"] == "accepted" and data["company_name"] == "Riverside Regional Chamber of Commerce"

    revoke_at_the_double(server)
    reconnect = f"Reconnect: booksync company connect online --home {home.path} --sandbox"  # no space: unquoted
    checked = cli("company", "status", "--home", str(home.path), "--check", "--json")
    assert checked.code == 6, str(checked)
    data = json.loads(checked.stdout)
    assert data["connected"] is True and data["authorization"] == "refused"
    assert reconnect.replace("booksync", command_name(), 1) in data["problem"]  # pasteable (issue 20 item 4)
    synced = cli("sync", "--yes", "--home", str(home.path))
    assert synced.code == 6, str(synced)
    assert "no longer accepts booksync's authorization" in synced.stderr
    assert reconnect.replace("booksync", command_name(), 1) in synced.stderr  # a command to paste
    # Waiting does not help: no "once QuickBooks is reachable".
    assert "once QuickBooks is reachable" not in synced.stderr
    # Scripts get one JSON object saying the same.
    scripted = cli("sync", "--yes", "--json", "--home", str(home.path))
    assert scripted.code == 6, str(scripted)
    data = json.loads(scripted.stdout)
    assert data["status"] == "connection-failed" and data["exit_code"] == 6
    assert reconnect.replace("booksync", command_name(), 1) in data["advice"]


def test_disconnect_says_what_happened_and_how_to_reconnect(cli, home, server) -> None:  # noqa: F811
    realm = server.double.realm_id
    done = cli("company", "disconnect", "online", "--home", str(home.path))
    assert done.code == 0, str(done)
    said = " ".join(done.stdout.split())
    assert f"Disconnected from QuickBooks Online company {realm}: booksync's access is revoked at Intuit" in said
    assert f"booksync company connect online --home {home.path} --sandbox" in said
    assert TokenStore(home.path).load(realm) is None
    assert server.double.oauth.check(next(iter(server.double.oauth.access)), realm) == "Token revoked"
    again = cli("company", "disconnect", "online", "--home", str(home.path), "--json")
    assert again.code == 0 and json.loads(again.stdout) == {"realm_id": realm, "environment": "sandbox",
                                                             "revoked": False}


def test_the_double_tells_how_to_connect_to_it() -> None:
    hint = connect_hint("http://127.0.0.1:8790", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    assert (f"echo {DEFAULT_CLIENT_SECRET} | booksync company connect online --home HOME --sandbox --client-id "
            f"{DEFAULT_CLIENT_ID} --client-secret-stdin --api-base http://127.0.0.1:8790 --discovery-url "
            "http://127.0.0.1:8790/.well-known/openid_sandbox_configuration") in hint
    assert "curl -X POST http://127.0.0.1:8790/_double/revoke" in hint


# ---------------------------------------------------------------------- [online] settings


def test_a_minorversion_below_75_is_named_not_a_crash(cli, home) -> None:  # noqa: F811
    h = Home.load(home.path)
    h.settings["online"]["minorversion"] = 70
    h.save()
    synced = cli("sync", "--yes", "--home", str(home.path))
    assert synced.code == 2, str(synced)
    assert "booksync.toml [online] minorversion = 70: it must be 75 or later" in " ".join(synced.stderr.split())
    assert "unexpected error" not in synced.stderr


def test_against_intuit_the_pace_never_exceeds_intuits_limits(home) -> None:  # noqa: F811
    from booksync.books.online.session import open_online

    h = Home.load(home.path)
    h.settings["online"].update(sandbox_api_base="https://sandbox-quickbooks.api.intuit.com",
                                requests_per_minute=100000, batches_per_minute=1000, concurrent_requests=50,
                                rate_window_seconds=6)
    with open_online(h) as port:  # nothing is sent until the port is used
        limiter = port.client.limiter
        assert (limiter.per_window, limiter.batches_per_window, limiter.concurrent, limiter.window) == (500, 40, 10,
                                                                                                      60.0)
    # The test double (or a proxy) may be given more.
    with open_online(Home.load(home.path)) as port:
        assert port.client.limiter.per_window == 100000
