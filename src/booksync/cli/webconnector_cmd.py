"""``booksync serve``, ``booksync qwc`` and ``booksync webconnector``: the QuickBooks Web Connector service.

Thin commands over the service layer (:mod:`booksync.services`: the .qwc, the Web Connector's password and
recorded company, serving settings); ``serve`` starts :mod:`booksync.server` by its uvicorn import string, so the
command line imports neither the web interface nor the Web Connector (docs/webconnector.md)."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click
from rich.markup import escape

from booksync.cli.common import console, copyable, err, home_option, json_option, load_home, setup_logging


@click.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--path", "url_path", default="/qbwc", show_default=True, help="URL path of the SOAP endpoint.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM): serve HTTPS.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
def serve(home_dir: Path | None, host: str, port: int, url_path: str, ssl_certfile: str | None,
          ssl_keyfile: str | None) -> None:
    """Serve the web interface and the QuickBooks Web Connector service until stopped.

    The web interface (at the address printed, "/") is where the office synchronizes,
    maps accounts and members and reads the runs; add its first user with
    'booksync users add NAME'. The Web Connector on the QuickBooks PC polls the SOAP
    service (--path, /qbwc); each update reads QuickBooks, plans, and stages the plan
    for you to confirm ('booksync runs confirm' or the web); the next update applies it.
    Write the .qwc file to load into the Web Connector with 'booksync qwc'. Outside
    localhost the Web Connector needs HTTPS.
    """
    import uvicorn

    from booksync.logfile import OneLineFormatter
    from booksync.services.serving import proxy_options
    from booksync.services.users import load_users

    home = load_home(home_dir)
    setup_logging(home)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("booksync.webconnector").addHandler(stream)

    wc = home.settings["webconnector"]
    if not load_users(home.path):
        err.print(escape(copyable("No one can sign in to the web interface yet. First add a user: "
                                  "booksync users add NAME", home)), style="yellow")
    if not wc.get("password_hash"):
        err.print(escape(copyable("No Web Connector password is set: the Web Connector's logins will be refused "
                                  "until you set one: booksync webconnector set-password --user NAME", home)),
                  style="yellow")
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together.")
    if not ssl_certfile and host not in ("127.0.0.1", "localhost", "::1"):
        err.print("[yellow]Serving plain HTTP on a non-loopback address: the Web Connector accepts http only for "
                  "localhost. Use --ssl-certfile/--ssl-keyfile, or a reverse proxy with HTTPS.[/]")
    web = home.settings.get("web", {})
    if host in ("0.0.0.0", "::") and not web.get("allowed_hosts"):
        err.print("[yellow]Serving on every address, but only localhost names are allowed in the Host header: add "
                  "the name the Web Connector and browsers use to allowed_hosts in [web] of booksync.toml.[/]")
    # booksync.server builds the application from these (its uvicorn factory): the command line imports no face.
    os.environ.update(BOOKSYNC_SERVE_HOME=str(home.path), BOOKSYNC_SERVE_PATH=url_path, BOOKSYNC_SERVE_BIND=host)
    scheme = "https" if ssl_certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown}:{port}"
    err.print(f"The web interface: {base}/   (open it in a browser)")
    err.print(f"The Web Connector service: {base}/{url_path.strip('/')}   (Ctrl+C stops both)")
    uvicorn.run("booksync.server:app_from_environment", factory=True, host=host, port=port, log_level="warning",
                ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, **proxy_options(web))


@click.command()
@home_option
@click.option("--url", required=True, help="The service's address as the Web Connector reaches it, e.g. "
                                           "https://books.example.org/qbwc (http only for localhost).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the .qwc here (default: print it).")
@click.option("--support-url", default="", help="AppSupport page on the same host (default: URL/support).")
@click.option("--every-minutes", type=click.IntRange(0, 10080), default=0,
              help="Default schedule: update every N minutes (0: no schedule; the user can set one in the Web "
                   "Connector).")
@click.option("--description", default="", help="AppDescription (at most 80 characters).")
def qwc(home_dir: Path | None, url: str, out: Path | None, support_url: str, every_minutes: int,
        description: str) -> None:
    """Write the .qwc file to load into QuickBooks Web Connector.

    OwnerID and FileID are made once for this booksync home and kept in booksync.toml, so
    writing the file again gives the same application to the Web Connector. The password is
    not in the file: type it into the Web Connector. The URL's host name is added to the host
    names 'booksync serve' answers to (allowed_hosts in [web]).
    """
    from booksync.services.qwc import QwcError, QwcSettings, build_qwc, new_guid
    from booksync.services.serving import allow_host

    home = load_home(home_dir)
    wc = home.settings["webconnector"]
    changed = False
    for key in ("owner_id", "file_id"):
        if not wc.get(key):
            wc[key] = new_guid()
            changed = True
    settings = QwcSettings(app_name=home.settings["company"].get("app_name", "booksync"), app_url=url,
                           user_name=str(wc.get("user", "")), owner_id=wc["owner_id"], file_id=wc["file_id"],
                           support_url=support_url, every_minutes=every_minutes)
    if description:
        settings.description = description
    try:
        document = build_qwc(settings)
    except QwcError as exc:
        raise click.ClickException(str(exc)) from None
    host = allow_host(home, url)
    if changed or host:
        home.save()
    if host:
        err.print(f"booksync serve will answer to the host name {escape(host)}: it was added to allowed_hosts in "
                  "[web] of booksync.toml (restart a running 'booksync serve').")
    if out is None:
        sys.stdout.write(document.decode("utf-8"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(document)
    console.print(f"Wrote {out}. On the QuickBooks PC: open it with the Web Connector (Add an application), "
                  f"allow booksync in QuickBooks, then type the password of user {settings.user_name!r} into the "
                  "Web Connector.")


@click.group()
def webconnector() -> None:
    """The Web Connector's user and password, and the company it is set up for."""


