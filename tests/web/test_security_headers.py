"""Every answer carries the security headers; the policy lets the pages work in a real browser."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from kameng.settings import Settings
from kameng.web.security import CONTENT_SECURITY_POLICY, SecurityHeaders
from tests.aftersales.test_api import consumer


def test_pages_api_and_errors_carry_the_headers(client: TestClient) -> None:
    for path in ("/", "/api/v1/products", "/no-such-page"):
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in answer.headers  # not production: may be plain HTTP


def test_the_api_documentation_may_load_its_viewer(client: TestClient) -> None:
    answer = client.get("/docs")
    assert "content-security-policy" not in answer.headers
    assert answer.headers["x-frame-options"] == "DENY"


async def _hello(scope: object, receive: object, send: object) -> None:
    send_ = send  # an ASGI app answering 200 with no headers of its own
    await send_({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send_({"type": "http.response.body", "body": b"hi"})  # type: ignore[operator]


def test_production_asks_for_https_from_now_on() -> None:
    client = TestClient(SecurityHeaders(_hello, production=True))  # type: ignore[arg-type]
    answer = client.get("/")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_the_proxy_setting_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"KAMENG_FORWARDED_ALLOW_IPS": "10.0.0.1, 10.0.0.2"})
    assert settings.forwarded_allow_ips == "10.0.0.1, 10.0.0.2"
    assert Settings.from_env({}).forwarded_allow_ips == ""


def test_python_dash_m_kameng_is_the_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "kameng", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


@pytest.mark.browser
def test_the_refund_form_still_refreshes_its_quote_under_the_policy(page: Page) -> None:
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security" in message.text else None)
    page.goto("/login")
    page.fill("#identifier", "13800000001")
    page.fill("#password", "kameng-demo-2026")
    page.click("#login-submit")
    page.wait_for_selector("#signed-in")
    found = ""
    page.goto("/orders")
    for href in page.eval_on_selector_all("a[href^='/orders/']", "links => links.map(a => a.getAttribute('href'))"):
        page.goto(href)
        if page.locator("a[href$='/refund']").count():
            found = href
            break
    assert found, "no order of the demo consumer offers a refund request"
    page.locator("a[href$='/refund']").first.click()
    current = page.eval_on_selector("#reason", "select => select.value")
    other = "mistaken_purchase" if current != "mistaken_purchase" else "changed_mind"
    page.select_option("#reason", other)  # the inline handler submits the form: a new quote
    page.wait_for_url(f"**reason={other}**")
    assert page.eval_on_selector("#reason", "select => select.value") == other
    assert violations == []


def test_a_bearer_api_call_gets_no_cookie_session_and_the_pages_keep_theirs(client: TestClient) -> None:
    auth = consumer(client)
    client.cookies.clear()
    api = client.get("/api/v1/orders", headers=auth)
    assert api.status_code == 200, api.text
    assert "set-cookie" not in api.headers
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-request-id"]
    # A page still gets its session (the CSRF token of its form lives there).
    page = client.get("/login")
    assert page.status_code == 200
    assert "kameng_session=" in page.headers.get("set-cookie", "")
