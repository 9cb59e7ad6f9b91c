"""Error pages in a real Chromium, in both languages: an unknown address, a wrong method, a bug
(on a server of its own with a route that fails), and a refund request sent after the session
expired, which comes back filled in after signing in again."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from kameng.platform.i18n import Lang, translate
from kameng.settings import Settings
from kameng.web.app import create_app
from tests.aftersales.test_browser import PASSWORD, activate, buy_and_pay, sign_up
from tests.support.rate_limits import GENEROUS_RATE_LIMITS

pytestmark = pytest.mark.browser

DESCRIPTION = {
    "zh": "画面一直模糊,和介绍的 4K 不一样。\n第二段:客服说会处理,但没有回音。",
    "en": "The picture is blurred, not the 4K the page promised.\nSecond paragraph: support never answered.",
}


def test_an_unknown_address_is_a_page_with_a_way_home_in_both_languages(page: Page) -> None:
    answer = page.goto("/no/such/page")
    assert answer is not None
    assert answer.status == 404
    expect(page.locator("#error h1")).to_have_text("页面不存在")
    expect(page.locator("#error-detail")).to_be_visible()
    expect(page.locator("#error-login")).to_be_visible()
    page.click("#error-home")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#error")).to_have_count(0)

    page.goto("/no/such/page?lang=en")
    expect(page.locator("#error h1")).to_have_text("Page not found")
    expect(page.locator("#error-home")).to_have_text("Back to the home page")


def test_a_wrong_method_is_a_page_too(page: Page) -> None:
    answer = page.goto("/logout")
    assert answer is not None
    assert answer.status == 405
    expect(page.locator("#error h1")).to_have_text("该地址不支持此操作")
    page.goto("/logout?lang=en")
    expect(page.locator("#error h1")).to_have_text("This address does not take that action")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refund_request_sent_after_the_session_expired_comes_back_filled_in_after_signing_in(
    page: Page, lang: Lang
) -> None:
    phone = sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    page.goto(f"/orders/{order_no}")
    activate(page)  # in use: a person reviews it (an unused pass is one click, with no form)
    page.goto(f"/orders/{order_no}/refund?reason=not_as_described&lang={lang}")
    page.fill("#description", DESCRIPTION[lang])
    page.context.clear_cookies(name="kameng_session")  # the session expired while they typed

    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/login\?next="))
    expect(page.locator("#notice")).to_have_text(translate("notice.login_again_kept", lang))
    page.fill("#identifier", phone)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")

    page.wait_for_url(re.compile(rf"/orders/{order_no}/refund$"))
    expect(page.locator("#notice")).to_have_text(translate("notice.draft_restored", lang))
    expect(page.locator("#description")).to_have_value(DESCRIPTION[lang])
    expect(page.locator("#reason")).to_have_value("not_as_described")
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    expect(page.locator("#ticket-description p")).to_have_text(DESCRIPTION[lang])


# --------------------------------------------------------------------------------------------
# A bug, on a server of its own


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app, with a route that raises, served by uvicorn over real HTTP."""
    home: Path = tmp_path_factory.mktemp("failing-server")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    settings = Settings.from_env(
        {
            "KAMENG_ENV": "test",
            "KAMENG_DATABASE_URL": f"sqlite:///{home / 'kameng.db'}",
            "KAMENG_SECRET_KEY": "failing-secret-" + "x" * 32,
            "KAMENG_EMBEDDED_WORKER": "0",
            **GENEROUS_RATE_LIMITS,
        }
    )
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("a bug nobody caught")

    app.add_api_route("/test-boom", boom, methods=["GET"])
    app.add_api_route("/api/v1/test-boom", boom, methods=["GET"])
    # uvicorn logs the exception again after our handler answered; that copy is not wanted here.
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "the failing server stopped while starting"
        assert time.monotonic() < deadline, "the failing server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_bug_answers_a_500_page_with_its_reference_over_real_http(browser: Browser, failing_server: str) -> None:
    context = browser.new_context(base_url=failing_server, locale="zh-CN")
    page = context.new_page()
    try:
        answer = page.goto("/test-boom")
        assert answer is not None
        assert answer.status == 500
        reference = answer.headers["x-request-id"]
        expect(page.locator("#error h1")).to_have_text("系统出了点问题")
        expect(page.locator("#request-id")).to_have_text(reference)
        expect(page.locator("#error-detail")).to_contain_text(reference)
        expect(page.locator("#error-retry")).to_have_attribute("href", "/test-boom")

        page.goto("/test-boom?lang=en")
        expect(page.locator("#error h1")).to_have_text("Something went wrong on our side")
        expect(page.locator("#error-retry")).to_have_text("Try again")
    finally:
        context.close()
    # And the API answers JSON on the same connection-level footing: a body, never a dropped socket.
    api = httpx.get(f"{failing_server}/api/v1/test-boom", timeout=10)
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "internal_error"
