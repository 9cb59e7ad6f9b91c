"""The unit of work: one transaction per block, and a block entered while it is open joins that
transaction (a hot route's token look-up and its request step, web/auth.user_in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import PRODUCT

pytestmark = pytest.mark.usefixtures("catalog")


def _order(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime) -> str:
    return buy(uow, channel, make_user().id, PRODUCT, now).order_no


def _refunded(uow: UnitOfWork, order_no: str) -> int | None:
    return uow.session.scalar(select(OrderRow.refunded_fen).where(OrderRow.order_no == order_no))


def _add(uow: UnitOfWork, order_no: str, fen: int) -> None:
    row = uow.session.scalars(select(OrderRow).where(OrderRow.order_no == order_no)).one()
    row.refunded_fen += fen
    uow.flush()


def _fail_half_way(uow: UnitOfWork, order_no: str) -> None:
    with uow:
        _add(uow, order_no, 7)
        raise LookupError("a step that failed half-way")


def test_a_block_inside_an_open_one_joins_its_transaction(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    order_no = _order(uow, channel, make_user, now)
    with uow:
        _add(uow, order_no, 5)  # the outer block's write, not committed by it
        connection = uow.session.connection()
        with uow:
            assert uow.session.connection() is connection
            _add(uow, order_no, 7)
            uow.commit()  # commits the transaction: the outer block's write too
        assert _refunded(uow, order_no) == 12
    with uow:
        assert _refunded(uow, order_no) == 12


def test_an_exception_leaving_a_joined_block_rolls_back_the_whole_transaction(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    order_no = _order(uow, channel, make_user, now)
    with uow:
        _add(uow, order_no, 5)
        with pytest.raises(LookupError):
            _fail_half_way(uow, order_no)
        assert _refunded(uow, order_no) == 0  # the outer block's write is gone as well
        with uow:  # a retry starts afresh, in the same session
            _add(uow, order_no, 3)
            uow.commit()
    with uow:
        assert _refunded(uow, order_no) == 3


def test_the_outer_block_still_rolls_back_what_nobody_committed(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    order_no = _order(uow, channel, make_user, now)
    with uow:
        with uow:
            _add(uow, order_no, 7)  # a joined block that leaves without committing
        _add(uow, order_no, 1)
    with uow:
        assert _refunded(uow, order_no) == 0
