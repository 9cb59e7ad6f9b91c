"""The payout path against a channel the test scripts (tests/support/fakes.py): the services know
the channel only through its port, so any adapter that keeps the port's contract will do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kameng.aftersales.models import Ticket
from kameng.channels.ports import ABNORMAL, PROCESSING, SUCCESS, RefundAnswer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.model import Reason
from kameng.domain.tickets import TicketStatus
from kameng.messages.models import MessageRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.worker import run_tick
from tests.support.fakes import RecordingSender, ScriptedRefundChannel, SteppingClock
from tests.support.tickets import buy_one, submit


@pytest.fixture
def scripted(container: Container, now: datetime) -> tuple[Container, ScriptedRefundChannel, RecordingSender]:
    channel, sender = ScriptedRefundChannel(), RecordingSender()
    container.refunds, container.sender, container.clock = channel, sender, SteppingClock(now)
    return container, channel, sender


def _auto_approved(
    container: Container, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> str:
    bought = buy_one(container.uow(), channel, make_user, now)
    ticket = submit(container.uow(), bought, now, Reason.CHANGED_MIND)  # unused, in the cooling-off: P1
    assert ticket.status is TicketStatus.REFUNDING, ticket.status
    return ticket.ticket_no


def _status(uow: UnitOfWork, ticket_no: str) -> TicketStatus:
    with uow:
        status = uow.session.scalar(select(Ticket.status).where(Ticket.ticket_no == ticket_no))
    assert status is not None
    return status


def _refunds(uow: UnitOfWork) -> list[RefundRow]:
    with uow:
        return list(uow.session.scalars(select(RefundRow)))


def test_an_unreachable_channel_is_asked_again_with_the_same_refund_number(
    scripted: tuple[Container, ScriptedRefundChannel, RecordingSender],
    catalog: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    container, bank, _ = scripted
    ticket_no = _auto_approved(container, channel, make_user, now)
    bank.answers = [ConnectionError("channel down"), RefundAnswer(PROCESSING, "W1")]
    run_tick(container, now + timedelta(minutes=1))  # the send fails: the outbox row stays
    run_tick(container, now + timedelta(hours=1))  # retried after its back-off
    numbers = {call[0] for call in bank.calls}
    assert len(bank.calls) == 2  # asked twice...
    assert len(numbers) == 1  # ...for one refund
    [refund] = _refunds(container.uow())
    assert refund.out_refund_no in numbers
    bank.settle(refund.out_refund_no, RefundAnswer(SUCCESS, "W1"))
    run_tick(container, now + timedelta(hours=2))
    assert _status(container.uow(), ticket_no) is TicketStatus.REFUNDED


def test_an_abnormal_answer_tells_the_consumer_and_every_message_goes_out_once(
    scripted: tuple[Container, ScriptedRefundChannel, RecordingSender],
    catalog: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    container, bank, sender = scripted
    ticket_no = _auto_approved(container, channel, make_user, now)
    bank.answers = [RefundAnswer(ABNORMAL, "W2", failure="原卡已注销")]
    for minutes in (1, 2, 3):  # ticks that find nothing new send nothing again
        run_tick(container, now + timedelta(minutes=minutes))
    assert _status(container.uow(), ticket_no) is TicketStatus.REFUND_FAILED
    with container.uow() as uow:
        kinds = list(uow.session.scalars(select(MessageRow.kind).order_by(MessageRow.id)))
    assert kinds[-1] == "refund_failed"
    assert len(sender.sent) == len(kinds) == sender.handed_over
    assert "原卡已注销" in list(sender.sent.values())[-1].text
