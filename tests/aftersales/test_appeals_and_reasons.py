"""Appeals say why and may carry evidence; a refund reason that is not one of ours is refused; the
agent's question stands above the consumer's reply form.

In process on SQLite and PostgreSQL: the API (bearer tokens) and the pages (TestClient keeps the
session cookie), each answer checked along with what was, or was not, stored.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from kameng.platform.i18n import translate
from tests.aftersales.test_api import API, agent, ask_refund, consumer, in_review, supervisor, ticket
from tests.support.pages import buyer_with_paid_order, csrf_of, textarea

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def rejected(client: TestClient, auth: dict[str, str], order_no: str | None = None) -> str:
    """A ticket of ``auth``'s (on a new order, or on ``order_no``), rejected by a supervisor: open
    to appeal."""
    if order_no is None:
        no: str = in_review(client, auth)["ticket_no"]
    else:
        asked = ask_refund(client, auth, order_no, "not_as_described")
        assert asked.status_code == 201, asked.text
        no = asked.json()["ticket_no"]
    answer = client.post(
        f"{API}/tickets/{no}/reject",
        json={"rule": "S4", "comment": "未提供与描述不符的证据。"},
        headers=supervisor(client),
    )
    assert answer.status_code == 200, answer.text
    return no


# --------------------------------------------------------------------------------------------
# Appeals on the API


def test_an_appeal_with_files_stores_them_as_the_tickets_evidence_listed_in_the_export(client: TestClient) -> None:
    auth = consumer(client)
    no = rejected(client, auth)
    answer = client.post(
        f"{API}/tickets/{no}/appeal",
        data={"comment": "截图显示课程无法播放"},
        files=[
            ("evidence", ("播放失败.png", PNG, "image/png")),
            ("evidence", ("说明.txt", "第三节起无法播放。".encode(), "text/plain")),
        ],
        headers=auth,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "appealed"
    assert [(f["filename"], f["content_type"]) for f in body["evidence"]] == [
        ("播放失败.png", "image/png"),
        ("说明.txt", "text/plain"),
    ]
    assert all(f["uploaded_by_consumer"] for f in body["evidence"])
    assert body["timeline"][-1]["action"] == "appeal"
    assert body["timeline"][-1]["comment"] == "截图显示课程无法播放"
    download = client.get(body["evidence"][1]["url"], headers=auth)
    assert download.content == "第三节起无法播放。".encode()

    export = client.get(f"{API}/tickets/{no}/evidence", headers=auth).json()
    assert [f["filename"] for f in export["evidence_files"]] == ["播放失败.png", "说明.txt"]
    assert {f["uploaded_by_role"] for f in export["evidence_files"]} == {"consumer"}
    # The supervisor who decides sees them on the ticket.
    assert len(ticket(client, supervisor(client), no)["evidence"]) == 2


def test_an_appeal_in_json_without_files_still_works(client: TestClient) -> None:
    auth = consumer(client)
    no = rejected(client, auth)
    answer = client.post(f"{API}/tickets/{no}/appeal", json={"comment": "商品与描述不符"}, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "appealed"
    assert answer.json()["evidence"] == []


def test_an_empty_or_too_short_appeal_is_refused_naming_the_field_and_the_ticket_stays_rejected(
    client: TestClient,
) -> None:
    auth = consumer(client)
    no = rejected(client, auth)
    for body in ({"json": {"comment": ""}}, {"json": {"comment": "  不行  "}}, {"content": b""}, {"data": {}}):
        answer = client.post(f"{API}/tickets/{no}/appeal", headers=auth, **body)  # type: ignore[arg-type]
        assert answer.status_code == 422, (body, answer.text)
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == ("too_short", "comment")
        assert error["message_zh"] == "请写明申诉理由,至少 5 个字"
        assert "at least 5 characters" in error["message"]
    assert ticket(client, auth, no)["status"] == "rejected"


def test_an_appeal_with_a_file_that_is_not_evidence_is_refused_and_nothing_is_stored(client: TestClient) -> None:
    auth = consumer(client)
    no = rejected(client, auth)
    answer = client.post(
        f"{API}/tickets/{no}/appeal",
        data={"comment": "附件是证据"},
        files=[("evidence", ("photo.png", b"\x00\xff" * 64, "image/png"))],
        headers=auth,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "evidence[0]"
    view = ticket(client, auth, no)
    assert (view["status"], view["evidence"]) == ("rejected", [])


def test_the_appeal_endpoint_documents_its_files(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/tickets/{ticket_no}/appeal"]["post"]
    multipart = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "evidence" in multipart["properties"]


# --------------------------------------------------------------------------------------------
# Appeals on the page


def test_an_appeal_from_the_ticket_page_carries_its_file_and_a_short_one_comes_back_with_its_text(
    client: TestClient,
) -> None:
    buyer = buyer_with_paid_order(client)
    no = rejected(client, buyer.auth, buyer.order_no)
    page = client.get(f"/tickets/{no}")
    assert 'id="appeal-evidence"' in page.text
    short = client.post(
        f"/tickets/{no}/appeal", data={"csrf": csrf_of(page.text), "comment": "不同意"}, follow_redirects=False
    )
    assert short.status_code == 303
    again = client.get(f"/tickets/{no}")
    assert textarea(again.text, "appeal-comment") == "不同意"
    assert re.search(r'id="appeal-comment-error">请写明申诉理由,至少 5 个字<', again.text)

    sent = client.post(
        f"/tickets/{no}/appeal",
        data={"csrf": csrf_of(again.text), "comment": "不同意,课程第三节起无法播放"},
        files=[("evidence", ("录屏说明.txt", "第三节黑屏".encode(), "text/plain"))],
        follow_redirects=False,
    )
    assert sent.status_code == 303
    view = ticket(client, buyer.auth, no)
    assert view["status"] == "appealed"
    assert [f["filename"] for f in view["evidence"]] == ["录屏说明.txt"]


# --------------------------------------------------------------------------------------------
# An unknown refund reason on the page


def refund_form(client: TestClient, order_no: str, **params: str) -> Any:
    return client.get(f"/orders/{order_no}/refund", params=params)


def test_an_unknown_reason_sent_by_the_refund_form_is_refused_with_the_text_kept_and_no_ticket(
    client: TestClient,
) -> None:
    buyer = buyer_with_paid_order(client)
    form = refund_form(client, buyer.order_no)
    answer = client.post(
        f"/orders/{buyer.order_no}/refund",
        data={"csrf": csrf_of(form.text), "reason": "give_me_money", "description": "给我退钱"},
    )
    assert answer.status_code == 422
    assert re.search(r'id="reason-error" role="alert">没有这个退款原因,请从列表中选择一个<', answer.text)
    assert textarea(answer.text, "description") == "给我退钱"
    assert 'id="quote"' not in answer.text  # no quote for a reason that is not one
    assert re.search(r'<button type="submit" id="submit-refund" disabled>', answer.text)
    assert client.get(f"{API}/tickets", headers=buyer.auth).json() == []

    # Picking a reason reloads the page with its quote; the text is still there.
    picked = refund_form(client, buyer.order_no, reason="changed_mind")
    assert picked.status_code == 200
    assert textarea(picked.text, "description") == "给我退钱"
    assert 'id="quote"' in picked.text


def test_an_unknown_reason_in_the_refund_forms_address_is_refused_in_the_readers_language(
    client: TestClient,
) -> None:
    buyer = buyer_with_paid_order(client)
    chinese = refund_form(client, buyer.order_no, reason="give_me_money")
    assert chinese.status_code == 422
    assert translate("error.unknown_reason", "zh") in chinese.text
    assert 'option value="" selected disabled' in chinese.text
    assert '<option value="changed_mind" selected>' not in chinese.text  # never silently changed_mind
    english = refund_form(client, buyer.order_no, reason="give_me_money", lang="en")
    assert english.status_code == 422
    assert "There is no such refund reason; please choose one from the list" in english.text
    assert refund_form(client, buyer.order_no, reason="not_delivered").status_code == 200


# --------------------------------------------------------------------------------------------
# The agent's question


def test_the_agents_question_stands_above_the_reply_form_in_both_languages(client: TestClient) -> None:
    buyer = buyer_with_paid_order(client)
    asked = ask_refund(client, buyer.auth, buyer.order_no, "not_as_described")
    no = asked.json()["ticket_no"]
    question = "请上传无法播放的截图,并说明是哪一集。"
    answer = client.post(f"{API}/tickets/{no}/ask-info", json={"comment": question}, headers=agent(client))
    assert answer.status_code == 200, answer.text

    page = client.get(f"/tickets/{no}").text
    shown = re.search(r'id="staff-question-text">(.*?)</p>', page, re.S)
    assert shown
    assert shown.group(1) == question
    assert page.index('id="staff-question"') < page.index('id="reply-comment"')
    assert page.index('id="reply-form"') < page.index('id="staff-question"')  # inside the form, at its top
    assert "客服的问题" in page
    assert "Customer service asks" in client.get(f"/tickets/{no}?lang=en").text

    # Once answered, the question is part of the history, not a prompt any more.
    client.post(f"{API}/tickets/{no}/reply", json={"comment": "第 3 集无法播放"}, headers=buyer.auth)
    assert 'id="staff-question"' not in client.get(f"/tickets/{no}").text
