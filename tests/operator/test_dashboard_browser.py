"""The operator's console in a real Chromium, on the live server's demo data: from the site's
navigation to the dashboard, an order search with its totals, a CSV downloaded and read, a bad
date answered beside the form, and the reports page's charts drawn."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kameng.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, identifier: str = "operator@kameng.test") -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#signed-in")).to_be_visible()


def test_an_operator_opens_the_console_searches_orders_and_downloads_a_csv(page: Page, tmp_path: Path) -> None:
    sign_in(page)
    page.click("#nav-console")
    page.wait_for_url("**/operator")
    expect(page.locator("h1")).to_have_text("运营后台")
    expect(page.locator("#op-section-catalog")).to_have_attribute("href", "/operator/catalog")
    page.click("#op-section-orders")
    expect(page.locator("#op-results")).to_be_visible()
    # The demo consumer 13800000001 has several orders: search by the phone.
    page.fill("input[name=q]", "13800000001")
    page.select_option("select[name=status]", "paid")
    page.click("#op-search-submit")
    rows = page.locator("#op-results tbody tr")
    expect(rows.first).to_contain_text("138****0001")
    count = int(page.locator("#total-count").inner_text())
    assert count == rows.count()
    assert count >= 1
    with page.expect_download() as started:
        page.click("#export-csv")
    target = tmp_path / "orders.csv"
    started.value.save_as(target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][0] == "订单号"
    assert len(table) - 1 == count
    assert {row[4] for row in table[1:]} == {"已支付"}
    assert all(row[8] == "138****0001" for row in table[1:])


def test_a_bad_date_is_answered_beside_the_search_form(page: Page) -> None:
    sign_in(page)
    page.goto("/operator/orders?date_from=2026-02-30")
    expect(page.locator("#op-error")).to_be_visible()
    expect(page.locator("#op-error")).to_have_attribute("data-field", "date_from")


def test_the_reports_page_draws_its_charts(page: Page) -> None:
    sign_in(page)
    page.goto("/operator/reports")
    expect(page.locator("svg.chart")).to_have_count(7)
    expect(page.locator("#ledger-result")).to_have_class("ok")
    box = page.locator("#chart-routes").bounding_box()
    assert box is not None
    assert box["width"] > 300
