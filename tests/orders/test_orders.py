"""Orders after checkout: payment notifications (forged, replayed, late), expiry, and who may
see an order. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from kameng.accounts.models import User
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.calendar import WorkCalendar
from kameng.domain.states import OrderStatus, PaymentStatus
from kameng.domain.users import Role
from kameng.orders.numbers import order_no_is_valid
from kameng.orders.payments import (
    cancel_unpaid_order,
    expire_unpaid_orders,
    handle_payment_notification,
)
from kameng.orders.queries import list_orders, order_view
from kameng.orders.usage import record_usage, reveal_card_key
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound
from tests.support.shop import assert_books_balance, buy, events, journal, order, payments, send_queued_refunds

pytestmark = pytest.mark.usefixtures("catalog")


def _viewer(user: User) -> Viewer:
    return Viewer(user.id, user.role)


def test_order_numbers_carry_a_check_digit(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    placed = buy(uow, channel, make_user().id, "monthly-pass", now, pay=False)
    assert order_no_is_valid(placed.order_no)
    wrong = placed.order_no[:-1] + str((int(placed.order_no[-1]) + 1) % 10)
    assert not order_no_is_valid(wrong)


def test_a_forged_notification_is_rejected_and_changes_nothing(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    placed = buy(uow, channel, make_user().id, "monthly-pass", now, pay=False)
    assert placed.out_trade_no
    body, _ = channel.notification(placed.out_trade_no, 3000, True, now)
    forger = SimulatorChannel("not-the-secret")
    for signature in (forger.sign(body), "", "0" * 64):
        with pytest.raises(InvalidInput) as error:
            handle_payment_notification(uow, body, signature, channel, now)
        assert error.value.code == "bad_signature"
    tampered = body.replace(b'"amount": 3000', b'"amount": 1')
    with pytest.raises(InvalidInput):
        handle_payment_notification(uow, tampered, channel.sign(body), channel, now)
    assert order(uow, placed.order_no).status is OrderStatus.PENDING_PAYMENT
    assert journal(uow, placed.order_no) == []


def test_a_replayed_notification_is_a_duplicate(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    placed = buy(uow, channel, make_user().id, "monthly-pass", now, pay=False)
    assert placed.out_trade_no
    body, signature = channel.notification(placed.out_trade_no, 3000, True, now + timedelta(seconds=20))
    assert handle_payment_notification(uow, body, signature, channel, now) == "paid"
    assert handle_payment_notification(uow, body, signature, channel, now + timedelta(hours=1)) == "duplicate"
    assert [e.type for e in events(uow, placed.order_no, "paid")] == ["paid"]
    assert len(journal(uow, placed.order_no)) == 1
    assert_books_balance(uow)


def test_a_failed_payment_can_be_retried_in_the_payers_app(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    placed = buy(uow, channel, make_user().id, "monthly-pass", now, pay=False)
    assert placed.out_trade_no
    assert simulate_payer(uow, placed.out_trade_no, False, channel, now) == "failed"
    assert order(uow, placed.order_no).status is OrderStatus.PENDING_PAYMENT
    assert simulate_payer(uow, placed.out_trade_no, True, channel, now + timedelta(minutes=1)) == "paid"
    assert order(uow, placed.order_no).status is OrderStatus.PAID


def test_a_payment_after_expiry_is_returned_with_balanced_entries(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime, engine: Engine
) -> None:
    placed = buy(uow, channel, make_user().id, "monthly-pass", now, pay=False)
    assert placed.out_trade_no
    assert expire_unpaid_orders(uow, now + timedelta(minutes=16)) == 1
    late = now + timedelta(minutes=17)
    assert simulate_payer(uow, placed.out_trade_no, True, channel, late) == "returned"
    row = order(uow, placed.order_no)
    assert row.status is OrderStatus.EXPIRED
    assert row.paid_at is None
    assert [p.status for p in payments(uow, placed.order_no)] == [PaymentStatus.RETURNED]
    # Booked as owed back, and a refund queued to the channel it came from: nobody has to ask.
    assert [e.kind for e in journal(uow, placed.order_no)] == ["late_payment"]
    assert [e.amount_fen for e in events(uow, placed.order_no, "late_payment_returning")] == [3000]
    with uow:
        refund = uow.session.scalar(select(RefundRow).where(RefundRow.order_id == row.id))
        assert refund is not None
        assert (refund.purpose, refund.ticket_id, refund.out_refund_no) == (
            "late_payment",
            None,
            f"L{placed.out_trade_no}",
        )
    # The channel says it again: nothing more happens.
    assert simulate_payer(uow, placed.out_trade_no, True, channel, late) == "duplicate"

    send_queued_refunds(engine, late)
    entries = journal(uow, placed.order_no)
    assert [e.kind for e in entries] == ["late_payment", "late_payment_return"]
    net: dict[str, int] = {}
    for entry in entries:
        assert sum(line.amount_fen for line in entry.lines) == 0
        for line in entry.lines:
            net[line.account] = net.get(line.account, 0) + line.amount_fen
    assert set(net.values()) == {0}  # everything that came in went back out
    assert [e.amount_fen for e in events(uow, placed.order_no, "late_payment_returned")] == [3000]
    assert_books_balance(uow)


def test_a_consumer_cannot_see_another_consumers_order(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    owner, stranger = make_user(), make_user()
    staff = make_user("agent@kameng.test", role=Role.AGENT)
    placed = buy(uow, channel, owner.id, "game-points-50", now, nonrefundable_ack=True)
    calendar = WorkCalendar()
    assert order_view(uow, _viewer(owner), placed.order_no, now, calendar).order.user_id == owner.id
    with pytest.raises(NotFound):
        order_view(uow, _viewer(stranger), placed.order_no, now, calendar)
    with pytest.raises(NotFound):
        reveal_card_key(uow, _viewer(stranger), placed.order_no, now)
    with pytest.raises(NotFound):
        cancel_unpaid_order(uow, _viewer(stranger), placed.order_no, now)
    assert list_orders(uow, _viewer(stranger)) == []
    # Staff may look the order up, but not read the buyer's key.
    assert order_view(uow, _viewer(staff), placed.order_no, now, calendar).order.order_no == placed.order_no
    with pytest.raises(NotFound):
        reveal_card_key(uow, _viewer(staff), placed.order_no, now)
    # A number that does not exist answers the same as one that belongs to someone else.
    with pytest.raises(NotFound) as missing:
        order_view(uow, _viewer(stranger), "00000000000000", now, calendar)
    assert missing.value.code == "not_found"


def test_a_paid_membership_quotes_a_refund_and_records_usage(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, "monthly-pass", now)
    calendar = WorkCalendar()
    before = order_view(uow, _viewer(user), placed.order_no, now + timedelta(hours=1), calendar)
    assert before.quote is not None
    assert "activate" in before.actions
    record_usage(uow, _viewer(user), placed.order_no, "use_benefit", now + timedelta(hours=2), benefit="video")
    after = order_view(uow, _viewer(user), placed.order_no, now + timedelta(hours=3), calendar)
    assert after.membership is not None
    assert after.membership.status.value == "active"
    assert "benefit_used" in [e.type for e in after.events]
    assert after.quote is not None
