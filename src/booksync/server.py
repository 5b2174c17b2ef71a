"""The server ``booksync serve`` runs: the composition root above the faces.

It builds one Starlette application from two faces that know nothing of each other: the Web Connector's
SOAP routes (:mod:`booksync.webconnector.app`) first, so the web interface's sign-in never stands in their
way, then the web interface (:mod:`booksync.web.app`) mounted at "/". Every request must name a Host the home
allows (:func:`booksync.services.serving.allowed_hosts`: the localhost names, the address listened on,
``web.allowed_hosts``), or is refused with 400.

The command line starts it through uvicorn's import string (``booksync.server:app_from_environment``, a
factory), so ``booksync.cli`` imports neither face; the command passes the home, the SOAP path and the address
in the environment variables of :data:`SERVE_ENV`.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from booksync.attempts import set_concurrent_checks
from booksync.config import Home
from booksync.services.serving import allowed_hosts
from booksync.web.app import create_app as create_web_app
from booksync.web.security import AllowedHosts
from booksync.webconnector.app import routes as connector_routes
from booksync.webconnector.service import WebConnectorService

SERVE_ENV = ("BOOKSYNC_SERVE_HOME", "BOOKSYNC_SERVE_PATH", "BOOKSYNC_SERVE_BIND")
"""What ``booksync serve`` tells :func:`app_from_environment`: the home folder, the SOAP path, the address."""
IMPORT_STRING = "booksync.server:app_from_environment"
"""uvicorn's name for the factory (``uvicorn.run(IMPORT_STRING, factory=True)``)."""


def create_app(home_path: Path | str, path: str = "/qbwc", service: WebConnectorService | None = None,
               bind: str | None = None) -> Starlette:
    """The Web Connector service and the web interface for the booksync home at ``home_path`` (see module
    docstring). ``path``: the SOAP endpoint's URL path; ``service``: the Web Connector's callbacks (a stand-in
    in tests); ``bind``: the address listened on, one of the Host names answered to."""
    service = service or WebConnectorService(home_path)
    home = Home.load(home_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.shutdown()

    web = home.settings.get("web", {})
    set_concurrent_checks(int(web.get("concurrent_password_checks", 2)))
    app = Starlette(routes=[*connector_routes(home, service, path), Mount("/", app=create_web_app(home, bind))],
                    lifespan=lifespan, middleware=[Middleware(AllowedHosts, hosts=allowed_hosts(web, bind))])
    app.state.service = service
    return app


def app_from_environment() -> Starlette:
    """:func:`create_app` for the home, path and address ``booksync serve`` put in :data:`SERVE_ENV`."""
    home, path, bind = (os.environ.get(name, "") for name in SERVE_ENV)
    return create_app(home, path or "/qbwc", bind=bind or None)


__all__ = ["IMPORT_STRING", "SERVE_ENV", "app_from_environment", "create_app"]
