"""A top-up refunded through an after-sales request (R2, reviewed): the fee leaves the balance
with the refund as the platform's income, instead of staying behind as spendable cash (seed 003:
"1.00 stays behind after a withdrawal"); if the refund then ends in the balance after all, the
fee comes back with it. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from kameng.accounts.models import User
from kameng.aftersales.refunds import refund_to_balance
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.aftersales.review import approve
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Reason
from kameng.domain.tickets import TicketStatus
from kameng.platform.db.uow import UnitOfWork
from kameng.worker import run_tick
from tests.support.tickets import CALENDAR, staff, ticket, worker
from tests.wallet.support import books, held, spent_top_up

pytestmark = pytest.mark.usefixtures("catalog")


def _approved(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> tuple[int, str, str]:
    consumer, top_up = spent_top_up(uow, channel, make_user, now)
    at = now + timedelta(days=10)
    command = RefundRequestCommand(top_up, Reason.CHANGED_MIND, "余额提现")
    created = submit_request(uow, consumer, command, at, CALENDAR)
    assert created.status is TicketStatus.IN_REVIEW
    assert created.quoted_fen == 8900
    approve(uow, staff(uow, now), created.ticket_no, at + timedelta(hours=1), CALENDAR)
    return consumer.user_id, top_up, created.ticket_no


def test_the_fee_of_a_top_up_refund_is_income_not_cash_left_behind(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user_id, _, ticket_no = _approved(uow, channel, make_user, now)
    assert held(uow, user_id) == (0, 0, 0)
    assert books(uow)["withdrawal_fee_income"] == -100
    run_tick(worker(engine), now + timedelta(days=10, hours=2))
    run_tick(worker(engine), now + timedelta(days=10, hours=3))
    assert ticket(uow, ticket_no).status is TicketStatus.REFUNDED
    assert books(uow)["withdrawal_fee_income"] == -100


def test_a_top_up_refund_that_ends_in_the_balance_brings_its_fee_back(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    deps = worker(engine)
    consumer, top_up = spent_top_up(uow, channel, make_user, now)
    deps.refunds.set_behavior(f"P{top_up}", "fail")  # type: ignore[attr-defined]
    at = now + timedelta(days=10)
    created = submit_request(uow, consumer, RefundRequestCommand(top_up, Reason.CHANGED_MIND, "提现"), at, CALENDAR)
    approve(uow, staff(uow, now), created.ticket_no, at, CALENDAR)
    run_tick(deps, at + timedelta(minutes=1))
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUND_FAILED
    refund_to_balance(uow, consumer, created.ticket_no, at + timedelta(days=1), CALENDAR)
    assert held(uow, consumer.user_id) == (9000, 0, 0)
    assert books(uow).get("withdrawal_fee_income", 0) == 0
