"""``booksync users``: the people who may sign in to the web interface (docs/web.md).

Thin commands over :mod:`booksync.services.users`; passwords are stored as argon2 hashes in the home's
``users.json`` (mode 0600), never in plain text."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from booksync.cli.common import console, home_option, json_option, load_home


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def users() -> None:
    """Users of the web interface and their passwords."""


@users.command()
@click.argument("name")
@home_option
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
def add(name: str, home_dir: Path | None, password_stdin: bool) -> None:
    """Add user NAME, who may then sign in to the web interface."""
    from booksync.services.users import UserError, set_user

    home = load_home(home_dir)
    try:
        set_user(home.path, name, _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"User {escape(name)} can now sign in to the web interface ('booksync serve').")


@users.command()
@click.argument("name")
@home_option
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input instead of asking.")
def passwd(name: str, home_dir: Path | None, password_stdin: bool) -> None:
    """Change the password of user NAME; the user's signed-in sessions end."""
    from booksync.services.users import UserError, set_user

    home = load_home(home_dir)
    try:
        set_user(home.path, name, _password(password_stdin), replace=True)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"The password of {escape(name)} is changed; their sessions have ended.")


@users.command()
@click.argument("name")
@home_option
def remove(name: str, home_dir: Path | None) -> None:
    """Remove user NAME; their signed-in sessions end."""
    from booksync.services.users import UserError, remove_user

    home = load_home(home_dir)
    try:
        remove_user(home.path, name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"User {escape(name)} is removed.")


@users.command("list")
@home_option
@json_option
def list_cmd(home_dir: Path | None, as_json: bool) -> None:
    """List the users of the web interface."""
    from booksync.services.users import UserError, load_users

    home = load_home(home_dir)
    try:
        found = load_users(home.path)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    rows = [{"name": n, "created": u.get("created", ""), "changed": u.get("changed", "")}
            for n, u in sorted(found.items())]
    if as_json:
        console.print_json(json.dumps({"users": rows}))
        return
    if not rows:
        console.print("No users yet: add one with 'booksync users add NAME'.")
        return
    for r in rows:
        console.print(f"{escape(r['name'])}  (added {r['created']}, password set {r['changed']})")
