"""GET /metrics, scraped and parsed as Prometheus does: HTTP traffic by route template, and the
database's figures (outbox, refunds in flight, overdue tickets, notifications, the worker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from kameng.web.app import create_app
from kameng.worker import Heartbeat, run_tick, tick_once, worker_name
from tests.aftersales.test_api import consumer, in_review, move_clock, paid_order
from tests.support.apps import SECRET, app_settings, container_of

PRODUCTION = {
    "KAMENG_ENV": "production",
    "KAMENG_SECRET_KEY": SECRET,
    "KAMENG_AUTO_PREPARE": "0",
    "KAMENG_CARD_KEY_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
}


def scrape(client: TestClient, **headers: str) -> dict[str, list[Sample]]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(answer.text)}


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matching = [s.value for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matching) == 1, (name, labels, samples[name])
    return matching[0]


def test_http_requests_are_counted_and_timed_by_route_template_and_status(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    client.get(f"/api/v1/orders/{order['order_no']}", headers=auth)
    client.get("/api/v1/orders/999999999999", headers=auth)
    client.get("/no/such/page")

    samples = scrape(client)

    requests = samples["kameng_http_requests"]
    by_route = {(s.labels["route"], s.labels["status"]) for s in requests if s.name.endswith("_total")}
    assert ("/api/v1/orders/{order_no}", "200") in by_route
    assert ("/api/v1/orders/{order_no}", "404") in by_route
    assert ("<unmatched>", "404") in by_route
    assert not any(order["order_no"] in route for route, _ in by_route)
    counts = [
        s.value
        for s in samples["kameng_http_request_duration_seconds"]
        if s.name.endswith("_count") and s.labels["route"] == "/api/v1/orders/{order_no}"
    ]
    assert counts == [2.0]


def test_the_database_figures_follow_the_work_in_progress(client: TestClient) -> None:
    container = container_of(client)
    empty = scrape(client)
    assert value(empty, "kameng_database_up") == 1
    assert value(empty, "kameng_refunds_processing") == 0
    assert value(empty, "kameng_tickets_overdue") == 0
    assert "kameng_worker_heartbeat_age_seconds" not in empty

    auth = consumer(client)
    order = paid_order(client, auth)
    refund = client.post(
        f"/api/v1/orders/{order['order_no']}/refund-requests",
        json={"reason": "changed_mind", "description": "不想要了"},
        headers={**auth, "Idempotency-Key": "metrics-refund-1"},
    )
    assert refund.status_code == 201, refund.text
    in_review(client, consumer(client))
    queued = scrape(client)
    assert value(queued, "kameng_outbox_backlog") >= 1

    tick_once(container, Heartbeat(worker_name("metrics"), container.now(), 5.0))
    move_clock(client, timedelta(days=30))
    later = scrape(client)

    assert value(later, "kameng_refunds_processing") == 1
    assert value(later, "kameng_refunds_processing_oldest_age_seconds") >= 30 * 86400
    # Ours, and any the demo data left in review: all past their deadline a month on.
    assert value(later, "kameng_tickets_overdue") >= 1
    assert value(later, "kameng_worker_heartbeat_age_seconds") >= 30 * 86400
    assert value(later, "kameng_outbox_failing", kind="send_refund") == 0
    assert value(later, "kameng_notification_failures") == 0


def test_notifications_that_fail_are_counted(client: TestClient) -> None:
    container = container_of(client)
    auth = consumer(client)
    in_review(client, auth)

    def broken(*_: object) -> None:
        raise ConnectionError("the SMS gateway is down")

    container.sender.send = broken  # type: ignore[method-assign]
    run_tick(container, container.now())

    assert value(scrape(client), "kameng_notification_failures") >= 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_in_production_metrics_need_the_token_and_are_absent_without_one(db_url: str) -> None:
    with TestClient(create_app(app_settings(db_url, **PRODUCTION))) as client:
        assert client.get("/metrics").status_code == 404
    settings = app_settings(db_url, **PRODUCTION, KAMENG_METRICS_TOKEN="scrape-token-0123456789")
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        samples = scrape(client, Authorization="Bearer scrape-token-0123456789")
    assert value(samples, "kameng_database_up") == 1
