"""The service layer's one place for a run's options (issue 18 item 5/6): every face gets its SyncOptions from
``booksync.services.syncing.sync_options``, from the home's settings and the caller's choices."""
from __future__ import annotations

import datetime as dt

import pytest

from booksync.config import Home
from booksync.services.syncing import sync_options


@pytest.fixture
def settings(tmp_path):
    home = Home.load(tmp_path / "home", create=True)
    home.settings["sync"].update(message_size=7, keep_backups=3)
    home.settings.setdefault("corrections", {}).update(on_conflict="skip", closed_period="adjust")
    return home.settings


def test_the_homes_settings_give_the_runs_options(settings, monkeypatch) -> None:
    monkeypatch.setenv("BOOKSYNC_TODAY", "2026-03-31")
    options = sync_options(settings)
    assert (options.message_size, options.keep_backups, options.dry_run, options.full_scan) == (7, 3, False, False)
    assert (options.policy.on_conflict, options.policy.closed_period) == ("skip", "adjust")
    assert options.policy.today == dt.date(2026, 3, 31)
    assert options.policy.allow_deposit_changes is False


def test_the_callers_choices_win_over_the_settings(settings) -> None:
    options = sync_options(settings, dry_run=True, full_scan=True, on_conflict="overwrite", closed_period="stop",
                           allow_deposit_changes=True)
    assert (options.dry_run, options.full_scan) == (True, True)
    assert (options.policy.on_conflict, options.policy.closed_period) == ("overwrite", "stop")
    assert options.policy.allow_deposit_changes is True
    assert (options.message_size, options.keep_backups) == (7, 3)  # choices change only what they name


def test_a_date_that_is_not_one_is_refused(settings, monkeypatch) -> None:
    monkeypatch.setenv("BOOKSYNC_TODAY", "31/03/2026")
    with pytest.raises(ValueError):
        sync_options(settings)
