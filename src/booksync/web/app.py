"""The web interface's application: :func:`create_app` builds it for one booksync home.

``booksync serve`` mounts it beside the Web Connector's SOAP routes (:mod:`booksync.server`: those routes first,
then ``Mount("/", app=create_app(home))``), or run it alone with ``python -m booksync.web``. Every
page but the sign-in page needs a signed-in user (``booksync users add NAME``); see docs/web.md.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from booksync.domain import operation_words
from booksync.config import Home
from booksync.logfile import file_handler
from booksync.attempts import AttemptThrottle, set_concurrent_checks
from booksync.services.quickbooks import QuickBooksReader
from booksync.services.serving import allowed_hosts
from booksync.web.security import AllowedHosts, SecurityHeaders, SessionRegistry, SignInGate, csrf_token, load_secret
from booksync.web.syncjob import SyncJobs

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "booksync_session"


@dataclass
class WebContext:
    """What every view needs: the home, the billing store, QuickBooks, the sync jobs, the templates."""

    home: Home
    sessions: sessionmaker[Session]
    reader: QuickBooksReader
    jobs: SyncJobs
    registry: SessionRegistry
    throttle: AttemptThrottle
    templates: Jinja2Templates


def _money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(value):,.2f}"


def _when(value: dt.datetime | None) -> str:
    """A UTC time from the billing store, in this computer's time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


_MEMBER = re.compile(r"^member (\S+) ")


def web_fix(problem: Any) -> tuple[str, str]:
    """What to do about a problem of a run, for the web: (text, path of the page to do it on, or "").
    The problem's web remedy (``fix_web``: pages and options, never a command-line flag); where a page does
    it, a link to the page. Problems recorded before runs carried a web remedy fall back to ``fix``."""
    get = problem.get if isinstance(problem, dict) else lambda k, d="": getattr(problem, k, d)
    code, record = get("code", ""), get("record", "")
    fix = get("fix_web", "") or get("fix", "") or ""
    if code in ("unmapped-account", "deposit-account", "incompatible-account"):
        return fix or "choose its QuickBooks account on the Cross Reference Accounts page", "/accounts"
    member = _MEMBER.match(record)
    if code in ("no-customer", "customer-gone", "bill-info-unknown") and member:
        return "link the member to a QuickBooks customer on its Bill Info tab", f"/members/{member.group(1)}/bill-info"
    return fix, ""


def _context(request: Request) -> dict[str, Any]:
    root = request.scope.get("root_path", "")
    flashes = request.session.pop("flash", []) if "session" in request.scope else []
    return {"user": request.scope.get("state", {}).get("user"), "csrf": csrf_token(request),
            "u": lambda path="/": root + path, "flashes": flashes}


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=_money, when=_when, size=_size)
    env.globals["web_fix"] = web_fix
    env.globals["operation_words"] = operation_words
    return Jinja2Templates(env=env, context_processors=[_context])


def _ensure_log(home: Home) -> None:
    """Log to the home's logs/booksync.log (rotated, one line a record: :mod:`booksync.logfile`), unless
    something (the command line) already does."""
    path = str((home.logs_dir / "booksync.log").resolve())
    logger = logging.getLogger("booksync")
    if any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in logger.handlers):
        return
    logger.addHandler(file_handler(home.logs_dir, home.settings.get("logs")))
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


def create_app(home: Home, bind: str | None = None) -> Starlette:
    """The web interface for ``home``: sign-in, dashboard, synchronize, cross reference, members, run history.

    ``bind``: the address the server listens on, one of the Host names it answers to (with the localhost
    names and ``web.allowed_hosts``; any other Host is refused with 400)."""
    from booksync.store.db import open_store
    from booksync.web import mapping_views, views

    _ensure_log(home)
    sessions = open_store(home.database_url)
    settings = home.settings.get("web", {})
    hours = float(settings.get("session_hours", 12))
    reader = QuickBooksReader(home)
    registry = SessionRegistry(home.path, idle_seconds=hours * 3600)
    set_concurrent_checks(int(settings.get("concurrent_password_checks", 2)))
    context = WebContext(home, sessions, reader, SyncJobs(home, sessions, on_finish=reader.forget), registry,
                         AttemptThrottle.from_settings(settings), _templates())
    middleware = [
        Middleware(AllowedHosts, hosts=allowed_hosts(settings, bind)),
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=load_secret(home.path), session_cookie=SESSION_COOKIE,
                   max_age=int(hours * 3600), same_site="lax", https_only=bool(settings.get("secure_cookies"))),
        Middleware(SignInGate, registry=registry),
    ]
    routes = [*views.routes(), *mapping_views.routes(), Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=views.exception_handlers())
    app.state.web = context
    return app


__all__ = ["create_app", "WebContext"]
