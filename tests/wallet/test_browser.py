"""The wallet in a real Chromium (seed 003): a consumer tops up, spends, sees cash and bonus apart
with every movement, asks for a withdrawal and sees it held (a purchase from the balance is then
refused); an agent approves it from the live quote; the page in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.orders.test_browser import buy, pay_on_simulator, sign_up

pytestmark = pytest.mark.browser


def test_a_consumer_withdraws_from_the_wallet_and_the_held_money_cannot_be_spent(
    page: Page, artifacts_dir: Path
) -> None:
    sign_up(page, "钱包用户")
    buy(page, "top-up-100")
    top_up = pay_on_simulator(page)
    buy(page, "monthly-pass", "balance")
    page.wait_for_url(re.compile(r"/orders/\d{14}$"))
    spent_on = page.url.rsplit("/", 1)[1]

    page.click("#nav-wallet")
    expect(page.locator("h1")).to_have_text("我的钱包")
    expect(page.locator("#wallet-cash")).to_have_text("¥90.00")
    expect(page.locator("#wallet-bonus")).to_have_text("¥0.00")
    expect(page.locator("#wallet-quote")).to_contain_text("¥89.00")
    expect(page.locator("#wallet-quote")).to_contain_text("¥1.00")
    expect(page.locator(f'#wallet-quote-legs .wallet-leg[data-order-no="{top_up}"]')).to_contain_text("余额提现")
    movements = page.locator("#wallet-movements .movement")
    expect(movements.locator(".movement-type")).to_have_text(["消费", "充值", "充值赠送"])
    expect(page.locator('#wallet-movements .movement[data-type="spend"]')).to_contain_text(spent_on)
    expect(page.locator("#amount")).to_have_value("90.00")
    page.click("#withdraw-submit")

    page.wait_for_url(re.compile(r"/wallet/withdrawals/W\d{14}$"))
    withdrawal_no = page.url.rsplit("/", 1)[1]
    expect(page.locator("#withdrawal-status")).to_have_text("审核中(金额已冻结)")
    expect(page.locator("#withdrawal-explained")).to_contain_text("¥90.00 已冻结")
    page.click("#back-to-wallet")
    expect(page.locator("#wallet-cash")).to_have_text("¥0.00")
    expect(page.locator("#wallet-held")).to_have_text("¥90.00")
    expect(page.locator("#wallet-movements .movement").first).to_have_attribute("data-type", "hold")
    page.screenshot(path=str(artifacts_dir / "wallet-held.png"), full_page=True)

    buy(page, "quarterly-pass", "balance")
    expect(page.locator("#error-channel")).to_contain_text("余额不足")

    page.goto("/wallet?lang=en")
    expect(page.locator("h1")).to_have_text("My wallet")
    expect(page.locator("#wallet-held")).to_have_text("¥90.00")
    page.goto("/wallet?lang=zh")
    page.click("#logout")

    page.goto("/login?next=/staff/withdrawals")
    page.fill("#identifier", "agent@kameng.test")
    page.fill("#password", "kameng-demo-2026")
    page.click("#login-submit")
    page.wait_for_url("**/staff/withdrawals")
    page.locator(f'.withdrawal[data-withdrawal-no="{withdrawal_no}"]').get_by_role("link").click()
    expect(page.locator("#live-quote")).to_contain_text("¥89.00")
    page.click("#approve-submit")
    expect(page.locator("#withdrawal-status")).to_have_text("退款中")
    expect(page.locator("#withdrawal-legs .wallet-leg .leg-net")).to_have_text(["¥89.00"])
    page.screenshot(path=str(artifacts_dir / "wallet-approved.png"), full_page=True)
