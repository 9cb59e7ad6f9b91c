"""Rule ids are never shown alone, in a real Chromium and in both languages: the quote, the
consumer's and the staff's ticket pages and the staff's reject dropdown name each rule by its
plain name; and RULES.md §3a shows as the deciding rule "after comparing with" the other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kameng.domain.aftersales import CITABLE_RULES
from kameng.platform.i18n import rule_label

from .test_browser import AGENT, as_staff, buy_and_pay, request_refund, sign_up

pytestmark = pytest.mark.browser


def test_the_quote_says_which_rule_decided_after_comparing_the_reason_given(page: Page) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")  # never activated
    page.goto(f"/orders/{order_no}/refund?reason=platform_fault&lang=zh")
    expect(page.locator("#quote")).to_have_attribute("data-decision", "auto_approve")
    expect(page.locator("#quote-rules")).to_have_text("P1 未激活全额退(与「S3 平台违约全额退」比较后采用)")
    expect(page.locator("#quote-explanation")).to_contain_text("您选择的原因是「平台故障」")
    page.goto(f"/orders/{order_no}/refund?reason=platform_fault&lang=en")
    expect(page.locator("#quote-rules")).to_have_text(
        "P1 (not activated: full refund), applied after comparing with S3 (platform fault: full refund)"
    )
    expect(page.locator("#quote-explanation")).to_contain_text("You chose “Platform fault”")
    page.goto(f"/orders/{order_no}?lang=zh")
    expect(page.locator("#quote-rules")).to_have_text("P1 未激活全额退")


def test_ticket_pages_and_the_reject_dropdown_name_every_rule(
    page: Page, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    page.click("#activate")
    page.wait_for_url(re.compile(r"/confirm/activate$"))  # activating changes the refund: asked first
    page.click("#confirm-usage-submit")
    ticket_no = request_refund(page, order_no, "not_as_described", "review", "清晰度和描述不一样")
    # Activated and unused in the window: S4 and P6 both review the full price, S4 decides.
    expect(page.locator("#ticket-rules")).to_have_text("S4 与描述不符全额退(与「P6 冷静期未使用全额退」比较后采用)")
    summary = "服务与描述不符或权益缺失的,由专人核实后全额退款,不收手续费。"
    expect(page.locator("#ticket-rules")).to_have_attribute("title", summary)
    page.goto(f"/tickets/{ticket_no}?lang=en")
    expect(page.locator("#ticket-rules")).to_have_text(
        "S4 (not as described: full refund), applied after comparing with P6 (cooling-off, unused: full refund)"
    )

    agent = as_staff(browser, live_server, AGENT)
    agent.goto(f"/staff/tickets/{ticket_no}?lang=zh")
    expect(agent.locator("#quote-rules")).to_contain_text("S4 与描述不符全额退")
    options = agent.locator("#reject-rule option")
    expect(options).to_have_count(len(CITABLE_RULES))
    expect(options).to_have_text([rule_label(rule, "zh") for rule in CITABLE_RULES])
    assert "E1" not in [options.nth(i).get_attribute("value") for i in range(options.count())]
    agent.goto(f"/staff/tickets/{ticket_no}?lang=en")
    expect(agent.locator("#quote-rules")).to_contain_text("S4 (not as described: full refund)")
    expect(options).to_have_text([rule_label(rule, "en") for rule in CITABLE_RULES])
    expect(agent.locator("#reject-rule option[value=P3]")).to_have_text("P3 (delivered digital goods: no refund)")
    expect(agent.locator("#reject-rule option[value=P3]")).to_have_attribute(
        "title", "Virtual goods already delivered (point cards, card keys) are outside no-reason refunds."
    )
    agent.screenshot(path=str(artifacts_dir / "rule-names-reject-dropdown.png"), full_page=True)
    agent.select_option("#reject-rule", "S4")
    agent.fill("#reject-comment", "会员权益与商品描述一致,未发现不符。")
    agent.click("#reject")
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", "rejected")
    expect(agent.locator("#ticket-reject-rule")).to_contain_text("S4 (not as described: full refund)")
    agent.goto(f"/staff/tickets/{ticket_no}?lang=zh")
    expect(agent.locator("#ticket-reject-rule")).to_contain_text("S4 与描述不符全额退")
    agent.context.close()

    page.goto(f"/tickets/{ticket_no}?lang=zh")
    expect(page.locator("#ticket-reject-rule")).to_have_text("S4 与描述不符全额退: 会员权益与商品描述一致,未发现不符。")
    rejection = page.locator("#ticket-timeline .timeline-row[data-action=reject]")
    expect(rejection).to_contain_text("「S4 与描述不符全额退」")
    page.goto(f"/tickets/{ticket_no}?lang=en")
    expect(page.locator("#ticket-reject-rule")).to_contain_text("S4 (not as described: full refund)")
    page.screenshot(path=str(artifacts_dir / "rule-names-ticket.png"), full_page=True)
