"""The web pages beside Cross Reference Accounts that map the billing system to lists the QuickBooks company
already has (issue 21): Items (G/L accounts → existing items, :mod:`booksync.services.items`) and Payment Methods
(billing payment methods → the company's, :mod:`booksync.services.payment_methods`). Thin handlers; the helpers
(rendering, flash, CSRF) are :mod:`booksync.web.views`'."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from booksync.services.items import ItemReference
from booksync.services.mapping import MappingRefused
from booksync.services.payment_methods import MethodMap, creates_missing
from booksync.web.security import checked_form
from booksync.web.views import _blocking, ctx, flash, redirect, render


async def items_page(request: Request) -> Response:
    c = ctx(request)

    def load() -> Any:
        books = c.reader.read(busy=c.jobs.running() is not None)
        if books.snapshot is None:
            return books, []
        with c.sessions() as session:
            return books, ItemReference(session, books.snapshot).rows()

    books, rows = await _blocking(load)
    return render(request, "items.html", books=books, rows=rows,
                  refused=sum(r.state in ("refused", "missing") for r in rows))


async def items_save(request: Request) -> Response:
    c = ctx(request)
    form = await checked_form(request)
    wanted = {key[len("item:"):]: str(value) for key, value in form.multi_items() if key.startswith("item:")}

    def save() -> Any:
        books = c.reader.read(busy=c.jobs.running() is not None)
        if books.snapshot is None:
            raise MappingRefused(f"QuickBooks cannot be read, so nothing was saved: {books.error}")
        with c.sessions() as session:
            return ItemReference(session, books.snapshot).save(wanted)

    try:
        changes = await _blocking(save)
    except MappingRefused as exc:
        flash(request, f"Nothing was saved. {exc}", "error")
        return redirect(request, "/items")
    if changes:
        lines = "; ".join(f"{n} → {after or 'booksync’s own item'}" for n, after in changes)
        flash(request, f"Saved {len(changes)} item mapping(s): {lines}.", "success")
    else:
        flash(request, "Nothing changed.")
    return redirect(request, "/items")


async def methods_page(request: Request) -> Response:
    c = ctx(request)

    def load() -> Any:
        books = c.reader.read(busy=c.jobs.running() is not None)
        if books.snapshot is None:
            return books, []
        with c.sessions() as session:
            return books, MethodMap(session, books.snapshot, creates_missing(c.home.settings)).rows()

    books, rows = await _blocking(load)
    return render(request, "payment_methods.html", books=books, rows=rows,
                  refused=sum(r.state == "refused" for r in rows))


async def methods_save(request: Request) -> Response:
    c = ctx(request)
    form = await checked_form(request)
    wanted = {key[len("method:"):]: str(value) for key, value in form.multi_items() if key.startswith("method:")}

    def save() -> Any:
        books = c.reader.read(busy=c.jobs.running() is not None)
        if books.snapshot is None:
            raise MappingRefused(f"QuickBooks cannot be read, so nothing was saved: {books.error}")
        with c.sessions() as session:
            return MethodMap(session, books.snapshot, creates_missing(c.home.settings)).save(wanted)

    try:
        changes = await _blocking(save)
    except MappingRefused as exc:
        flash(request, f"Nothing was saved. {exc.web}", "error")
        return redirect(request, "/payment-methods")
    if changes:
        lines = "; ".join(f"{billing} → {now}" for billing, now in changes)
        flash(request, f"Saved {len(changes)} payment method mapping(s): {lines}.", "success")
    else:
        flash(request, "Nothing changed.")
    return redirect(request, "/payment-methods")


def routes() -> list[Route]:
    return [Route("/items", items_page, methods=["GET"]), Route("/items", items_save, methods=["POST"]),
            Route("/payment-methods", methods_page, methods=["GET"]),
            Route("/payment-methods", methods_save, methods=["POST"])]
