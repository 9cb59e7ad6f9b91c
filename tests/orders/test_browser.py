"""The storefront in a real Chromium: sign up, buy, pay on the simulator, use, and read the quote.

Every test signs up its own consumers (the live server is shared by the tests of a worker), so
no test depends on another's orders.
"""

from __future__ import annotations

import itertools
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "kameng-test-2026"
_numbers = itertools.count()


def fresh_phone() -> str:
    """A mobile number nobody on the shared live server has used: 139 + 8 digits."""
    return "139" + f"{(uuid.uuid4().int + next(_numbers)) % 10**8:08d}"


def sign_up(page: Page, name: str = "测试用户") -> str:
    phone = fresh_phone()
    page.goto("/signup")
    page.fill("#identifier", phone)
    page.fill("#password", PASSWORD)
    page.fill("#display_name", name)
    page.click("#signup-submit")
    expect(page.locator("#signed-in")).to_contain_text(phone[:3] + "****" + phone[-4:])
    expect(page.locator("#signed-in")).not_to_contain_text(phone)
    return phone


def buy(page: Page, slug: str, channel: str = "alipay", ack: bool = False) -> None:
    page.goto(f"/checkout/{slug}")
    page.check(f"#channel-{channel}")
    if ack:
        page.check("#nonrefundable_ack")
    page.click("#place-order")


def pay_on_simulator(page: Page) -> str:
    page.wait_for_url(re.compile(r"/pay/sim/P\d{14}$"))
    expect(page.locator("h1")).to_have_text("支付模拟器")
    page.click("#pay-confirm")
    page.wait_for_url(re.compile(r"/orders/\d{14}$"))
    expect(page.locator("#order-status")).to_have_text("已支付")
    return page.url.rsplit("/", 1)[1]


def test_a_new_consumer_buys_a_monthly_pass_and_the_quote_changes_as_it_is_used(
    page: Page, artifacts_dir: Path
) -> None:
    sign_up(page)
    page.goto("/products/monthly-pass")
    expect(page.locator("#refund-terms li").first).to_be_visible()
    page.click("#buy")
    expect(page.locator("#auto_renew")).not_to_be_checked()
    buy(page, "monthly-pass", "alipay")
    expect(page.locator("#pay-amount")).to_have_text("¥30.00")
    order_no = pay_on_simulator(page)

    expect(page.locator("#payments .payment .txn")).to_have_text(re.compile(r"^SIM"))
    expect(page.locator("#membership-status")).to_have_text("待激活")
    quote = page.locator("#quote")
    expect(quote).to_have_attribute("data-decision", "auto_approve")
    expect(quote).to_have_attribute("data-rules", re.compile(r"\bP1\b"))
    expect(page.locator("#quote-refund")).to_have_text("¥30.00")
    expect(page.locator("#quote-decision")).to_have_text("一键退款,无需审核")

    page.click("#activate")
    # Activating ends the one-click refund: the page says so and asks first.
    page.wait_for_url(f"**/orders/{order_no}/confirm/activate")
    expect(page.locator("#effect")).to_contain_text("需人工审核")
    page.click("#confirm-usage-submit")
    expect(page.locator("#membership-status")).to_have_text("生效中")
    expect(quote).not_to_have_attribute("data-rules", re.compile(r"\bP1\b"))
    expect(page.locator("#timeline .event[data-type=activated]")).to_be_visible()

    page.click("#use-benefit-video")
    expect(page.locator("#timeline .event[data-type=benefit_used]")).to_be_visible()
    expect(quote).to_have_attribute("data-decision", "review")
    expect(quote).to_have_attribute("data-rules", re.compile(r"\bP9\b"))
    expect(quote).not_to_have_attribute("data-refund", "30.00")  # a used day comes off the refund
    expect(page.locator("#quote-lines .quote-line[data-code=used_share]")).to_be_visible()
    expect(page.locator("#quote-explanation")).not_to_be_empty()
    page.screenshot(path=str(artifacts_dir / "storefront-monthly-pass.png"), full_page=True)

    page.goto("/orders")
    expect(page.locator(f'.order-row[data-order-no="{order_no}"]')).to_contain_text("视频会员月卡")


def test_a_game_card_needs_the_confirmation_and_its_key_is_shown_to_the_buyer(page: Page, artifacts_dir: Path) -> None:
    sign_up(page)
    buy(page, "game-points-50", "wechat")
    expect(page.locator("#error-nonrefundable_ack")).to_contain_text("请勾选确认")
    expect(page.locator("#channel-wechat")).to_be_checked()  # what was chosen is kept
    expect(page.locator("#nonrefundable_ack")).not_to_be_checked()

    page.check("#nonrefundable_ack")
    page.click("#place-order")
    pay_on_simulator(page)
    expect(page.locator("#card-code")).to_have_count(0)
    page.click("#reveal-key")
    code = page.locator("#card-code")
    expect(code).to_be_visible()
    assert code.inner_text().strip()
    expect(page.locator("#timeline .event[data-type=key_revealed]")).to_be_visible()
    expect(page.locator("#quote")).to_have_attribute("data-rules", re.compile(r"\bP3\b"))
    page.screenshot(path=str(artifacts_dir / "storefront-card-key.png"), full_page=True)


