"""In a real Chromium, in both languages: a refund reason that is not one of ours is refused with the
text kept; an appeal must say why and may carry files; the agent's question stands above the
reply form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.aftersales.test_browser import AGENT, activate, as_staff, buy_and_pay, request_refund, sign_up

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_a_reason_that_is_not_one_of_ours_is_refused_and_the_text_survives_picking_one(
    page: Page, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "monthly-pass")
    page.goto(f"/orders/{order_no}")
    activate(page)  # in use: a person reviews it (an unused pass is one click, with no form)
    page.goto(f"/orders/{order_no}/refund")
    page.fill("#description", "给我退钱,买了以后一次也没用过")
    # What a crafted link or a tampered form sends: it used to become 不想要了 without a word.
    page.evaluate("document.querySelector('#refund-form input[name=reason]').value = 'give_me_money'")
    page.click("#submit-refund")
    expect(page.locator("#reason-error")).to_have_text("没有这个退款原因,请从列表中选择一个")
    expect(page.locator("#description")).to_have_value("给我退钱,买了以后一次也没用过")
    expect(page.locator("#reason option:checked")).to_have_text("请选择退款原因")
    expect(page.locator("#quote")).to_have_count(0)
    expect(page.locator("#submit-refund")).to_be_disabled()
    page.screenshot(path=str(artifacts_dir / "aftersales-unknown-reason.png"), full_page=True)

    page.select_option("#reason", "changed_mind")
    page.wait_for_url(re.compile(r"reason=changed_mind"))
    expect(page.locator("#quote")).to_have_attribute("data-decision", "review")  # a pass in use: P6
    expect(page.locator("#description")).to_have_value("给我退钱,买了以后一次也没用过")
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/tickets/AS\d+$"))
    expect(page.locator("#ticket-reason")).to_have_text("不想要了(无理由)")

    # In English, from the address.
    other = buy_and_pay(page, "quarterly-pass")
    page.goto(f"/orders/{other}/refund?reason=give_me_money&lang=en")
    expect(page.locator("#reason-error")).to_have_text(
        "There is no such refund reason; please choose one from the list"
    )
    expect(page.locator("#reason option:checked")).to_have_text("Choose a refund reason")
    expect(page.locator("#submit-waiting")).to_be_visible()


def test_an_appeal_must_say_why_keeps_its_text_when_refused_and_carries_its_files(
    page: Page, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    page.click("#activate")
    page.wait_for_url(re.compile(r"/confirm/activate$"))  # activating changes the refund: asked first
    page.click("#confirm-usage-submit")
    ticket_no = request_refund(page, order_no, "not_as_described", "review", "和描述不一样")
    agent = as_staff(browser, live_server, AGENT)
    agent.goto(f"/staff/tickets/{ticket_no}")
    agent.select_option("#reject-rule", "S4")
    agent.fill("#reject-comment", "会员权益与商品描述一致,未发现不符。")
    agent.click("#reject")
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", "rejected")
    agent.context.close()

    page.reload()
    page.click("#send-appeal")  # nothing written
    expect(page.locator("#appeal-comment-error")).to_have_text("请写明申诉理由,至少 5 个字")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "rejected")
    page.fill("#appeal-comment", "不同意")
    page.click("#send-appeal")
    expect(page.locator("#appeal-comment-error")).to_be_visible()
    expect(page.locator("#appeal-comment")).to_have_value("不同意")

    page.goto(f"/tickets/{ticket_no}?lang=en")
    page.fill("#appeal-comment", "No")
    page.click("#send-appeal")
    expect(page.locator("#appeal-comment-error")).to_have_text("Please say why you appeal, in at least 5 characters")
    expect(page.locator("#appeal-comment")).to_have_value("No")

    page.fill("#appeal-comment", "The 4K picture never worked: screenshots attached.")
    page.set_input_files(
        "#appeal-evidence",
        files=[
            FilePayload(name="blurred.png", mimeType="image/png", buffer=PNG),
            FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"Episodes 3 to 5 stay at 480p."),
        ],
    )
    page.click("#send-appeal")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "appealed")
    expect(page.locator("#evidence-files .evidence-file a")).to_have_text(["blurred.png", "notes.txt"])
    expect(page.locator("#ticket-timeline .timeline-row[data-action=appeal]")).to_contain_text(
        "The 4K picture never worked"
    )
    page.screenshot(path=str(artifacts_dir / "aftersales-appeal-with-files.png"), full_page=True)
    export = page.request.get(page.locator("#evidence-json").get_attribute("href") or "")
    assert [f["filename"] for f in export.json()["evidence_files"]] == ["blurred.png", "notes.txt"]


def test_the_agents_question_stands_above_the_reply_form(
    page: Page, browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    sign_up(page)
    order_no = buy_and_pay(page, "annual-card")
    page.click("#activate")
    page.wait_for_url(re.compile(r"/confirm/activate$"))  # activating changes the refund: asked first
    page.click("#confirm-usage-submit")
    ticket_no = request_refund(page, order_no, "changed_mind", "review", "用了几天,不想继续了")
    agent = as_staff(browser, live_server, AGENT)
    agent.goto(f"/staff/tickets/{ticket_no}")
    agent.fill("#ask-info-comment", "请说明使用了哪些权益,并附上截图")
    agent.click("#ask-info")
    expect(agent.locator("#staff-ticket")).to_have_attribute("data-status", "needs_info")
    agent.context.close()

    page.reload()
    question = page.locator("#staff-question")
    expect(question).to_contain_text("客服的问题")
    expect(page.locator("#staff-question-text")).to_have_text("请说明使用了哪些权益,并附上截图")
    asked, reply = question.bounding_box(), page.locator("#reply-comment").bounding_box()
    assert asked is not None
    assert reply is not None
    assert asked["y"] + asked["height"] <= reply["y"]
    page.screenshot(path=str(artifacts_dir / "aftersales-question-above-reply.png"), full_page=True)

    page.goto(f"/tickets/{ticket_no}?lang=en")
    expect(question).to_contain_text("Customer service asks")
    page.fill("#reply-comment", "Only the video benefit, twice.")
    page.click("#send-reply")
    expect(page.locator("#ticket")).to_have_attribute("data-status", "in_review")
    expect(page.locator("#staff-question")).to_have_count(0)
