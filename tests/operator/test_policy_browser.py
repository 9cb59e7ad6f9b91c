"""The policy editor in a real Chromium: an operator drafts a stricter fee, sees its simulated cost
and the orders that change, publishes it, and the product page shows the new terms."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

API = "/api/v1"
DEMO_PASSWORD = "kameng-demo-2026"
# The course pass (300.00, 10 sessions, prorated by benefit): no other browser test reads its terms,
# and the live server (shared by the session) keeps what this test publishes.
PRODUCT = "course-pack"
_phones = itertools.count(13600000700)


def _history(http: httpx.Client) -> str:
    """A consumer who bought the course pass, used one session and asked for a refund: under the
    current policy (no fee) 270.00 after review; under a 30 % fee, 189.00."""
    phone = str(next(_phones))
    signed = http.post(f"{API}/auth/signup", json={"identifier": phone, "password": "long-enough-1"})
    assert signed.status_code == 201, signed.text
    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    order = http.post(
        f"{API}/orders", json={"product": PRODUCT, "channel": "alipay"}, headers={**auth, "Idempotency-Key": phone}
    )
    assert order.status_code == 201, order.text
    order_no = order.json()["order_no"]
    paid = http.post(f"{API}/payments/simulator/{order.json()['out_trade_no']}/pay")
    assert paid.json()["result"] == "paid", paid.text
    used = http.post(
        f"{API}/orders/{order_no}/events", json={"type": "benefit_used", "benefit": "course"}, headers=auth
    )
    assert used.status_code == 201, used.text
    asked = http.post(
        f"{API}/orders/{order_no}/refund-requests",
        json={"reason": "changed_mind", "description": "课程不适合"},
        headers={**auth, "Idempotency-Key": f"refund-{phone}"},
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["quoted_fen"] == 27000, asked.text
    return str(order_no)


def test_an_operator_drafts_a_stricter_fee_simulates_it_publishes_it_and_the_product_page_shows_it(
    page: Page, http: httpx.Client
) -> None:
    order_no = _history(http)
    page.goto("/login")
    page.fill("#identifier", "operator@kameng.test")
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#signed-in")).to_be_visible()

    page.goto("/operator/policies")
    page.click(f'tr.policy[data-slug="{PRODUCT}"] a.edit')
    page.wait_for_url(re.compile(rf"/operator/policies/{PRODUCT}$"))
    expect(page.locator("#statutory-rules li")).to_have_count(6)  # S1–S5 and §3a, fixed text
    assert page.locator("#statutory input, #statutory select").count() == 0

    # A mistake first: told beside its option, what was typed kept.
    page.fill("#opt-fee_percent", "130")
    page.click("#preview")
    expect(page.locator("#error-fee_percent")).to_contain_text("0 到 100")
    expect(page.locator("#opt-fee_percent")).to_have_value("130")

    page.fill("#opt-fee_percent", "30")
    page.fill("#opt-fee_max", "")
    page.fill("#since", "2020-01-01")
    page.click("#simulate")
    expect(page.locator("#draft-terms")).to_contain_text("按剩余金额收取 30% 手续费。")
    figures = page.locator("#sim-figures")
    expect(figures).to_be_visible()
    changed = page.locator(f'tr.sim-change[data-order-no="{order_no}"]')
    expect(changed).to_contain_text("270.00")
    expect(changed).to_contain_text("189.00")
    expect(changed).to_contain_text("-81.00")
    drafted_terms = page.locator("#draft-terms li").all_inner_texts()

    page.click("#publish")
    page.wait_for_url(re.compile(rf"/operator/policies/{PRODUCT}\?published=\d+$"))
    expect(page.locator("#published")).to_be_visible()
    expect(page.locator("#versions tr.version").first).to_contain_text("30")

    page.goto(f"/products/{PRODUCT}")
    expect(page.locator("#refund-terms")).to_contain_text("按剩余金额收取 30% 手续费。")
    assert page.locator("#refund-terms li").all_inner_texts() == drafted_terms  # the preview, word for word
