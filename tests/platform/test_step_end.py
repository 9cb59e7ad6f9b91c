"""A write step's end in one statement on PostgreSQL (platform/db/step_end.write_step_end): the
changed rows and the new rows reach the tables exactly as bulk.py writes them, in one round trip;
a changed row that is no longer its owner's is not written; a step of another shape, and SQLite,
are written as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm.exc import StaleDataError

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import OrderEventType
from kameng.orders.history import add_order_event
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.platform.db.step_end import write_step_end
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.statements import statements
from tests.support.tickets import PRODUCT

pytestmark = pytest.mark.usefixtures("catalog")
EVENTS = frozenset({"order_events"})


def _orders(uow: UnitOfWork, channel: SimulatorChannel, user: User, now: datetime, count: int) -> list[str]:
    return [buy(uow, channel, user.id, PRODUCT, now, duplicate_ack=True).order_no for _ in range(count)]


def _changed(uow: UnitOfWork, order_nos: list[str], now: datetime) -> list[OrderRow]:
    """Each order's refunded total raised, and two notes added on its timeline."""
    rows = list(uow.session.scalars(select(OrderRow).where(OrderRow.order_no.in_(order_nos)).order_by(OrderRow.id)))
    for number, row in enumerate(rows):
        row.refunded_fen += 100 + number
        for note in ("one", "two"):
            add_order_event(uow, row, OrderEventType.CLOSED, now, None, None, amount_fen=number, note=note)
    return rows


def _stored(uow: UnitOfWork, order_nos: list[str]) -> list[tuple[int, list[tuple[str, int]]]]:
    with uow:
        session = uow.session
        rows = session.scalars(select(OrderRow).where(OrderRow.order_no.in_(order_nos)).order_by(OrderRow.id))
        return [
            (
                row.refunded_fen,
                [
                    (event.note, event.amount_fen)
                    for event in session.scalars(
                        select(OrderEventRow)
                        .where(OrderEventRow.order_id == row.id, OrderEventRow.type == OrderEventType.CLOSED)
                        .order_by(OrderEventRow.id)
                    )
                ],
            )
            for row in rows
        ]


def test_a_steps_changed_and_new_rows_go_in_one_statement_on_postgresql(
    uow: UnitOfWork,
    engine: Engine,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
    backend: str,
) -> None:
    order_nos = _orders(uow, channel, make_user(), now, 1)
    with uow:
        _changed(uow, order_nos, now)
        with statements(engine) as seen:
            write_step_end(uow.session, EVENTS, EVENTS)
        assert not uow.session.dirty  # nothing left for the flush
        assert not uow.session.new
        uow.commit()
    if backend == "postgresql":
        assert [statement.lstrip()[:4] for statement in seen] == ["WITH"]
    else:
        assert len(seen) == 2  # the update, then one multi-row insert
    assert _stored(uow, order_nos) == [(100, [("one", 0), ("two", 0)])]


def test_a_row_that_is_no_longer_its_owners_is_not_written(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the owner is named in the one statement, on PostgreSQL")
    order_nos = _orders(uow, channel, make_user(), now, 1)
    someone_else = make_user()
    with uow:
        row = uow.session.scalars(select(OrderRow).where(OrderRow.order_no.in_(order_nos))).one()
        # Behind the session's back, as another writer would: the row is no longer the owner's,
        # and the session still holds it as it was. (The owner keys refuse such a move for an
        # order with events, so they are switched off for this transaction, as a bulk repair
        # or a replica's apply would: the statement's own guard is what is under test.)
        uow.session.execute(text("SET LOCAL session_replication_role = replica"))
        uow.session.execute(
            update(OrderRow).where(OrderRow.id == row.id).values(user_id=someone_else.id),
            execution_options={"synchronize_session": False},
        )
        assert _changed(uow, order_nos, now) == [row]
        with pytest.raises(StaleDataError, match="orders matched 0 rows of 1"):
            write_step_end(uow.session, EVENTS, EVENTS)
    assert _stored(uow, order_nos) == [(0, [])]  # rolled back: nothing of the step


def test_a_step_of_another_shape_is_written_as_before(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    order_nos = _orders(uow, channel, make_user(), now, 2)
    with uow:
        _changed(uow, order_nos, now)  # two rows of one table changed: not one statement
        with statements(engine) as seen:
            write_step_end(uow.session, EVENTS, EVENTS)
        assert not uow.session.dirty
        assert not uow.session.new
        uow.commit()
    assert not any(statement.lstrip().startswith("WITH") for statement in seen)
    assert _stored(uow, order_nos) == [(100, [("one", 0), ("two", 0)]), (101, [("one", 1), ("two", 1)])]
