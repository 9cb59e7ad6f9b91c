"""The one-click refund in a real Chromium, in both languages: when the engine refunds at once,
the request page is a confirmation with the amount, where it goes and when it arrives, and one
button; nothing to describe or upload. A request a person must review keeps the full form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.aftersales.test_browser import buy_and_pay, sign_up

pytestmark = pytest.mark.browser

DATE = r"\d{4}-\d\d-\d\d"


def test_a_one_click_refund_is_one_click_after_the_amount_and_the_dates(page: Page, artifacts_dir: Path) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "quarterly-pass")
    page.click("#request-refund")
    page.wait_for_url(f"**/orders/{order_no}/refund")
    expect(page.locator("#one-click h2")).to_have_text("一键退款")
    expect(page.locator("#one-click-summary")).to_have_text(
        re.compile(rf"^将退还 ¥60\.00,原路退回支付宝,预计 {DATE} 至 {DATE} 到账。无需填写说明或上传材料")
    )
    arrival = page.locator("#quote-arrival").inner_text()
    earliest, latest = re.findall(DATE, arrival)
    expect(page.locator("#one-click-summary")).to_contain_text(f"预计 {earliest} 至 {latest} 到账")  # the quote's own
    for absent in ("#description", "#evidence"):
        expect(page.locator(absent)).to_have_count(0)
    expect(page.locator("#refund-form button")).to_have_count(1)
    expect(page.locator("#submit-refund")).to_have_text("确认退款 ¥60.00")
    page.screenshot(path=str(artifacts_dir / "aftersales-one-click.png"), full_page=True)

    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    expect(page.locator("#ticket")).to_have_attribute("data-status", re.compile("auto_approved|refunding|refunded"))
    expect(page.locator("#ticket-quoted")).to_have_text("¥60.00")


def test_the_one_click_confirmation_in_english_and_the_full_form_for_a_review(page: Page, artifacts_dir: Path) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    page.goto(f"/orders/{order_no}/refund?lang=en")
    expect(page.locator("#one-click h2")).to_have_text("One-click refund")
    expect(page.locator("#one-click-summary")).to_have_text(
        re.compile(rf"^¥30\.00 will be refunded to Alipay, the way you paid, arriving between {DATE} and {DATE}\.")
    )
    expect(page.locator("#submit-refund")).to_have_text("Refund ¥30.00")
    expect(page.locator("#description")).to_have_count(0)

    # Once the pass is in use, a change of mind is weighed by a person (RULES.md P6/P7/P9; and by
    # §3a no other reason does worse): the full form. Activating asks first, as it changes the refund.
    page.goto(f"/orders/{order_no}?lang=en")
    page.click("#activate")
    page.wait_for_url(f"**/orders/{order_no}/confirm/activate")
    page.click("#confirm-usage-submit")
    page.goto(f"/orders/{order_no}/refund?reason=changed_mind")
    expect(page.locator("#quote")).to_have_attribute("data-decision", "review")
    expect(page.locator("#one-click")).to_have_count(0)
    expect(page.locator("#description")).to_be_visible()
    expect(page.locator("#evidence")).to_be_visible()
    expect(page.locator("#submit-refund")).to_have_text("Submit the request")
    page.screenshot(path=str(artifacts_dir / "aftersales-full-form-en.png"), full_page=True)
