"""The operator's catalog in a real Chromium: an operator pastes card keys, previews them, imports
them and sees the stock grow; a list with a duplicate line is refused whole, naming the line."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kameng.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, identifier: str, password: str) -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page.locator("#signed-in")).to_be_visible()


def test_an_operator_imports_card_keys_and_sees_the_stock(page: Page) -> None:
    sign_in(page, "operator@kameng.test", DEMO_PASSWORD)
    page.click("#nav-operator-catalog")
    expect(page).to_have_url(re.compile(r"/operator/catalog$"))
    row = page.locator("#product-game-points-50")
    expect(row).to_be_visible()
    before = int(row.locator(".stock-available").inner_text().split()[0])
    row.locator("a").first.click()
    expect(page.locator("#stock-available")).to_have_text(str(before))

    # A duplicate line: refused whole, the line named, nothing to commit.
    page.fill("#import-codes", "BROWSER-0001\nBROWSER-0002\nBROWSER-0001")
    page.click("#preview-import")
    expect(page.locator("#preview-problems")).to_contain_text("第 3 行:与第 1 行重复")
    expect(page.locator("#commit-import")).to_have_count(0)
    expect(page.locator("#stock-available")).to_have_text(str(before))

    # The list mended: previewed, then imported, and the stock shows it.
    page.fill("#import-codes", "BROWSER-0001\nBROWSER-0002\nBROWSER-0003")
    page.click("#preview-import")
    expect(page.locator("#preview-counts")).to_contain_text("3 个卡密")
    page.click("#commit-import")
    expect(page.locator("#notice")).to_have_text("卡密已全部导入")
    expect(page.locator("#stock-available")).to_have_text(str(before + 3))
    page.click("#to-catalog")
    expect(page.locator("#product-game-points-50 .stock-available")).to_contain_text(str(before + 3))
