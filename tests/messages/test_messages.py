"""In-app messages (站内信) say which purchase and how much, and link their ticket.

In process on SQLite and PostgreSQL: refunds asked through the API, the worker run by hand, the
messages read through the API and on the page.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.aftersales.test_api import API, activate, ask_refund, tick
from tests.support.pages import buyer_with_paid_order


def messages(client: TestClient, auth: dict[str, str]) -> list[dict[str, str]]:
    answer = client.get(f"{API}/messages", headers=auth)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, str]] = answer.json()
    return listed


def test_every_message_of_a_refund_names_the_product_and_the_amount_and_the_page_links_the_ticket(
    client: TestClient,
) -> None:
    buyer = buyer_with_paid_order(client, "monthly-pass", in_use=False)
    asked = ask_refund(client, buyer.auth, buyer.order_no)
    assert asked.status_code == 201, asked.text
    no = asked.json()["ticket_no"]
    tick(client)

    sent = messages(client, buyer.auth)
    assert {m["kind"] for m in sent} >= {"submitted", "approved", "sent", "arrived"}
    for message in sent:
        assert message["ticket_no"] == no
        assert message["text_zh"].startswith("【视频会员月卡"), message
        assert "30.00" in message["text_zh"], message
        assert message["text_en"].startswith("[Video membership, monthly pass"), message
        assert "30.00" in message["text_en"], message
    submitted = next(m for m in sent if m["kind"] == "submitted")
    # A notice without an amount of its own is headed by the refund's.
    assert submitted["text_zh"] == f"【视频会员月卡 · 退款 30.00 元】您的售后申请 {no} 已提交。"
    arrived = next(m for m in sent if m["kind"] == "arrived")
    # One that names its amount is headed by the product alone.
    assert (
        arrived["text_en"] == "[Video membership, monthly pass] The refund of 30.00 has arrived; the order is closed."
    )

    page = client.get("/messages")
    items = re.findall(r'<li class="message"[^>]*data-ticket-no="(AS\d+)"', page.text)
    assert items
    assert set(items) == {no}
    assert page.text.count(f'<a class="message-ticket" href="/tickets/{no}">查看工单 {no}</a>') == len(sent)
    english = client.get("/messages?lang=en")
    assert f'href="/tickets/{no}">Open ticket {no}</a>' in english.text
    assert "[Video membership, monthly pass]" in english.text


def test_a_rejection_by_rule_names_what_was_paid(client: TestClient) -> None:
    buyer = buyer_with_paid_order(client, "monthly-pass-promo", in_use=False)
    activate(client, buyer.auth, buyer.order_no)
    asked = ask_refund(client, buyer.auth, buyer.order_no)
    assert asked.json()["status"] == "rejected", asked.text
    rejected = next(m for m in messages(client, buyer.auth) if m["kind"] == "rejected")
    assert rejected["text_zh"].startswith("【限时特价月卡 · 实付 9.90 元】申请未通过(依据「P4 特价已激活不退」)")
    assert rejected["text_en"].startswith("[Monthly pass, limited-time offer · paid ¥9.90] Not approved under P4")


def test_a_review_names_the_quote_until_a_refund_is_approved(client: TestClient) -> None:
    buyer = buyer_with_paid_order(client, "annual-card", in_use=False)
    activate(client, buyer.auth, buyer.order_no)
    asked = ask_refund(client, buyer.auth, buyer.order_no)
    assert asked.json()["status"] == "in_review", asked.text
    quoted = asked.json()["quoted"]
    in_review = next(m for m in messages(client, buyer.auth) if m["kind"] == "in_review")
    assert in_review["text_zh"].startswith(f"【视频会员年卡 · 报价 {quoted} 元】申请已进入人工审核")
