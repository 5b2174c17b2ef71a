"""``booksync company``: connect booksync to QuickBooks Online, show and end the connection.

``booksync company connect online`` runs the OAuth 2.0 authorization-code flow
(:mod:`booksync.books.qbo_auth`): it prints the authorization URL, then takes the URL the browser was
redirected to (pasted at the prompt, or later with ``--redirect-url``), exchanges the code and stores
the tokens encrypted in the home. Unattended or on a server without a browser, run it twice: once
without ``--redirect-url`` (stdin closed: it prints the URL and stops), then with ``--redirect-url``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import click
from rich.markup import escape

from .common import EXIT_CONNECTION, console, err, home_option, json_option, load_home

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
@click.option("--redirect-uri", help="The redirect URI registered for your Intuit app (saved in [online]).")
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
    from ..books.qbo_auth import TokenStore, begin_authorization, complete_authorization, online_settings
    from ..books.qbo_errors import ConnectError, OnlineConnectionFailure

    home = load_home(home_dir)
    cfg = online_settings(home.settings)
    environment = cfg["environment"] if sandbox is None else ("sandbox" if sandbox else "production")
    section = home.settings.setdefault("online", {})
    for key, value in ((f"{environment}_api_base", api_base), (f"{environment}_discovery_url", discovery_url),
                       ("redirect_uri", redirect_uri)):
        if value:
            section[key] = value
    home.save()
    if redirect_url:
        try:
            tokens = complete_authorization(home.path, redirect_url)
        except ConnectError as exc:
            _fail(str(exc))
        except OnlineConnectionFailure as exc:
            _fail(exc.message, exc.advice)
        _connected(home, tokens)
        return
    store = TokenStore(home.path)
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
    try:
        url = begin_authorization(home.path, home.settings, environment, client_id, secret)
    except OnlineConnectionFailure as exc:
        _fail(exc.message, exc.advice)
    console.print(f"Connecting booksync to a QuickBooks Online {environment} company.\n")
    console.print("1. Open this URL, sign in as the company's administrator, choose the company and approve "
                  "booksync:\n")
    console.print(url, markup=False, highlight=False, soft_wrap=True)
    redirect_to = online_settings(home.settings)["redirect_uri"]
    console.print(f"\n2. Intuit then sends your browser to {redirect_to}?code=... If 'booksync serve' runs there "
                  "(the web interface's page /qbo/callback), that page completes the connection once you are signed "
                  "in; otherwise copy that whole URL from the address bar.")
    later = (f"booksync company connect online --home {home.path} --redirect-url 'URL'")
    try:
        pasted = click.prompt("\nPaste the URL here", default="", show_default=False).strip()
    except click.exceptions.Abort:
        pasted = ""
    if not pasted:
        if store.load_pending() is None:  # completed meanwhile, by the web interface's /qbo/callback page
            console.print(f"\nThe authorization is no longer pending (completed or cancelled elsewhere). See: "
                          f"booksync company status --home {home.path}")
            return
        console.print(f"\nNot connected yet. When you have the URL, run:\n  {later}")
        return
    try:
        tokens = complete_authorization(home.path, pasted)
    except ConnectError as exc:
        _fail(str(exc))
    except OnlineConnectionFailure as exc:
        _fail(exc.message, exc.advice)
    _connected(home, tokens)


def _connected(home, tokens) -> None:  # noqa: ANN001 - Home, TokenSet
    """Make the home's company this realm, then check the connection by reading the company's name."""
    from ..books.qbo_auth import company_name, use_connection
    from ..books.qbo_errors import OnlineConnectionFailure, QboFault

    home = use_connection(home, tokens)
    try:
        name = company_name(home)
    except (OnlineConnectionFailure, QboFault) as exc:
        console.print(f"[yellow]Connected (tokens stored), but reading the company failed:[/] {escape(str(exc))}")
        return
    console.print(f"[green]Connected to QuickBooks Online company \"{escape(name)}\"[/] (realm {tokens.realm_id}, "
                  f"{tokens.environment}). booksync sync --home {home.path} now synchronizes with it.")


@company.group()
def disconnect() -> None:
    """End booksync's connection to a QuickBooks company."""


@disconnect.command("online")
@home_option
def disconnect_online(home_dir: Path | None) -> None:
    """Revoke booksync's access to the QuickBooks Online company at Intuit and delete the stored tokens."""
    from ..books.qbo_auth import online_settings, revoke
    from ..books.qbo_errors import OnlineConnectionFailure

    home = load_home(home_dir)
    realm = online_settings(home.settings).get("realm_id")
    if not realm:
        raise click.ClickException("this home is not connected to a QuickBooks Online company")
    try:
        revoked = revoke(home.path, home.settings, realm)
    except OnlineConnectionFailure as exc:
        _fail(exc.message, exc.advice)
    console.print(f"Disconnected from QuickBooks Online company {realm}." if revoked
                  else f"No tokens were stored for QuickBooks Online company {realm}.")


@company.command("status")
@home_option
@json_option
def status(home_dir: Path | None, as_json: bool) -> None:
    """Show which company this home synchronizes with and, for QuickBooks Online, when its tokens expire
    (never the tokens themselves)."""
    from ..books.qbo_auth import TokenStore, online_settings

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
    else:
        data["path"] = str(home.company_path)
    if as_json:
        console.print_json(json.dumps(data))
        return
    for key, value in data.items():
        console.print(f"{key.replace('_', ' ')}: {escape(str(value))}")
