"""Money that arrives for an order already gone is sent back without anyone asking, and the payer
is told: in-app and by SMS when it arrives and is going back, and again when it is back (or, if
the channel refuses it, that a person will return it). Each message once, however often the
channel is asked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.ports import ABNORMAL, SUCCESS, RefundAnswer
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.messages.models import MessageRow
from kameng.orders.payments import cancel_unpaid_order
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.worker import run_tick
from tests.support.fakes import RecordingSender, ScriptedRefundChannel, SteppingClock
from tests.support.shop import buy


@pytest.fixture
def scripted(container: Container, now: datetime) -> tuple[Container, ScriptedRefundChannel, RecordingSender]:
    bank, sender = ScriptedRefundChannel(), RecordingSender()
    container.refunds, container.sender, container.clock = bank, sender, SteppingClock(now)
    return container, bank, sender


def _told(uow: UnitOfWork, user_id: int) -> list[MessageRow]:
    with uow:
        return list(
            uow.session.scalars(select(MessageRow).where(MessageRow.user_id == user_id).order_by(MessageRow.id))
        )


@pytest.mark.parametrize(
    ("answer", "last_kind", "zh", "en"),
    [
        (SUCCESS, "late_payment_returned", "已原路退回支付宝", "is back in Alipay"),
        (ABNORMAL, "late_payment_return_failed", "平台客服将与您联系退款", "customer service will contact you"),
    ],
)
def test_a_payment_for_an_expired_order_is_told_going_back_and_back(
    answer: str,
    last_kind: str,
    zh: str,
    en: str,
    scripted: tuple[Container, ScriptedRefundChannel, RecordingSender],
    catalog: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    container, bank, sender = scripted
    buyer = make_user()
    placed = buy(container.uow(), channel, buyer.id, "monthly-pass", now, pay=False)
    assert placed.out_trade_no
    run_tick(container, now + timedelta(minutes=16))  # the order expires unpaid
    assert (
        simulate_payer(container.uow(), placed.out_trade_no, True, channel, now + timedelta(minutes=20)) == "returned"
    )

    [going] = _told(container.uow(), buyer.id)
    assert going.kind == "late_payment_returning"
    assert going.ticket_id is None
    assert f"订单 {placed.order_no} 已关闭(已过期)后,您的付款 30.00 元才到账" in going.texts["zh"]
    assert "正在原路退回支付宝" in going.texts["zh"]
    assert "we will tell you when it is back" in going.texts["en"]

    bank.answers = [RefundAnswer(answer, "LATE-1", failure="原卡已注销" if answer == ABNORMAL else None)]
    for minutes in (21, 23, 25, 40):  # send, then poll; ticks that find nothing new tell nothing again
        run_tick(container, now + timedelta(minutes=minutes))
    with container.uow() as uow:
        [refund] = uow.session.scalars(select(RefundRow).where(RefundRow.purpose == "late_payment")).all()
    assert refund.status.value == ("succeeded" if answer == SUCCESS else "failed")

    told = _told(container.uow(), buyer.id)
    assert [row.kind for row in told] == ["late_payment_returning", last_kind]
    assert zh in told[-1].texts["zh"]
    assert en in told[-1].texts["en"]
    assert placed.order_no in told[-1].texts["zh"]
    # Every message went out by SMS too, once each.
    assert len(sender.sent) == 2 == sender.handed_over
    assert [message.text for message in sender.sent.values()] == [row.texts["zh"] for row in told]


def test_a_payment_for_a_cancelled_order_is_told_with_that_state(
    scripted: tuple[Container, ScriptedRefundChannel, RecordingSender],
    catalog: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    container, _, _ = scripted
    buyer = make_user()
    placed = buy(container.uow(), channel, buyer.id, "quarterly-pass", now, pay=False)
    assert placed.out_trade_no
    cancel_unpaid_order(container.uow(), Viewer(buyer.id, buyer.role), placed.order_no, now + timedelta(minutes=1))
    assert simulate_payer(container.uow(), placed.out_trade_no, True, channel, now + timedelta(minutes=2)) == "returned"
    # A replayed notification of the same payment is a duplicate: nothing is said twice.
    assert (
        simulate_payer(container.uow(), placed.out_trade_no, True, channel, now + timedelta(minutes=3)) == "duplicate"
    )
    [going] = _told(container.uow(), buyer.id)
    assert "已关闭(已取消)" in going.texts["zh"]
    assert "(Cancelled)" in going.texts["en"]
