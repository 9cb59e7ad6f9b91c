"""The staff home and the review queue in a real Chromium, in Chinese and English: staff sign in
to their home, find a ticket, filter the queue and page through it; consumers still land on their
orders.

The live server's database is shared by the whole session, so each test finds its own tickets by
searching for them (an order number, a fresh consumer's phone) rather than counting the queue.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kameng.accounts import services as accounts
from kameng.container import Container
from kameng.domain.tickets import TicketStatus
from tests.aftersales.test_browser import AGENT, SUPERVISOR, buy_and_pay, fresh_phone, request_refund, sign_up
from tests.support.bulk_tickets import Spec, add_tickets
from tests.support.shop import buy

pytestmark = pytest.mark.browser

DEMO_PASSWORD = "kameng-demo-2026"


def staff_page(browser: Browser, base_url: str, identifier: str, locale: str = "zh-CN") -> Page:
    context = browser.new_context(base_url=base_url, locale=locale, timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Page, identifier: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", password)
    page.click("#login-submit")


def test_staff_sign_in_to_their_home_find_a_ticket_and_filter_the_queue_in_both_languages(
    page: Page, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    phone = sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    page.click("#activate")  # activating changes the refund: the order page asks first
    page.wait_for_url(f"**/orders/{order_no}/confirm/activate")
    page.click("#confirm-usage-submit")
    ticket_no = request_refund(page, order_no, "changed_mind", "review", "用了几天,不想继续了")

    agent = staff_page(browser, live_server, AGENT)
    sign_in(agent, AGENT)
    agent.wait_for_url(re.compile(r"/staff$"))  # their home, not the consumer's 我的订单
    expect(agent.locator("h1")).to_have_text("工作台")
    expect(agent.locator("#nav-orders")).to_have_count(0)
    expect(agent.locator("#sla-counts .sla-count")).to_have_count(4)
    expect(agent.locator("#count-on_time .badge")).to_have_text("未到期")
    assert int(agent.locator("#count-on_time").get_attribute("data-count") or "0") >= 1
    expect(agent.locator("#count-escalated")).to_have_count(0)  # the supervisors' lanes
    agent.screenshot(path=str(artifacts_dir / "staff-home.png"), full_page=True)

    # Found by its order number from the home's search box.
    agent.fill("#home-search input[name=q]", order_no)
    agent.click("#home-search-submit")
    agent.wait_for_url(re.compile(r"/staff/tickets\?q="))
    row = agent.locator(f".queue-row[data-ticket-no={ticket_no}]")
    expect(agent.locator(".queue-row")).to_have_count(1)
    expect(row.locator(".product")).to_have_text("视频会员年卡")
    expect(row.locator(".customer")).to_have_text(phone[:3] + "****" + phone[-4:])
    expect(row.locator(".reason")).to_have_text("不想要了(无理由)")
    rule = row.get_attribute("data-rule") or ""
    assert re.fullmatch(r"[SPR]\d", rule), rule  # the engine's deciding rule (P6 in a cooling-off window)
    # Its id with its plain name once the catalogs have one, else "规则 P6": never the bare id.
    expect(row.locator(".rule")).to_have_text(re.compile(rf"^(规则 {rule}|{rule} · .+)$"))
    expect(row.locator(".sla")).to_have_text("未到期")
    expect(row.locator(".age")).to_have_text(re.compile(r"^\d+ 分钟$"))
    expect(row.locator(".due")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} 23:59$"))
    expect(row.locator(".amount")).to_have_text(re.compile(r"^¥\d+\.\d{2}$"))

    # By the consumer's phone, then narrowed by filters that keep it and one that does not.
    agent.fill("#filter-q", phone)
    agent.select_option("#filter-reason", "changed_mind")
    agent.select_option("#filter-sla", "on_time")
    agent.click("#queue-apply")
    expect(row).to_be_visible()
    expect(agent.locator("#filter-sla")).to_have_value("on_time")  # the form keeps the filters
    agent.select_option("#filter-sla", "paused")
    agent.click("#queue-apply")
    expect(agent.locator("#queue-empty")).to_be_visible()
    agent.select_option("#filter-sla", "")
    agent.select_option("#filter-rule", rule)
    agent.click("#queue-apply")
    expect(row).to_be_visible()
    other = "P9" if rule != "P9" else "P8"
    agent.select_option("#filter-rule", other)
    agent.click("#queue-apply")
    expect(agent.locator("#queue-empty")).to_be_visible()

    # A filter typed by hand that is not on the list: said beside the form, the rest kept.
    answer = agent.goto(f"/staff/tickets?q={phone}&rule=PP9")
    assert answer is not None
    assert answer.status == 422
    expect(agent.locator("#queue-error")).to_have_text("规则编号由一个字母和数字组成,例如 P9")
    expect(agent.locator("#filter-q")).to_have_value(phone)

    # In English.
    agent.goto(f"/staff/tickets?q={order_no}&lang=en")
    expect(agent.locator("#queue th").nth(5)).to_have_text("Deciding rule")
    expect(row.locator(".sla")).to_have_text("On time")
    expect(row.locator(".reason")).to_have_text("Changed my mind")
    expect(row.locator(".product")).to_have_text("Video membership, annual card")
    expect(agent.locator("#queue-apply")).to_have_text("Apply")
    agent.screenshot(path=str(artifacts_dir / "staff-queue-en.png"), full_page=True)
    row.locator("a").click()
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", "in_review")
    agent.goto("/staff")
    expect(agent.locator("h1")).to_have_text("Staff home")
    expect(agent.locator("#count-overdue .badge")).to_have_text("Overdue")
    expect(agent.locator("#nav-staff-home")).to_have_text("Staff home")
    agent.context.close()

    # A supervisor's home also counts the escalations and appeals, in Chinese by default.
    boss = staff_page(browser, live_server, SUPERVISOR)
    sign_in(boss, SUPERVISOR)
    boss.wait_for_url(re.compile(r"/staff$"))
    expect(boss.locator("#count-escalated")).to_be_visible()
    expect(boss.locator("#count-appeals")).to_contain_text("申诉")
    boss.context.close()


def test_the_queue_pages_through_a_consumers_many_tickets_and_back(
    browser: Browser, live_server: str, live_container: Container, artifacts_dir: Path
) -> None:
    phone, now = fresh_phone(), datetime.now(UTC)
    user = accounts.sign_up(live_container.uow(), phone, "kameng-test-2026", now)
    placed = buy(live_container.uow(), live_container.payments, user.id, "monthly-pass", now)
    # Decided tickets: they are found with "all" and never push the open queue's rows away.
    made = add_tickets(live_container.uow(), placed.order_no, [Spec(TicketStatus.REFUNDED, due_in=None)] * 30, now)

    agent = staff_page(browser, live_server, AGENT)
    sign_in(agent, AGENT)
    agent.wait_for_url(re.compile(r"/staff$"))
    agent.goto(f"/staff/tickets?status=all&q={phone}")
    expect(agent.locator("#filter-status")).to_have_value("all")
    rows = agent.locator(".queue-row")
    expect(rows).to_have_count(25)
    expect(agent.locator("#queue-prev")).to_have_count(0)
    first = [rows.nth(i).get_attribute("data-ticket-no") for i in range(25)]
    assert first == made[::-1][:25]  # decided tickets: the newest first
    agent.click("#queue-next")
    expect(rows).to_have_count(5)
    expect(agent.locator("#queue-next")).to_have_count(0)
    assert [rows.nth(i).get_attribute("data-ticket-no") for i in range(5)] == made[::-1][25:]
    expect(agent.locator("#filter-q")).to_have_value(phone)  # the filters travel with the cursor
    agent.screenshot(path=str(artifacts_dir / "staff-queue-page-2.png"), full_page=True)
    agent.click("#queue-prev")
    expect(rows).to_have_count(25)
    assert [rows.nth(i).get_attribute("data-ticket-no") for i in range(25)] == first
    # A cursor someone edited is refused plainly, not a server error.
    answer = agent.goto(f"/staff/tickets?status=all&q={phone}&cursor=broken")
    assert answer is not None
    assert answer.status == 422
    expect(agent.locator("#queue-error")).to_have_text("这个翻页链接已失效,请从第一页重新开始")
    agent.context.close()


def test_consumers_still_land_on_their_orders_and_an_asked_for_page_wins(page: Page) -> None:
    phone = sign_up(page)
    page.click("#logout")
    sign_in(page, phone, "kameng-test-2026")
    page.wait_for_url(re.compile(r"/orders$"))
    expect(page.locator("#nav-orders")).to_be_visible()
    expect(page.locator("#nav-staff-home")).to_have_count(0)
    page.click("#logout")
    # Staff asked to sign in on the way to a page go to that page, not to their home.
    page.goto("/login?next=/staff/orders")
    page.fill("#identifier", AGENT)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/staff/orders$"))
