"""The Items page (issue 21 item 5) in a real browser: Chromium driven by Playwright, as tests/browser/test_browser.py
does it (its server, browser and helpers). The page offers each G/L account only the items its lines may use,
saves a choice into the billing store, and refuses a forged one without changing anything."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from booksync.qbxml import build
from booksync.services.users import set_user
from booksync.simulator import open_company

from conftest import copy_home
from test_browser import (CHROMIUM_ARGS, USER, PASSWORD, WebServer, browser, browser_installed, shot,  # noqa: F401
                          sign_in, start_server, stop_server)

try:
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - test_browser's fixture says what to install
    Page = expect = None

ITEMS = [("ItemOtherChargeAdd", {"Name": "Individual Dues", "SalesOrPurchase": {
             "AccountRef": {"FullName": "Membership Dues:Individual"}}}),
         ("ItemServiceAdd", {"Name": "Ad Sales", "SalesOrPurchase": {"AccountRef": {"FullName": "Advertising Income"}}}),
         ("ItemGroupAdd", {"Name": "Dues Bundle", "ItemGroupLine": [{"ItemRef": {"FullName": "Individual Dues"}}]})]


@pytest.fixture
def items_web(nosync_home, tmp_path: Path) -> Iterator[WebServer]:
    """The web interface on a copy of the demo chamber whose QuickBooks company already has three items."""
    home = copy_home(nosync_home, tmp_path / "home").path
    with open_company(home / "company.qbsim") as company:
        answer = company.process(build.message([build.request(k, b, n) for n, (k, b) in enumerate(ITEMS, 1)]))
        assert answer.count(b'statusCode="0"') == len(ITEMS), answer
    set_user(home, USER, PASSWORD)
    server = start_server(home, tmp_path)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def items_page(browser, items_web: WebServer) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=items_web.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def test_the_items_page_offers_fitting_items_saves_one_and_refuses_a_forged_one(items_web, items_page) -> None:
    page, billing = items_page, items_web.billing
    untouched = items_web.company.fingerprint()
    page.goto("/")
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Items").click()
    expect(page.get_by_role("heading", name="Items for G/L Accounts")).to_be_visible()
    row = page.locator("#item-gl-4010")
    expect(row).to_contain_text("booksync's own")
    expect(row).to_contain_text("Suggested: Individual Dues")
    choice = page.get_by_label("Item for G/L account 4010 Dues - Individual")
    offered = choice.locator("option").all_inner_texts()
    assert offered == ["(booksync's own item)", "Individual Dues (suggested)"], "no other account's item, no group"
    shot(page, "21-items")

    choice.select_option(value="Individual Dues")
    page.get_by_role("button", name="Save items").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved 1 item mapping(s): 4010 → Individual Dues")
    expect(page.locator("#item-gl-4010")).to_contain_text("Existing item")
    assert billing.value("SELECT qb_item FROM gl_accounts WHERE number='4010'") == "Individual Dues"

    # A forged choice (an item of another account) is refused by the same rule, and nothing is saved.
    page.evaluate("""() => { const s = document.querySelector('select[name="item:4020"]');
                             s.add(new Option('Ad Sales', 'Ad Sales')); s.value = 'Ad Sales'; }""")
    page.get_by_label("Item for G/L account 4010 Dues - Individual").select_option(value="")
    page.get_by_role("button", name="Save items").click()
    expect(page.locator(".flash-error")).to_contain_text(
        'Nothing was saved. G/L account 4020 Dues - Small Business: QuickBooks item "Ad Sales" does not post to '
        'QuickBooks account "Membership Dues:Small Business"')
    assert billing.value("SELECT qb_item FROM gl_accounts WHERE number='4010'") == "Individual Dues"
    assert billing.value("SELECT qb_item FROM gl_accounts WHERE number='4020'") == ""
    assert items_web.company.fingerprint() == untouched, "mapping items writes nothing to QuickBooks"


def test_the_payment_methods_page_maps_one_creates_one_and_refuses_a_forged_one(items_web, items_page) -> None:
    """Issue 21 item 6: the Payment Methods page beside Items."""
    page, billing = items_page, items_web.billing
    untouched = items_web.company.fingerprint()
    page.goto("/")
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payment Methods").click()
    expect(page.locator("#methods")).to_contain_text("None of that name: created at the next synchronization")
    ach = page.get_by_label("QuickBooks payment method for ACH")
    offered = ach.locator("option").all_inner_texts()
    assert offered[0] == "(the same name: ACH)" and "E-Check" in offered and offered[-1] == "create “ACH” in QuickBooks"
    shot(page, "22-payment-methods")
    ach.select_option(value="E-Check")
    page.get_by_label("QuickBooks payment method for Credit Card").select_option(value="create:Credit Card")
    page.get_by_role("button", name="Save payment methods").click()
    expect(page.locator(".flash-success")).to_contain_text(
        'Saved 2 payment method mapping(s): ACH → QuickBooks payment method "E-Check"; Credit Card → QuickBooks '
        'payment method "Credit Card" (booksync creates it).')
    assert billing.value("SELECT qb_method FROM payment_method_map WHERE name='ACH'") == "E-Check"
    assert billing.value("SELECT create_missing FROM payment_method_map WHERE name='Credit Card'") == 1

    page.evaluate("""() => { const s = document.querySelector('select[name="method:Cash"]');
                             s.add(new Option('Diners', 'Diners')); s.value = 'Diners'; }""")
    page.get_by_role("button", name="Save payment methods").click()
    expect(page.locator(".flash-error")).to_contain_text(
        'Nothing was saved. QuickBooks has no payment method named "Diners" (for billing payment method "Cash")')
    # advice in the browser's words (a command-line remedy was shown before)
    expect(page.locator(".flash-error")).to_contain_text("Choose one the company has in the list")
    expect(page.locator(".flash-error")).not_to_contain_text("booksync payments methods")
    assert billing.value("SELECT COUNT(*) FROM payment_method_map WHERE name='Cash'") == 0
    assert items_web.company.fingerprint() == untouched, "mapping writes nothing to QuickBooks"
