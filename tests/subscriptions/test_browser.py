"""Cancelling auto-renewal in a real Chromium: from the order page and from 我的会员, at most three
clicks plus the SMS code, then the receipt. The checkout's box is opt-in, with the terms beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from kameng.container import Container
from kameng.messages.senders import LogSender
from tests.aftersales.test_browser import sign_up

pytestmark = pytest.mark.browser


def buy_with_auto_renewal(page: Page) -> str:
    page.goto("/checkout/monthly-pass")
    box = page.locator("#auto_renew")
    expect(box).not_to_be_checked()  # never pre-selected
    expect(page.locator("#auto-renew-terms")).to_contain_text("每期续费 30.00 元")
    box.check()
    page.check("#channel-alipay")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/pay/sim/P\d{14}$"))
    page.click("#pay-confirm")
    page.wait_for_url(re.compile(r"/orders/\d{14}$"))
    return page.url.rsplit("/", 1)[1]


def code_sent_to(live_app: FastAPI, phone: str) -> str:
    container: Container = live_app.state.container
    sender = container.sender
    assert isinstance(sender, LogSender)
    masked = phone[:3] + "****" + phone[-4:]
    texts = [text for to, text in sender.sent if to == masked]
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found
    return found.group(1)


class Clicks:
    """Counts the clicks a person makes (typing the code is not a click)."""

    def __init__(self, page: Page) -> None:
        self.page, self.count = page, 0

    def click(self, selector: str) -> None:
        self.count += 1
        self.page.click(selector)


def cancel_with_code(page: Page, clicks: Clicks, live_app: FastAPI, phone: str, button: str) -> str:
    clicks.click(button)
    page.wait_for_url(re.compile(r"/subscriptions/S\d{14}/cancel"))
    clicks.click("#send-code")
    expect(page.locator("#code-sent")).to_be_visible()
    page.fill("#code", code_sent_to(live_app, phone))
    clicks.click("#confirm-cancel")
    page.wait_for_url(re.compile(r"/subscriptions/S\d{14}/receipt$"))
    receipt = page.locator("#cancel-receipt")
    expect(receipt).to_be_visible()
    number = receipt.get_attribute("data-cancellation-no")
    assert number
    assert re.fullmatch(r"C\d{14}", number)
    expect(page.locator("#receipt-cancellation-no")).to_have_text(number)
    expect(page.locator("#receipt-summary")).to_contain_text("立即生效")
    return number


def test_from_the_order_page_three_clicks_and_the_code_cancel_auto_renewal(
    page: Page, live_app: FastAPI, artifacts_dir: Path
) -> None:
    phone = sign_up(page)
    order_no = buy_with_auto_renewal(page)
    sub_no = f"S{order_no}"
    button = f"#cancel-auto-renew-{sub_no}"
    expect(page.locator(button)).to_be_visible()
    expect(page.locator(button)).to_be_enabled()
    clicks = Clicks(page)
    number = cancel_with_code(page, clicks, live_app, phone, button)
    assert clicks.count <= 3
    page.screenshot(path=str(artifacts_dir / "auto-renewal-cancel-receipt.png"), full_page=True)
    page.goto(f"/orders/{order_no}")
    expect(page.locator("#subscription")).to_have_attribute("data-status", "cancelled")
    expect(page.locator(f"#sub-receipt-{sub_no}")).to_contain_text(number)
    page.goto("/messages")
    expect(page.locator("#messages .message[data-kind=auto_renew_cancelled]")).to_contain_text(number)


def test_from_my_memberships_three_clicks_and_the_code_cancel_auto_renewal(page: Page, live_app: FastAPI) -> None:
    phone = sign_up(page)
    order_no = buy_with_auto_renewal(page)
    page.click("#nav-memberships")
    sub = page.locator(f"#sub-S{order_no}")
    expect(sub).to_have_attribute("data-status", "active")
    clicks = Clicks(page)
    cancel_with_code(page, clicks, live_app, phone, f"#cancel-auto-renew-S{order_no}")
    assert clicks.count <= 3
    page.goto("/memberships?lang=en")
    expect(page.locator(f"#sub-S{order_no} .sub-status")).to_have_text("Cancelled")
