"""Sign-in state, the sign-in gate, CSRF tokens, allowed Host names and response headers of the web interface.

The session lives in a signed cookie (Starlette's SessionMiddleware, keyed by ``web_secret`` in the
home); it names the user, a random session id and the CSRF token of every form. The server keeps
the ids of signed-in sessions, so signing out (or a restart) ends a session even if its cookie was
copied, and a changed password ends every session of that user.
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData, Headers
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from booksync.attempts import clip
from booksync.services.users import current_version

SECRET_FILE = "web_secret"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PUBLIC_PATHS = ("/signin",)
PUBLIC_PREFIXES = ("/static/",)


def load_secret(home_path: Path) -> str:
    """The key that signs session cookies, made once per home (mode 0600)."""
    path = Path(home_path) / SECRET_FILE
    try:
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return secret


class SessionRegistry:
    """The signed-in sessions of this server: id -> (user, password version, last seen)."""

    def __init__(self, home_path: Path, idle_seconds: float) -> None:
        self.home_path = home_path
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def start(self, user: str, version: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[sid] = (user, version, time.monotonic())
        return sid

    def end(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def user(self, session: dict[str, Any]) -> str | None:
        """The signed-in user of ``session``, or None (unknown id, idle too long, user removed or password
        changed). Touches the session."""
        sid = session.get("sid")
        if not isinstance(sid, str):
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._sessions.get(sid)
            if entry is None:
                return None
            user, version, seen = entry
            if now - seen > self.idle_seconds:
                del self._sessions[sid]
                return None
        if session.get("user") != user or current_version(self.home_path, user) != version:
            self.end(sid)
            return None
        with self._lock:
            if sid in self._sessions:
                self._sessions[sid] = (user, version, now)
        return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (also for the anonymous session of the sign-in page)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _same_origin(request: Request) -> bool:
    """False when the browser says the form came from another site (Origin header); True without one."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


class AllowedHosts:
    """Refuses a request whose Host header is not an allowed host (DNS rebinding: a page of another site whose
    name now points at 127.0.0.1 must not reach booksync). Starlette's TrustedHostMiddleware decides; the
    refusal says what to do."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = hosts

        async def passed(scope: Scope, receive: Receive, send: Send) -> None:
            scope["booksync.host_ok"] = True

        self._check = TrustedHostMiddleware(passed, allowed_hosts=hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("booksync.host_checked"):
            await self.app(scope, receive, send)
            return

        async def discard(message: Message) -> None:
            pass

        probe: dict[str, Any] = dict(scope)
        await self._check(probe, receive, discard)
        if probe.get("booksync.host_ok"):
            scope["booksync.host_checked"] = True
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        logging.getLogger("booksync.web").warning("refused a request for host %s from %s: not an allowed host",
                                                  clip(host, 100), (scope.get("client") or ("?",))[0])
        text = (f"booksync does not answer to the host name {clip(host, 100)!r}; it answers to "
                f"{', '.join(self.hosts)}. If this is the name you use to reach booksync, add it to allowed_hosts "
                "in the [web] section of booksync.toml and restart 'booksync serve'.\n")
        await PlainTextResponse(text, status_code=400)(scope, receive, send)


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the session's (403 otherwise)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = request.session.get("csrf") or ""
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), str(expected).encode())
            and _same_origin(request)):
        raise HTTPException(403, "The form's security token does not match your session. Reload the page and "
                                 "try again.")
    return form


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class SignInGate:
    """Lets through the sign-in page and static files; everything else needs a signed-in session.

    Pages answer with a redirect to the sign-in page; other requests (JSON, POST) with 401.
    Sits inside SessionMiddleware, so ``scope["session"]`` is there.
    """

    def __init__(self, app: ASGIApp, registry: SessionRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path = scope["path"][len(root):] if scope["path"].startswith(root) else scope["path"]
        user = self.registry.user(scope.get("session", {}))
        scope.setdefault("state", {})["user"] = user
        if user is None and not _is_public(path):
            response: Response
            if scope["method"] == "GET" and not path.endswith(".json"):
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                response = RedirectResponse(f"{root}/signin?next={quote(target, safe='')}", status_code=303)
            else:
                response = JSONResponse({"error": "Sign in first."}, status_code=401)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Headers on every answer: no framing by other sites, no sniffing, no caching of pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {k.lower() for k, _ in headers}
                defaults = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"SAMEORIGIN",
                    b"referrer-policy": b"same-origin",
                    b"content-security-policy": b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                                b"frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
                }
                if not scope["path"].startswith(scope.get("root_path", "") + "/static/"):
                    defaults[b"cache-control"] = b"no-store"
                for key, value in defaults.items():
                    if key not in present:
                        headers.append((key, value))
            await send(message)

        await self.app(scope, receive, send_with_headers)
