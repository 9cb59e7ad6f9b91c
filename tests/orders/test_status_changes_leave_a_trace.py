"""Every status change writes a row on the order's timeline (ARCHITECTURE.md): a payment that
fails, a card key held and released, a membership that runs out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from kameng.accounts.models import User
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Channel, OrderEventType, Reason
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.payments import expire_unpaid_orders
from kameng.orders.queries import order_view
from kameng.orders.usage import expire_memberships, record_usage
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy, events

pytestmark = pytest.mark.usefixtures("catalog")


def _types(uow: UnitOfWork, order_no: str) -> list[str]:
    return [row.type for row in events(uow, order_no)]


def test_a_failed_payment_is_written_on_the_order(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, "monthly-pass", now, pay=False)
    assert placed.out_trade_no
    assert simulate_payer(uow, placed.out_trade_no, False, channel, now) == "failed"
    assert OrderEventType.PAYMENT_FAILED in _types(uow, placed.order_no)


def test_a_card_key_held_at_checkout_and_released_at_expiry_is_written_on_the_order(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = place_order(
        uow,
        CheckoutRequest(
            buyer=user.id,
            product_slug="game-points-50",
            channel=Channel.ALIPAY,
            nonrefundable_ack=True,
            duplicate_ack=True,
        ),
        now,
        channel,
    )
    assert _types(uow, placed.order_no) == [OrderEventType.KEY_RESERVED]
    expire_unpaid_orders(uow, now + timedelta(hours=1))
    assert _types(uow, placed.order_no)[-2:] == [OrderEventType.KEY_RELEASED, OrderEventType.ORDER_EXPIRED]


def test_a_membership_that_runs_out_is_written_on_the_order(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, "monthly-pass", now)
    record_usage(uow, Viewer(user.id, user.role), placed.order_no, "activate", now)
    assert expire_memberships(uow, now + timedelta(days=40)) == 1
    assert _types(uow, placed.order_no)[-1] == OrderEventType.MEMBERSHIP_EXPIRED


def test_once_a_refund_is_approved_the_order_offers_no_activation_trial_or_second_request(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, "quarterly-pass", now)
    viewer = Viewer(user.id, user.role)
    before = order_view(uow, viewer, placed.order_no, now, WorkCalendar())
    assert {"activate", "claim_trial", "request_refund"} <= set(before.actions)
    submit_request(uow, viewer, RefundRequestCommand(placed.order_no, Reason.CHANGED_MIND), now, WorkCalendar())
    after = order_view(uow, viewer, placed.order_no, now, WorkCalendar())  # approved, money on its way
    assert not {"activate", "claim_trial", "use_benefit", "request_refund"} & set(after.actions)
