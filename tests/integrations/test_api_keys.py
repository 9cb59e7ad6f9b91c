"""API keys: made by an operator and shown once, kept hashed, scoped, and refused at once when
revoked; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng.demo import DEMO_PASSWORD
from kameng.integrations.models import ApiKey
from tests.accounts.test_revocation import bearer, csrf_of, second_browser, sign_in, token_for
from tests.support.apps import container_of

API = "/api/v1"
KEYS = f"{API}/integrations/api-keys"
OPERATOR = "operator@kameng.test"


def make_key(client: TestClient, *scopes: str, name: str = "ERP") -> dict[str, object]:
    operator = token_for(client, OPERATOR)
    answer = client.post(KEYS, headers=bearer(operator), json={"name": name, "scopes": list(scopes)})
    assert answer.status_code == 201, answer.text
    made: dict[str, object] = answer.json()
    return made


def review_ticket(client: TestClient) -> str:
    # The demo leaves one of 李四's requests waiting for a person's review.
    staff = token_for(client, OPERATOR)
    queue = client.get(f"{API}/staff/tickets", headers=bearer(staff), params={"status": "in_review"})
    assert queue.status_code == 200, queue.text
    ticket_no: str = queue.json()["items"][0]["ticket_no"]
    return ticket_no


def test_a_key_is_shown_once_and_stored_only_as_a_hash(client: TestClient) -> None:
    made = make_key(client, "orders:read")
    key = str(made["key"])
    assert key.startswith("km_live_")
    assert len(key) > 40
    assert key.startswith(str(made["prefix"]))
    listed = client.get(KEYS, headers=bearer(token_for(client, OPERATOR))).json()
    assert [row["id"] for row in listed] == [made["id"]]
    assert "key" not in listed[0]
    with container_of(client).uow() as uow:
        row = uow.session.scalars(select(ApiKey)).one()
    assert key not in (row.secret_hash, row.prefix)


def test_a_key_reads_orders_within_its_scope_only(client: TestClient) -> None:
    key = str(make_key(client, "orders:read")["key"])
    orders = client.get(f"{API}/integrations/orders", headers=bearer(key))
    assert orders.status_code == 200, orders.text
    assert orders.json(), "the demo's orders are readable"
    order_no = orders.json()[0]["order_no"]
    assert client.get(f"{API}/integrations/orders/{order_no}", headers=bearer(key)).status_code == 200
    ticket_no = review_ticket(client)
    refused = client.get(f"{API}/integrations/tickets/{ticket_no}", headers=bearer(key))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "missing_scope"
    # A key is not a person's token: the consumer API does not take it.
    assert client.get(f"{API}/orders", headers=bearer(key)).status_code == 401


def test_a_key_with_refund_scopes_reads_and_approves_a_refund(client: TestClient) -> None:
    key = str(make_key(client, "refunds:read", "refunds:write")["key"])
    ticket_no = review_ticket(client)
    read = client.get(f"{API}/integrations/tickets/{ticket_no}", headers=bearer(key))
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "in_review"
    approved = client.post(f"{API}/integrations/tickets/{ticket_no}/approve", headers=bearer(key))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "refunding"
    again = client.post(f"{API}/integrations/tickets/{ticket_no}/approve", headers=bearer(key))
    assert again.status_code == 409


def test_a_revoked_key_answers_401_at_once(client: TestClient) -> None:
    made = make_key(client, "orders:read")
    key = str(made["key"])
    assert client.get(f"{API}/integrations/orders", headers=bearer(key)).status_code == 200
    revoked = client.delete(f"{KEYS}/{made['id']}", headers=bearer(token_for(client, OPERATOR)))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    answer = client.get(f"{API}/integrations/orders", headers=bearer(key))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_only_an_operator_makes_keys_and_scopes_are_checked(client: TestClient) -> None:
    agent = token_for(client, "agent@kameng.test")
    answer = client.post(KEYS, headers=bearer(agent), json={"name": "ERP", "scopes": ["orders:read"]})
    assert answer.status_code == 404
    operator = token_for(client, OPERATOR)
    unknown = client.post(KEYS, headers=bearer(operator), json={"name": "ERP", "scopes": ["everything"]})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "scopes"
    consumer = token_for(client)
    assert client.get(f"{API}/integrations/orders", headers=bearer(consumer)).status_code == 403


def test_the_operator_makes_sees_and_revokes_a_key_on_the_page(client: TestClient) -> None:
    browser = second_browser(client)
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    csrf = csrf_of(browser, "/staff/integrations")
    made = browser.post("/staff/integrations/keys", data={"csrf": csrf, "name": "Warehouse", "scopes": ["orders:read"]})
    assert made.status_code == 200
    secret = re.search(r'id="new-key-secret">([^<]+)<', made.text)
    assert secret
    assert secret.group(1).startswith("km_live_")
    assert client.get(f"{API}/integrations/orders", headers=bearer(secret.group(1))).status_code == 200
    # Shown once: the list page shows the prefix only.
    listing = browser.get("/staff/integrations").text
    assert secret.group(1) not in listing
    key_id = re.search(r'id="revoke-(\d+)"', listing)
    assert key_id
    csrf = csrf_of(browser, "/staff/integrations")
    browser.post(f"/staff/integrations/keys/{key_id.group(1)}/revoke", data={"csrf": csrf})
    assert client.get(f"{API}/integrations/orders", headers=bearer(secret.group(1))).status_code == 401
