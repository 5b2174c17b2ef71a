"""The web interface's pages: thin handlers over the service layer (:mod:`booksync.services`) and the sync jobs.

Blocking work (the billing store, QuickBooks, argon2) runs in the thread pool. Every POST checks the
session's CSRF token first; every change ends with a redirect (post/redirect/get) and a flash message.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from booksync.domain import operation_words
from booksync.attempts import ChecksBusy, clip
from booksync.store.models import Member, SyncRun
from booksync.services import mapping, quickbooks
from booksync.services import runs as run_history
from booksync.services.dashboard import dashboard as read_dashboard
from booksync.web.security import checked_form, csrf_token
from booksync.web.syncjob import SyncChoices
from booksync.services.users import check_password

FILE_TYPES = {".txt": "text/plain; charset=utf-8", ".csv": "text/plain; charset=utf-8",
              ".json": "text/plain; charset=utf-8", ".xml": "text/plain; charset=utf-8",
              ".log": "text/plain; charset=utf-8", ".pdf": "application/pdf", ".html": "text/html; charset=utf-8"}
log = logging.getLogger("booksync.web")
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
"""For the Corrections Log's HTML (booksync's own, with an inline style sheet, no scripts)."""


# ---------------------------------------------------------------------- helpers


def ctx(request: Request) -> Any:
    return request.app.state.web


def user_of(request: Request) -> str:
    return request.scope.get("state", {}).get("user") or ""


def render(request: Request, name: str, http_status: int = 200, **data: Any) -> Response:
    return ctx(request).templates.TemplateResponse(request, name, data, status_code=http_status)


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "") + path, status_code=303)


def flash(request: Request, text: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append({"text": text, "kind": kind})
    request.session["flash"] = request.session["flash"]


def _safe_next(target: str | None) -> str:
    """Only a path of this application (never another site) to go back to after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


MAX_NUMBER = 1_000_000
"""Largest number a page or form parameter takes (a page number beyond the last page shows the last page)."""


def _int(value: Any, default: int = 1) -> int:
    """A whole-number parameter, clamped to 1..MAX_NUMBER; ``default`` when it is missing or not a number
    (a page number of 23 digits overflowed the database's OFFSET: a 500)."""
    try:
        return min(max(1, int(str(value).strip()[:20])), MAX_NUMBER)
    except (TypeError, ValueError):
        return default


async def _blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)


def _run_or_404(session: Any, run_id: str) -> SyncRun:
    run = session.get(SyncRun, run_id) if run_history.RUN_ID.match(run_id) else None
    if run is None:
        raise HTTPException(404, f"There is no run {run_id}.")
    return run


# ---------------------------------------------------------------------- sign-in


async def signin_page(request: Request) -> Response:
    if user_of(request):
        return redirect(request, "/")
    return render(request, "signin.html", next=_safe_next(request.query_params.get("next")))


async def signin(request: Request) -> Response:
    c = ctx(request)
    form = await checked_form(request)
    name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    client = request.client.host if request.client else ""
    # Counted before the check, per user and per address: parallel guesses cannot outrun the limit.
    attempt = c.throttle.begin(name, client)
    if attempt is None:
        minutes = max(1, round(c.throttle.retry_after(name, client) / 60))
        log.warning("sign-in refused for user %s from %s: too many attempts", clip(name, 60), client or "?")
        return render(request, "signin.html", 429, next=target, username=name,
                      error=f"Too many sign-in attempts for this user or from this computer. Wait {minutes} "
                            "minute(s), then try again.")
    try:
        version = await _blocking(check_password, c.home.path, name, password)
    except ChecksBusy as exc:
        return render(request, "signin.html", 503, next=target, username=name, error=str(exc))
    if version is None:
        # Who and from where, never the password.
        log.warning("sign-in failed for user %s from %s: wrong user name or password", clip(name, 60),
                    client or "?")
        return render(request, "signin.html", 401, next=target, username=name,
                      error="The user name or the password is not right.")
    c.throttle.succeeded(attempt)
    log.info("%s signed in from %s", name, client or "?")
    request.session.clear()
    request.session.update(sid=c.registry.start(name, version), user=name)
    csrf_token(request)
    return redirect(request, target)