def test_another_consumer_gets_a_404_page_for_someone_elses_order(page: Page, artifacts_dir: Path) -> None:
    sign_up(page, "甲")
    buy(page, "quarterly-pass", "bank_card")
    order_no = pay_on_simulator(page)
    page.click("#logout")

    sign_up(page, "乙")
    response = page.goto(f"/orders/{order_no}")
    assert response is not None
    assert response.status == 404
    expect(page.locator("#error")).to_have_attribute("data-code", "not_found")
    expect(page.locator("#error h1")).to_have_text("订单不存在")
    expect(page.locator("body")).not_to_contain_text("季度会员")
    page.goto("/orders")
    expect(page.locator("#no-orders")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "storefront-404.png"), full_page=True)


def test_buying_the_same_product_twice_within_a_day_asks_first(page: Page, artifacts_dir: Path) -> None:
    sign_up(page)
    buy(page, "monthly-pass-promo", "wechat")
    first = pay_on_simulator(page)

    buy(page, "monthly-pass-promo", "wechat")
    warning = page.locator("#duplicate-warning")
    expect(warning).to_contain_text("您在 24 小时内已购买过该商品")
    expect(warning).to_contain_text(first)
    page.screenshot(path=str(artifacts_dir / "storefront-duplicate.png"), full_page=True)
    page.click("#duplicate-confirm")
    second = pay_on_simulator(page)
    assert second != first


def test_the_order_page_switches_to_english(page: Page, artifacts_dir: Path) -> None:
    sign_up(page)
    buy(page, "monthly-pass", "balance")  # an empty balance: refused beside the channel choice
    expect(page.locator("#error-channel")).to_have_text("余额不足")
    expect(page.locator("#channel-balance")).to_be_checked()
    page.check("#channel-wechat")
    page.click("#place-order")
    order_no = pay_on_simulator(page)

    page.click("#switch-lang")
    page.wait_for_url(f"**/orders/{order_no}?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#order h1")).to_have_text("Video membership, monthly pass")
    expect(page.locator("#order-status")).to_have_text("Paid")
    expect(page.locator("#quote-decision")).to_have_text("Refunded in one click, no review")
    expect(page.locator("#quote h2")).to_have_text("If you asked for a refund now")
    expect(page.locator("#nav-orders")).to_have_text("My orders")
    page.screenshot(path=str(artifacts_dir / "storefront-order-en.png"), full_page=True)


def test_staff_find_an_order_by_phone_and_record_an_outage_but_never_see_the_key(
    page: Page, artifacts_dir: Path
) -> None:
    phone = sign_up(page)
    buy(page, "game-points-50", "alipay", ack=True)
    order_no = pay_on_simulator(page)
    page.click("#logout")

    page.goto("/login?next=/staff/orders")
    page.fill("#identifier", "agent@kameng.test")
    page.fill("#password", "kameng-demo-2026")
    page.click("#login-submit")
    page.wait_for_url("**/staff/orders")
    page.fill("input[name=q]", phone)
    page.click("#staff-search button")
    row = page.locator(f'.order-row[data-order-no="{order_no}"]')
    expect(row).to_be_visible()
    expect(page.locator("#orders-table")).not_to_contain_text(phone)
    row.get_by_role("link").click()

    expect(page.locator("#order-no")).to_have_text(order_no)
    expect(page.locator("#card-key")).to_have_count(0)
    page.fill("#outage-hours", "3")
    page.click("#record-outage")
    expect(page.locator("#timeline .event[data-type=outage]")).to_contain_text("3 小时")
    page.screenshot(path=str(artifacts_dir / "storefront-staff.png"), full_page=True)


def test_a_consumer_cannot_open_the_staff_lookup(page: Page) -> None:
    sign_up(page)
    response = page.goto("/staff/orders?q=13800000001")
    assert response is not None
    assert response.status == 404
    expect(page.locator("#error h1")).to_have_text("页面不存在")
    expect(page.locator("body")).not_to_contain_text("13800000001")


def test_an_unknown_coupon_is_refused_beside_its_field_keeping_what_was_typed(page: Page) -> None:
    sign_up(page)
    page.goto("/checkout/quarterly-pass")
    page.check("#channel-bank_card")
    page.fill("#coupon", "NO-SUCH-COUPON")
    page.click("#apply-coupon")
    expect(page.locator("#error-coupon")).to_have_text("优惠券不存在")
    expect(page.locator("#coupon")).to_have_value("NO-SUCH-COUPON")
    expect(page.locator("#channel-bank_card")).to_be_checked()
    expect(page.locator("#to-pay")).to_have_text("¥60.00")
    page.goto("/orders")
    expect(page.locator("#no-orders")).to_be_visible()  # nothing was bought
