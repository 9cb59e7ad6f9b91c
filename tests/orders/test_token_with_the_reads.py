"""Placing an order through the API looks its bearer token up in the checkout's one read (a
statement fewer per order, accounts/sessions.signed_in_beside): it must answer exactly as the
token's own look-up did. A token that signs no one live in is 401 before the product is looked
at, whatever the body names; a live token gets the product's own answers; the order is the
token's holder's; "last seen" is written when due, with the order's commit. On SQLite and
PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update

from kameng.accounts.models import User
from kameng.accounts.sessions import BearerSignIn, SessionKind
from kameng.domain.model import Channel
from kameng.orders import checkout
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.checkout_reads import CheckoutReads
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from tests.aftersales.test_api import API, consumer
from tests.support.apps import container_of
from tests.support.bearer import holder_of, last_seen, refused, secret_of, set_session

_keys = itertools.count(1)


def _order(client: TestClient, auth: dict[str, str], key: str | None = None, **body: Any) -> Response:
    return client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay", "duplicate_ack": True, **body},
        headers={**auth, "Idempotency-Key": key or f"token-read-{next(_keys)}"},
    )


def _orders_of(client: TestClient, user_id: int) -> list[str]:
    with container_of(client).uow() as uow:
        return list(uow.session.scalars(select(OrderRow.order_no).where(OrderRow.user_id == user_id)).all())


def _all_orders(client: TestClient) -> int:
    with container_of(client).uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OrderRow)) or 0


def test_the_order_is_the_token_holders_and_no_one_elses(client: TestClient) -> None:
    first, second = consumer(client), consumer(client)
    placed = _order(client, first)
    assert placed.status_code == 201, placed.text
    assert _orders_of(client, holder_of(client, first)) == [placed.json()["order_no"]]
    assert _orders_of(client, holder_of(client, second)) == []


@pytest.mark.parametrize(
    "end",
    [
        {"ended_at": datetime(2026, 1, 1, tzinfo=UTC)},
        {"expires_at": datetime.now(UTC) - timedelta(seconds=1)},
    ],
    ids=["signed-out", "expired"],
)
def test_a_dead_token_is_refused_and_no_order_is_written(client: TestClient, end: dict[str, object]) -> None:
    auth = consumer(client)
    set_session(client, auth, **end)
    before = _all_orders(client)
    refused(_order(client, auth))
    assert _all_orders(client) == before


def test_a_disabled_consumers_token_isrefused(client: TestClient) -> None:
    auth = consumer(client)
    user_id = holder_of(client, auth)
    with container_of(client).uow() as uow:
        uow.session.execute(update(User).where(User.id == user_id).values(disabled_at=datetime.now(UTC)))
        uow.commit()
    refused(_order(client, auth))
    assert _orders_of(client, holder_of(client, auth)) == []


@pytest.mark.parametrize("product", ["monthly-pass", "no-such-product", "NOT A SLUG!"])
def test_an_unknown_token_is_refused_before_the_product_is_looked_at(client: TestClient, product: str) -> None:
    stranger = {"Authorization": "Bearer km_tok_" + "x" * 43}
    refused(_order(client, stranger, product=product))
    refused(_order(client, {"Authorization": "Bearer " + "y" * 201}, product=product))


@pytest.mark.parametrize("product", ["no-such-product", "NOT A SLUG!"])
def test_a_live_token_hears_what_is_wrong_with_the_product(client: TestClient, product: str) -> None:
    answer = _order(client, consumer(client), product=product)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "product"


def test_a_retry_with_the_same_key_gets_the_same_order(client: TestClient) -> None:
    auth = consumer(client)
    first = _order(client, auth, key="same-key")
    again = _order(client, auth, key="same-key")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["order_no"] == first.json()["order_no"]
    assert again.json()["replayed"] is True
    assert len(_orders_of(client, holder_of(client, auth))) == 1


def test_a_retry_that_lost_the_race_to_write_finds_its_order_by_the_token(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two requests with one key at once both read "no order yet"; the second's write is refused by
    # the key's unique constraint, and it answers with the first's order: its buyer is still a
    # bearer secret there, looked up again in the new transaction.
    auth = consumer(client)
    first = _order(client, auth, key="raced-key")
    assert first.status_code == 201, first.text
    reads = checkout.checkout_reads

    def read_before_the_first_wrote(uow: UnitOfWork, *args: Any) -> CheckoutReads:
        found = reads(uow, *args)
        return CheckoutReads(found.buyer_id, found.product, found.policy_version_id, None, None)

    monkeypatch.setattr(checkout, "checkout_reads", read_before_the_first_wrote)
    container = container_of(client)
    request = CheckoutRequest(
        buyer=BearerSignIn(SessionKind.API, secret_of(auth), datetime.now(UTC)),
        product_slug="monthly-pass",
        channel=Channel.ALIPAY,
        idempotency_key="raced-key",
    )
    placed = place_order(container.uow(), request, container.now(), container.payments)
    assert placed.replayed
    assert placed.order_no == first.json()["order_no"]


def test_last_seen_is_written_with_the_order_when_due_and_not_otherwise(client: TestClient) -> None:
    auth = consumer(client)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    set_session(client, auth, last_seen_at=long_ago)
    assert _order(client, auth).status_code == 201
    seen = last_seen(client, auth)
    assert seen is not None
    assert seen > long_ago + timedelta(minutes=59)
    just_now = datetime.now(UTC)
    set_session(client, auth, last_seen_at=just_now)
    assert _order(client, auth).status_code == 201
    again = last_seen(client, auth)
    assert again == just_now


def test_a_refused_purchase_does_not_write_last_seen(client: TestClient) -> None:
    # The look-up's "last seen" goes with the order's commit: a purchase refused after the read
    # (here: the same product again within a day, not confirmed) leaves the session as it was.
    auth = consumer(client)
    assert _order(client, auth).status_code == 201
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    set_session(client, auth, last_seen_at=long_ago)
    refused = _order(client, auth, duplicate_ack=False)
    assert refused.status_code == 409, refused.text
    seen = last_seen(client, auth)
    assert seen == long_ago
