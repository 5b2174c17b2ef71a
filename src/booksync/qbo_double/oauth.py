"""The OAuth 2.0 server of the QuickBooks Online test double (Intuit's endpoints, reference §7).

* ``GET /connect/oauth2`` — the authorization page. The double has no sign-in: it approves at once
  for its company (``consent_realm``) and redirects to ``redirect_uri?code=...&state=...&realmId=...``;
  ``deny_next`` makes the next one redirect with ``error=access_denied``. The client must be registered
  and the redirect URI one of its own; the scope must include ``com.intuit.quickbooks.accounting``.
* ``POST /oauth2/v1/tokens/bearer`` — HTTP Basic client authentication; ``grant_type`` is
  ``authorization_code`` (a code is single-use and lives 5 minutes) or ``refresh_token``. Every refresh
  **rotates** the refresh token; the previous one stays usable for ``rotation_grace`` seconds (Intuit:
  24 h; the double's default is 0, so a client that does not save the new token fails at once).
  Refused grants answer 400 ``{"error": "invalid_grant"}``, bad client credentials 401 ``invalid_client``.
* ``POST /oauth2/v1/tokens/revoke`` — ``{"token": ...}`` revokes the whole connection (every access
  and refresh token of that authorization), as Intuit's revocation does.
* Access tokens live ``access_ttl`` (3600 s), refresh tokens ``refresh_ttl`` (101 days, rolling).
"""
from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...] = ()
    """Registered redirect URIs; empty accepts any (convenient for local experiments)."""


@dataclass
class Connection:
    """One authorization of a client for a realm; revoking it ends every token issued under it."""

    ident: str
    client_id: str
    realm_id: str
    revoked: bool = False


@dataclass
class RefreshToken:
    connection: Connection
    expires_at: float
    replaced_at: float | None = None


@dataclass
class AccessToken:
    connection: Connection
    expires_at: float


@dataclass
class OAuthServer:
    """Tokens and authorizations of the double. ``clock`` is the double's (tests move it forward)."""

    clock: Callable[[], float] = time.time
    consent_realm: str = ""
    access_ttl: float = 3600.0
    refresh_ttl: float = 8726400.0
    rotation_grace: float = 0.0
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    deny_next: bool = False
    grants: dict[str, int] = field(default_factory=dict)
    """Count of token requests by outcome, e.g. {"refresh_token": 2, "invalid_grant": 1}."""

    def register_client(self, client_id: str, secret: str, redirect_uris: tuple[str, ...] = ()) -> None:
        self.clients[client_id] = Client(client_id, secret, tuple(redirect_uris))

    # ------------------------------------------------------------------ authorization page

    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """Return (302, Location) or (400, an error text) for the authorization request ``params``."""
        client = self.clients.get(params.get("client_id", ""))
        redirect = params.get("redirect_uri", "")
        if client is None:
            return 400, "invalid_client: unknown client_id"
        if client.redirect_uris and redirect not in client.redirect_uris:
            return 400, "invalid_request: redirect_uri is not registered for this app"
        if params.get("response_type") != "code":
            return 400, "unsupported_response_type"
        state = params.get("state", "")
        sep = "&" if "?" in redirect else "?"
        if ACCOUNTING_SCOPE not in params.get("scope", "").split():
            return 302, redirect + sep + urlencode({"error": "invalid_scope", "state": state})
        if self.deny_next:
            self.deny_next = False
            return 302, redirect + sep + urlencode({"error": "access_denied", "state": state})
        code = "AB" + secrets.token_urlsafe(24)
        self.codes[code] = {"client_id": client.client_id, "redirect_uri": redirect, "realm_id": self.consent_realm,
                            "expires_at": self.clock() + 300}
        return 302, redirect + sep + urlencode({"code": code, "state": state, "realmId": self.consent_realm})

    # ------------------------------------------------------------------ token endpoint

    def _client(self, authorization: str) -> Client | None:
        if not authorization.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        client = self.clients.get(client_id)
        return client if client is not None and secrets.compare_digest(client.secret, secret) else None

    def _count(self, what: str) -> None:
        self.grants[what] = self.grants.get(what, 0) + 1

    def _issue(self, connection: Connection) -> dict[str, Any]:
        now = self.clock()
        access, refresh = "eyJ" + secrets.token_urlsafe(32), "RT1-" + secrets.token_urlsafe(24)
        self.access[access] = AccessToken(connection, now + self.access_ttl)
        self.refresh[refresh] = RefreshToken(connection, now + self.refresh_ttl)
        return {"token_type": "bearer", "access_token": access, "refresh_token": refresh,
                "expires_in": int(self.access_ttl), "x_refresh_token_expires_in": int(self.refresh_ttl)}

    def token(self, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint: (HTTP status, JSON body)."""
        client = self._client(authorization)
        if client is None:
            self._count("invalid_client")
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type")
        now = self.clock()
        if grant == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["expires_at"] < now or code["client_id"] != client.client_id \
                    or code["redirect_uri"] != form.get("redirect_uri"):
                self._count("invalid_grant")
                return 400, {"error": "invalid_grant"}
            self._count("authorization_code")
            return 200, self._issue(Connection(secrets.token_hex(8), client.client_id, code["realm_id"]))
        if grant == "refresh_token":
            token = self.refresh.get(form.get("refresh_token", ""))
            if token is None or token.connection.revoked or token.expires_at < now \
                    or token.connection.client_id != client.client_id \
                    or (token.replaced_at is not None and token.replaced_at + self.rotation_grace < now):
                self._count("invalid_grant")
                return 400, {"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"}
            token.replaced_at = token.replaced_at if token.replaced_at is not None else now
            self._count("refresh_token")
            return 200, self._issue(token.connection)
        self._count("unsupported_grant_type")
        return 400, {"error": "unsupported_grant_type"}

    def revoke(self, authorization: str, token: str) -> int:
        """The revocation endpoint: revoke the connection ``token`` belongs to; 200, or 401 for a bad client."""
        if self._client(authorization) is None:
            return 401
        held = self.refresh.get(token) or self.access.get(token)
        if held is not None:
            held.connection.revoked = True
        return 200

    # ------------------------------------------------------------------ API access

    def check(self, bearer: str, realm_id: str) -> str:
        """"" when ``bearer`` may call ``realm_id``'s API, else why not."""
        token = self.access.get(bearer)
        if token is None:
            return "Token invalid"
        if token.connection.revoked:
            return "Token revoked"
        if token.expires_at < self.clock():
            return "Token expired"
        if token.connection.realm_id != realm_id:
            return "Token is for another company"
        return ""

    def expire_access_tokens(self) -> None:
        """Make every access token expired now (tests of the 401 → refresh → retry path)."""
        for token in self.access.values():
            token.expires_at = min(token.expires_at, self.clock() - 1)

    def revoke_realm(self, realm_id: str) -> None:
        """Revoke every connection to ``realm_id`` (as when the company's admin disconnects the app)."""
        for token in list(self.refresh.values()) + list(self.access.values()):
            if token.connection.realm_id == realm_id:
                token.connection.revoked = True
