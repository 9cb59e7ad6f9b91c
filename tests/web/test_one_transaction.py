"""The hot write routes are one transaction each: the bearer token's look-up is read in the
transaction that the request step commits (web/auth.user_in). A look-up in a transaction of its own
ended in a rollback, and psycopg forgets a connection's prepared statements at every rollback
(docs/performance.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.support.apps import container_of
from tests.support.statements import statements

API = "/api/v1"


@pytest.fixture
def transactions(client: TestClient) -> Iterator[list[str]]:
    """How each transaction on the app's engine ended ("commit" or "rollback"), in order."""
    ended: list[str] = []
    engine = container_of(client).engine
    listeners = {"commit": lambda _conn: ended.append("commit"), "rollback": lambda _conn: ended.append("rollback")}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    yield ended
    for name, listener in listeners.items():
        event.remove(engine, name, listener)


def _signed_in(client: TestClient) -> dict[str, str]:
    answer = client.post(f"{API}/auth/signup", json={"identifier": "13900002222", "password": "long-enough-1"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _order(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    placed = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay", "duplicate_ack": True},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    body: dict[str, str] = placed.json()
    return body


def test_placing_an_order_and_asking_for_a_refund_are_one_transaction_each(
    client: TestClient, transactions: list[str]
) -> None:
    headers = _signed_in(client)
    transactions.clear()
    placed = _order(client, headers)
    assert transactions == ["commit"]

    assert client.post(f"{API}/payments/simulator/{placed['out_trade_no']}/pay").status_code == 200
    transactions.clear()
    asked = client.post(
        f"{API}/orders/{placed['order_no']}/refund-requests",
        json={"reason": "changed_mind", "description": "one transaction"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked.status_code == 201, asked.text
    assert transactions == ["commit"]


def test_a_revoked_token_is_refused_and_its_transaction_rolled_back(
    client: TestClient, transactions: list[str]
) -> None:
    headers = _signed_in(client)
    assert client.post(f"{API}/auth/logout", headers=headers).status_code in {200, 204}
    transactions.clear()
    refused = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay", "duplicate_ack": True},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.status_code == 401, refused.text
    assert transactions == ["rollback"]


@pytest.mark.postgres
def test_a_one_click_refund_request_is_three_statements_on_postgresql(client: TestClient) -> None:
    # The order's lock (with the token's look-up and the ids drawn ahead), the reads under it, and
    # the step's one write (platform/db/step_end.py): what the benchmarks' figures rest on
    # (docs/performance.md). A fourth is a lazy load, a flush or a look-up come back unnoticed.
    # The first request on a policy version reads its terms once (catalog.services.policy_terms);
    # every later one, on any order sold under it, takes them from what the process kept.
    headers = _signed_in(client)
    first, second = _order(client, headers), _order(client, headers)
    for placed in (first, second):
        assert client.post(f"{API}/payments/simulator/{placed['out_trade_no']}/pay").status_code == 200

    def ask(placed: dict[str, str]) -> list[str]:
        with statements(container_of(client).engine) as seen:
            asked = client.post(
                f"{API}/orders/{placed['order_no']}/refund-requests",
                json={"reason": "changed_mind", "description": "three statements"},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
        assert asked.status_code == 201, asked.text
        assert asked.json()["decision"] == "auto_approve"
        return seen

    seen = ask(first)
    assert len(seen) == 4, "\n\n".join(seen)
    assert ["FROM policy_versions" in statement for statement in seen] == [False, False, True, False]
    seen = ask(second)
    assert len(seen) == 3, "\n\n".join(seen)
    assert "FOR UPDATE" in seen[0]
    assert seen[2].lstrip().startswith("WITH")


@pytest.mark.postgres
def test_placing_an_order_is_two_statements_and_paying_it_two_on_postgresql(client: TestClient) -> None:
    # Placing: the reads (the bearer token's look-up, the product, current policy, recent order,
    # the key's order, the ids drawn ahead), then the order and payment written together. Paying
    # (the simulator's payer: no token): the payment and order locked with what settling reads of
    # the product, then the settlement written together. One more is a look-up of the token alone,
    # a lazy load of the order's product or policy, or a flush, come back unnoticed.
    headers = _signed_in(client)
    _order(client, headers)  # the first of a process reads what later ones keep
    engine = container_of(client).engine
    with statements(engine) as placing:
        placed = _order(client, headers)
    assert len(placing) == 2, "\n\n".join(placing)
    assert "FROM products JOIN" in placing[0]
    assert "auth_sessions" in placing[0]
    assert placing[1].lstrip().startswith("WITH")
    with statements(engine) as paying:
        assert client.post(f"{API}/payments/simulator/{placed['out_trade_no']}/pay").status_code == 200
    assert len(paying) == 2, "\n\n".join(paying)
    assert "FOR UPDATE" in paying[0]
    assert paying[1].lstrip().startswith("WITH")
