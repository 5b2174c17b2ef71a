"""The HTTP side of the Web Connector service: its Starlette routes, served by ``booksync serve``.

:mod:`booksync.server` puts these routes first and the web interface beside them, and refuses Host names
the home does not allow (one check for the whole server).

Routes (``PATH`` is ``/qbwc`` unless ``booksync serve --path`` says otherwise):

* ``POST PATH`` — the SOAP endpoint (the .qwc's AppURL). The body is bounded
  (``webconnector.max_body_bytes``, 10 MB by default: HTTP 413 with a SOAP Fault beyond it); the
  call is parsed and answered in a worker thread, because callbacks wait for the sync engine;
* ``GET PATH`` — one line saying what this is (for a person who opens the URL);
* ``GET PATH/support`` — the .qwc's AppSupport page (same host, guide p.35): how to get help,
  without any billing or QuickBooks data, since it is not authenticated.

Every answer to a POST is well-formed SOAP, whatever happened (a Web Connector that receives
anything else reports QBWC1042, reference §12).
"""
from __future__ import annotations

import html
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from booksync import __version__
from booksync.attempts import clip
from booksync.config import Home
from booksync.webconnector.service import WebConnectorService
from booksync.webconnector.soap import CONTENT_TYPES, SOAP11, SoapFault, fault, parse_call, response

log = logging.getLogger("booksync.webconnector")


def _fault_response(message: str, client: bool = True, status: int = 500) -> Response:
    return Response(fault(message, client), status_code=status, media_type=CONTENT_TYPES[SOAP11])


def dispatch(service: WebConnectorService, body: bytes, client: str) -> Response:
    """Parse one SOAP call, run its callback, and answer (runs in a worker thread)."""
    try:
        call = parse_call(body)
    except SoapFault as exc:
        log.warning("refused a SOAP request from %s: %s", client or "?", clip(exc.message, 300))
        return _fault_response(exc.message, exc.client, exc.status)
    method = getattr(service, call.operation)
    try:
        if call.operation == "authenticate":
            result = method(**call.params, client=client)
        else:
            result = method(**call.params)
    except Exception:  # noqa: BLE001 - the Web Connector must get SOAP, never a traceback page
        log.exception("%s failed", call.operation)
        return Response(fault(f"booksync could not answer {call.operation}; the details are in booksync's log.",
                              client=False, namespace=call.envelope),
                        status_code=500, media_type=CONTENT_TYPES[call.envelope])
    return Response(response(call, result), media_type=CONTENT_TYPES[call.envelope])


def routes(home: Home, service: WebConnectorService, path: str = "/qbwc") -> list[Route]:
    """The Web Connector's routes for ``home`` (see module docstring), served by ``service``."""
    path = "/" + path.strip("/")
    limit = int(home.settings["webconnector"]["max_body_bytes"])

    async def soap(request: Request) -> Response:
        client = request.client.host if request.client else ""
        declared = request.headers.get("content-length", "")
        too_big = (f"The request is larger than booksync accepts ({limit} bytes); nothing was done. "
                   "(webconnector.max_body_bytes sets the limit.)")
        if declared.isdigit() and int(declared) > limit:
            log.warning("refused a %s-byte request from %s: over the limit", declared, client or "?")
            return _fault_response(too_big, status=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                log.warning("refused a request from %s: body over %d bytes", client or "?", limit)
                return _fault_response(too_big, status=413)
        return await run_in_threadpool(dispatch, service, bytes(body), client)

    async def info(request: Request) -> Response:
        return PlainTextResponse(f"booksync {__version__}: QuickBooks Web Connector service. The Web Connector "
                                 f"POSTs SOAP to this address; see {path}/support.\n")

    return [Route(path, soap, methods=["POST"]), Route(path, info, methods=["GET"]),
            Route(path + "/support", support, methods=["GET"])]


async def support(request: Request) -> Response:
    """The .qwc's AppSupport page: how to get help, without any billing or QuickBooks data."""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>booksync support</title></head><body>"
            f"<h1>booksync {html.escape(__version__)}</h1>"
            "<p>This is booksync's QuickBooks Web Connector service. It synchronizes your membership billing "
            "into QuickBooks.</p>"
            "<p>After an update, the Web Connector's status column says what happened. When a plan awaits your "
            "confirmation, review it with <code>booksync runs show RUN_ID</code> and confirm it with "
            "<code>booksync runs confirm RUN_ID</code>; the next update applies it.</p>"
            "<p>Problems connecting to QuickBooks, and what to do about them, are explained in booksync's "
            "documentation (docs/webconnector.md) and in its log (logs/booksync.log).</p></body></html>")
    return HTMLResponse(page)


__all__ = ["dispatch", "routes", "support"]
