"""Helpers of the tests that run the real channels inside kameng (the ``wired`` fixture is in conftest)."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"
_keys = itertools.count(1)
_phones = itertools.count(13900000100)


def consumer(client: TestClient) -> dict[str, str]:
    answer = client.post(f"{API}/auth/signup", json={"identifier": str(next(_phones)), "password": "long-enough-1"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def order_at(client: TestClient, auth: dict[str, str], channel: str) -> dict[str, Any]:
    answer = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": channel},
        headers={**auth, "Idempotency-Key": f"order-{next(_keys)}"},
    )
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()
    assert order["pay_url"] == f"/pay/channel/{order['out_trade_no']}"
    return order


def status(client: TestClient, auth: dict[str, str], order_no: str) -> str:
    answer = client.get(f"{API}/orders/{order_no}", headers=auth)
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["status"]
    return value


def ask_refund(client: TestClient, auth: dict[str, str], order_no: str) -> dict[str, Any]:
    answer = client.post(
        f"{API}/orders/{order_no}/refund-requests",
        json={"reason": "changed_mind", "description": "不想要了"},
        headers={**auth, "Idempotency-Key": f"refund-{next(_keys)}"},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def ticket_status(client: TestClient, auth: dict[str, str], ticket_no: str) -> str:
    answer = client.get(f"{API}/tickets/{ticket_no}", headers=auth)
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["status"]
    return value
