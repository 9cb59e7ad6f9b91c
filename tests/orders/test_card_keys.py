"""Card keys (卡密): reserved at checkout, delivered on payment, revealed to their buyer with a
recorded event, and never sold twice. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from kameng.accounts.models import User
from kameng.catalog.models import ProductRow
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.states import CardKeyStatus
from kameng.domain.users import Role
from kameng.orders.models import CardKeyRow
from kameng.orders.payments import cancel_unpaid_order, expire_unpaid_orders
from kameng.orders.queries import list_orders
from kameng.orders.usage import reveal_card_key
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict
from tests.support.shop import assert_books_balance, buy, card_key, events, order

pytestmark = pytest.mark.usefixtures("catalog")
GAME = "game-points-50"


def _viewer(user: User) -> Viewer:
    return Viewer(user.id, user.role)


def _keys_left(uow: UnitOfWork) -> int:
    with uow:
        return (
            uow.session.scalar(
                select(func.count(CardKeyRow.id))
                .join(ProductRow, ProductRow.id == CardKeyRow.product_id)
                .where(ProductRow.slug == GAME, CardKeyRow.status == CardKeyStatus.AVAILABLE)
            )
            or 0
        )


def test_a_key_is_reserved_at_checkout_and_delivered_on_payment(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, GAME, now, pay=False, nonrefundable_ack=True)
    key = card_key(uow, placed.order_no)
    assert key is not None
    assert key.status is CardKeyStatus.RESERVED
    assert _keys_left(uow) == 29
    assert placed.out_trade_no
    simulate_payer(uow, placed.out_trade_no, True, channel, now + timedelta(minutes=1))
    delivered = card_key(uow, placed.order_no)
    assert delivered is not None
    assert (delivered.id, delivered.status) == (key.id, CardKeyStatus.DELIVERED)
    assert delivered.delivered_at == now + timedelta(minutes=1)
    assert [e.type for e in events(uow, placed.order_no, "delivered")] == ["delivered"]


def test_revealing_a_key_records_one_event_however_often_it_is_shown(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, GAME, now, nonrefundable_ack=True)
    first = reveal_card_key(uow, _viewer(user), placed.order_no, now + timedelta(minutes=2))
    second = reveal_card_key(uow, _viewer(user), placed.order_no, now + timedelta(minutes=9))
    assert first == second
    assert first.endswith("-DEMO")
    revealed = events(uow, placed.order_no, "key_revealed")
    assert [(e.type, e.at, e.actor_id) for e in revealed] == [("key_revealed", now + timedelta(minutes=2), user.id)]
    key = card_key(uow, placed.order_no)
    assert key is not None
    assert key.status is CardKeyStatus.REVEALED


def test_an_unpaid_order_shows_no_key(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, GAME, now, pay=False, nonrefundable_ack=True)
    with pytest.raises(Conflict) as error:
        reveal_card_key(uow, _viewer(user), placed.order_no, now)
    assert error.value.code == "no_key"


def test_expiry_releases_a_reserved_key_for_sale_again(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, GAME, now, pay=False, nonrefundable_ack=True)
    key = card_key(uow, placed.order_no)
    assert key is not None
    assert expire_unpaid_orders(uow, now + timedelta(minutes=15)) == 1
    with uow:
        released = uow.session.get(CardKeyRow, key.id)
        assert released is not None
        assert (released.status, released.order_id) == (CardKeyStatus.AVAILABLE, None)
    assert _keys_left(uow) == 30
    cancelled = buy(uow, channel, user.id, GAME, now + timedelta(minutes=20), pay=False, nonrefundable_ack=True)
    cancel_unpaid_order(uow, _viewer(user), cancelled.order_no, now + timedelta(minutes=21))
    assert _keys_left(uow) == 30


def test_a_revealed_key_is_never_released_nor_sold_again(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    sold = buy(uow, channel, user.id, GAME, now, nonrefundable_ack=True)
    code = reveal_card_key(uow, _viewer(user), sold.order_no, now)
    expire_unpaid_orders(uow, now + timedelta(days=1))
    key = card_key(uow, sold.order_no)
    assert key is not None
    assert key.status is CardKeyStatus.REVEALED
    later = [
        buy(uow, channel, make_user().id, GAME, now + timedelta(hours=1), nonrefundable_ack=True) for _ in range(3)
    ]
    codes = {reveal_card_key(uow, _viewer_of(uow, p.order_no), p.order_no, now) for p in later}
    assert code not in codes
    assert len(codes) == 3


def _viewer_of(uow: UnitOfWork, order_no: str) -> Viewer:
    return Viewer(order(uow, order_no).user_id, Role.CONSUMER)


def test_the_last_key_sold_means_sold_out_with_nothing_charged(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    with uow:
        # Leave exactly one key on sale.
        product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == GAME))
        spare = select(CardKeyRow.id).where(CardKeyRow.product_id == product_id).order_by(CardKeyRow.id).offset(1)
        uow.session.execute(update(CardKeyRow).where(CardKeyRow.id.in_(spare)).values(status=CardKeyStatus.REVOKED))
        uow.commit()
    first, second = make_user(), make_user()
    buy(uow, channel, first.id, GAME, now, nonrefundable_ack=True)
    with pytest.raises(Conflict) as error:
        buy(uow, channel, second.id, GAME, now, nonrefundable_ack=True)
    assert error.value.code == "sold_out"
    assert list_orders(uow, _viewer(second)) == []
    assert_books_balance(uow)
