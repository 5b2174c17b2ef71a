"""Shared fixtures and helpers of the QuickBooks Online tests (imported by tests/test_online_*.py).

Everything runs against the test double (booksync.qbo_double) on 127.0.0.1: no network.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from booksync.books.online.adapter import OnlineBooks
from booksync.books.online.session import open_online
from booksync.books.online.auth import begin_authorization, complete_authorization
from booksync.config import Home
from booksync.domain import (Action, ApplicationData, CreditData, CustomerData, ItemData, Kind, LineData, Operation,
                             PaymentData, Ref, SalesData)
from booksync.qbo_double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DoubleServer, QboDouble
from booksync.sync.written import external_guid

FAST = {"requests_per_minute": 100000, "batches_per_minute": 100000, "backoff_seconds": 0.01, "max_retries": 4}
"""Client settings for tests that are not about pacing: no waiting, quick retries."""


@pytest.fixture
def server() -> Iterator[DoubleServer]:
    """A fresh QuickBooks Online double, generous limits (tests about limits lower them)."""
    with DoubleServer(QboDouble()) as srv:
        srv.double.configure(rate_limit=100000, batch_rate_limit=100000, concurrency_limit=100)
        yield srv


def point_home_at(home: Home, srv: DoubleServer, **online: Any) -> None:
    """Make ``home``'s [online] settings use the double (both environments), with ``online`` overrides."""
    section = home.settings.setdefault("online", {})
    section.update(srv.settings())
    section.update(FAST)
    section.update(online)
    home.save()


def connect(home: Home, srv: DoubleServer) -> Home:
    """Run the OAuth flow against the double (the 'browser' follows the authorization URL); return the home
    reloaded with company kind "online"."""
    url = begin_authorization(home.path, home.settings, "sandbox", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    redirect = httpx.get(url, follow_redirects=False).headers["location"]
    tokens = complete_authorization(home.path, redirect)
    home = Home.load(home.path)
    home.settings["company"]["kind"] = "online"
    home.settings["online"].update(realm_id=tokens.realm_id, environment="sandbox", client_id=DEFAULT_CLIENT_ID)
    home.save()
    return Home.load(home.path)


@pytest.fixture
def home(tmp_path: Path, server: DoubleServer) -> Home:
    """An empty booksync home connected to the double."""
    h = Home.load(tmp_path / "home", create=True)
    point_home_at(h, server)
    return connect(h, server)


@contextmanager
def port_of(home: Home) -> Iterator[OnlineBooks]:
    with open_online(Home.load(home.path)) as port:
        yield port


# ---------------------------------------------------------------------- operations for port tests


class Ops:
    """Builds engine operations with neutral payloads, numbered from 1, for one company key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.seq = 0

    def _op(self, action: Action, kind: Kind, local_id: int, payload: Any = None, number: str = "",
            remote_id: str | None = None, edit_sequence: str | None = None) -> Operation:
        self.seq += 1
        return Operation(seq=self.seq, action=action, kind=kind, local_id=local_id, number=number or str(local_id),
                         description=f"{action.value} {kind.label} {number or local_id}", payload=payload,
                         remote_id=remote_id, edit_sequence=edit_sequence)

    def customer(self, local_id: int, name: str, **fields: Any) -> Operation:
        data = CustomerData(name=name, company_name=name, account_number=str(1000 + local_id),
                            external_guid=external_guid(self.key, Kind.CUSTOMER, local_id), **fields)
        return self._op(Action.ADD, Kind.CUSTOMER, local_id, data, str(1000 + local_id))

    def item(self, local_id: int, name: str, account_id: str) -> Operation:
        return self._op(Action.ADD, Kind.ITEM, local_id, ItemData(name, name, Ref("account", None, account_id)))

    def sales(self, kind: Kind, local_id: int, customer: str, item: str, amount: str, number: str,
              date: dt.date = dt.date(2025, 3, 1), memo: str = "") -> Operation:
        amt = Decimal(amount)
        data = SalesData(customer=Ref("customer", None, customer), date=date, ref_number=number,
                         lines=(LineData(Ref("item", None, item), "Dues", Decimal(1), amt, amt),), memo=memo,
                         due_date=date + dt.timedelta(days=30) if kind is Kind.INVOICE else None,
                         external_guid=external_guid(self.key, kind, local_id))
        return self._op(Action.ADD, kind, local_id, data, number)

    def payment(self, local_id: int, customer: str, total: str, deposit_to: str, invoice: str | None = None,
                applied: str | None = None, credit_memo: str | None = None, credit: str | None = None,
                date: dt.date = dt.date(2025, 3, 15)) -> Operation:
        apps: tuple[ApplicationData, ...] = ()
        if invoice:
            credits = (CreditData(Ref("credit_memo", None, credit_memo), Decimal(credit)),) if credit_memo else ()
            apps = (ApplicationData(Ref("invoice", None, invoice), Decimal(applied or total), credits),)
        data = PaymentData(customer=Ref("customer", None, customer), date=date, ref_number=f"R{local_id}",
                           total=Decimal(total), method=None, deposit_to=Ref("account", None, deposit_to),
                           memo=f"Receipt R{local_id}", applications=apps,
                           external_guid=external_guid(self.key, Kind.PAYMENT, local_id))
        return self._op(Action.ADD, Kind.PAYMENT, local_id, data, f"R{local_id}")

    def change(self, action: Action, kind: Kind, local_id: int, remote_id: str, edit_sequence: str | None = None,
               payload: Any = None) -> Operation:
        return self._op(action, kind, local_id, payload, remote_id=remote_id, edit_sequence=edit_sequence)


def no_refs(ref: Ref) -> str | None:
    return None


def account_id(double: QboDouble, full_name: str) -> str:
    return next(a["Id"] for a in double.company.entities["Account"].values() if a["FullyQualifiedName"] == full_name)


def seed_customer_and_item(double: QboDouble, name: str = "Main Street Dental") -> tuple[str, str]:
    """A customer and a Dues item in the double's company; returns their Ids."""
    company = double.company
    with double.lock:
        customer = company.create("Customer", {"DisplayName": name})
        item = company.create("Item", {"Name": "Dues", "Type": "Service",
                                       "IncomeAccountRef": {"value": account_id(double, "Membership Dues")}})
    return customer["Id"], item["Id"]
