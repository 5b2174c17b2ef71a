"""``booksync company``: connect booksync to QuickBooks Online, show and end the connection.

``booksync company connect online`` runs the OAuth 2.0 authorization-code flow
(:mod:`booksync.books.online.auth`): it prints the authorization URL, then takes the URL the browser was
redirected to (pasted at the prompt, or later with ``--redirect-url``), exchanges the code and stores
the tokens encrypted in the home. Unattended or on a server without a browser, run it twice: once
without ``--redirect-url`` (stdin closed: it prints the URL and stops), then with ``--redirect-url``."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from booksync.cli.common import EXIT_CONNECTION, console, copyable, err, home_option, json_option, load_home

CLIENT_ID_ENV = "BOOKSYNC_QBO_CLIENT_ID"
CLIENT_SECRET_ENV = "BOOKSYNC_QBO_CLIENT_SECRET"


@click.group()
def company() -> None:
    """The QuickBooks company booksync synchronizes with: connect QuickBooks Online, show or end the connection."""


@company.group()
def connect() -> None:
    """Connect booksync to a QuickBooks company."""


def _fail(message: str, advice: str = "", code: int = EXIT_CONNECTION) -> None:
    err.print(f"[bold red]{escape(message)}[/]")
    if advice:
        err.print(escape(advice))
    sys.exit(code)


@connect.command("online")
@home_option
@click.option("--sandbox/--production", "sandbox", default=None,
              help="Intuit's sandbox or a production company (default: the home's [online] environment, sandbox "
                   "at first). Each has its own app keys and URLs.")
@click.option("--client-id", envvar=CLIENT_ID_ENV, show_envvar=True,
              help="The Client ID of your Intuit app (Keys & credentials). Default: the one used last.")
@click.option("--client-secret-stdin", is_flag=True,
              help=f"Read the Client Secret from the first line of standard input (else ${CLIENT_SECRET_ENV}, the "
                   "stored one, or a hidden prompt). It is stored encrypted, never in booksync.toml.")
@click.option("--redirect-uri", help="The redirect URI registered for your Intuit app (saved in [online]). Default: "
                                     "http://localhost:8080/qbo/callback, the page 'booksync serve' answers with "
                                     "its defaults.")
@click.option("--redirect-url", help="The URL your browser was sent to after approving booksync: completes a "
                                     "connection started earlier (unattended use).")
@click.option("--api-base", help="Accounting API base URL for this environment (saved; for a proxy or the test "
                                 "double).")
@click.option("--discovery-url", help="OAuth discovery document URL for this environment (saved; for a proxy or "
                                      "the test double).")
def connect_online(home_dir: Path | None, sandbox: bool | None, client_id: str | None, client_secret_stdin: bool,
                   redirect_uri: str | None, redirect_url: str | None, api_base: str | None,
                   discovery_url: str | None) -> None:
    """Connect to a QuickBooks Online company (OAuth 2.0).

    Prints the authorization URL: open it, sign in to Intuit as the company's administrator, choose the
    company and approve booksync. Intuit then sends your browser to the redirect URI; paste that whole URL
    at the prompt. The tokens are stored encrypted in the home (online/), and the home's company becomes
    this QuickBooks Online company.

    Exit codes: 0 connected (or the URL printed for a later --redirect-url), 2 usage, 6 Intuit refused or
    could not be reached.
    """
    from booksync.books.online.auth import TokenStore, begin_authorization, online_settings
    from booksync.books.online.errors import OnlineConnectionFailure

    home = load_home(home_dir)
    cfg = online_settings(home.settings)
    environment = cfg["environment"] if sandbox is None else ("sandbox" if sandbox else "production")
    section = home.settings.setdefault("online", {})
    for key, value in ((f"{environment}_api_base", api_base), (f"{environment}_discovery_url", discovery_url),
                       ("redirect_uri", redirect_uri)):
        if value:
            section[key] = value
    if redirect_uri:
        section["redirect_uri_chosen"] = True
    home.save()
    if redirect_url:
        _complete(home, redirect_url)
        return
    store = TokenStore(home.path)
    client_id, secret = _app_keys(store, cfg, client_id, client_secret_stdin)
    try:
        url = begin_authorization(home.path, home.settings, environment, client_id, secret)
    except OnlineConnectionFailure as exc:
        _fail(exc.message, copyable(exc.advice, home))
    _ask_for_redirect(home, store, environment, url)


def _app_keys(store: Any, cfg: dict[str, Any], client_id: str | None, client_secret_stdin: bool) -> tuple[str, str]:
    """The Intuit app's Client ID and Client Secret: given, else stored (the secret from standard input, the
    environment, the token store, or a hidden prompt). A usage error when either is missing."""
    stored = store.load(cfg["realm_id"]) if cfg.get("realm_id") else None
    client_id = client_id or cfg.get("client_id") or (stored.client_id if stored else "")
    if not client_id:
        raise click.UsageError(f"give your Intuit app's Client ID with --client-id (or ${CLIENT_ID_ENV})")
    if client_secret_stdin:
        secret = sys.stdin.readline().strip()
    else:
        secret = os.environ.get(CLIENT_SECRET_ENV, "") or (
            stored.client_secret if stored and stored.client_id == client_id else "")
        if not secret:
            secret = click.prompt("Client Secret of your Intuit app", hide_input=True)
    if not secret:
        raise click.UsageError("the Client Secret is empty")
    return client_id, secret


def _ask_for_redirect(home: Any, store: Any, environment: str, url: str) -> None:
    """Print the authorization URL and what to do with it, then complete the connection with the URL pasted (or
    say how to complete it later)."""
    from booksync.books.online.auth import online_settings

    console.print(f"Connecting booksync to a QuickBooks Online {environment} company.\n")
    console.print("1. Open this URL, sign in as the company's administrator, choose the company and approve "
                  "booksync:\n")
    console.print(url, markup=False, highlight=False, soft_wrap=True)
    redirect_to = online_settings(home.settings)["redirect_uri"]
    console.print(f"\n2. Intuit then sends your browser to {redirect_to}?code=... (the redirect URI registered "
                  "for your Intuit app must be exactly this one; another: --redirect-uri).")
    users_add = copyable("booksync users add", home)
    console.print(f"   Either have the web interface there: '{_serve_command(home.path, redirect_to)}' answers "
                  f"{redirect_to} and, once you are signed in (a user made with '{users_add}'), completes "
                  "the connection;")
    console.print("   or, if nothing answers there, copy the whole URL from the browser's address bar and paste it "
                  "below.")
    later = copyable("booksync company connect online --redirect-url 'URL'", home)
    try:
        pasted = click.prompt("\nPaste the URL here", default="", show_default=False).strip()
    except click.exceptions.Abort:
        pasted = ""
    if not pasted:
        if store.load_pending() is None:  # completed meanwhile, by the web interface's /qbo/callback page
            console.print("\nThe authorization is no longer pending (completed or cancelled elsewhere). See: "
                          + copyable("booksync company status", home))
            return
        console.print(f"\nNot connected yet. When you have the URL, run:\n  {later}")
        return
    _complete(home, pasted)


def _complete(home, url: str) -> None:  # noqa: ANN001 - Home
    """Finish the authorization with the redirect URL Intuit sent the browser to; exits on failure."""
    from booksync.books.online.auth import complete_authorization
    from booksync.books.online.errors import ConnectError, OnlineConnectionFailure

    try:
        tokens = complete_authorization(home.path, url)
    except ConnectError as exc:
        _already_connected(home, url)
        _fail(copyable(str(exc), home))
    except OnlineConnectionFailure as exc:
        _fail(exc.message, copyable(exc.advice, home))
    _connected(home, tokens)


def _already_connected(home, url: str) -> None:  # noqa: ANN001 - Home
    """When ``url`` (a redirect URL that could not be used) was used already (pasted twice, or completed by the
    web interface) and the home is connected to its realm: say so and exit 0."""
    from booksync.books.online.auth import already_connected, online_settings

    realm = already_connected(home.path, url)
    if realm:
        environment = online_settings(load_home(home.path).settings)["environment"]
        console.print(f"This home is already connected to QuickBooks Online company {realm} ({environment}); "
                      "that redirect URL was used already, nothing changed. See: "
                      + copyable("booksync company status --check", home))
        sys.exit(0)


def _serve_command(home_path: Path, redirect_uri: str) -> str:
    """The 'booksync serve' command whose web interface answers ``redirect_uri`` (its port when not 8080)."""
    from urllib.parse import urlsplit

    command = copyable("booksync serve", home_path)
    try:
        parts = urlsplit(redirect_uri)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return command
    if port != 8080:
        command += f" --port {port}"
    if parts.scheme == "https":
        command += " --ssl-certfile CERT.pem --ssl-keyfile KEY.pem"
    return command


def _connected(home, tokens) -> None:  # noqa: ANN001 - Home, TokenSet
    """Make the home's company this realm, then check the connection by reading the company's name."""
    from booksync.books.online.auth import use_connection
    from booksync.books.online.session import company_name
    from booksync.books.online.errors import OnlineConnectionFailure, QboFault

    home = use_connection(home, tokens)
    try:
        name = company_name(home)
    except (OnlineConnectionFailure, QboFault) as exc:
        console.print(f"[yellow]Connected (tokens stored), but reading the company failed:[/] {escape(str(exc))}")
        return
    console.print(f"[green]Connected to QuickBooks Online company \"{escape(name)}\"[/] (realm {tokens.realm_id}, "
                  f"{tokens.environment}). {escape(copyable('booksync sync', home))} now synchronizes with it.")


@company.group()
def disconnect() -> None:
    """End booksync's connection to a QuickBooks company."""


