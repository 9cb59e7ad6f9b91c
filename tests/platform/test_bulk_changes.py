"""A step's changed rows written by primary key with Core updates (platform/db/bulk.write_changes)
instead of the ORM's flush: the same values reach the same rows, nothing is left for the flush,
and a change the flush must make itself (a relationship) is left to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.states import OrderStatus
from kameng.orders.models import OrderRow
from kameng.platform.db.bulk import write_changes
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import PRODUCT

pytestmark = pytest.mark.usefixtures("catalog")


def _order(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime) -> str:
    return buy(uow, channel, make_user().id, PRODUCT, now).order_no


def test_changed_columns_are_written_and_nothing_is_left_to_flush(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    first, second = (_order(uow, channel, make_user, now) for _ in range(2))
    with uow:
        session = uow.session
        rows = {o.order_no: o for o in session.scalars(select(OrderRow).where(OrderRow.order_no.in_([first, second])))}
        rows[first].refunded_fen += 150
        rows[second].refunded_fen += 70
        rows[second].status = OrderStatus.REFUNDED
        rows[second].bonus_fen = rows[second].bonus_fen  # set to what it was: not a change
        assert write_changes(session) == 2
        assert not session.dirty
        assert rows[first].refunded_fen == 150  # the row still reads as written
        uow.commit()
    with uow:
        stored = {
            o.order_no: o for o in uow.session.scalars(select(OrderRow).where(OrderRow.order_no.in_([first, second])))
        }
        assert (stored[first].refunded_fen, stored[first].status) == (150, OrderStatus.PAID)
        assert (stored[second].refunded_fen, stored[second].status) == (70, OrderStatus.REFUNDED)


def test_a_changed_relationship_is_left_to_the_flush(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    order_no = _order(uow, channel, make_user, now)
    with uow:
        session = uow.session
        row = session.scalar(select(OrderRow).where(OrderRow.order_no == order_no))
        assert row is not None
        row.product = row.product  # a relationship set (to the same product): the flush's to write
        row.refunded_fen += 5
        assert write_changes(session) == 0
        assert row in session.dirty
        session.flush()
        uow.commit()
    with uow:
        assert uow.session.scalar(select(OrderRow.refunded_fen).where(OrderRow.order_no == order_no)) == 5
