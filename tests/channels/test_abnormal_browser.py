"""In Chromium, against kameng served with KAMENG_CHANNELS=simulators (as `make run`): a WeChat refund
goes ABNORMAL (told to the simulator over its HTTP controls; the simulator's own REFUND.ABNORMAL
reaches kameng over HTTP), a staff member sends it on to the consumer's bank card on
/staff/abnormal-refunds, and WeChat's REFUND.SUCCESS settles it."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from kameng.container import Container
from kameng.demo import DEMO_PASSWORD
from kameng.payouts.models import RefundRow
from kameng.settings import Settings
from kameng.web.app import create_app
from kameng.worker import run_tick

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Site:
    def __init__(self, base: str, app: FastAPI, wechat_sim: str) -> None:
        self.base, self.app, self.wechat_sim = base, app, wechat_sim

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    def tick(self) -> None:
        run_tick(self.container, self.container.now())

    def control(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.wechat_sim}/__sim__/{path}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port, wechat_port = _free_port(), _free_port()
    home = tmp_path_factory.mktemp("abnormal-site")
    settings = Settings.from_env(
        {
            "KAMENG_ENV": "test",
            "KAMENG_HOST": "127.0.0.1",
            "KAMENG_PORT": str(port),
            "KAMENG_DATABASE_URL": f"sqlite:///{home / 'kameng.db'}",
            "KAMENG_SECRET_KEY": "test-secret-" + "z" * 32,
            "KAMENG_EMBEDDED_WORKER": "0",
            "KAMENG_CHANNELS": "simulators",
            "KAMENG_WECHATPAY_SIMULATOR_PORT": str(wechat_port),
        }
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the site did not start")
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}", app, f"http://127.0.0.1:{wechat_port}")
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def staff_page(browser: Browser, site: Site, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(base_url=site.base, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            page.screenshot(path=str(artifacts_dir / f"channels-{request.node.name}.png"))
        context.close()


def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + 15
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited in vain for {what}")
        time.sleep(0.1)


def test_staff_send_an_abnormal_wechat_refund_to_the_consumers_card(site: Site, staff_page: Page) -> None:
    api = httpx.Client(base_url=site.base + "/api/v1", timeout=30)
    phone = "138" + f"{uuid.uuid4().int % 10**8:08d}"
    token = api.post("/auth/signup", json={"identifier": phone, "password": "long-enough-1"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    order = api.post(
        "/orders",
        json={"product": "monthly-pass", "channel": "wechat"},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    ).json()
    checkout = site.container.checkouts["wechat"].checkout(
        order["out_trade_no"], "月度会员", order["amount_fen"], site.container.now()
    )
    assert checkout.scan_url is not None
    token_query = checkout.scan_url.split("?", 1)[1]
    httpx.post(
        checkout.scan_url.split("?", 1)[0],
        content=token_query,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    wait_for(lambda: api.get(f"/orders/{order['order_no']}", headers=auth).json()["status"] == "paid", "the payment")

    site.control("behaviour", {"refund_states": ["PROCESSING", "ABNORMAL"]})  # the consumer's card was closed
    ticket = api.post(
        f"/orders/{order['order_no']}/refund-requests",
        json={"reason": "changed_mind", "description": "不想要了"},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    ).json()
    site.tick()  # sent: PROCESSING
    with site.container.uow() as uow:
        out_refund_no = uow.session.scalar(
            select(RefundRow.out_refund_no).where(RefundRow.out_trade_no == order["out_trade_no"])
        )
    assert out_refund_no is not None
    site.control(f"refunds/{out_refund_no}/advance", {})  # ABNORMAL: WeChat notifies kameng by itself

    def told_abnormal() -> bool:  # by REFUND.ABNORMAL over HTTP: no poll ran since
        with site.container.uow() as uow:
            status = uow.session.scalar(
                select(RefundRow.channel_status).where(RefundRow.out_refund_no == out_refund_no)
            )
        return status == "ABNORMAL"

    wait_for(told_abnormal, "REFUND.ABNORMAL")

    page = staff_page
    page.goto("/login?next=/staff/abnormal-refunds")
    page.fill("#identifier", "agent@kameng.test")
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/staff/abnormal-refunds")
    row = page.locator(f'tr.abnormal-refund[data-refund-no="{out_refund_no}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("¥30.00")
    row.locator("select[name=bank_type]").select_option("ICBC_DEBIT")
    row.locator("input[name=account]").fill("6222 0202 0011 22")  # 14 digits, and a mistake below
    row.locator("input[name=name]").fill("张三1")
    row.locator("button.abnormal-submit").click()
    expect(page.locator("#abnormal-error")).to_contain_text("请填写持卡人姓名")
    row.locator("input[name=account]").fill("6222020200112233445")
    row.locator("input[name=name]").fill("张三")
    row.locator("select[name=bank_type]").select_option("ICBC_DEBIT")
    row.locator("button.abnormal-submit").click()
    expect(page.locator("#abnormal-sent")).to_contain_text(out_refund_no)
    expect(row.locator(".decision")).to_contain_text("尾号 3445")

    site.tick()  # the poll: SUCCESS (and WeChat's REFUND.SUCCESS reaches kameng too)
    wait_for(
        lambda: api.get(f"/tickets/{ticket['ticket_no']}", headers=auth).json()["status"] == "refunded",
        "the refund",
    )
    page.reload()
    expect(row).to_have_count(0)