@webconnector.command("set-password")
@home_option
@click.option("--user", required=True, help="The user name the Web Connector sends (it goes into the .qwc file).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
def set_password(home_dir: Path | None, user: str, password_stdin: bool) -> None:
    """Set the Web Connector's user and password (stored as an argon2 hash in booksync.toml)."""
    from booksync.services.connector_auth import WeakPassword, hash_password

    home = load_home(home_dir)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        hashed = hash_password(password)
    except WeakPassword as exc:
        raise click.ClickException(str(exc)) from None
    home.settings["webconnector"].update(user=user, password_hash=hashed)
    home.save()
    console.print(f"The Web Connector user is {user!r}; its password is set. Type the same password into the Web "
                  "Connector. (A running 'booksync serve' uses it from the next login.)")


@webconnector.command()
@home_option
@json_option
def status(home_dir: Path | None, as_json: bool) -> None:
    """Show the Web Connector settings, the company it is set up for, and the last session."""
    import json

    from booksync.services.connector_state import ConnectorState

    home = load_home(home_dir)
    wc = home.settings["webconnector"]
    state = ConnectorState.load(home.path)
    data = {"user": wc.get("user", ""), "password_set": bool(wc.get("password_hash")),
            "owner_id": wc.get("owner_id", ""), "file_id": wc.get("file_id", ""),
            "unattended": bool(wc.get("unattended")), "create_customers": bool(wc.get("create_customers", True)),
            "company": {"name": state.company_name, "file_id": state.company_file_id, "file": state.company_file,
                        "recorded_at": state.recorded_at},
            "last_session": state.last_session}
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(f"User: {escape(data['user'] or '(not set)')}; password "
                  f"{'set' if data['password_set'] else 'NOT set'}")
    console.print(f"OwnerID {data['owner_id'] or '(made by booksync qwc)'}, FileID {data['file_id'] or '(same)'}")
    if state.company_file_id:
        console.print(f"Company: \"{escape(state.company_name)}\" (FileID {state.company_file_id}, "
                      f"{escape(state.company_file or 'the open file')}), recorded {state.recorded_at}")
    else:
        console.print("Company: not recorded yet (the first Web Connector update records it)")
    console.print("Unattended policy: " + ("on (plans without closed-period corrections or conflicts are applied "
                                           "without confirmation)" if data["unattended"] else "off"))
    if state.last_session:
        console.print(f"Last session {state.last_session.get('at')}: {escape(str(state.last_session.get('message')))}")


@webconnector.command("forget-company")
@home_option
def forget_company(home_dir: Path | None) -> None:
    """Forget the company booksync is set up for; the next Web Connector update records the open one.

    Only for moving booksync to another company file on purpose: until then, booksync refuses
    to work with any company but the recorded one.
    """
    from booksync.services.connector_state import ConnectorState

    home = load_home(home_dir)
    state = ConnectorState.load(home.path)
    if not state.company_file_id:
        console.print("No company is recorded.")
        return
    name = state.company_name
    state.company_file_id = state.company_name = state.company_file = state.company_key = state.recorded_at = ""
    state.save(home.path)
    console.print(f"booksync no longer knows the company \"{escape(name)}\"; the next Web Connector update records "
                  "the company it opens.")
