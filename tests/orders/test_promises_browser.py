"""The order page keeps the quote's word, in a real Chromium and in both languages: the coupon
promised back comes back, a refund under way or done is told with its ticket and receipt,
activating asks first when it changes the refund, and a payment that came too late is returned
and told, while the pay page no longer offers to pay.

Each test signs up its own consumer; the worker's tick is run by the ``tick`` fixture."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.aftersales.test_browser import PAST_POLL, Tick
from tests.orders.test_browser import pay_on_simulator, sign_up

pytestmark = pytest.mark.browser

DATE = r"\d{4}-\d\d-\d\d"


def buy_and_pay(page: Page, slug: str, coupon: str = "", channel: str = "alipay") -> str:
    page.goto(f"/checkout/{slug}" + (f"?coupon={coupon}" if coupon else ""))
    page.check(f"#channel-{channel}")
    page.click("#place-order")
    return pay_on_simulator(page)


def settle(tick: Tick) -> None:
    """Send the refund, poll it past its back-off, deliver what queued."""
    tick()
    tick(PAST_POLL)
    tick(PAST_POLL)


def test_the_coupon_promised_back_comes_back_and_the_refunded_order_says_what_happened(
    page: Page, tick: Tick, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass", coupon="SORRY10")
    expect(page.locator("#order-amount")).to_contain_text("¥20.00")
    expect(page.locator("#quote-lines .quote-line[data-code=coupon]")).to_contain_text(
        "优惠券 10.00 元以优惠券形式退回"
    )

    page.click("#request-refund")
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    ticket_no = page.url.rsplit("/", 1)[1]

    # On its way: said in words, with the promised dates; nothing that starts the membership.
    page.goto(f"/orders/{order_no}")
    expect(page.locator("#refund-status-text")).to_have_text(
        re.compile(rf"退款 ¥20\.00 正在原路退回支付宝,预计 {DATE} 至 {DATE} 到账。")
    )
    for offered in ("#request-refund", "#activate", "#claim-trial", "#quote"):
        expect(page.locator(offered)).to_have_count(0)
    expect(page.locator("#refund-frozen-note")).to_be_visible()
    expect(page.locator("#refund-receipt-link")).to_have_count(0)

    settle(tick)
    page.reload()
    expect(page.locator("#order-status")).to_have_text("已退款")
    expect(page.locator("#refund-status-text")).to_have_text(
        re.compile(rf"退款 ¥20\.00 已于 {DATE} \d\d:\d\d 原路退回支付宝,订单已关闭。")
    )
    expect(page.locator("body")).not_to_contain_text("订单支付后才能计算退款")
    expect(page.locator("#membership-closed-note")).to_have_text("会员已随退款关闭:权益已停止,自动续费已关闭。")
    returned = page.locator("#refund-status #returned-coupon")
    code = returned.get_attribute("data-code") or ""
    assert code.startswith("RT")
    expect(returned).to_have_text(f"优惠券 10.00 元已退回:券码 {code},仅限本人使用。")
    expect(page.locator("#timeline .event[data-type=coupon_returned]")).to_contain_text("优惠券已退回")
    expect(page.locator("#refund-ticket-link")).to_have_attribute("href", f"/tickets/{ticket_no}")
    page.screenshot(path=str(artifacts_dir / "order-refunded.png"), full_page=True)

    page.click("#refund-receipt-link")
    expect(page.locator("#refund-receipt h1")).to_have_text("退款凭证")
    expect(page.locator("#receipt-order-no")).to_have_text(order_no)
    expect(page.locator("#receipt-amount")).to_have_text("¥20.00")
    expect(page.locator("#receipt-dest")).to_have_text("原路退回支付宝")
    expect(page.locator("#receipt-ref")).to_have_text(re.compile(r"^SIMR"))
    expect(page.locator("#receipt-coupon")).to_contain_text(code)
    page.screenshot(path=str(artifacts_dir / "order-refund-receipt.png"), full_page=True)
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()  # printed without the site's frame
    page.emulate_media(media="screen")

    page.goto(f"/tickets/{ticket_no}")
    page.click("#receipt-printable")  # the ticket's receipt card leads to the same printable page
    expect(page.locator("#receipt-order-no")).to_have_text(order_no)

    page.click("#nav-messages")
    expect(page.locator("#messages .message[data-kind=arrived]")).to_contain_text(f"券码 {code}")

    # The old code stays with the refunded order; the one given back takes 10.00 off.
    page.goto("/checkout/quarterly-pass?coupon=SORRY10")
    page.click("#apply-coupon")
    expect(page.locator("#error-coupon")).to_have_text("优惠券已被使用")
    page.fill("#coupon", code)
    page.click("#apply-coupon")
    expect(page.locator("#to-pay")).to_have_text("¥50.00")

    # In English too.
    page.goto(f"/orders/{order_no}?lang=en")
    expect(page.locator("#refund-status-text")).to_have_text(
        re.compile(rf"On {DATE} \d\d:\d\d, ¥20\.00 was refunded to Alipay, the way you paid; the order is closed\.")
    )
    expect(page.locator("#refund-status #returned-coupon")).to_have_text(
        f"Your 10.00 coupon came back: code {code}, for you only."
    )
    page.click("#refund-receipt-link")
    expect(page.locator("#refund-receipt h1")).to_have_text("Refund receipt")
    expect(page.locator("#receipt-dest")).to_have_text("to Alipay, the way you paid")
    page.screenshot(path=str(artifacts_dir / "order-refund-receipt-en.png"), full_page=True)


def test_activating_a_special_offer_asks_first_and_says_it_ends_the_refund(page: Page, artifacts_dir: Path) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass-promo", channel="wechat")
    expect(page.locator("#activation-note")).to_be_visible()
    page.click("#activate")
    page.wait_for_url(f"**/orders/{order_no}/confirm/activate")
    expect(page.locator("#effect")).to_have_text("这是限时优惠商品,一经激活即不可退款。")
    expect(page.locator("#refund-now")).to_contain_text("¥9.90")
    expect(page.locator("#refund-now")).to_contain_text("一键退款,无需审核")
    expect(page.locator("#refund-after")).to_contain_text("¥0.00")
    expect(page.locator("#refund-after")).to_contain_text("P4")
    page.screenshot(path=str(artifacts_dir / "order-confirm-activate.png"), full_page=True)

    page.click("#confirm-usage-cancel")  # not now: nothing happened
    expect(page.locator("#membership-status")).to_have_text("待激活")
    expect(page.locator("#quote")).to_have_attribute("data-rules", "P1")

    page.click("#activate")
    page.click("#confirm-usage-submit")
    expect(page.locator("#membership-status")).to_have_text("生效中")
    expect(page.locator("#quote")).to_have_attribute("data-rules", "P4")


def test_claiming_a_trial_asks_first_in_english_and_says_the_refund_is_prorated(page: Page) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "quarterly-pass")
    page.goto(f"/orders/{order_no}?lang=en")
    page.click("#claim-trial")
    page.wait_for_url(f"**/orders/{order_no}/confirm/claim_trial")
    expect(page.locator("h1")).to_contain_text("Before you claim the trial")
    expect(page.locator("#trial-counts")).to_have_text(
        "Under this product's refund rules, claiming the trial counts as activating it."
    )
    expect(page.locator("#effect")).to_have_text("Once activated, a refund is prorated by the days used.")
    expect(page.locator("#refund-now")).to_contain_text("¥60.00")
    expect(page.locator("#refund-after")).to_contain_text("P7")
    page.click("#confirm-usage-submit")
    expect(page.locator("#membership-status")).to_have_text("Active")
    expect(page.locator("#timeline .event[data-type=trial_claimed]")).to_be_visible()
    expect(page.locator("#quote")).to_have_attribute("data-rules", "P7")


def test_a_payment_after_the_order_expired_is_returned_and_told_and_the_pay_page_offers_none(
    page: Page, tick: Tick, artifacts_dir: Path
) -> None:
    sign_up(page)
    page.goto("/checkout/monthly-pass")
    page.check("#channel-alipay")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/pay/sim/P\d{14}$"))
    pay_url = page.url
    order_no = pay_url.rsplit("/P", 1)[1]
    # The payer's wallet keeps the page open while the payment window closes.
    wallet = page.context.new_page()
    wallet.goto(pay_url)
    tick(timedelta(minutes=16))

    page.reload()
    expect(page.locator("#pay-order-status")).to_have_text("已过期")
    expect(page.locator("#pay-confirm")).to_have_count(0)
    expect(page.locator("#pay-fail")).to_have_count(0)
    expect(page.locator("#pay-closed")).to_have_text("该订单已过期,无需支付,请勿再付款。")
    page.screenshot(path=str(artifacts_dir / "pay-sim-expired.png"), full_page=True)
    page.goto(f"{pay_url}?lang=en")
    expect(page.locator("#pay-order-status")).to_have_text("Expired")
    expect(page.locator("#pay-closed")).to_contain_text("This order has expired")
    page.goto(f"/orders/{order_no}?lang=zh")

    wallet.click("#pay-confirm")  # paid anyway, from the stale page
    wallet.wait_for_url(f"**/orders/{order_no}")
    wallet.close()
    page.reload()
    expect(page.locator("#late-payments .late-payment")).to_have_text(
        re.compile(rf"订单已关闭\(已过期\)后,您的付款 ¥30\.00 才到账;我们正在原路退回支付宝,预计 {DATE} 至 {DATE} 到账")
    )
    expect(page.locator("#quote")).to_have_count(0)  # nothing to quote: the money is already going back
    page.click("#nav-messages")
    expect(page.locator("#messages .message[data-kind=late_payment_returning]")).to_contain_text(order_no)

    tick()
    tick(PAST_POLL)
    tick(PAST_POLL)
    page.goto(f"/orders/{order_no}")
    expect(page.locator("#late-payments .late-payment")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#late-payments .late-payment")).to_contain_text("原路退回支付宝")
    page.click("#nav-messages")
    expect(page.locator("#messages .message[data-kind=late_payment_returned]")).to_have_text(
        re.compile(rf"订单 {order_no} 关闭后到账的付款 30\.00 元已原路退回支付宝。")
    )
    page.goto(f"/orders/{order_no}?lang=en")
    expect(page.locator("#late-payments .late-payment")).to_contain_text("went back to Alipay")
    page.screenshot(path=str(artifacts_dir / "order-late-payment-en.png"), full_page=True)
