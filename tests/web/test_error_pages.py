"""Every page error is a page in the reader's language with a way forward, while ``/api/`` keeps
its JSON; a form sent after the session expired keeps its text through a new sign-in; anything
unexpected answers 500 with a body and a request id that the log names too.

In process (TestClient, which keeps the session cookie), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kameng.aftersales.models import Ticket
from kameng.demo import DEMO_PASSWORD
from kameng.orders.models import OrderRow
from kameng.platform.drafts import DRAFT_TTL, FormDraft, keep_draft, take_draft
from kameng.platform.i18n import translate
from kameng.web.app import create_app
from tests.aftersales.test_api import ask_refund, ticket
from tests.aftersales.test_appeals_and_reasons import rejected
from tests.support.apps import app_settings, container_of
from tests.support.pages import buyer_with_paid_order, csrf_of, log_in, textarea

DESCRIPTION = "会员买错了,还没有用过,请退款。" * 40  # longer than any session cookie could carry


def tickets(client: TestClient, order_no: str) -> int:
    """How many after-sales tickets the order has (the demo data has tickets of its own)."""
    with container_of(client).uow() as uow:
        query = select(func.count(Ticket.id)).join(OrderRow, OrderRow.id == Ticket.order_id)
        return int(uow.session.scalar(query.where(OrderRow.order_no == order_no)) or 0)


# --------------------------------------------------------------------------------------------
# 404, 405 and a malformed address


def test_an_unknown_address_is_a_page_in_the_readers_language_with_a_way_home(client: TestClient) -> None:
    answer = client.get("/no/such/page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="error" data-code="http_404"' in answer.text
    assert translate("page.not_found", "zh") in answer.text
    assert 'id="error-home" href="/"' in answer.text
    english = client.get("/no/such/page?lang=en")
    assert english.status_code == 404
    assert "Page not found" in english.text
    assert "页面不存在" not in english.text


def test_a_method_an_address_does_not_take_is_a_405_page_that_keeps_the_allow_header(client: TestClient) -> None:
    answer = client.get("/logout")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert translate("page.method_not_allowed", "zh") in answer.text
    assert "does not take that action" in client.get("/logout?lang=en").text


def test_the_api_keeps_its_json_errors(client: TestClient) -> None:
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    wrong_method = client.get("/api/v1/auth/token")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}


def test_a_malformed_address_on_a_page_is_the_error_page_not_a_validation_dump(client: TestClient) -> None:
    # The site's own page, saying which part of the address is wrong (web/validation.py).
    answer = client.get("/tickets/AS1/files/not-a-number")
    assert answer.status_code == 422
    assert 'id="error"' in answer.text
    assert "int_parsing" not in answer.text


# --------------------------------------------------------------------------------------------
# A form whose session expired


def test_a_refund_request_sent_after_the_session_expired_keeps_its_text_through_a_new_sign_in(
    client: TestClient,
) -> None:
    buyer = buyer_with_paid_order(client)
    form = client.get(f"/orders/{buyer.order_no}/refund?reason=not_as_described")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
    assert key
    fields = {
        "csrf": csrf_of(form.text),
        "idempotency_key": key.group(1),
        "reason": "not_as_described",
        "description": DESCRIPTION,
    }
    client.cookies.clear()  # the session cookie expired in the browser

    answer = client.post(f"/orders/{buyer.order_no}/refund", data=fields, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/orders/{buyer.order_no}/refund"
    assert tickets(client, buyer.order_no) == 0
    login_page = client.get(answer.headers["location"])
    assert translate("notice.login_again_kept", "zh") in login_page.text
    assert DESCRIPTION not in client.cookies.get("kameng_session", "")  # only a token travels

    signed_in = log_in(client, buyer.phone, next_url=f"/orders/{buyer.order_no}/refund")
    assert signed_in.headers["location"] == f"/orders/{buyer.order_no}/refund"
    back = client.get(signed_in.headers["location"])
    assert back.status_code == 200
    assert textarea(back.text, "description") == DESCRIPTION
    assert 'option value="not_as_described" selected' in back.text
    assert key.group(1) in back.text  # the same idempotency key: sending it twice makes one ticket
    assert translate("notice.draft_restored", "zh") in back.text
    # Taken once: the next visit starts empty.
    assert textarea(client.get(f"/orders/{buyer.order_no}/refund").text, "description") == ""

    sent = client.post(
        f"/orders/{buyer.order_no}/refund", data={**fields, "csrf": csrf_of(back.text)}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/tickets/AS")
    assert tickets(client, buyer.order_no) == 1


def test_a_stale_token_while_still_signed_in_goes_straight_back_to_the_form_with_its_text(client: TestClient) -> None:
    buyer = buyer_with_paid_order(client)
    client.get(f"/orders/{buyer.order_no}/refund")
    answer = client.post(
        f"/orders/{buyer.order_no}/refund",
        data={"csrf": "from-an-older-page", "reason": "changed_mind", "description": "买重复了"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{buyer.order_no}/refund"
    back = client.get(answer.headers["location"] + "?lang=en")
    assert textarea(back.text, "description") == "买重复了"
    assert "What you typed last time is kept below" in back.text


def test_an_appeal_sent_after_the_session_expired_is_waiting_in_its_form_after_signing_in(client: TestClient) -> None:
    buyer = buyer_with_paid_order(client)
    no = rejected(client, buyer.auth, buyer.order_no)
    page = client.get(f"/tickets/{no}")
    appeal = "我不同意:第三节课程从未能播放,有录屏为证。" * 20
    client.cookies.clear()
    answer = client.post(
        f"/tickets/{no}/appeal", data={"csrf": csrf_of(page.text), "comment": appeal}, follow_redirects=False
    )
    assert answer.headers["location"] == f"/login?next=/tickets/{no}"
    signed_in = log_in(client, buyer.phone, next_url=f"/tickets/{no}")
    back = client.get(signed_in.headers["location"])
    assert textarea(back.text, "appeal-comment") == appeal
    assert translate("notice.draft_restored", "zh") in back.text
    assert ticket(client, buyer.auth, no)["status"] == "rejected"  # nothing was sent for them


def test_a_staff_comment_sent_with_a_stale_token_comes_back_to_its_field(client: TestClient) -> None:
    buyer = buyer_with_paid_order(client)
    no = ask_refund(client, buyer.auth, buyer.order_no, "not_as_described").json()["ticket_no"]
    client.cookies.clear()
    assert log_in(client, "agent@kameng.test", DEMO_PASSWORD).status_code == 303
    answer = client.post(
        f"/staff/tickets/{no}/reject",
        data={"csrf": "from-before-signing-in-again", "rule": "S4", "comment": "权益与描述一致"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == f"/staff/tickets/{no}"
    page = client.get(answer.headers["location"]).text
    assert re.search(r'id="reject-comment"[^>]*value="权益与描述一致"', page)
    assert ticket(client, buyer.auth, no)["status"] == "in_review"


def test_a_stale_form_with_nothing_typed_says_so_and_a_stale_login_form_stays_on_the_login_page(
    client: TestClient,
) -> None:
    stale_login = client.post(
        "/login",
        data={"csrf": "stale", "identifier": "13800000001", "password": "x", "next": "/orders"},
        headers={"referer": "http://testserver/login?next=/orders"},
        follow_redirects=False,
    )
    assert stale_login.status_code == 303
    assert stale_login.headers["location"] == "/login?next=/orders"
    assert translate("notice.login_again", "zh") in client.get(stale_login.headers["location"]).text

    buyer_with_paid_order(client)  # signed in
    stale_logout = client.post("/logout", data={"csrf": "stale"}, follow_redirects=False)
    assert stale_logout.status_code == 303
    assert stale_logout.headers["location"] == "/"
    home = client.get("/?lang=en")
    assert "The page had expired. Please do that once more." in home.text
    assert 'id="signed-in"' in home.text  # nothing happened: still signed in


def test_a_draft_is_never_given_to_another_person_nor_to_another_form_nor_after_a_day(client: TestClient) -> None:
    container = container_of(client)
    now = container.now()
    token = keep_draft(container.uow(), "/tickets/AS1/appeal", {"comment": "我的申诉"}, 7, now)
    assert take_draft(container.uow(), token, "/tickets/AS1/appeal", 8, now) is None
    token = keep_draft(container.uow(), "/tickets/AS1/appeal", {"comment": "我的申诉"}, 7, now)
    assert take_draft(container.uow(), token, "/tickets/AS2/appeal", 7, now) is None
    assert take_draft(container.uow(), token, "/tickets/AS1/appeal", 7, now + DRAFT_TTL + timedelta(seconds=1)) is None
    token = keep_draft(container.uow(), "/tickets/AS1/appeal", {"comment": "我的申诉"}, None, now)
    assert take_draft(container.uow(), token, "/tickets/AS1/appeal", 7, now) == {"comment": "我的申诉"}
    assert take_draft(container.uow(), token, "/tickets/AS1/appeal", 7, now) is None  # read once
    # Old drafts are purged as new ones are kept.
    keep_draft(container.uow(), "/x", {"comment": "old"}, None, now)
    keep_draft(container.uow(), "/y", {"comment": "new"}, None, now + DRAFT_TTL * 2)
    with container.uow() as uow:
        assert list(uow.session.scalars(select(FormDraft.form))) == ["/y"]


# --------------------------------------------------------------------------------------------
# Unexpected errors


@pytest.fixture
def failing_app(db_url: str) -> FastAPI:
    """The real app with two routes that fail the way a bug would: one page, one API path."""
    app = create_app(app_settings(db_url))

    def boom() -> None:
        raise RuntimeError("a bug nobody caught")

    def unavailable() -> None:
        raise HTTPException(status_code=503)

    app.add_api_route("/test-boom", boom, methods=["GET"])
    app.add_api_route("/api/v1/test-boom", boom, methods=["GET"])
    app.add_api_route("/test-unavailable", unavailable, methods=["GET"])
    return app


def test_an_unexpected_error_on_a_page_is_a_500_page_with_a_request_id_the_log_names_too(
    failing_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="kameng.web"):
            answer = client.get("/test-boom")
        english = client.get("/test-boom?lang=en")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    assert f'id="request-id">{request_id}<' in answer.text
    assert translate("page.server_error", "zh") in answer.text
    assert 'id="error-retry" href="/test-boom"' in answer.text
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert "a bug nobody caught" not in answer.text  # the page says nothing of the code
    assert english.status_code == 500
    assert "Something went wrong on our side" in english.text


def test_an_unexpected_error_on_the_api_is_json_with_the_request_id_a_proxy_sent(failing_app: FastAPI) -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/test-boom", headers={"X-Request-ID": "edge-0123456789"})
    assert answer.status_code == 500
    body = answer.json()["error"]
    assert body["code"] == "internal_error"
    assert body["request_id"] == "edge-0123456789"
    assert "edge-0123456789" in body["message"]
    assert "edge-0123456789" in body["message_zh"]
    assert answer.headers["x-request-id"] == "edge-0123456789"


def test_the_500_page_answers_even_when_the_templates_fail_too(failing_app: FastAPI) -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        failing_app.state.templates = None  # rendering now fails as well
        answer = client.get("/test-boom")
    assert answer.status_code == 500
    request_id = answer.headers["x-request-id"]
    assert request_id in answer.text
    assert "我们已记录这个问题" in answer.text
    assert "We have logged the problem" in answer.text


def test_a_route_that_gives_up_with_a_5xx_is_the_server_error_page_with_a_logged_reference(
    failing_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(failing_app) as client, caplog.at_level(logging.ERROR, logger="kameng.web"):
        answer = client.get("/test-unavailable", headers={"X-Request-ID": "edge-unavailable-1"})
    assert answer.status_code == 503
    assert translate("page.server_error", "zh") in answer.text
    assert "edge-unavailable-1" in answer.text
    assert any("edge-unavailable-1" in record.getMessage() for record in caplog.records)
