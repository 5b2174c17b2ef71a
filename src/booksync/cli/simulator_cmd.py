"""``booksync simulator``: create, inspect and act on the simulated QuickBooks company."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from booksync.errors import ConnectionFailure
from booksync.exits import EXIT_REFUSED
from booksync.cli.common import EXIT_CONNECTION, console, err, home_option, load_home


@click.group()
def simulator() -> None:
    """The simulated QuickBooks Desktop company (a SQLite file answering qbXML 13.0)."""


@simulator.command("init")
@home_option
@click.option("--name", default="My Organization", show_default=True, help="Company name.")
@click.option("--seed", "seed_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Seed the lists from a qbXML query response file dumped from a real company "
                   "(AccountQueryRs, CustomerQueryRs, ItemQueryRs, VendorQueryRs, PaymentMethodQueryRs). "
                   "Repeatable. Without it, a standard chart of accounts is created.")
@click.option("--force", is_flag=True, help="Replace an existing company file.")
def init_cmd(home_dir: Path | None, name: str, seed_files: tuple[Path, ...], force: bool) -> None:
    """Create the simulated company file of this home."""
    from booksync.simulator import create_company, open_company
    from booksync.simulator.seed import seed_from_responses

    home = load_home(home_dir, create=True)
    path = home.company_path
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to replace it")
    create_company(path, name, chart=[] if seed_files else None, overwrite=force, standard_lists=not seed_files)
    if seed_files:
        with open_company(path) as company:
            counts = seed_from_responses(company.processor, list(seed_files))
        console.print("Seeded " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    console.print(f"Created the simulated QuickBooks company \"{name}\" in {path}")


@simulator.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@home_option
def request(file: Path, home_dir: Path | None) -> None:
    """Send the qbXML request message in FILE to the company and print QuickBooks' response.

    The way to inspect the company, and to act on it as a QuickBooks user would
    (for example, edit an invoice or record a deposit).
    """
    from booksync.simulator import open_company

    home = load_home(home_dir)
    try:
        with open_company(home.company_path) as company:
            sys.stdout.write(company.process(file.read_bytes()).decode("utf-8"))
    except ConnectionFailure as exc:
        err.print(f"QuickBooks could not process the request: {exc.message}")
        if exc.advice:
            err.print(exc.advice)
        sys.exit(EXIT_CONNECTION)


@simulator.command()
@click.argument("app_name", default="booksync")
@home_option
def authorize(app_name: str, home_dir: Path | None) -> None:
    """Grant APP_NAME access to the company file, as the QuickBooks administrator does."""
    from booksync.simulator import open_company

    home = load_home(home_dir)
    with open_company(home.company_path) as company:
        company.authorize(app_name)
    console.print(f"{app_name} may now access {home.company_path}")


@simulator.command("closing-date")
@click.argument("date", required=False)
@home_option
def closing_date(date: str | None, home_dir: Path | None) -> None:
    """Show, set (YYYY-MM-DD) or clear ('none') the company's closing date."""
    import datetime as dt

    from booksync.simulator import open_company

    home = load_home(home_dir)
    with open_company(home.company_path) as company:
        if date:
            if date.lower() == "none":
                company.db.execute("DELETE FROM meta WHERE key='closing_date'")
            else:
                try:
                    dt.date.fromisoformat(date)
                except ValueError:
                    raise click.BadParameter("use YYYY-MM-DD or 'none'", param_hint="DATE") from None
                company.set_meta("closing_date", date)
        console.print(f"Closing date: {company.meta('closing_date') or 'none'}")


@simulator.command("class-tracking")
@click.argument("state", required=False, type=click.Choice(["on", "off"]))
@home_option
def class_tracking(state: str | None, home_dir: Path | None) -> None:
    """Show or set (on, off) the company's "Use class tracking" preference, off in a new company, as a
    QuickBooks administrator sets it in Preferences > Accounting."""
    from booksync.simulator import open_company

    home = load_home(home_dir)
    with open_company(home.company_path) as company:
        if state:
            company.set_meta("class_tracking", "true" if state == "on" else "false")
        console.print(f"Class tracking: {'on' if company.meta('class_tracking') == 'true' else 'off'}")


