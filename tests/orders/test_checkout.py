"""Checkout against a real database: coupons, the balance, the questions asked before paying,
and idempotency keys. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel
from kameng.domain.states import OrderStatus, PaymentStatus
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.payments import expire_unpaid_orders
from kameng.orders.queries import list_orders
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, InvalidInput
from tests.support.shop import assert_books_balance, balance, buy, coupon, events, journal, order, payments

pytestmark = pytest.mark.usefixtures("catalog")


def test_a_coupon_lowers_the_price_and_is_used_once(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    first, second = make_user(), make_user()
    placed = buy(uow, channel, first.id, "monthly-pass", now, coupon_code="sorry10")
    assert placed.amount_fen == 3000 - 1000
    row = order(uow, placed.order_no)
    assert (row.list_price_fen, row.coupon_fen, row.status) == (3000, 1000, OrderStatus.PAID)
    assert coupon(uow, "SORRY10").used_by_order_id == row.id
    with pytest.raises(InvalidInput) as error:
        buy(uow, channel, second.id, "monthly-pass", now, coupon_code="SORRY10")
    assert error.value.code == "coupon_used"
    sale = journal(uow, placed.order_no)
    assert [entry.kind for entry in sale] == ["sale"]
    assert {line.account: line.amount_fen for line in sale[0].lines} == {
        "channel:alipay": 2000,
        "coupon_expense": 1000,
        "merchant_payable:1": -3000,
    }
    assert_books_balance(uow)


def test_a_coupon_below_its_minimum_spend_is_refused(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    with pytest.raises(InvalidInput) as error:
        buy(uow, channel, make_user().id, "monthly-pass", now, coupon_code="WELCOME20")
    assert error.value.code == "coupon_min_spend"


def test_an_unpaid_orders_coupon_is_released_when_it_expires(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    first, second = make_user(), make_user()
    held = buy(uow, channel, first.id, "annual-card", now, pay=False, coupon_code="WELCOME20")
    assert held.amount_fen == 19900 - 2000
    assert coupon(uow, "WELCOME20").used_by_order_id is not None
    assert expire_unpaid_orders(uow, now + timedelta(minutes=14)) == 0
    assert expire_unpaid_orders(uow, now + timedelta(minutes=15)) == 1
    assert order(uow, held.order_no).status is OrderStatus.EXPIRED
    assert coupon(uow, "WELCOME20").used_by_order_id is None
    assert [e.type for e in events(uow, held.order_no)] == ["order_expired"]
    later = now + timedelta(minutes=20)
    again = buy(uow, channel, second.id, "annual-card", later, coupon_code="WELCOME20")
    assert order(uow, again.order_no).coupon_fen == 2000
    assert_books_balance(uow)


def test_a_balance_payment_spends_bonus_first_and_records_it_on_the_top_up(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    top_up = buy(uow, channel, user.id, "top-up-100", now)
    assert balance(uow, user.id) == (10000, 2000)
    placed = buy(uow, channel, user.id, "monthly-pass", now + timedelta(hours=1), via=Channel.BALANCE)
    assert placed.status is OrderStatus.PAID
    assert placed.pay_url is None
    assert balance(uow, user.id) == (10000 - 1000, 0)
    spent = events(uow, top_up.order_no, "spent")
    assert [(e.amount_fen, e.note) for e in spent] == [(3000, f"order {placed.order_no}")]
    (sale,) = journal(uow, placed.order_no)
    lines = {line.account: line.amount_fen for line in sale.lines}
    assert lines[f"balance_bonus:{user.id}"] == 2000
    assert lines[f"balance_cash:{user.id}"] == 1000
    assert_books_balance(uow)


def test_a_balance_payment_without_enough_money_changes_nothing(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    with pytest.raises(InvalidInput) as error:
        buy(uow, channel, user.id, "monthly-pass", now, via=Channel.BALANCE)
    assert error.value.code == "insufficient_balance"
    assert list_orders(uow, Viewer(user.id, user.role)) == []
    assert_books_balance(uow)


def test_buying_the_same_product_within_24_hours_asks_first(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    first = buy(uow, channel, user.id, "monthly-pass", now)
    with pytest.raises(Conflict) as error:
        buy(uow, channel, user.id, "monthly-pass", now + timedelta(hours=23))
    assert error.value.code == "duplicate_purchase"
    assert first.order_no in error.value.message_en
    second = buy(uow, channel, user.id, "monthly-pass", now + timedelta(hours=23), duplicate_ack=True)
    assert order(uow, second.order_no).duplicate_ack_at == now + timedelta(hours=23)
    third = buy(uow, channel, user.id, "monthly-pass", now + timedelta(hours=47, minutes=1))
    assert order(uow, third.order_no).duplicate_ack_at is None


def test_virtual_goods_need_the_non_refundable_acknowledgement(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    with pytest.raises(InvalidInput) as error:
        buy(uow, channel, user.id, "game-points-50", now)
    assert error.value.code == "nonrefundable_ack_required"
    placed = buy(uow, channel, user.id, "game-points-50", now, nonrefundable_ack=True)
    assert order(uow, placed.order_no).nonrefundable_ack_at == now


def test_the_same_idempotency_key_returns_the_same_order(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    first = buy(uow, channel, user.id, "monthly-pass", now, pay=False, idempotency_key="k-1")
    again = buy(uow, channel, user.id, "monthly-pass", now + timedelta(seconds=5), pay=False, idempotency_key="k-1")
    assert again.replayed
    assert not first.replayed
    assert (again.order_no, again.out_trade_no, again.amount_fen) == (first.order_no, first.out_trade_no, 3000)
    assert len(list_orders(uow, Viewer(user.id, user.role))) == 1
    assert [p.status for p in payments(uow, first.order_no)] == [PaymentStatus.PENDING]
    # Another person's identical key is theirs alone.
    other = buy(uow, channel, make_user().id, "monthly-pass", now, pay=False, idempotency_key="k-1")
    assert other.order_no != first.order_no
    assert not other.replayed


def test_a_key_reused_for_another_purchase_is_refused_by_the_service_itself(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    # The page and the API both go through place_order: the check cannot be skipped by either.
    user = make_user()
    first = CheckoutRequest(buyer=user.id, product_slug="monthly-pass", channel=Channel.ALIPAY, idempotency_key="k")
    placed = place_order(uow, first, now, channel)
    assert place_order(uow, first, now, channel).order_no == placed.order_no
    other = CheckoutRequest(buyer=user.id, product_slug="quarterly-pass", channel=Channel.ALIPAY, idempotency_key="k")
    with pytest.raises(Conflict) as refused:
        place_order(uow, other, now, channel)
    assert refused.value.code == "idempotency_key_reused"
