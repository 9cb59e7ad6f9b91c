"""One request id from the click to the channel: the answer's header, the outbox rows the
request queued, and the log lines of the worker that ran them and of the channel calls."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng.platform.logs import RequestIdFilter
from kameng.platform.outbox import OutboxKind, OutboxRow
from kameng.worker import run_tick
from tests.aftersales.test_api import consumer, paid_order
from tests.support.apps import container_of


def test_a_sane_incoming_request_id_is_kept_and_echoed(client: TestClient) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": "edge-proxy-42.a_b"})

    assert answer.headers["x-request-id"] == "edge-proxy-42.a_b"


@pytest.mark.parametrize("sent", ["short", "has space in it", "x" * 65, "semi;colon-123", "ünïcode-12345"])
def test_an_insane_incoming_request_id_is_replaced_by_a_new_one(client: TestClient, sent: str) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": sent.encode("utf-8")})

    assert re.fullmatch(r"[0-9a-f]{16}", answer.headers["x-request-id"])


def test_each_request_without_an_id_gets_a_new_one(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]

    assert first != second


def test_the_request_id_reaches_the_outbox_rows_and_the_worker_and_channel_log_lines(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = client.post(
        f"/api/v1/orders/{order['order_no']}/refund-requests",
        json={"reason": "changed_mind", "description": "不想要了"},
        headers={**auth, "Idempotency-Key": "refund-request-id-1", "X-Request-ID": "click-0000000001"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == "click-0000000001"
    container = container_of(client)
    with container.uow() as uow:
        rows = uow.session.scalars(select(OutboxRow).where(OutboxRow.request_id == "click-0000000001")).all()
        kinds = {row.kind for row in rows}
    assert OutboxKind.SEND_REFUND.value in kinds

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        run_tick(container, container.now())

    ours = [record for record in caplog.records if getattr(record, "request_id", None) == "click-0000000001"]
    assert any(record.name == "kameng.payouts" and "asking the channel" in record.getMessage() for record in ours)
    assert any(record.name == "kameng.outbox" and "send_refund" in record.getMessage() for record in ours)
    # The worker's own lines, outside any row, name no request.
    worker_lines = [record for record in caplog.records if record.name == "kameng.worker"]
    assert all(getattr(record, "request_id", None) is None for record in worker_lines)
