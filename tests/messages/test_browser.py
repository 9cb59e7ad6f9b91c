"""The messages page (站内信) in a real Chromium, in both languages: every message of a refund says
which product and how much, and opens its ticket."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.aftersales.test_browser import buy_and_pay, request_refund, settle, sign_up

pytestmark = pytest.mark.browser

Tick = Callable[..., dict[str, int]]


def test_each_message_names_the_product_and_the_amount_and_opens_its_ticket(
    page: Page, tick: Tick, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    ticket_no = request_refund(page, order_no, "changed_mind", "auto_approve")
    settle(page, ticket_no, tick)

    page.click("#nav-messages")
    messages = page.locator("#messages .message")
    expect(messages.first).to_be_visible()
    count = messages.count()
    assert count >= 4  # submitted, approved, sent, arrived
    for index in range(count):
        message = messages.nth(index)
        expect(message.locator(".message-text")).to_contain_text("视频会员月卡")
        expect(message.locator(".message-text")).to_contain_text("30.00")
        expect(message.locator(".message-ticket")).to_have_text(f"查看工单 {ticket_no}")
    expect(page.locator("#messages .message[data-kind=arrived] .message-text")).to_have_text(
        "【视频会员月卡】退款 30.00 元已到账,订单已关闭。"
    )
    page.screenshot(path=str(artifacts_dir / "messages-name-their-purchase.png"), full_page=True)
    page.locator("#messages .message[data-kind=arrived] .message-ticket").click()
    page.wait_for_url(re.compile(rf"/tickets/{ticket_no}$"))
    expect(page.locator("#ticket")).to_have_attribute("data-status", "refunded")

    page.goto("/messages?lang=en")
    expect(page.locator("#messages .message[data-kind=submitted] .message-text")).to_have_text(
        f"[Video membership, monthly pass · refund ¥30.00] Your after-sales request {ticket_no} has been submitted."
    )
    expect(page.locator("#messages .message[data-kind=submitted] .message-ticket")).to_have_text(
        f"Open ticket {ticket_no}"
    )