async def signout(request: Request) -> Response:
    await checked_form(request)
    ctx(request).registry.end(str(request.session.get("sid", "")))
    request.session.clear()
    flash(request, "You are signed out.")
    return redirect(request, "/signin")


# ---------------------------------------------------------------------- dashboard and synchronize


async def dashboard(request: Request) -> Response:
    c = ctx(request)
    job = c.jobs.running()

    def load() -> Any:
        books = c.reader.read(busy=job is not None)
        with c.sessions() as session:
            return read_dashboard(session, c.home, books, c.reader.kind)

    board = await _blocking(load)
    return render(request, "dashboard.html", board=board, job=job, direct=c.reader.direct,
                  policy=c.home.settings.get("corrections", {}))


async def start_sync(request: Request) -> Response:
    c = ctx(request)
    form = await checked_form(request)
    if not c.reader.direct:
        flash(request, "This company is reached through the Web Connector: it synchronizes on each Web Connector "
                       "update. Confirm the plans it stages in Run history.", "error")
        return redirect(request, "/")
    on_conflict = form.get("on_conflict")
    closed = form.get("closed_period")
    choices = SyncChoices(on_conflict if on_conflict in ("stop", "overwrite", "skip") else None,
                          closed if closed in ("stop", "adjust") else None,
                          form.get("allow_deposit_changes") == "on")
    job = c.jobs.start(user_of(request), choices)
    return redirect(request, f"/sync/{job.id}")


def _job_or_404(request: Request) -> Any:
    job = ctx(request).jobs.get(request.path_params["job_id"])
    if job is None:
        raise HTTPException(404, "There is no such synchronization (the server may have restarted). See Run history.")
    return job


async def sync_page(request: Request) -> Response:
    c = ctx(request)
    job = _job_or_404(request)
    status = job.status()
    result = job.result
    files: dict[str, bool] = {}
    if result and result.get("folder"):
        folder = Path(result["folder"])
        files = {"plan": (folder / "plan.txt").is_file(), "corrections": (folder / "corrections_log.html").is_file()}
    return render(request, "sync.html", job=job, status=status, question=job.question, result=result, files=files,
                  kinds=_ACTION_LABELS, direct=c.reader.direct)


async def sync_status(request: Request) -> Response:
    return JSONResponse(_job_or_404(request).status())


async def sync_answer(request: Request) -> Response:
    job = _job_or_404(request)
    form = await checked_form(request)
    problem = job.answer(_int(form.get("question"), 0), str(form.get("choice", "")))
    if problem:
        flash(request, problem, "error")
    return redirect(request, f"/sync/{job.id}")


_ACTION_LABELS = {"add": "Add", "mod": "Change", "void": "Void", "delete": "Delete"}


# ---------------------------------------------------------------------- cross reference


async def accounts_page(request: Request) -> Response:
    c = ctx(request)

    def load() -> Any:
        books = c.reader.read(busy=c.jobs.running() is not None)
        if books.snapshot is None:
            return books, [], []
        with c.sessions() as session:
            return books, mapping.xref_rows(session, books.snapshot), mapping.account_choices(books.snapshot)

    books, rows, choices = await _blocking(load)
    return render(request, "accounts.html", books=books, rows=rows, choices=choices,
                  unmapped=sum(not r.mapped for r in rows))


async def accounts_save(request: Request) -> Response:
    c = ctx(request)
    form = await checked_form(request)
    wanted = {key[len("xref:"):]: str(value) for key, value in form.multi_items() if key.startswith("xref:")}

    def save() -> Any:
        books = c.reader.read(busy=c.jobs.running() is not None)
        if books.snapshot is None:
            raise mapping.MappingRefused(f"QuickBooks cannot be read, so nothing was saved: {books.error}")
        with c.sessions() as session:
            return mapping.save_xref(session, books.snapshot, wanted)

    try:
        changes = await _blocking(save)
    except mapping.MappingRefused as exc:
        flash(request, str(exc), "error")
        return redirect(request, "/accounts")
    if changes:
        lines = "; ".join(f"{n} → {after or '(none)'}" for n, _, after in changes)
        flash(request, f"Saved {len(changes)} cross reference(s): {lines}.", "success")
    else:
        flash(request, "Nothing changed.")
    return redirect(request, "/accounts")


