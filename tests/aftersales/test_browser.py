"""After-sales in a real Chromium: ask for a refund from the order page, follow the ticket, decide
it as staff, and see the money arrive.

Each test signs up its own consumers; staff are the demo accounts. The worker tick is run by the
``tick`` fixture (tests/support/live_worker.py), ahead of the clock when a refund poll must be due, rather
than waiting for the server's own loop.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.container import Container

pytestmark = pytest.mark.browser

PASSWORD = "kameng-test-2026"
DEMO_PASSWORD = "kameng-demo-2026"
AGENT = "agent@kameng.test"
SUPERVISOR = "supervisor@kameng.test"
PAST_POLL = timedelta(minutes=2)  # past the refund poll's first back-off (1 minute)
_numbers = itertools.count()

Tick = Callable[..., dict[str, int]]


def fresh_phone() -> str:
    return "137" + f"{(uuid.uuid4().int + next(_numbers)) % 10**8:08d}"


def sign_up(page: Page) -> str:
    phone = fresh_phone()
    page.goto("/signup")
    page.fill("#identifier", phone)
    page.fill("#password", PASSWORD)
    page.fill("#display_name", "售后测试")
    page.click("#signup-submit")
    expect(page.locator("#signed-in")).to_be_visible()
    return phone


def log_in(page: Page, identifier: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page.locator("#signed-in")).to_be_visible()


def buy_and_pay(page: Page, slug: str) -> str:
    page.goto(f"/checkout/{slug}")
    page.check("#channel-alipay")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/pay/sim/P\d{14}$"))
    page.click("#pay-confirm")
    page.wait_for_url(re.compile(r"/orders/\d{14}$"))
    expect(page.locator("#order-status")).to_have_text("已支付")
    return page.url.rsplit("/", 1)[1]


def activate(page: Page) -> None:
    """Activate from the order page, through the confirmation of what it does to the refund."""
    page.click("#activate")
    page.wait_for_url(re.compile(r"/confirm/activate$"))
    page.click("#confirm-usage-submit")
    expect(page.locator("#membership-status")).to_have_text("生效中")


def request_refund(page: Page, order_no: str, reason: str, decision: str, description: str = "") -> str:
    page.goto(f"/orders/{order_no}")
    page.click("#request-refund")
    page.wait_for_url(re.compile(rf"/orders/{order_no}/refund"))
    page.select_option("#reason", reason)
    page.wait_for_url(re.compile(rf"reason={reason}"))
    expect(page.locator("#quote")).to_have_attribute("data-decision", decision)
    expect(page.locator("#quote-lines .quote-line").first).to_be_visible()
    if description:
        page.fill("#description", description)
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    return page.url.rsplit("/", 1)[1]


def as_staff(browser: Browser, base_url: str, identifier: str) -> Page:
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, identifier)
    return page


def settle(page: Page, ticket_no: str, tick: Tick) -> None:
    """Send the refund, poll it once the back-off has passed, then deliver the messages that
    queued; the page shows the money arrived."""
    tick()
    tick(PAST_POLL)
    tick(PAST_POLL)
    page.goto(f"/tickets/{ticket_no}")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "refunded")


def test_a_non_activated_pass_is_refunded_in_one_click_and_the_membership_closes(
    page: Page, tick: Tick, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "quarterly-pass")
    expect(page.locator("#membership-status")).to_have_text("待激活")

    page.click("#request-refund")
    # The quote comes first, for the default reason, with its rule and lines.
    expect(page.locator("#quote")).to_have_attribute("data-decision", "auto_approve")
    expect(page.locator("#quote-rules")).to_contain_text("P1")
    expect(page.locator("#reason option")).to_have_count(8)
    page.select_option("#reason", "not_delivered")
    page.wait_for_url(re.compile(r"reason=not_delivered"))
    page.select_option("#reason", "changed_mind")
    page.wait_for_url(re.compile(r"reason=changed_mind"))
    expect(page.locator("#quote-decision")).to_have_text("一键退款,无需审核")
    page.screenshot(path=str(artifacts_dir / "aftersales-request.png"), full_page=True)
    # One click: the amount and the dates, and a button; nothing to describe or upload.
    expect(page.locator("#description")).to_have_count(0)
    expect(page.locator("#one-click-summary")).to_contain_text("将退还 ¥60.00,原路退回支付宝")
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    ticket_no = page.url.rsplit("/", 1)[1]
    expect(page.locator("#ticket")).to_have_attribute("data-status", re.compile("auto_approved|refunding|refunded"))
    expect(page.locator("#ticket-timeline .timeline-row[data-action=auto_approve]")).to_be_visible()

    expect(page.locator("#live-note")).to_be_visible()
    tick()
    tick(PAST_POLL)
    tick(PAST_POLL)
    # No reload from the test: the page refreshes itself while the money is on its way.
    expect(page.locator("#ticket")).to_have_attribute("data-status", "refunded")
    expect(page.locator("#ticket-status")).to_have_text("退款已到账")
    expect(page.locator("#progress .step.done")).to_have_count(4)
    expect(page.locator("#receipt")).to_contain_text("退款凭证")
    expect(page.locator("#receipt-ref")).not_to_be_empty()
    expect(page.locator("#live-note")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "aftersales-refunded.png"), full_page=True)

    page.goto(f"/orders/{order_no}")
    expect(page.locator("#membership-status")).to_have_text("已关闭")
    expect(page.locator("#order-status")).to_have_text("已退款")
    expect(page.locator("#request-refund")).to_have_count(0)

    # 我的售后 lists it; the messages tell the story, and the badge goes once they are read.
    page.goto("/tickets")
    expect(page.locator(f".ticket[data-ticket-no={ticket_no}] .ticket-status")).to_have_text("退款已到账")
    expect(page.locator("#unread-count")).to_be_visible()
    page.click("#nav-messages")
    expect(page.locator("#messages .message[data-kind=arrived]")).to_be_visible()
    page.goto("/tickets")
    expect(page.locator("#unread-count")).to_have_count(0)

    # In English too.
    page.goto(f"/tickets/{ticket_no}?lang=en")
    expect(page.locator("#ticket-status")).to_have_text("Refunded")
    expect(page.locator("#receipt h2")).to_have_text("Refund receipt")

    # Another consumer cannot see it, nor its files.
    other = browser.new_context(base_url=live_server)
    stranger = other.new_page()
    sign_up(stranger)
    assert stranger.goto(f"/tickets/{ticket_no}").status == 404  # type: ignore[union-attr]
    other.close()


def test_a_partly_used_annual_card_goes_through_review_needs_info_reply_approval_and_payout(
    page: Page, tick: Tick, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    activate(page)
    ticket_no = request_refund(page, order_no, "changed_mind", "review", "用了几天,不想继续了")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "in_review")
    expect(page.locator("#ticket-due")).to_be_visible()

    agent = as_staff(browser, live_server, AGENT)
    agent.click("#nav-staff-tickets")
    expect(agent.locator(f".queue-row[data-ticket-no={ticket_no}]")).to_be_visible()
    agent.click(f".queue-row[data-ticket-no={ticket_no}] a")
    expect(agent.locator("#usage-evidence .event[data-type=activated]")).to_be_visible()
    expect(agent.locator("#ticket-description")).to_have_text("用了几天,不想继续了")
    # A service's refusal is shown beside the field.
    agent.fill("#ask-info-comment", "")
    agent.click("#ask-info")
    expect(agent.locator("#ask-info-error")).to_be_visible()
    agent.fill("#ask-info-comment", "请提供使用记录截图或说明")
    agent.click("#ask-info")
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", "needs_info")

    page.reload()
    expect(page.locator("#ticket")).to_have_attribute("data-status", "needs_info")
    expect(page.locator("#clock-paused")).to_be_visible()
    page.fill("#reply-comment", "附上说明")
    page.set_input_files(
        "#reply-evidence", files=[FilePayload(name="说明.txt", mimeType="text/plain", buffer="只用了两天。".encode())]
    )
    page.click("#send-reply")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "in_review")
    link = page.locator("#evidence-files .evidence-file a").first
    expect(link).to_have_text("说明.txt")
    href = link.get_attribute("href")
    assert href
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.body() == "只用了两天。".encode()

    agent.reload()
    expect(agent.locator("#evidence-files .evidence-file")).to_have_count(1)
    quoted = agent.locator("#approve-amount").input_value()
    # A different amount needs a reason.
    agent.fill("#approve-amount", "1.00")
    agent.click("#approve")
    expect(agent.locator("#reason-error")).to_be_visible()
    agent.fill("#approve-amount", quoted)
    agent.click("#approve")
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", re.compile("refunding|refunded"))
    agent.screenshot(path=str(artifacts_dir / "aftersales-staff-ticket.png"), full_page=True)
    agent.context.close()

    settle(page, ticket_no, tick)
    expect(page.locator("#receipt-amount")).to_have_text(f"¥{quoted}")
    expect(page.locator("#ticket-timeline .timeline-row[data-action=ask_info] .actor")).to_have_text("客服")
    page.screenshot(path=str(artifacts_dir / "aftersales-review-refunded.png"), full_page=True)


def test_a_rejection_is_appealed_and_decided_by_a_supervisor(
    page: Page, tick: Tick, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    activate(page)
    ticket_no = request_refund(page, order_no, "not_as_described", "review", "和描述不一样")

    agent = as_staff(browser, live_server, AGENT)
    agent.goto(f"/staff/tickets/{ticket_no}")
    agent.select_option("#reject-rule", "S4")
    agent.fill("#reject-comment", "会员权益与商品描述一致,未发现不符。")
    agent.click("#reject")
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", "rejected")
    # Agents do not see the supervisors' lanes.
    assert agent.goto("/staff/appeals").status == 404  # type: ignore[union-attr]
    agent.context.close()

    page.reload()
    expect(page.locator("#ticket-reject-rule")).to_contain_text("S4")
    expect(page.locator("#appeal-until")).to_be_visible()
    page.fill("#appeal-comment", "截图显示部分权益无法使用")
    page.click("#send-appeal")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "appealed")

    supervisor = as_staff(browser, live_server, SUPERVISOR)
    supervisor.goto("/staff/appeals")
    expect(supervisor.locator(f".queue-row[data-ticket-no={ticket_no}]")).to_be_visible()
    supervisor.click(f".queue-row[data-ticket-no={ticket_no}] a")
    expect(supervisor.locator("#staff-decide h2")).to_have_text("处理申诉")
    supervisor.click("#approve")
    expect(supervisor.locator("#staff-ticket")).to_have_attribute("data-status", re.compile("refunding|refunded"))
    supervisor.context.close()

    settle(page, ticket_no, tick)
    expect(page.locator("#ticket-timeline .timeline-row[data-action=appeal]")).to_be_visible()
    expect(page.locator("#ticket-timeline .timeline-row[data-action=approve] .actor")).to_have_text("主管")
    page.screenshot(path=str(artifacts_dir / "aftersales-appeal-refunded.png"), full_page=True)


def test_a_double_submit_makes_one_ticket(page: Page, live_server: str) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    page.goto(f"/orders/{order_no}/refund")
    form = {
        "csrf": page.locator("input[name=csrf]").first.input_value(),
        "idempotency_key": page.locator("input[name=idempotency_key]").input_value(),
        "reason": "changed_mind",
        "description": "",
    }
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=live_server, cookies=cookies) as client:
        first = client.post(f"/orders/{order_no}/refund", data=form)
        second = client.post(f"/orders/{order_no}/refund", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    page.goto("/tickets")
    expect(page.locator(".ticket")).to_have_count(1)


def test_a_refund_the_channel_refuses_goes_to_the_balance_only_with_consent(
    page: Page, tick: Tick, live_container: Container, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    refunds = live_container.refunds
    assert isinstance(refunds, SimulatorRefunds)
    refunds.set_behavior(f"P{order_no}", "fail")  # "the card was cancelled"
    ticket_no = request_refund(page, order_no, "changed_mind", "auto_approve")
    tick()
    page.goto(f"/tickets/{ticket_no}")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "refund_failed")
    expect(page.locator("#refund-failed-note")).to_be_visible()
    expect(page.locator("#refunds .refund[data-status=failed]")).to_contain_text("原卡已注销")
    # Without the box ticked nothing moves: the browser holds the form, and the server refuses it too.
    page.click("#refund-to-balance")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "refund_failed")
    page.evaluate("document.querySelector('#balance-consent').removeAttribute('required')")
    page.click("#refund-to-balance")
    expect(page.locator("#consent-error")).to_have_text("请先勾选同意")
    page.check("#balance-consent")
    page.click("#refund-to-balance")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "refunded")
    expect(page.locator("#receipt")).to_contain_text("余额")
    page.screenshot(path=str(artifacts_dir / "aftersales-balance.png"), full_page=True)


def test_a_file_that_is_not_evidence_is_refused_beside_the_field_and_the_evidence_file_downloads(page: Page) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    page.goto(f"/orders/{order_no}")
    activate(page)  # in use, so that a person reviews it (RULES.md §3a) and the form takes files
    page.goto(f"/orders/{order_no}/refund?reason=not_as_described&lang=en")
    expect(page.locator("#reason option:checked")).to_have_text("Not as described")
    page.set_input_files(
        "#evidence", files=[FilePayload(name="photo.png", mimeType="image/png", buffer=b"MZ\x90\x00\x03\x00\x00\x00")]
    )
    page.click("#submit-refund")
    expect(page.locator("#evidence-error")).to_be_visible()
    expect(page.locator("#quote")).to_be_visible()
    page.set_input_files(
        "#evidence", files=[FilePayload(name="note.txt", mimeType="text/plain", buffer=b"The pass never worked.")]
    )
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    expect(page.locator("#evidence-files .evidence-file")).to_have_count(1)
    # Rendering a PDF takes seconds on a loaded machine: wait for it longer than for a page.
    pdf = page.request.get(page.locator("#evidence-pdf").get_attribute("href") or "", timeout=60_000)
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF-")
    data = page.request.get(page.locator("#evidence-json").get_attribute("href") or "")
    assert data.status == 200
    assert page.url.rsplit("/", 1)[1] in data.text()


def test_a_ticket_past_its_due_date_is_escalated_to_the_supervisors_lane(
    page: Page, tick: Tick, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    activate(page)
    ticket_no = request_refund(page, order_no, "changed_mind", "review")
    shown = page.locator("#ticket-due").inner_text().strip()[:16] + " +0800"  # Beijing time on the page
    due_utc = datetime.strptime(shown, "%Y-%m-%d %H:%M %z").astimezone(UTC)
    tick(due_utc - datetime.now(UTC) + timedelta(hours=1))  # past due, well before automatic approval

    supervisor = as_staff(browser, live_server, SUPERVISOR)
    supervisor.click("#nav-staff-tickets")
    supervisor.click("#lane-escalated")
    row = supervisor.locator(f".queue-row[data-ticket-no={ticket_no}]")
    expect(row.locator(".escalated")).to_be_visible()
    supervisor.screenshot(path=str(artifacts_dir / "aftersales-escalations.png"), full_page=True)
    supervisor.click(f".queue-row[data-ticket-no={ticket_no}] a")
    expect(supervisor.locator("#ticket-timeline .timeline-row[data-action=escalate] .actor")).to_have_text("系统")
    supervisor.context.close()
