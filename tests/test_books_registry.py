"""The books registry: a company kind opens its port through one row of ``OPENERS``; a kind no command opens is
refused with words saying what to do."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from booksync.books import registry
from booksync.books.desktop.adapter import DesktopBooks
from booksync.config import Home
from booksync.errors import ConfigError
from booksync.simulator import create_company


def test_every_registered_kind_names_an_opener_that_exists():
    for kind in registry.OPENERS:
        assert callable(registry.opener(kind)), kind
    assert set(registry.OPENERS) == {"simulator", "rp2", "online"}


@pytest.mark.parametrize("kind", ["webconnector", "sage"])
def test_a_kind_no_command_opens_is_refused_with_what_to_do(kind):
    with pytest.raises(ConfigError) as caught:
        registry.opener(kind)
    assert str(caught.value) == (f"company kind {kind!r} is not supported by this command; use the simulator, or run "
                                 "'booksync serve' for the Web Connector")


def test_the_simulator_kind_opens_desktop_books_on_the_home_s_company_file(tmp_path):
    home = Home.load(tmp_path / "home", create=True)
    create_company(home.company_path, "Registry Test Chamber")
    with registry.open_books(home) as port:
        assert isinstance(port, DesktopBooks)
        assert port.snapshot(customers=False).company.name == "Registry Test Chamber"


def test_a_new_target_is_one_row(tmp_path, monkeypatch):
    """Adding a target: a module with an opener, and its row in OPENERS (here this test module's)."""
    home = Home.load(tmp_path / "home", create=True)
    home.settings["company"]["kind"] = "example"
    monkeypatch.setitem(registry.OPENERS, "example", f"{__name__}:_open_example")
    with registry.open_books(home) as port:
        assert port == ("example port", home.path)


@contextmanager
def _open_example(home):  # noqa: ANN001, ANN202
    yield ("example port", home.path)
