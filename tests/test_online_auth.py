"""QuickBooks Online OAuth 2.0: connecting, the encrypted token store, refresh, rotation, revocation.

Against the test double's OAuth server (booksync.qbo_double.oauth); intuit-oauth's AuthClient reads the
double's discovery document, so the real client code runs.
"""
from __future__ import annotations

import json
import os
import stat
import threading
import time

import httpx
import pytest

from booksync.books.online.auth import (TokenProvider, TokenStore, begin_authorization, complete_authorization,
                                     make_auth_client)
from booksync.books.online.errors import ConnectError, ReconnectNeeded
from booksync.config import Home
from booksync.qbo_double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from booksync.cli.common import command_name
from test_online_support import connect, home, point_home_at, port_of, server  # noqa: F401 - fixtures


def realm(home: Home) -> str:  # noqa: F811
    return home.settings["online"]["realm_id"]


def test_connect_stores_tokens_encrypted_with_a_private_key(home: Home, server) -> None:  # noqa: F811
    folder = home.path / "online"
    tokens = TokenStore(home.path).load(realm(home))
    assert tokens is not None and tokens.realm_id == server.double.realm_id
    assert tokens.client_secret == DEFAULT_CLIENT_SECRET
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for name in ("token.key", f"tokens-{realm(home)}.fernet"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600
    raw = (folder / f"tokens-{realm(home)}.fernet").read_bytes()
    for secret in (tokens.access_token, tokens.refresh_token, DEFAULT_CLIENT_SECRET):
        assert secret.encode() not in raw
    assert DEFAULT_CLIENT_SECRET not in (home.path / "booksync.toml").read_text()
    assert "access_token" not in repr(tokens) and tokens.refresh_token not in repr(tokens)
    assert not (folder / "pending.fernet").exists()


def test_the_key_can_live_outside_the_home(tmp_path, server, monkeypatch) -> None:  # noqa: F811
    from cryptography.fernet import Fernet

    monkeypatch.setenv("BOOKSYNC_TOKEN_KEY", Fernet.generate_key().decode())
    h = Home.load(tmp_path / "h", create=True)
    point_home_at(h, server)
    url = begin_authorization(h.path, h.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    complete_authorization(h.path, httpx.get(url).headers["location"])
    assert not (h.path / "online" / "token.key").exists()
    monkeypatch.setenv("BOOKSYNC_TOKEN_KEY", Fernet.generate_key().decode())
    with pytest.raises(Exception, match="cannot be decrypted"):
        TokenStore(h.path).load(server.double.realm_id)


def test_a_redirect_from_another_attempt_or_a_denial_is_refused(tmp_path, server) -> None:  # noqa: F811
    h = Home.load(tmp_path / "h", create=True)
    point_home_at(h, server)
    first = begin_authorization(h.path, h.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    stale = httpx.get(first).headers["location"]
    begin_authorization(h.path, h.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    with pytest.raises(ConnectError, match="state differs"):
        complete_authorization(h.path, stale)
    server.double.oauth.deny_next = True
    url = begin_authorization(h.path, h.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    with pytest.raises(ConnectError, match="access_denied"):
        complete_authorization(h.path, httpx.get(url).headers["location"])


def test_access_token_is_refreshed_before_it_expires(home: Home, server) -> None:  # noqa: F811
    store = TokenStore(home.path)
    before = store.load(realm(home))
    before.access_expires_at = time.time() + 60  # inside the 300 s margin
    store.save(before)
    with port_of(home) as port:
        assert port.snapshot().company.name
        assert port.client.tokens.refreshes == 1
    after = store.load(realm(home))
    assert after.access_token != before.access_token
    assert after.access_expires_at > time.time() + 3000
    assert server.double.oauth.grants["refresh_token"] == 1
    assert server.double.stats.throttled == 0


def test_a_401_refreshes_once_and_retries(home: Home, server) -> None:  # noqa: F811
    with port_of(home) as port:
        port.snapshot()
        server.double.oauth.expire_access_tokens()  # booksync's clock still thinks the token is good
        assert port.snapshot().company.name
        assert port.client.tokens.refreshes == 1
    assert [r["status"] for r in server.double.stats.log].count(401) == 1


def test_a_rotated_refresh_token_is_saved_and_the_old_one_is_dead(home: Home, server) -> None:  # noqa: F811
    store = TokenStore(home.path)
    original = store.load(realm(home)).refresh_token
    provider = TokenProvider(home.path, home.settings, realm(home))
    server.double.oauth.expire_access_tokens()
    provider.after_unauthorized(store.load(realm(home)).access_token)
    rotated = store.load(realm(home)).refresh_token
    assert rotated != original
    # The double keeps no grace period for replaced refresh tokens: reusing the old one is invalid_grant.
    client = make_auth_client(home.settings["online"]["sandbox_discovery_url"], DEFAULT_CLIENT_ID,
                              DEFAULT_CLIENT_SECRET, home.settings["online"]["redirect_uri"])
    with pytest.raises(Exception) as refused:
        client.refresh(refresh_token=original)
    assert refused.value.status_code == 400 and b"invalid_grant" in refused.value.content
    # A second refresh, from a new provider (as a later run would), uses the saved rotated token.
    second = TokenProvider(home.path, home.settings, realm(home))
    second.after_unauthorized(store.load(realm(home)).access_token)
    assert store.load(realm(home)).refresh_token not in (original, rotated)
    assert server.double.oauth.grants["refresh_token"] == 2


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(home: Home, server) -> None:  # noqa: F811
    store = TokenStore(home.path)
    tokens = store.load(realm(home))
    tokens.access_expires_at = 0
    store.save(tokens)
    providers = [TokenProvider(home.path, home.settings, realm(home)) for _ in range(4)]
    got: list[str] = []
    threads = [threading.Thread(target=lambda p=p: got.append(p.access_token())) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1
    assert server.double.oauth.grants["refresh_token"] == 1
    assert sum(p.refreshes for p in providers) == 1


def test_a_revoked_connection_says_to_reconnect_with_the_exact_command(home: Home, server) -> None:  # noqa: F811
    server.double.oauth.revoke_realm(realm(home))
    with port_of(home) as port:
        with pytest.raises(ReconnectNeeded) as exc:
            port.snapshot()
    assert "invalid_grant" in exc.value.message
    # A structured command below the command line: the face adds the program as installed and --home, quoted.
    assert exc.value.advice == "Reconnect: booksync company connect online --sandbox"
    assert server.double.oauth.grants["invalid_grant"] == 1


def test_an_expired_refresh_token_says_to_reconnect_without_calling_intuit(home: Home, server) -> None:  # noqa: F811
    store = TokenStore(home.path)
    tokens = store.load(realm(home))
    tokens.access_expires_at = tokens.refresh_expires_at = time.time() - 1
    store.save(tokens)
    with port_of(home) as port, pytest.raises(ReconnectNeeded, match="refresh token expired"):
        port.snapshot()
    assert "refresh_token" not in server.double.oauth.grants


def test_cli_sync_with_revoked_tokens_exits_6_and_names_the_command(tmp_path, server, cli) -> None:  # noqa: F811
    """The advice can be pasted as it is: the program as installed, the home quoted (a folder with a space in its
    name, as on many Windows and macOS machines), the environment (issue 20 item 4)."""
    home = Home.load(tmp_path / "club books" / "home", create=True)
    point_home_at(home, server)
    home = connect(home, server)
    server.double.oauth.revoke_realm(realm(home))
    server.double.oauth.expire_access_tokens()
    tokens = TokenStore(home.path).load(realm(home))
    tokens.access_expires_at = 0
    TokenStore(home.path).save(tokens)
    result = cli("sync", "--yes", "--home", str(home.path))
    assert result.code == 6, str(result)
    said = result.output.replace("\n", "")
    assert f"Reconnect: {command_name()} company connect online --home '{home.path}' --sandbox" in said, said
    status = cli("company", "status", "--check", "--json", "--home", str(home.path))
    assert f"company connect online --home '{home.path}' --sandbox" in json.loads(status.stdout)["problem"]
    assert tokens.refresh_token not in result.output


def test_cli_status_and_disconnect(home: Home, server, cli) -> None:  # noqa: F811
    status = cli("company", "status", "--home", str(home.path), "--json")
    assert status.code == 0 and '"connected": true' in status.stdout
    done = cli("company", "disconnect", "online", "--home", str(home.path))
    assert done.code == 0, str(done)
    assert not (home.path / "online" / f"tokens-{realm(home)}.fernet").exists()
    assert all(t.connection.revoked for t in server.double.oauth.refresh.values())
