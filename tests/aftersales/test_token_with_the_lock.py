"""A refund request looks its bearer token up in the order's lock statement (one statement fewer
per request, accounts/sessions.BearerSignIn): it must answer exactly as the token's own look-up
did. A token that signs no one in is 401 whether or not its holder owns the order; a live token
on someone else's order is 404; "last seen" is written when due, with the request's commit. On
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket
from tests.aftersales.test_api import API, ask_refund, consumer, paid_order
from tests.support.apps import container_of
from tests.support.bearer import holder_of, last_seen, refused, set_session


def _tickets_of(client: TestClient, order_no: str) -> int:
    from kameng.orders.models import OrderRow

    with container_of(client).uow() as uow:
        return len(
            uow.session.scalars(
                select(Ticket.id).join(OrderRow, OrderRow.id == Ticket.order_id).where(OrderRow.order_no == order_no)
            ).all()
        )


def test_a_signed_out_token_is_refused_on_its_holders_own_order_and_nothing_is_written(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    assert client.post(f"{API}/auth/logout", headers=auth).status_code == 204
    refused(ask_refund(client, auth, order["order_no"]))
    assert _tickets_of(client, order["order_no"]) == 0


def test_an_expired_token_is_refused_on_its_holders_own_order(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    set_session(client, auth, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    refused(ask_refund(client, auth, order["order_no"]))
    assert _tickets_of(client, order["order_no"]) == 0


def test_a_disabled_consumers_token_is_refused_on_their_own_order(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    user_id = holder_of(client, auth)
    with container_of(client).uow() as uow:
        uow.session.execute(update(User).where(User.id == user_id).values(disabled_at=datetime.now(UTC)))
        uow.commit()
    refused(ask_refund(client, auth, order["order_no"]))
    assert _tickets_of(client, order["order_no"]) == 0


def test_an_unknown_token_is_refused_before_the_order_is_looked_at(client: TestClient) -> None:
    order = paid_order(client, consumer(client))
    stranger = {"Authorization": "Bearer km_tok_" + "x" * 43}
    refused(ask_refund(client, stranger, order["order_no"]))
    refused(ask_refund(client, stranger, "26010100000001"))
    too_long = {"Authorization": "Bearer " + "y" * 201}
    refused(ask_refund(client, too_long, order["order_no"]))


def test_a_live_token_on_another_consumers_order_or_on_no_order_is_not_found(client: TestClient) -> None:
    owner = consumer(client)
    order = paid_order(client, owner)
    other = consumer(client)
    for order_no in (order["order_no"], "26010100000001"):
        answer = ask_refund(client, other, order_no)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert _tickets_of(client, order["order_no"]) == 0
    assert ask_refund(client, owner, order["order_no"]).status_code == 201


def test_a_bad_body_with_a_live_token_is_said_as_such(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    answer = client.post(
        f"{API}/orders/{order['order_no']}/refund-requests",
        headers={**auth, "Idempotency-Key": "bad-body"},
        json={"reason": "no-such-reason"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "reason"


def test_last_seen_is_written_with_the_request_when_due_and_not_otherwise(client: TestClient) -> None:
    auth = consumer(client)
    order = paid_order(client, auth)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    set_session(client, auth, last_seen_at=long_ago)
    answer = ask_refund(client, auth, order["order_no"])
    assert answer.status_code == 201, answer.text
    seen = last_seen(client, auth)
    assert seen is not None
    assert seen > long_ago + timedelta(minutes=59)
    # Just seen: a second request within the minute writes nothing to the session.
    second = paid_order(client, auth, "annual-card")
    just_now = datetime.now(UTC)
    set_session(client, auth, last_seen_at=just_now)
    assert ask_refund(client, auth, second["order_no"]).status_code == 201
    again = last_seen(client, auth)
    assert again == just_now