@disconnect.command("online")
@home_option
@json_option
def disconnect_online(home_dir: Path | None, as_json: bool) -> None:
    """Revoke booksync's access to the QuickBooks Online company at Intuit and delete the stored tokens.

    The home keeps pointing at that company: 'booksync sync' then asks to reconnect. Exit codes: 0 done (or
    nothing was stored), 1 the home is not connected to QuickBooks Online, 6 Intuit could not be reached (the
    tokens are kept)."""
    from booksync.books.online.auth import online_settings, reconnect_command, revoke
    from booksync.books.online.errors import OnlineConnectionFailure

    home = load_home(home_dir)
    cfg = online_settings(home.settings)
    realm = cfg.get("realm_id")
    if not realm:
        raise click.ClickException("this home is not connected to a QuickBooks Online company")
    try:
        revoked = revoke(home.path, home.settings, realm)
    except OnlineConnectionFailure as exc:
        _fail(exc.message, copyable(exc.advice, home))
    if as_json:
        console.print_json(json.dumps({"realm_id": realm, "environment": cfg["environment"], "revoked": revoked}))
        return
    console.print(f"Disconnected from QuickBooks Online company {realm}: booksync's access is revoked at Intuit and "
                  "its tokens are deleted." if revoked
                  else f"No tokens were stored for QuickBooks Online company {realm}: nothing to revoke.")
    console.print(f"{copyable('booksync sync', home)} now stops until you reconnect: "
                  f"{copyable(reconnect_command(cfg['environment']), home)}", markup=False)


