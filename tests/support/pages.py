"""Driving the site's pages in process (FastAPI's TestClient keeps the session cookie): the CSRF
token a page carries, signing in through the login form, and a consumer with a paid order."""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"
PASSWORD = "long-enough-1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_phones = itertools.count(13500000100)


def csrf_of(page: str) -> str:
    """The CSRF token in a rendered page's first form."""
    found = _CSRF.search(page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def textarea(page: str, element_id: str) -> str:
    """The text inside ``<textarea id=…>``, unescaped as a browser would show it."""
    found = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, f"the page has a textarea #{element_id}"
    return html.unescape(found.group(1))


def log_in(client: TestClient, identifier: str, password: str = PASSWORD, next_url: str = "/orders") -> Any:
    """Sign in through the login form; returns the login POST's answer (not followed)."""
    form = client.get("/login", params={"next": next_url})
    return client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "identifier": identifier, "password": password, "next": next_url},
        follow_redirects=False,
    )


@dataclass(frozen=True)
class Buyer:
    phone: str
    auth: dict[str, str]
    order_no: str


def buyer_with_paid_order(client: TestClient, product: str = "monthly-pass", in_use: bool = True) -> Buyer:
    """A new consumer (signed in on the client's pages too) who bought and paid ``product``, and
    (``in_use``) activated it: a refund of a pass in use is weighed by a person, so the refund
    form has its description box (an unused one is refunded with one click and needs none)."""
    phone = str(next(_phones))
    answer = client.post(f"{API}/auth/signup", json={"identifier": phone, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    auth = {"Authorization": f"Bearer {answer.json()['token']}"}
    order = client.post(
        f"{API}/orders", json={"product": product, "channel": "alipay"}, headers={**auth, "Idempotency-Key": phone}
    )
    assert order.status_code == 201, order.text
    paid = client.post(f"{API}/payments/simulator/{order.json()['out_trade_no']}/pay")
    assert paid.json()["result"] == "paid", paid.text
    assert log_in(client, phone).status_code == 303
    if in_use:
        used = client.post(f"{API}/orders/{order.json()['order_no']}/events", json={"type": "activated"}, headers=auth)
        assert used.status_code == 201, used.text
    return Buyer(phone, auth, order.json()["order_no"])
