"""Webhook endpoints over the API (an API key with webhooks:manage) and on the operator's pages:
registering, the delivery log with the receiver's answers, send again; and the ticket events of a
real refund request reaching a receiver in order. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from kameng.platform.errors import InvalidInput
from kameng.webhooks.endpoints import check_url
from kameng.worker import drain_outbox, run_tick
from tests.accounts.test_revocation import bearer, csrf_of, second_browser, sign_in, token_for
from tests.integrations.test_api_keys import OPERATOR, make_key
from tests.support.apps import container_of
from tests.support.receivers import WebhookReceiver

API = "/api/v1/webhooks"


def register(client: TestClient, receiver: WebhookReceiver, key: str, *events: str) -> dict[str, object]:
    answer = client.post(
        f"{API}/endpoints", headers=bearer(key), json={"url": receiver.url, "event_types": list(events)}
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, object] = answer.json()
    receiver.secrets = [str(made["secret"])]
    return made


def test_an_integrator_registers_an_endpoint_and_reads_its_log(client: TestClient, receiver: WebhookReceiver) -> None:
    key = str(make_key(client, "webhooks:manage", "refunds:write", "refunds:read")["key"])
    made = register(client, receiver, key, "refund.approved")
    assert str(made["secret"]).startswith("whsec_")
    assert [row["id"] for row in client.get(f"{API}/endpoints", headers=bearer(key)).json()] == [made["id"]]

    receiver.plan.append("500")
    queue = client.get(
        "/api/v1/staff/tickets", headers=bearer(token_for(client, OPERATOR)), params={"status": "in_review"}
    )
    ticket_no = queue.json()["items"][0]["ticket_no"]
    assert client.post(f"/api/v1/integrations/tickets/{ticket_no}/approve", headers=bearer(key)).status_code == 200
    container = container_of(client)
    drain_outbox(container, container.now())

    deliveries = client.get(f"{API}/endpoints/{made['id']}/deliveries", headers=bearer(key)).json()
    (delivery,) = deliveries
    assert delivery["event_type"] == "refund.approved"
    assert delivery["object_id"] == ticket_no
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] == 500
    log = client.get(f"{API}/deliveries/{delivery['id']}", headers=bearer(key)).json()
    assert log["attempt_log"][0]["status_code"] == 500
    assert log["attempt_log"][0]["response_excerpt"].startswith("receiver broke")
    assert log["body"]["data"]["ticket_no"] == ticket_no

    # "Send again" on a delivery still pending: due now, not at its next retry.
    again = client.post(f"{API}/deliveries/{delivery['id']}/resend", headers=bearer(key))
    assert again.status_code == 201
    assert again.json()["id"] == delivery["id"]
    run_tick(container, container.now())
    assert [request.json["data"]["ticket_no"] for request in receiver.delivered] == [ticket_no]


def test_endpoints_refuse_bad_urls_and_unknown_events_and_keys_without_the_scope(
    client: TestClient, receiver: WebhookReceiver
) -> None:
    key = str(make_key(client, "webhooks:manage")["key"])
    for url in ["ftp://example.com/x", "https://user:pw@example.com/", "not a url", "http://"]:
        answer = client.post(f"{API}/endpoints", headers=bearer(key), json={"url": url, "event_types": ["order.paid"]})
        assert answer.status_code == 422, url
        assert answer.json()["error"]["field"] in {"url", "body.url"}
    unknown = client.post(f"{API}/endpoints", headers=bearer(key), json={"url": receiver.url, "event_types": ["x.y"]})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "event_types"
    reader = str(make_key(client, "orders:read")["key"])
    assert client.get(f"{API}/endpoints", headers=bearer(reader)).status_code == 403
    assert client.get(f"{API}/endpoints", headers=bearer(token_for(client))).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.0.0.8/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
    ],
)
def test_production_takes_only_public_https_endpoints(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, allow_private=False)
    assert check_url("https://hooks.example.com/x", allow_private=False) == "https://hooks.example.com/x"


def test_a_refund_request_is_told_as_requested_then_approved(client: TestClient, receiver: WebhookReceiver) -> None:
    key = str(make_key(client, "webhooks:manage")["key"])
    register(client, receiver, key, "refund.requested", "refund.approved", "order.paid")
    consumer = token_for(client)
    orders = client.get("/api/v1/orders", headers=bearer(consumer)).json()
    paid = next(order for order in orders if order["status"] == "paid" and order["kind"] == "membership")
    answer = client.post(
        f"/api/v1/orders/{paid['order_no']}/refund-requests",
        headers={**bearer(consumer), "Idempotency-Key": "webhook-order-test"},
        json={"reason": "changed_mind"},
    )
    assert answer.status_code == 201, answer.text
    container = container_of(client)
    drain_outbox(container, container.now() + timedelta(seconds=1))
    types = [request.json["type"] for request in receiver.delivered]
    # A change of mind on an unused pass is refunded at once (RULES.md §3a): approved in the same step.
    assert answer.json()["status"] == "refunding"
    assert types == ["refund.requested", "refund.approved"]
    assert all(request.json["data"]["order_no"] == paid["order_no"] for request in receiver.delivered)


def test_the_operator_manages_an_endpoint_and_resends_from_the_pages(
    client: TestClient, receiver: WebhookReceiver
) -> None:
    browser = second_browser(client)
    sign_in(browser, OPERATOR)
    csrf = csrf_of(browser, "/staff/webhooks")
    made = browser.post(
        "/staff/webhooks",
        data={"csrf": csrf, "url": receiver.url, "description": "ERP", "event_types": ["order.paid"]},
        follow_redirects=False,
    )
    assert made.status_code == 303
    page_url = made.headers["location"]
    page = browser.get(page_url)
    secret = re.search(r'id="endpoint-secret">([^<]+)<', page.text)
    assert secret
    receiver.secrets = [secret.group(1)]

    from kameng.webhooks.events import EventType, emit

    container = container_of(client)
    with container.uow() as uow:
        emit(uow, EventType.ORDER_PAID, "O-PAGE", {"order_no": "O-PAGE"}, container.now())
        uow.commit()
    receiver.plan.append("500")
    drain_outbox(container, container.now())
    page = browser.get(page_url)
    delivery_id = re.search(r'id="delivery-(\d+)"', page.text)
    assert delivery_id
    log = browser.get(f"/staff/webhooks/deliveries/{delivery_id.group(1)}")
    assert log.status_code == 200
    assert ">500<" in log.text
    assert "receiver broke" in log.text

    csrf = csrf_of(browser, f"/staff/webhooks/deliveries/{delivery_id.group(1)}")
    resent = browser.post(f"/staff/webhooks/deliveries/{delivery_id.group(1)}/resend", data={"csrf": csrf})
    assert resent.status_code == 200
    run_tick(container, container.now())
    assert len(receiver.delivered) == 1
    # Delivered, and sent again: a second delivery of the same event.
    csrf = csrf_of(browser, f"/staff/webhooks/deliveries/{delivery_id.group(1)}")
    browser.post(f"/staff/webhooks/deliveries/{delivery_id.group(1)}/resend", data={"csrf": csrf})
    drain_outbox(container, container.now())
    assert len(receiver.delivered) == 2
    assert receiver.delivered[0].message_id != receiver.delivered[1].message_id

    # Switched off from the page, the endpoint is told nothing more; rotating keeps the old secret a day.
    csrf = csrf_of(browser, page_url)
    browser.post(f"{page_url}/rotate", data={"csrf": csrf})
    assert 'id="overlap"' in browser.get(page_url).text
    csrf = csrf_of(browser, page_url)
    browser.post(f"{page_url}/disable", data={"csrf": csrf})
    assert 'id="enable"' in browser.get(page_url).text


def test_staff_who_are_not_operators_do_not_see_the_webhook_pages(client: TestClient) -> None:
    browser = second_browser(client)
    sign_in(browser, "agent@kameng.test")
    assert browser.get("/staff/webhooks").status_code == 404
    assert browser.get("/staff/integrations").status_code == 404