# ---------------------------------------------------------------------- members


async def members_page(request: Request) -> Response:
    c = ctx(request)
    query = request.query_params.get("q", "")
    without = request.query_params.get("show") == "without-customer"
    page = _int(request.query_params.get("page"))
    per_page = min(max(1, int(c.home.settings.get("web", {}).get("members_per_page", 50))), 1000)

    def load() -> Any:
        with c.sessions() as session:
            key = quickbooks.company_key(session, c.reader.unread())
            rows, total = mapping.search_members(session, key, query, page, per_page, without)
            last = max(1, -(-total // per_page))
            if page > last:  # past the end: show the last page
                rows, total = mapping.search_members(session, key, query, last, per_page, without)
            return rows, total

    rows, total = await _blocking(load)
    pages = max(1, -(-total // per_page))
    return render(request, "members.html", rows=rows, total=total, q=query, without=without, page=min(page, pages),
                  pages=pages, qs=lambda p: f"?q={quote(query)}&page={p}" + ("&show=without-customer" if without
                                                                             else ""))


def _member_or_404(session: Any, number: str) -> Member:
    member = session.scalar(select(Member).where(Member.number == number))
    if member is None:
        raise HTTPException(404, f"There is no member numbered {number}.")
    return member


async def member_page(request: Request) -> Response:
    c = ctx(request)
    number = request.path_params["number"]
    tab = request.path_params.get("tab", "general")
    if tab not in ("general", "bill-info", "transactions"):
        raise HTTPException(404, "There is no such tab.")
    search = request.query_params.get("cq")

    def load() -> dict[str, Any]:
        books = c.reader.read(busy=c.jobs.running() is not None) if tab == "bill-info" else c.reader.unread()
        with c.sessions() as session:
            member = _member_or_404(session, number)
            key = quickbooks.company_key(session, books)
            link = mapping.customer_links(session, key, [member.id]).get(member.id)
            data: dict[str, Any] = {"member": member, "link": link, "books": books}
            if tab == "transactions":
                data["txns"] = mapping.member_transactions(session, key, member)
            if tab == "bill-info" and books.snapshot is not None:
                data["query"] = member.name if search is None else search
                data["found"] = mapping.find_customers(books.snapshot, data["query"]) if data["query"] else []
                current = link.remote_id if link is not None else None
                data["customer"] = next((cu for cu in books.snapshot.customers if cu.list_id == current
                                         or (current is None and member.qb_customer
                                             and cu.full_name.casefold() == member.qb_customer.casefold())), None)
            return data

    data = await _blocking(load)
    return render(request, "member.html", tab=tab, **data)


async def member_bill_info(request: Request) -> Response:
    c = ctx(request)
    number = request.path_params["number"]
    form = await checked_form(request)
    action = form.get("action")

    def change() -> str:
        books = c.reader.read(busy=c.jobs.running() is not None)
        with c.sessions() as session:
            member = _member_or_404(session, number)
            key = quickbooks.company_key(session, books)
            if action == "clear":
                return mapping.clear_member(session, key, member)
            if books.snapshot is None:
                raise mapping.MappingRefused(f"QuickBooks cannot be read, so nothing was changed: {books.error}")
            customer = str(form.get("customer", ""))
            if not customer:
                raise mapping.MappingRefused("Choose a QuickBooks customer first.")
            return mapping.link_member(session, books.snapshot, key, member, customer)

    try:
        flash(request, await _blocking(change), "success")
    except mapping.MappingRefused as exc:
        flash(request, str(exc), "error")
    return redirect(request, f"/members/{quote(number)}/bill-info")


# ---------------------------------------------------------------------- run history


async def runs_page(request: Request) -> Response:
    c = ctx(request)

    def load() -> Any:
        with c.sessions() as session:
            runs = run_history.list_runs(session)
        out = []
        for r in runs:
            folder = c.home.run_folder(r.id)
            out.append((r, {"plan": (folder / "plan.txt").is_file(),
                            "corrections": (folder / "corrections_log.html").is_file(),
                            "backup": (c.home.backups_dir / r.id).is_dir()}))
        return out

    return render(request, "runs.html", runs=await _blocking(load))


async def run_page(request: Request) -> Response:
    c = ctx(request)

    def load() -> Any:
        with c.sessions() as session:
            run = _run_or_404(session, request.path_params["run_id"])
            return run_history.run_detail(session, c.home, run), run_history.log_lines(c.home, run.id, 100)

    detail, lines = await _blocking(load)
    return render(request, "run.html", d=detail, r=detail.info, log=lines, kinds=_ACTION_LABELS)


async def run_confirm(request: Request) -> Response:
    from booksync.services.confirmation import ConfirmError, confirm_run

    c = ctx(request)
    run_id = request.path_params["run_id"]
    await checked_form(request)
    try:
        done = await _blocking(confirm_run, c.sessions, run_id, f"{user_of(request)} (web)")
    except ConfirmError as exc:
        flash(request, str(exc), "error")
        return redirect(request, f"/runs/{quote(run_id)}")
    counts = ", ".join(f"{n} {operation_words(k)}" for k, n in done.counts.items())
    flash(request, f"Run {done.run_id} is confirmed: {sum(done.counts.values())} change(s) ({counts}). The next Web "
                   "Connector update applies it, if nothing changed in between.", "success")
    return redirect(request, f"/runs/{quote(run_id)}")


async def corrections_viewer(request: Request) -> Response:
    c = ctx(request)
    run_id = request.path_params["run_id"]

    def load() -> Any:
        with c.sessions() as session:
            run = _run_or_404(session, run_id)
            return run_history.run_folder(c.home, run)

    folder = await _blocking(load)
    if not (folder / "corrections_log.html").is_file():
        raise HTTPException(404, f"Run {run_id} has no Corrections Log: it corrected nothing in QuickBooks.")
    job = c.jobs.running()
    waiting = job if job is not None and job.run_id == run_id and job.question is not None \
        and job.question.kind == "corrections" else None
    if waiting is not None:
        waiting.mark_previewed(run_id)
    return render(request, "viewer.html", run_id=run_id, job=waiting)


async def run_file(request: Request) -> Response:
    c = ctx(request)
    run_id, relative = request.path_params["run_id"], request.path_params["path"]

    def load() -> Any:
        with c.sessions() as session:
            run = _run_or_404(session, run_id)
            return run_history.safe_file(run_history.run_folder(c.home, run), relative)

    path = await _blocking(load)
    if path is None:
        raise HTTPException(404, f"Run {run_id} has no file {relative}.")
    return _file_response(path, f"{Path(relative).stem}-{run_id}{path.suffix}",
                          request.query_params.get("download") == "1")


async def backup_file(request: Request) -> Response:
    c = ctx(request)
    run_id, relative = request.path_params["run_id"], request.path_params["path"]
    if not run_history.RUN_ID.match(run_id):
        raise HTTPException(404, f"There is no backup {run_id}.")
    path = run_history.safe_file(c.home.backups_dir / run_id, relative)
    if path is None:
        raise HTTPException(404, f"Backup {run_id} has no file {relative}.")
    return _file_response(path, f"{run_id}-{path.name}", True)


def _file_response(path: Path, download_name: str, download: bool) -> Response:
    media = FILE_TYPES.get(path.suffix.lower(), "application/octet-stream")
    attach = download or media == "application/octet-stream"
    headers = {"content-security-policy": REPORT_CSP} if path.suffix.lower() == ".html" else {}
    disposition = "attachment" if attach else "inline"
    return FileResponse(path, media_type=media, headers=headers, filename=download_name,
                        content_disposition_type=disposition)


async def log_page(request: Request) -> Response:
    c = ctx(request)
    run_id = request.query_params.get("run") or ""
    if run_id and not run_history.RUN_ID.match(run_id):
        run_id = ""
    lines = await _blocking(run_history.log_lines, c.home, run_id or None, 500)
    return render(request, "log.html", lines=lines, run_id=run_id)


async def log_download(request: Request) -> Response:
    path = ctx(request).home.logs_dir / "booksync.log"
    if not path.is_file():
        raise HTTPException(404, "There is no log yet.")
    return _file_response(path, "booksync.log", True)


# ---------------------------------------------------------------------- errors


# ---------------------------------------------------------------------- QuickBooks Online: the OAuth callback


async def qbo_callback(request: Request) -> Response:
    """Where Intuit sends the browser after the company's administrator approves (or refuses) booksync: the
    redirect URI ``http://HOST:PORT/qbo/callback`` of ``booksync company connect online``. The redirect comes
    from the person's own browser, so the sign-in gate applies as on every page (a signed-out person signs in and
    comes back here; authorization codes live five minutes). It completes the authorization started by the
    connect command (``state`` checked against the pending one), stores the tokens, makes the home's company
    this QuickBooks Online company and reads its name; or explains why not (refused at Intuit, a URL from another
    attempt, no code, nothing pending, Intuit unreachable). A GET by nature (an OAuth redirect): the pending
    ``state``, unknown to other sites, is what protects it."""
    from booksync.books.online.auth import already_connected, complete_authorization, online_settings, use_connection
    from booksync.books.online.session import company_name
    from booksync.books.online.errors import ConnectError, OnlineConnectionFailure, QboFault

    c = ctx(request)
    url = str(request.url)

    def complete() -> tuple[int, dict[str, Any]]:
        try:
            tokens = complete_authorization(c.home.path, url)
        except ConnectError as exc:
            realm = already_connected(c.home.path, url)
            if realm:  # the page reloaded after success, or the URL was pasted to the connect command first
                return 200, {"realm_id": realm, "environment": online_settings(c.home.settings)["environment"],
                             "company": "", "already": True}
            return 400, {"problem": str(exc)}
        except OnlineConnectionFailure as exc:
            return 502, {"problem": exc.message + (f" {exc.advice}" if exc.advice else "")}
        home = use_connection(c.home, tokens)
        c.reader.forget()
        data = {"realm_id": tokens.realm_id, "environment": tokens.environment, "company": ""}
        try:
            data["company"] = company_name(home)
        except (OnlineConnectionFailure, QboFault) as exc:
            data["warning"] = f"The tokens are stored, but reading the company failed: {exc}"
        logging.getLogger("booksync.web").info("%s connected the home to QuickBooks Online realm %s (%s) through "
                                               "the web interface", user_of(request), tokens.realm_id,
                                               tokens.environment)
        return 200, data

    status, data = await _blocking(complete)
    return render(request, "qbo_callback.html", status, home=str(c.home.path), **data)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {403: "Refused", 404: "Not found", 405: "Not allowed"}
    if request.url.path.endswith(".json") or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    return render(request, "error.html", exc.status_code, title=titles.get(exc.status_code, "Error"),
                  detail=exc.detail)


def exception_handlers() -> dict[Any, Callable]:
    return {HTTPException: http_error}


def routes() -> list[Route]:
    return [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/", dashboard, methods=["GET"]),
        Route("/sync", start_sync, methods=["POST"]),
        Route("/sync/{job_id}", sync_page, methods=["GET"]),
        Route("/sync/{job_id}/status.json", sync_status, methods=["GET"]),
        Route("/sync/{job_id}/answer", sync_answer, methods=["POST"]),
        Route("/accounts", accounts_page, methods=["GET"]),
        Route("/accounts", accounts_save, methods=["POST"]),
        Route("/members", members_page, methods=["GET"]),
        Route("/members/{number}", member_page, methods=["GET"]),
        Route("/members/{number}/bill-info", member_bill_info, methods=["POST"]),
        Route("/members/{number}/{tab}", member_page, methods=["GET"]),
        Route("/runs", runs_page, methods=["GET"]),
        Route("/runs/{run_id}", run_page, methods=["GET"]),
        Route("/runs/{run_id}/confirm", run_confirm, methods=["POST"]),
        Route("/runs/{run_id}/corrections", corrections_viewer, methods=["GET"]),
        Route("/runs/{run_id}/files/{path:path}", run_file, methods=["GET"]),
        Route("/runs/{run_id}/backup/{path:path}", backup_file, methods=["GET"]),
        Route("/log", log_page, methods=["GET"]),
        Route("/log/download", log_download, methods=["GET"]),
        Route("/qbo/callback", qbo_callback, methods=["GET"]),
    ]


__all__ = ["routes", "exception_handlers"]
