"""OAuth 2.0 for QuickBooks Online: connecting, the encrypted token store, and refreshing under a lock.

The flow (reference/quickbooks-online.md §7; Intuit's OAuth 2.0 guide and intuit-oauth's
``intuitlib/client.py``):

1. :func:`begin_authorization` builds the authorization URL with intuit-oauth's ``AuthClient``
   (scope ``com.intuit.quickbooks.accounting``) and keeps the pending request (client, state)
   encrypted in the home;
2. the person signs in to Intuit and approves; Intuit redirects the browser to the redirect URI
   with ``code``, ``state`` and ``realmId``;
3. :func:`complete_authorization` takes that redirect URL, checks ``state``, exchanges the code for
   tokens and stores them for the realm.

Tokens: the access token lives 3600 s, the refresh token 100 days (rolling), and every refresh may
return a *new* refresh token that must replace the old one, which goes stale (Intuit FAQ quoted in
python-quickbooks #150; Intuit blog "OAuth token management done the right way", 2024-06-03).
:class:`TokenProvider` refreshes ``refresh_margin_seconds`` before expiry, under a file lock so
two booksync processes never spend the same refresh token, and always saves what came back.
``invalid_grant`` (expired, revoked or superseded refresh token) raises :class:`ReconnectNeeded`
whose advice is the exact command to run.

Storage (``HOME/online/``, folder mode 0700, files 0600):

* ``token.key`` — a Fernet key (AES-128-CBC + HMAC-SHA256, ``cryptography``), created on first use.
  Set ``BOOKSYNC_TOKEN_KEY`` to a Fernet key to keep the key outside the home instead (then no key
  file is written or read). Backups of the home (``backups/``) never include ``online/``.
* ``tokens-REALM.fernet`` — the realm's client id and secret, access and refresh tokens, expiries.
* ``pending.fernet`` — an authorization in progress (between steps 1 and 3).
* ``tokens-REALM.lock`` — the refresh lock (``filelock``).

Secrets are never logged, and :class:`TokenSet`'s ``repr`` leaves them out.

``AuthClient`` downloads Intuit's OpenID discovery document when it is created; its
``environment`` argument also accepts a URL, which is how the settings ``sandbox_discovery_url`` /
``production_discovery_url`` point it at Intuit, or at the test double in tests.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from filelock import FileLock

from booksync.config import ConfigError
from booksync.vault import KEY_ENV, Vault  # noqa: F401 - KEY_ENV: where the token key comes from
from booksync.books.online.errors import ConnectError, QboUnreachable, ReconnectNeeded

log = logging.getLogger("booksync.online")

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
PENDING_MAX_AGE = 3600
"""Seconds an authorization in progress stays usable (Intuit's authorization codes live minutes)."""
ENVIRONMENTS = ("sandbox", "production")


DEFAULT_REDIRECT_URI = "http://localhost:8080/qbo/callback"
"""The redirect URI booksync uses unless told otherwise: the web interface's /qbo/callback page as
``booksync serve`` answers it with its defaults (host 127.0.0.1 = localhost, port 8080)."""
_OLD_DEFAULT_REDIRECT_URI = "http://localhost:8765/qbo/callback"
"""The default of earlier versions (``config.DEFAULTS``, written into every new booksync.toml), where nothing
listened: read as "not chosen" unless ``redirect_uri_chosen`` says the person gave it with --redirect-uri."""


def online_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``[online]`` settings of a home with the defaults filled in (``config.DEFAULTS``); a redirect URI
    nobody chose is :data:`DEFAULT_REDIRECT_URI`."""
    from booksync.config import DEFAULTS

    cfg = {**DEFAULTS["online"], **settings.get("online", {})}
    if cfg.get("redirect_uri") in ("", None, _OLD_DEFAULT_REDIRECT_URI) and not cfg.get("redirect_uri_chosen"):
        cfg["redirect_uri"] = DEFAULT_REDIRECT_URI
    return cfg


def reconnect_command(environment: str) -> str:
    """The command that reconnects booksync to QuickBooks Online, as a structured value for the face to render
    (this layer cannot know how booksync was installed): ``booksync`` and the command's words, then the options
    after them, e.g. "booksync company connect online --sandbox". The command line renders it pasteable with
    ``cli.common.copyable`` (the program as installed, ``--home`` with the home quoted, right after the words)."""
    return f"booksync company connect online --{environment}"


# ---------------------------------------------------------------------- the tokens


@dataclass
class TokenSet:
    """What booksync keeps for one QuickBooks Online company (realm).

    Times are seconds since the epoch (``time.time()``). ``client_secret``, ``access_token``
    and ``refresh_token`` are secrets: left out of ``repr`` and never logged.
    """

    realm_id: str
    environment: str
    client_id: str
    client_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    access_expires_at: float
    refresh_token: str = field(repr=False)
    refresh_expires_at: float
    connected_at: float = 0.0
    refreshed_at: float = 0.0
    redirect_uri: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenSet":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class TokenStore:
    """The encrypted tokens of a home, one file per realm, and the pending authorization."""

    def __init__(self, home_path: Path | str) -> None:
        self.home_path = Path(home_path)
        self.vault = Vault(self.home_path / "online", advice="connect again with 'booksync company connect online'")

    @staticmethod
    def _name(realm_id: str) -> str:
        if not realm_id or not realm_id.replace("-", "").isalnum():
            raise ConfigError(f"{realm_id!r} is not a QuickBooks Online company id (realmId)")
        return f"tokens-{realm_id}.fernet"

    def lock(self, realm_id: str, timeout: float = 120) -> FileLock:
        """The file lock that serializes refreshes of ``realm_id``'s tokens across processes."""
        self.vault._ensure_folder()
        self._name(realm_id)
        return FileLock(str(self.vault.folder / f"tokens-{realm_id}.lock"), timeout=timeout)

    def load(self, realm_id: str) -> TokenSet | None:
        data = self.vault.read(self._name(realm_id))
        return TokenSet.from_dict(data) if data else None

    def save(self, tokens: TokenSet) -> None:
        self.vault.write(self._name(tokens.realm_id), tokens.as_dict())

    def delete(self, realm_id: str) -> None:
        self.vault.delete(self._name(realm_id))

    def save_pending(self, pending: dict[str, Any]) -> None:
        self.vault.write("pending.fernet", pending)

    def load_pending(self) -> dict[str, Any] | None:
        return self.vault.read("pending.fernet")

    def clear_pending(self) -> None:
        self.vault.delete("pending.fernet")


# ---------------------------------------------------------------------- talking to Intuit's OAuth server


def make_auth_client(discovery: str, client_id: str, client_secret: str, redirect_uri: str, state: str | None = None):
    """intuit-oauth's ``AuthClient``; ``discovery`` is the discovery document URL (see module docstring).

    Raises :class:`QboUnreachable` when the discovery document cannot be read.
    """
    import requests
    from intuitlib.client import AuthClient
    from intuitlib.exceptions import AuthClientError

    try:
        return AuthClient(client_id, client_secret, redirect_uri, discovery, state_token=state)
    except (requests.RequestException, AuthClientError, ValueError) as exc:
        raise QboUnreachable(f"Could not read Intuit's OAuth discovery document at {discovery} "
                             f"({type(exc).__name__}).", "Check the network connection and the "
                             "[online] discovery URL settings, then try again.") from None


AuthClientFactory = Callable[[str, str, str, str], Any]


def _auth_error(exc: Exception) -> tuple[int, str]:
    """(HTTP status, OAuth ``error`` code) of an intuit-oauth ``AuthClientError``; never the tokens."""
    status = int(getattr(exc, "status_code", 0) or 0)
    content = getattr(exc, "content", b"") or b""
    try:
        code = str(json.loads(content).get("error", ""))
    except (ValueError, AttributeError, TypeError):
        code = ""
    return status, code


def begin_authorization(home_path: Path | str, settings: dict[str, Any], environment: str, client_id: str,
                        client_secret: str, redirect_uri: str | None = None,
                        factory: AuthClientFactory = make_auth_client) -> str:
    """Start connecting: return the authorization URL to open; keep the pending request encrypted.

    Raises :class:`QboUnreachable` when Intuit's discovery document cannot be read.
    """
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    cfg = online_settings(settings)
    redirect_uri = redirect_uri or cfg["redirect_uri"]
    discovery = cfg[f"{environment}_discovery_url"]
    state = secrets.token_urlsafe(24)
    client = factory(discovery, client_id, client_secret, redirect_uri)
    url = client.get_authorization_url([_accounting_scope()], state_token=state)
    TokenStore(home_path).save_pending({"environment": environment, "client_id": client_id,
                                        "client_secret": client_secret, "redirect_uri": redirect_uri,
                                        "state": state, "created_at": time.time(), "discovery": discovery})
    return url


def _accounting_scope() -> Any:
    from intuitlib.enums import Scopes

    return Scopes.ACCOUNTING


def complete_authorization(home_path: Path | str, redirect_url: str,
                           factory: AuthClientFactory = make_auth_client, now: Callable[[], float] = time.time
                           ) -> TokenSet:
    """Finish connecting with the URL the browser was redirected to; store and return the tokens.

    Raises :class:`ConnectError` when there is no authorization in progress, the URL carries an
    error (e.g. ``access_denied``), the ``state`` differs (a URL from another attempt), or Intuit
    refuses the code; :class:`QboUnreachable` when Intuit cannot be reached.
    """
    import requests
    from intuitlib.exceptions import AuthClientError

    store = TokenStore(home_path)
    pending = store.load_pending()
    start = "booksync company connect online"  # the face renders it pasteable (see reconnect_command)
    if pending is None:
        raise ConnectError(f"No connection to QuickBooks Online is in progress. Start one with: {start}")
    if now() - float(pending.get("created_at", 0)) > PENDING_MAX_AGE:
        store.clear_pending()
        raise ConnectError(f"The authorization started more than an hour ago has expired. Start again: {start}")
    query = parse_qs(urlparse(redirect_url.strip()).query)
    first = {k: v[0] for k, v in query.items() if v}
    if "error" in first:
        raise ConnectError(f"Intuit did not authorize booksync ({first['error']}"
                           + (f": {first['error_description']}" if "error_description" in first else "")
                           + f"). Start again when the company's administrator can approve: {start}")
    if first.get("state") != pending["state"]:
        raise ConnectError("The redirect URL does not belong to the authorization booksync started (its state "
                           f"differs); paste the URL from the latest attempt, or start again: {start}")
    code, realm_id = first.get("code"), first.get("realmId")
    if not code or not realm_id:
        raise ConnectError("The redirect URL has no authorization code or realmId; paste the whole URL the "
                           "browser shows after you approve booksync.")
    client = factory(pending["discovery"], pending["client_id"], pending["client_secret"], pending["redirect_uri"])
    try:
        client.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as exc:
        status, error = _auth_error(exc)
        raise ConnectError(f"Intuit refused the authorization code (HTTP {status} {error}); codes are single-use "
                           f"and expire within minutes. Start again: {start}") from None
    except requests.RequestException as exc:
        raise QboUnreachable(f"Could not reach Intuit's token endpoint ({type(exc).__name__}).",
                             "Check the network connection and paste the redirect URL again.") from None
    t = now()
    tokens = TokenSet(realm_id=realm_id, environment=pending["environment"], client_id=pending["client_id"],
                      client_secret=pending["client_secret"], access_token=client.access_token,
                      access_expires_at=t + float(client.expires_in or 3600), refresh_token=client.refresh_token,
                      refresh_expires_at=t + float(client.x_refresh_token_expires_in or 8726400),
                      connected_at=t, refreshed_at=t, redirect_uri=pending["redirect_uri"])
    store.save(tokens)
    store.clear_pending()
    log.info("connected to QuickBooks Online realm %s (%s)", realm_id, tokens.environment)
    return tokens


def already_connected(home_path: Path | str, redirect_url: str) -> str:
    """The realm of ``redirect_url`` when it could only have been used already: nothing is pending, and the home
    is connected to that realm (company kind "online", tokens stored). "" otherwise. For a redirect URL pasted
    twice, or a callback page reloaded after success."""
    from booksync.config import Home

    store = TokenStore(home_path)
    realm = (parse_qs(urlparse(redirect_url.strip()).query).get("realmId") or [""])[0]
    if not realm or store.load_pending() is not None:
        return ""
    settings = Home.load(home_path).settings
    if settings["company"].get("kind") != "online" or online_settings(settings).get("realm_id") != realm:
        return ""
    return realm if store.load(realm) is not None else ""


def use_connection(home: Any, tokens: TokenSet) -> Any:
    """Make ``home``'s company the connected realm (company kind "online", realm, environment, client id) and save
    booksync.toml. The settings are re-read from the file first, so what another process saved meanwhile (the
    connect command saves the redirect URI and endpoints) is kept; ``home.settings`` is updated in place too (a
    running web interface sees the new company). Returns the reloaded home."""
    from booksync.config import Home

    current = Home.load(home.path)
    current.settings["company"]["kind"] = "online"
    current.settings.setdefault("online", {}).update(realm_id=tokens.realm_id, environment=tokens.environment,
                                                     client_id=tokens.client_id)
    current.save()
    if current is not home and isinstance(getattr(home, "settings", None), dict):
        home.settings.clear()
        home.settings.update(current.settings)
    return current


def revoke(home_path: Path | str, settings: dict[str, Any], realm_id: str,
           factory: AuthClientFactory = make_auth_client) -> bool:
    """Revoke booksync's access to ``realm_id`` at Intuit and delete the stored tokens.

    Returns False when no tokens were stored. A refusal by Intuit (already revoked) still deletes them.
    """
    import requests
    from intuitlib.exceptions import AuthClientError

    store = TokenStore(home_path)
    with store.lock(realm_id):
        tokens = store.load(realm_id)
        if tokens is None:
            return False
        cfg = online_settings(settings)
        try:
            client = factory(cfg[f"{tokens.environment}_discovery_url"], tokens.client_id, tokens.client_secret,
                             tokens.redirect_uri or cfg["redirect_uri"])
            client.revoke(token=tokens.refresh_token)
        except AuthClientError as exc:
            log.warning("Intuit refused to revoke the token of realm %s (HTTP %s)", realm_id, _auth_error(exc)[0])
        except (requests.RequestException, QboUnreachable) as exc:
            raise QboUnreachable(f"Could not reach Intuit to revoke booksync's access ({type(exc).__name__}); "
                                 "the tokens were kept.", "Try again when the network is back.") from None
        store.delete(realm_id)
    return True


class TokenProvider:
    """Valid access tokens for one realm, refreshed before they expire.

    Thread-safe; refreshes hold the realm's file lock (:meth:`TokenStore.lock`) and re-read the
    store inside it, so a refresh done meanwhile by another process is used, not repeated.

    Raises :class:`ReconnectNeeded` (no tokens, refresh token expired, ``invalid_grant``,
    ``invalid_client``) and :class:`QboUnreachable` (Intuit's token endpoint unreachable).
    """

    def __init__(self, home_path: Path | str, settings: dict[str, Any], realm_id: str,
                 factory: AuthClientFactory = make_auth_client, clock: Callable[[], float] = time.time) -> None:
        self.home_path = Path(home_path)
        self.cfg = online_settings(settings)
        self.realm_id = realm_id
        self.store = TokenStore(home_path)
        self.factory = factory
        self.clock = clock
        self.margin = float(self.cfg["refresh_margin_seconds"])
        self._tokens: TokenSet | None = None
        self._mutex = threading.Lock()
        self.refreshes = 0
        """How many refreshes this provider made (for tests and the run log)."""

    def _reconnect(self, what: str, environment: str | None = None) -> ReconnectNeeded:
        env = environment or self.cfg.get("environment", "sandbox")
        return ReconnectNeeded(f"QuickBooks Online no longer accepts booksync's authorization for company "
                               f"{self.realm_id}: {what}.",
                               f"Reconnect: {reconnect_command(env)}")

    def refused(self, what: str) -> ReconnectNeeded:
        """The error for an authorization QuickBooks Online refused: ``what`` happened; reconnect."""
        return self._reconnect(what)

    def access_token(self) -> str:
        """A valid access token (refreshed first when it expires within ``refresh_margin_seconds``)."""
        with self._mutex:
            tokens = self._tokens
            if tokens is not None and tokens.access_expires_at - self.margin > self.clock():
                return tokens.access_token
            with self.store.lock(self.realm_id):
                tokens = self._load()
                if tokens.access_expires_at - self.margin <= self.clock():
                    tokens = self._refresh(tokens)
                self._tokens = tokens
                return tokens.access_token

    def after_unauthorized(self, rejected: str) -> str:
        """QuickBooks Online answered 401 to ``rejected``: refresh (unless another process just did); return
        the token to retry with."""
        with self._mutex, self.store.lock(self.realm_id):
            tokens = self._load()
            if tokens.access_token == rejected or tokens.access_expires_at - self.margin <= self.clock():
                tokens = self._refresh(tokens)
            self._tokens = tokens
            return tokens.access_token

    def _load(self) -> TokenSet:
        tokens = self.store.load(self.realm_id)
        if tokens is None:
            raise self._reconnect("booksync holds no tokens for it (never connected, or disconnected)")
        return tokens

    def _refresh(self, tokens: TokenSet) -> TokenSet:
        import requests
        from intuitlib.exceptions import AuthClientError

        if tokens.refresh_expires_at <= self.clock():
            raise self._reconnect("the refresh token expired (after 100 days without use)", tokens.environment)
        discovery = self.cfg[f"{tokens.environment}_discovery_url"]
        client = self.factory(discovery, tokens.client_id, tokens.client_secret,
                              tokens.redirect_uri or self.cfg["redirect_uri"])
        try:
            client.refresh(refresh_token=tokens.refresh_token)
        except AuthClientError as exc:
            status, error = _auth_error(exc)
            if error in ("invalid_grant", "invalid_client") or status in (400, 401):
                raise self._reconnect(f"Intuit refused the refresh token ({error or f'HTTP {status}'}: it expired, "
                                      "was revoked, or was replaced by a newer one)", tokens.environment) from None
            raise QboUnreachable(f"Intuit's token endpoint failed (HTTP {status}).",
                                 "Try again in a few minutes.") from None
        except requests.RequestException as exc:
            raise QboUnreachable(f"Could not reach Intuit's token endpoint ({type(exc).__name__}).",
                                 "Check the network connection and try again.") from None
        t = self.clock()
        # Always save what came back: the refresh token usually rotates, and the old one goes stale.
        fresh = dataclasses.replace(
            tokens, access_token=client.access_token, access_expires_at=t + float(client.expires_in or 3600),
            refresh_token=client.refresh_token or tokens.refresh_token,
            refresh_expires_at=t + float(client.x_refresh_token_expires_in or 8726400), refreshed_at=t)
        self.store.save(fresh)
        self.refreshes += 1
        log.info("refreshed the QuickBooks Online access token of realm %s (refresh token %s)", self.realm_id,
                 "rotated" if fresh.refresh_token != tokens.refresh_token else "unchanged")
        return fresh