@company.command("status")
@home_option
@json_option
@click.option("--check", is_flag=True, help="QuickBooks Online: also ask QuickBooks Online whether it still accepts "
                                            "booksync's authorization (reads the company's name; exit 6 if not).")
def status(home_dir: Path | None, as_json: bool, check: bool) -> None:
    """Show which company this home synchronizes with and, for QuickBooks Online, when its tokens expire
    (never the tokens themselves). 'connected' means tokens are stored: whether Intuit still accepts them
    (the company's administrator may have disconnected booksync) only --check tells."""
    from booksync.books.online.auth import TokenStore, online_settings
    from booksync.books.online.session import company_name
    from booksync.books.online.errors import OnlineConnectionFailure, QboFault, ReconnectNeeded

    home = load_home(home_dir)
    kind = home.settings["company"].get("kind", "simulator")
    data: dict = {"kind": kind}
    if kind == "online":
        cfg = online_settings(home.settings)
        data.update(realm_id=cfg["realm_id"], environment=cfg["environment"],
                    api_base=cfg[f"{cfg['environment']}_api_base"])
        tokens = TokenStore(home.path).load(cfg["realm_id"]) if cfg["realm_id"] else None
        if tokens is not None:
            def when(t: float) -> str:
                return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")

            data.update(connected=True, access_token_expires=when(tokens.access_expires_at),
                        refresh_token_expires=when(tokens.refresh_expires_at),
                        access_token_valid=tokens.access_expires_at > time.time())
        else:
            data["connected"] = False
        if check:
            try:
                data["company_name"] = company_name(home)
                data["authorization"] = "accepted"
            except OnlineConnectionFailure as exc:
                data["authorization"] = "refused" if isinstance(exc, ReconnectNeeded) else "unreachable"
                data["problem"] = copyable(str(exc), home)
            except QboFault as exc:
                data["authorization"] = "accepted"
                data["problem"] = str(exc)
    else:
        data["path"] = str(home.company_path)
    if as_json:
        console.print_json(json.dumps(data))
    else:
        for key, value in data.items():
            console.print(f"{key.replace('_', ' ')}: {escape(str(value))}")
        if kind == "online" and data.get("connected") and not check:
            console.print("(tokens stored; whether QuickBooks Online still accepts them: "
                          f"{copyable('booksync company status --check', home)})", markup=False)
    if data.get("authorization") in ("refused", "unreachable"):
        sys.exit(EXIT_CONNECTION)
