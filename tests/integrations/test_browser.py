"""The sessions page, the API keys page and the webhook pages in a real Chromium."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from kameng.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

_PHONES = (f"1366000{n:04d}" for n in itertools.count(1))


def sign_up(page: Page) -> str:
    phone = next(_PHONES)
    page.goto("/signup")
    page.fill("#identifier", phone)
    page.fill("#password", "a-long-password")
    page.click("#signup-submit")
    expect(page.locator("#signed-in")).to_be_visible()
    return phone


def sign_in(page: Page, identifier: str, password: str) -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page.locator("#signed-in")).to_be_visible()


def test_ending_the_other_sessions_signs_the_other_browser_out(page: Page, browser: Browser, live_server: str) -> None:
    phone = sign_up(page)
    other = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        elsewhere = other.new_page()
        sign_in(elsewhere, phone, "a-long-password")

        page.click("#nav-sessions")
        expect(page.locator("#sessions tbody tr")).to_have_count(2)
        expect(page.locator("#this-session")).to_have_count(1)
        page.click("#end-others")
        expect(page.locator("#notice")).to_be_visible()
        expect(page.locator("#sessions tbody tr")).to_have_count(1)

        elsewhere.goto("/orders")
        expect(elsewhere.locator("#signed-in")).to_have_count(0)
        expect(page.locator("#signed-in")).to_be_visible()
    finally:
        other.close()


def test_a_password_change_keeps_this_browser_and_says_so(page: Page) -> None:
    sign_up(page)
    page.goto("/account/sessions?lang=en")
    page.fill("#current_password", "not-the-password")
    page.fill("#new_password", "another-long-password")
    page.click("#password-submit")
    expect(page.locator("#error-current_password")).to_be_visible()
    page.fill("#current_password", "a-long-password")
    page.fill("#new_password", "another-long-password")
    page.click("#password-submit")
    expect(page.locator("#notice")).to_contain_text("Password changed")
    expect(page.locator("#signed-in")).to_be_visible()


def test_an_operator_makes_a_key_sees_it_once_and_registers_a_webhook(page: Page) -> None:
    sign_in(page, "operator@kameng.test", DEMO_PASSWORD)
    page.click("#nav-integrations")
    page.fill("#key-name", "Warehouse")
    page.check("input[value='orders:read']")
    page.click("#key-submit")
    secret = page.locator("#new-key-secret")
    expect(secret).to_have_text(re.compile(r"^km_live_"))
    shown = secret.inner_text()
    page.reload()  # a reload sends the form again only if asked; a fresh visit never shows the key
    page.goto("/staff/integrations")
    expect(page.locator("#new-key-secret")).to_have_count(0)
    expect(page.locator("#api-keys")).not_to_contain_text(shown)

    page.click("#to-webhooks")
    page.fill("#url", "http://127.0.0.1:9/hooks")
    page.check("input[value='refund.approved']")
    page.click("#endpoint-submit")
    expect(page.locator("#endpoint-secret")).to_have_text(re.compile(r"^whsec_"))
    expect(page.locator("#endpoint-state")).to_contain_text("启用")
    page.click("#rotate")
    expect(page.locator("#overlap")).to_be_visible()
