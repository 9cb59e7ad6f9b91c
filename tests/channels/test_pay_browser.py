"""A consumer pays through each channel's simulator page in a real Chromium, and sees the order
paid: kameng runs with KAMENG_CHANNELS=simulators (as `make run` does), the SDKs talk HTTP to the
simulators, and the simulators notify kameng over HTTP."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from kameng.settings import Settings
from kameng.web.app import create_app

pytestmark = pytest.mark.browser

PASSWORD = "kameng-test-2026"


@pytest.fixture(scope="module")
def channel_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """kameng with WeChat Pay and Alipay on their protocol simulators, served on a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    home = tmp_path_factory.mktemp("channel-site")
    settings = Settings.from_env(
        {
            "KAMENG_ENV": "test",
            "KAMENG_HOST": "127.0.0.1",
            "KAMENG_PORT": str(port),
            "KAMENG_DATABASE_URL": f"sqlite:///{home / 'kameng.db'}",
            "KAMENG_SECRET_KEY": "test-secret-" + "y" * 32,
            "KAMENG_EMBEDDED_WORKER": "0",
            "KAMENG_CHANNELS": "simulators",
        }
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the channel site did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def site_page(
    browser: Browser, channel_site: str, artifacts_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    context = browser.new_context(base_url=channel_site, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            page.screenshot(path=str(artifacts_dir / f"channels-{request.node.name}.png"))
        context.close()


def sign_up_and_buy(page: Page, channel: str) -> None:
    phone = "139" + f"{uuid.uuid4().int % 10**8:08d}"
    page.goto("/signup")
    page.fill("#identifier", phone)
    page.fill("#password", PASSWORD)
    page.fill("#display_name", "扫码用户")
    page.click("#signup-submit")
    expect(page.locator("#signed-in")).to_be_visible()
    page.goto("/checkout/monthly-pass")
    page.check(f"#channel-{channel}")
    page.click("#place-order")


def test_a_consumer_scans_the_wechat_code_pays_in_the_simulator_and_sees_the_order_paid(site_page: Page) -> None:
    page = site_page
    sign_up_and_buy(page, "wechat")
    page.wait_for_url(re.compile(r"/pay/channel/P\d{14}$"))
    expect(page.locator("h1")).to_have_text("微信支付")
    expect(page.locator("#pay-amount")).to_have_text("¥30.00")
    qr = page.locator("#wechat-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/png;base64,iVBORw0KGgo"))
    assert page.evaluate("document.getElementById('wechat-qr').naturalWidth") > 100  # a drawn image
    order_link = page.locator("#pay-back-to-order").get_attribute("href")
    assert order_link is not None
    page.click("#wechat-scan")  # the simulator's page plays the phone
    expect(page.locator("h1")).to_contain_text("微信支付（模拟）")
    expect(page.locator(".amount")).to_have_text("¥30.00")
    page.click("#wechat-pay")
    expect(page.locator("#wechat-paid")).to_be_visible()
    page.goto(order_link)
    expect(page.locator("#order-status")).to_have_text("已支付")
    expect(page.locator("#payments .payment .txn")).to_have_text(re.compile(r"^4200"))  # WeChat's transaction id


def test_a_consumer_pays_at_the_alipay_cashier_and_comes_back_to_the_order_paid(site_page: Page) -> None:
    page = site_page
    sign_up_and_buy(page, "alipay")
    page.wait_for_url(re.compile(r"/pay/channel/P\d{14}$"))
    expect(page.locator("#pay-amount")).to_have_text("¥30.00")
    page.click("#alipay-go")
    page.wait_for_url(re.compile(r"/gateway\.do\?"))  # Alipay's cashier, at the simulator
    expect(page.locator("h1")).to_contain_text("支付宝收银台（模拟）")
    expect(page.locator(".amount")).to_have_text("¥30.00")
    page.click("#alipay-pay")
    page.wait_for_url(re.compile(r"/orders/\d{14}$"))  # the return URL brings the payer back
    expect(page.locator("#order-status")).to_have_text("已支付")
    expect(page.locator("#payments .payment .txn")).to_have_text(re.compile(r"^2026"))