@simulator.command()
@click.argument("writes", type=int)
@home_option
def busy(writes: int, home_dir: Path | None) -> None:
    """Play another QuickBooks user holding records: refuse the next WRITES writes with status 3175."""
    from booksync.simulator import open_company

    home = load_home(home_dir)
    with open_company(home.company_path) as company:
        company.set_meta("busy_writes", str(max(0, writes)))
    console.print(f"The next {writes} write(s) to {home.company_path} will find records locked by another user.")


@simulator.command()
@click.argument("app_name", default="booksync")
@home_option
def deauthorize(app_name: str, home_dir: Path | None) -> None:
    """Withdraw APP_NAME's access to the company file (as the QuickBooks administrator can)."""
    from booksync.simulator import open_company

    home = load_home(home_dir)
    with open_company(home.company_path) as company:
        company.db.execute("DELETE FROM authorized_apps WHERE app_name=?", (app_name,))
    console.print(f"{app_name} may no longer access {home.company_path}")


@simulator.command()
@home_option
@click.option("--to", "account", default="Checking", show_default=True, help="The bank account deposited to.")
@click.option("--date", "date", help="Deposit date, YYYY-MM-DD (default: today).")
@click.option("--payment", "refs", multiple=True, metavar="REF",
              help="Deposit the undeposited payment whose receipt number (booksync writes 'Receipt R...' in the "
                   "memo) or reference (QuickBooks' RefNumber, e.g. a check number) is REF, or the sales receipt "
                   "numbered REF. Repeatable.")
@click.option("--all", "all_payments", is_flag=True, help="Deposit every payment still in Undeposited Funds.")
@click.option("--memo", default="", help="Deposit memo.")
def deposit(home_dir: Path | None, account: str, date: str | None, refs: tuple[str, ...], all_payments: bool,
            memo: str) -> None:
    """Record a bank deposit of payments and sales receipts from Undeposited Funds, as a QuickBooks user does
    (DepositAdd)."""
    import datetime as dt

    from booksync.qbxml import build
    from booksync.qbxml.parse import parse_response
    from booksync.simulator import open_company

    if not refs and not all_payments:
        raise click.UsageError("name the payments with --payment REF, or use --all")
    home = load_home(home_dir)
    with open_company(home.company_path) as company:
        rows = company.db.execute(
            "SELECT t.txn_id, t.ref_number, t.total, t.memo FROM txns t JOIN lists a ON a.list_id=t.account_id "
            "WHERE t.txn_type IN ('ReceivePayment','SalesReceipt') AND a.special='UndepositedFunds' "
            "AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.payment_id=t.txn_id) ORDER BY t.txn_number").fetchall()
        def receipt(row) -> str:  # noqa: ANN001
            memo = row["memo"] or ""
            return memo.split(" - ")[0].removeprefix("Receipt ") if memo.startswith("Receipt ") else ""

        chosen = [r for r in rows if all_payments or receipt(r) in refs or r["ref_number"] in refs]
        missing = set(refs) - {r["ref_number"] for r in chosen} - {receipt(r) for r in chosen}
        # A check or card number can be shared by many payments: a reference must name one payment.
        shared = sorted(ref for ref in refs if sum(1 for r in chosen if ref in (receipt(r), r["ref_number"])) > 1)
        if shared and not all_payments:
            raise click.ClickException(
                f"more than one undeposited payment has the reference {', '.join(shared)}; name each payment by "
                "its receipt number (e.g. --payment R20001)")
        if missing:
            raise click.ClickException(f"no undeposited payment with reference {', '.join(sorted(missing))}")
        if not chosen:
            raise click.ClickException("no payment is waiting in Undeposited Funds")
        body = {"TxnDate": date or dt.date.today().isoformat(), "DepositToAccountRef": {"FullName": account},
                "Memo": memo or None, "DepositLineAdd": [{"PaymentTxnID": r["txn_id"]} for r in chosen]}
        (rs,) = parse_response(company.process(build.message([build.request("DepositAdd", body, 1)])))
    if not rs.ok:
        err.print(f"QuickBooks refused the deposit: status {rs.code}, {rs.message}")
        sys.exit(EXIT_REFUSED)
    ret = rs.rets[0]
    console.print(f"Deposited {len(chosen)} payment(s) to {account} on {ret.findtext('TxnDate')}: total "
                  f"{ret.findtext('DepositTotal')} (TxnID {ret.findtext('TxnID')})")
