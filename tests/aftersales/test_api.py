"""The after-sales REST API end to end, in process: refund requests, tickets, review, payouts, messages.

Each test gets an app of its own (a fresh SQLite file) because most move the clock and run the
worker over every ticket in the database.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng.accounts.services import sign_up
from kameng.demo import DEMO_PASSWORD
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.platform.ledger import check_books
from kameng.platform.ledger_models import BalanceRow
from kameng.worker import run_tick
from tests.support.apps import container_of

API = "/api/v1"
_phones = itertools.count(13600000100)
_keys = itertools.count(1)
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def move_clock(client: TestClient, delta: timedelta) -> datetime:
    container = container_of(client)
    later = container.now() + delta
    container.clock = lambda: later
    return later


def tick(client: TestClient, times: int = 3, step: timedelta = timedelta(minutes=2)) -> None:
    """Run the worker a few times, the clock moving on between ticks so refunds get polled."""
    container = container_of(client)
    for _ in range(times):
        run_tick(container, container.now())
        move_clock(client, step)


# --------------------------------------------------------------------------------------------
# People


def consumer(client: TestClient) -> dict[str, str]:
    answer = client.post(f"{API}/auth/signup", json={"identifier": str(next(_phones)), "password": "long-enough-1"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def signed_in(client: TestClient, identifier: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"identifier": identifier, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def agent(client: TestClient) -> dict[str, str]:
    return signed_in(client, "agent@kameng.test")


def supervisor(client: TestClient) -> dict[str, str]:
    return signed_in(client, "supervisor@kameng.test")


def second_supervisor(client: TestClient) -> dict[str, str]:
    container = container_of(client)
    sign_up(container.uow(), "supervisor2@kameng.test", "long-enough-2", container.now(), role=Role.SUPERVISOR)
    return signed_in(client, "supervisor2@kameng.test", "long-enough-2")


# --------------------------------------------------------------------------------------------
# Orders and requests


def paid_order(client: TestClient, auth: dict[str, str], product: str = "monthly-pass") -> dict[str, Any]:
    answer = client.post(
        f"{API}/orders",
        json={"product": product, "channel": "alipay"},
        headers={**auth, "Idempotency-Key": f"order-{next(_keys)}"},
    )
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()
    paid = client.post(f"{API}/payments/simulator/{order['out_trade_no']}/pay")
    assert paid.json()["result"] == "paid", paid.text
    return order


def activate(client: TestClient, auth: dict[str, str], order_no: str) -> None:
    answer = client.post(f"{API}/orders/{order_no}/events", json={"type": "activated"}, headers=auth)
    assert answer.status_code == 201, answer.text


def ask_refund(
    client: TestClient,
    auth: dict[str, str],
    order_no: str,
    reason: str = "changed_mind",
    key: str | None = None,
    **extra: Any,
) -> Any:
    return client.post(
        f"{API}/orders/{order_no}/refund-requests",
        json={"reason": reason, "description": "不想要了", **extra},
        headers={**auth, "Idempotency-Key": key or f"refund-{next(_keys)}"},
    )


def ticket(client: TestClient, auth: dict[str, str], ticket_no: str) -> Any:
    answer = client.get(f"{API}/tickets/{ticket_no}", headers=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def in_review(client: TestClient, auth: dict[str, str], reason: str = "not_as_described") -> dict[str, Any]:
    order = paid_order(client, auth)
    # Activated first: on a pass never activated, RULES.md §3a gives the one-click full refund of
    # P1 instead of S4's review for the same amount.
    activate(client, auth, order["order_no"])
    answer = ask_refund(client, auth, order["order_no"], reason)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "in_review", body
    return body


def balance_fen(client: TestClient, auth: dict[str, str]) -> int:
    me = client.get(f"{API}/orders", headers=auth).json()
    assert me, "the consumer has orders"
    with container_of(client).uow() as uow:
        # The API has no balance endpoint yet; the user is the one whose orders these are.
        user_id = uow.session.scalar(select(OrderRow.user_id).where(OrderRow.order_no == me[0]["order_no"]))
        row = uow.session.scalar(select(BalanceRow).where(BalanceRow.user_id == user_id))
        return row.cash_fen if row else 0


# --------------------------------------------------------------------------------------------
# One-click refund


def test_a_non_activated_order_is_refunded_in_one_click_and_the_membership_closes_after_worker_ticks(
    client: TestClient,
) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = ask_refund(client, auth, order["order_no"])
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["decision"] == "auto_approve"
    assert created["rules"] == ["P1"]
    assert created["status"] == "refunding"
    assert created["quoted"] == "30.00"
    assert created["quoted_fen"] == 3000
    assert created["quote"]["refund"] == "30.00"
    assert created["replayed"] is False

    tick(client)

    view = ticket(client, auth, created["ticket_no"])
    assert view["status"] == "refunded"
    [refund] = view["refunds"]
    assert refund["status"] == "succeeded"
    assert refund["amount"] == "30.00"
    assert refund["amount_fen"] == 3000
    assert refund["out_refund_no"].startswith("R" + created["ticket_no"])
    assert refund["out_trade_no"] == order["out_trade_no"]
    assert refund["channel"] == "alipay"
    assert refund["channel_refund_no"]
    assert refund["settled_at"]
    assert view["actions"] == []
    actions = [row["action"] for row in view["timeline"]]
    assert actions[:3] == ["submit", "auto_approve", "start_refund"]
    assert actions[-1] == "refund_succeeded"
    for before, after in itertools.pairwise(view["timeline"]):
        assert after["prev_hash"] == before["hash"], "the timeline is hash-chained"

    detail = client.get(f"{API}/orders/{order['order_no']}", headers=auth).json()
    assert detail["status"] == "refunded"
    assert detail["membership"]["status"] == "closed"
    assert detail["auto_renew"] is False

    kinds = [message["kind"] for message in client.get(f"{API}/messages", headers=auth).json()]
    assert {"submitted", "approved", "arrived"} <= set(kinds)
    assert check_books(container_of(client).uow()).ok


def test_my_tickets_lists_the_signed_in_consumers_requests_only(client: TestClient) -> None:
    auth, other = consumer(client), consumer(client)
    mine = in_review(client, auth)
    in_review(client, other)
    listed = client.get(f"{API}/tickets", headers=auth).json()
    assert [row["ticket_no"] for row in listed] == [mine["ticket_no"]]
    assert listed[0]["order_no"]
    assert listed[0]["status"] == "in_review"


# --------------------------------------------------------------------------------------------
# Review


def test_a_partly_used_annual_card_goes_through_ask_info_reply_and_an_approval_at_another_amount_with_a_reason(
    client: TestClient,
) -> None:
    auth, staff = consumer(client), agent(client)
    order = paid_order(client, auth, "annual-card")
    activate(client, auth, order["order_no"])
    move_clock(client, timedelta(days=40))
    created = ask_refund(client, auth, order["order_no"]).json()
    assert created["decision"] == "review", created
    assert created["status"] == "in_review"
    assert created["due_at"]
    queue = client.get(f"{API}/staff/tickets", params={"lane": "review"}, headers=staff).json()
    assert created["ticket_no"] in [row["ticket_no"] for row in queue["items"]]
    assert client.get(f"{API}/staff/tickets", headers=auth).status_code == 404, "consumers have no queue"

    asked = client.post(f"{API}/tickets/{created['ticket_no']}/ask-info", json={"comment": "请上传截图"}, headers=staff)
    assert asked.status_code == 200, asked.text
    paused = asked.json()
    assert paused["status"] == "needs_info"
    assert paused["paused_at"]
    assert "reply" in ticket(client, auth, created["ticket_no"])["actions"]

    move_clock(client, timedelta(days=7))  # the clock is stopped meanwhile: the due date moves on
    replied = client.post(
        f"{API}/tickets/{created['ticket_no']}/reply",
        data={"comment": "截图在此"},
        files=[("evidence", ("shot.png", PNG_HEADER + b"\x00" * 64, "image/png"))],
        headers=auth,
    )
    assert replied.status_code == 200, replied.text
    resumed = replied.json()
    assert resumed["status"] == "in_review"
    assert resumed["paused_at"] is None
    assert resumed["due_at"] > created["due_at"]
    assert [(f["filename"], f["content_type"]) for f in resumed["evidence"]] == [("shot.png", "image/png")]

    quoted = created["quoted_fen"]
    without_reason = client.post(
        f"{API}/tickets/{created['ticket_no']}/approve", json={"amount": "100.00"}, headers=staff
    )
    assert without_reason.status_code == 422
    assert without_reason.json()["error"]["field"] == "reason"
    approved = client.post(
        f"{API}/tickets/{created['ticket_no']}/approve",
        json={"amount": "100.00", "reason": "客户反馈画质问题属实,酌情多退"},
        headers=staff,
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "refunding"
    assert body["approved"] == "100.00"
    assert body["approved_fen"] == 10000 != quoted
    assert body["approve_reason"]

    tick(client)
    done = ticket(client, auth, created["ticket_no"])
    assert done["status"] == "refunded"
    assert done["refunds"][0]["amount_fen"] == 10000
    assert done["refunds"][0]["status"] == "succeeded"
    assert {"needs_info", "approved", "arrived"} <= {
        m["kind"] for m in client.get(f"{API}/messages", headers=auth).json()
    }


def test_an_approval_above_what_was_captured_is_refused_with_422(client: TestClient) -> None:
    auth, staff = consumer(client), agent(client)
    created = in_review(client, auth)
    answer = client.post(
        f"{API}/tickets/{created['ticket_no']}/approve",
        json={"amount": "30.01", "reason": "多退一分"},
        headers=staff,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "amount_out_of_range"
    assert answer.json()["error"]["field"] == "amount"
    assert ticket(client, auth, created["ticket_no"])["status"] == "in_review"


def test_an_amount_in_yuan_with_three_decimals_is_a_422_naming_the_body(client: TestClient) -> None:
    auth, staff = consumer(client), agent(client)
    created = in_review(client, auth)
    answer = client.post(
        f"{API}/tickets/{created['ticket_no']}/approve", json={"amount": "1.005", "reason": "x"}, headers=staff
    )
    assert answer.status_code == 422


def test_a_rejection_is_appealed_and_only_a_supervisor_who_did_not_reject_decides_it(client: TestClient) -> None:
    auth, boss = consumer(client), supervisor(client)
    created = in_review(client, auth)
    no = created["ticket_no"]
    no_rule = client.post(
        f"{API}/tickets/{no}/reject", json={"rule": "X9", "comment": "不符合条件的说明"}, headers=boss
    )
    assert no_rule.status_code == 422
    assert no_rule.json()["error"]["field"] == "rule"
    rejected = client.post(
        f"{API}/tickets/{no}/reject", json={"rule": "S4", "comment": "未提供任何与描述不符的证据。"}, headers=boss
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reject_rule"] == "S4"
    assert rejected.json()["appeal_until"]

    appealed = client.post(f"{API}/tickets/{no}/appeal", json={"comment": "我有新的证据"}, headers=auth)
    assert appealed.status_code == 200, appealed.text
    assert appealed.json()["status"] == "appealed"
    lane = client.get(f"{API}/staff/tickets", params={"lane": "appeals"}, headers=boss).json()
    assert no in [row["ticket_no"] for row in lane["items"]]

    same = client.post(f"{API}/tickets/{no}/approve", json={}, headers=boss)
    assert same.status_code == 409
    assert same.json()["error"]["code"] == "same_person"
    by_agent = client.post(f"{API}/tickets/{no}/approve", json={}, headers=agent(client))
    assert by_agent.status_code == 409
    assert by_agent.json()["error"]["code"] == "supervisor_only"

    other = second_supervisor(client)
    assert ticket(client, other, no)["actions"] == ["approve", "reject"]
    decided = client.post(f"{API}/tickets/{no}/approve", headers=other)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "refunding"
    assert decided.json()["approved_fen"] == created["quoted_fen"]


# --------------------------------------------------------------------------------------------
# Payout failure


def test_a_failed_refund_goes_to_the_balance_only_with_the_consumers_consent(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    container_of(client).refunds.set_behavior(order["out_trade_no"], "fail")
    created = ask_refund(client, auth, order["order_no"]).json()
    before = balance_fen(client, auth)

    tick(client, times=5)
    failed = ticket(client, auth, created["ticket_no"])
    assert failed["status"] == "refund_failed", "never moved to the balance automatically"
    assert failed["refunds"][0]["status"] == "failed"
    assert failed["refunds"][0]["failure"]
    assert {"refund_to_balance", "retry_refund"} <= set(failed["actions"])
    assert balance_fen(client, auth) == before

    no = created["ticket_no"]
    for body in ({}, {"consent": False}):
        refused = client.post(f"{API}/tickets/{no}/refund-to-balance", json=body, headers=auth)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "consent"
    assert ticket(client, auth, no)["status"] == "refund_failed"

    moved = client.post(f"{API}/tickets/{no}/refund-to-balance", json={"consent": True}, headers=auth)
    assert moved.status_code == 200, moved.text
    view = moved.json()
    assert view["status"] == "refunded"
    assert [r["channel"] for r in view["refunds"]] == ["alipay", "balance"]
    assert view["refunds"][1]["status"] == "succeeded"
    assert view["refunds"][1]["channel_refund_no"]
    assert balance_fen(client, auth) == before + 3000
    assert client.get(f"{API}/orders/{order['order_no']}", headers=auth).json()["status"] == "refunded"
    assert check_books(container_of(client).uow()).ok


def test_a_failed_refund_can_be_retried_to_the_original_channel(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    refunds = container_of(client).refunds
    refunds.set_behavior(order["out_trade_no"], "fail")
    no = ask_refund(client, auth, order["order_no"]).json()["ticket_no"]
    tick(client)
    assert ticket(client, auth, no)["status"] == "refund_failed"
    refunds.set_behavior(order["out_trade_no"], "ok")
    retried = client.post(f"{API}/tickets/{no}/retry-refund", headers=auth)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "refunding"
    tick(client)
    view = ticket(client, auth, no)
    assert view["status"] == "refunded"
    assert [r["status"] for r in view["refunds"]] == ["failed", "succeeded"]
    assert view["refunds"][0]["out_refund_no"] != view["refunds"][1]["out_refund_no"]


# --------------------------------------------------------------------------------------------
# One request, one ticket


def test_the_same_request_twice_with_one_idempotency_key_makes_one_ticket(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    first = ask_refund(client, auth, order["order_no"], key="same-key")
    again = ask_refund(client, auth, order["order_no"], key="same-key")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["ticket_no"] == first.json()["ticket_no"]
    assert again.json()["replayed"] is True
    assert len(client.get(f"{API}/tickets", headers=auth).json()) == 1


def test_a_key_reused_for_another_order_is_a_conflict_not_the_old_ticket(client: TestClient) -> None:
    auth = consumer(client)
    first, second = paid_order(client, auth), paid_order(client, auth, "quarterly-pass")
    assert ask_refund(client, auth, first["order_no"], "not_as_described", key="k1").status_code == 201
    reused = ask_refund(client, auth, second["order_no"], "not_as_described", key="k1")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_second_request_while_one_is_open_is_a_conflict(client: TestClient) -> None:
    auth = consumer(client)
    created = in_review(client, auth)
    order_no = created["order_no"]
    second = ask_refund(client, auth, order_no, "changed_mind")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "ticket_open"


def test_a_request_without_an_idempotency_key_is_refused_naming_the_header(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = client.post(
        f"{API}/orders/{order['order_no']}/refund-requests", json={"reason": "changed_mind"}, headers=auth
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "Idempotency-Key"


def test_an_unknown_reason_is_a_422_naming_the_field(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = ask_refund(client, auth, order["order_no"], "bored")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "reason"


def test_a_consumer_withdraws_before_a_decision_and_may_then_ask_again(client: TestClient) -> None:
    auth = consumer(client)
    created = in_review(client, auth)
    answer = client.post(f"{API}/tickets/{created['ticket_no']}/withdraw", headers=auth)
    assert answer.status_code == 200
    assert answer.json()["status"] == "withdrawn"
    again = client.post(f"{API}/tickets/{created['ticket_no']}/withdraw", headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"
    assert ask_refund(client, auth, created["order_no"], "not_as_described").status_code == 201


# --------------------------------------------------------------------------------------------
# Privacy


def test_another_consumer_gets_404_for_the_ticket_its_files_and_its_actions(client: TestClient) -> None:
    auth, stranger = consumer(client), consumer(client)
    order = paid_order(client, auth)
    activate(client, auth, order["order_no"])  # so that S4 puts it in review (RULES.md §3a)
    created = client.post(
        f"{API}/orders/{order['order_no']}/refund-requests",
        data={"reason": "not_as_described", "description": "画面模糊"},
        files=[("evidence", ("note.txt", "清晰度只有 480p".encode(), "text/plain"))],
        headers={**auth, "Idempotency-Key": "privacy"},
    ).json()
    no = created["ticket_no"]
    file_id = ticket(client, auth, no)["evidence"][0]["id"]
    assert client.get(f"{API}/tickets/{no}", headers=stranger).status_code == 404
    assert client.get(f"{API}/tickets/{no}/files/{file_id}", headers=stranger).status_code == 404
    assert client.post(f"{API}/tickets/{no}/withdraw", headers=stranger).status_code == 404
    assert client.post(f"{API}/tickets/{no}/approve", json={}, headers=stranger).status_code == 404
    assert client.get(f"{API}/tickets/{no}").status_code == 401
    assert ticket(client, auth, no)["status"] == "in_review"
    assert ticket(client, agent(client), no)["actions"] == ["approve", "reject", "ask_info"]


# --------------------------------------------------------------------------------------------
# Evidence


def test_evidence_is_typed_by_its_content_not_its_name(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = client.post(
        f"{API}/orders/{order['order_no']}/refund-requests",
        data={"reason": "not_as_described", "description": "见附件"},
        files=[("evidence", ("photo.png", b"just some words, not a picture", "image/png"))],
        headers={**auth, "Idempotency-Key": "evidence"},
    )
    assert answer.status_code == 201, answer.text
    view = ticket(client, auth, answer.json()["ticket_no"])
    [stored] = view["evidence"]
    assert (stored["filename"], stored["content_type"], stored["size"]) == ("photo.png", "text/plain", 30)
    download = client.get(stored["url"], headers=auth)
    assert download.status_code == 200
    assert download.content == b"just some words, not a picture"
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment")


def test_random_binary_evidence_is_refused_with_422_naming_the_field_and_no_ticket_is_made(
    client: TestClient,
) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = client.post(
        f"{API}/orders/{order['order_no']}/refund-requests",
        data={"reason": "not_as_described"},
        files=[("evidence", ("photo.png", os.urandom(256) + b"\x00\xff", "image/png"))],
        headers={**auth, "Idempotency-Key": "binary"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "evidence[0]"
    assert client.get(f"{API}/tickets", headers=auth).json() == []


def test_the_openapi_document_lists_the_after_sales_endpoints_with_tags_and_summaries(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/orders/{order_no}/refund-requests",
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_no}",
        "/api/v1/tickets/{ticket_no}/files/{file_id}",
        "/api/v1/staff/tickets",
        "/api/v1/messages",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["tags"]
            assert operation["summary"]
    body = paths["/api/v1/orders/{order_no}/refund-requests"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)


# --------------------------------------------------------------------------------------------
# Evidence file for a complaint


def test_the_consumer_downloads_the_evidence_file_as_json_and_pdf_and_a_stranger_gets_404(client: TestClient) -> None:
    auth, stranger = consumer(client), consumer(client)
    order = paid_order(client, auth)
    no = ask_refund(client, auth, order["order_no"]).json()["ticket_no"]
    tick(client)

    answer = client.get(f"{API}/tickets/{no}/evidence", headers=auth)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["ticket"]["ticket_no"] == no
    assert data["ticket"]["status"] == "refunded"
    assert [p["out_trade_no"] for p in data["payments"]] == [order["out_trade_no"]]
    assert order["order_no"] in answer.text

    pdf = client.get(f"{API}/tickets/{no}/evidence.pdf", headers=auth)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert no in pdf.headers["content-disposition"]

    assert client.get(f"{API}/tickets/{no}/evidence", headers=stranger).status_code == 404
    assert client.get(f"{API}/tickets/{no}/evidence.pdf", headers=stranger).status_code == 404
