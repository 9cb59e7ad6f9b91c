"""Races on PostgreSQL (threads really run in parallel there): two approvals of one ticket, one
request sent twice with one idempotency key, two workers on the same due tickets and outbox.
Whatever the interleaving, money goes out once. Plus the database's own last line of defence:
``orders.refunded_fen`` can never exceed what was captured (both backends)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from kameng.aftersales.models import Ticket
from kameng.aftersales.requests import withdraw
from kameng.aftersales.review import approve
from kameng.channels.simulator.models import SimRefund
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.container import Container
from kameng.domain.tickets import TicketStatus
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.database import make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict
from kameng.worker import drain_outbox, run_tick
from tests.support.shop import assert_books_balance
from tests.support.tickets import (
    CALENDAR,
    buy_one,
    entries,
    refunded_fen,
    refunds,
    sim_rows,
    staff,
    submit,
    ticket,
    worker,
)

pytestmark = pytest.mark.usefixtures("catalog")


def _at_once(count: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run ``work(i)`` in ``count`` threads released together; ("ok", result) or ("error", exc)."""
    barrier = threading.Barrier(count, timeout=60)

    def one(index: int) -> tuple[str, Any]:
        barrier.wait()
        try:
            return "ok", work(index)
        except (Conflict, IntegrityError) as error:
            return "error", error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.postgres
def test_two_approvals_at_once_pay_once(
    uow: UnitOfWork,
    uow_factory: Callable[[], UnitOfWork],
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    agents = [staff(uow, now, Role.AGENT, "a1"), staff(uow, now, Role.AGENT, "a2")]
    bought = buy_one(uow, channel, make_user, now)
    created = submit(uow, bought, now + timedelta(minutes=1))
    at = now + timedelta(hours=1)

    outcomes = _at_once(2, lambda i: approve(uow_factory(), agents[i], created.ticket_no, at, CALENDAR).status)
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, Conflict)
    assert error.code == "invalid_transition"
    assert len(refunds(uow, created.ticket_no)) == 1
    assert refunded_fen(uow, bought.order_no) == created.quoted_fen
    assert entries(uow, "refund_approved") == [f"refund_approved:{created.id}"]
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUNDING
    assert_books_balance(uow)


@pytest.mark.postgres
def test_one_idempotency_key_sent_twice_at_once_makes_one_ticket(
    uow: UnitOfWork,
    uow_factory: Callable[[], UnitOfWork],
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    bought = buy_one(uow, channel, make_user, now)
    at = now + timedelta(minutes=1)
    for attempt in range(3):  # a few rounds: the interleaving differs from run to run
        key = f"double-click-{attempt}"
        outcomes = _at_once(4, lambda _i, key=key: submit(uow_factory(), bought, at, key=key).ticket_no)
        assert all(kind == "ok" for kind, _ in outcomes), outcomes
        # Every caller is answered with the same ticket, as a retry would be.
        assert len({value for _, value in outcomes}) == 1
        with uow:
            count = uow.session.scalar(select(func.count(Ticket.id)).where(Ticket.idempotency_key == key))
        assert count == 1
        withdraw(uow, bought.consumer, outcomes[0][1], at, CALENDAR)  # free the order again


def _channels(container: Container) -> tuple[Any, Any]:
    return container.refunds, container.sender


@pytest.mark.postgres
def test_two_workers_on_the_same_due_tickets_never_pay_twice(
    uow: UnitOfWork,
    engine: Engine,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    agent = staff(uow, now)
    stalled = [submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=1)) for _ in range(6)]
    approved = [submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=1)) for _ in range(4)]
    for created in approved:  # approved by a person: a send_refund row waiting in the outbox
        approve(uow, agent, created.ticket_no, now + timedelta(minutes=2), CALENDAR)
    grace_end = stalled[0].auto_approve_at
    assert grace_end is not None
    workers = [worker(engine), worker(engine)]
    every = stalled + approved

    # Round 1: both workers at the same moment: deadlines, outbox (sends), polls.
    first = grace_end + timedelta(seconds=1)
    results = _at_once(2, lambda i: run_tick(workers[i], first))
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(value["tickets_auto_approved"] for _, value in results) == len(stalled)
    # Each batch also carries notifications, so not every refund need have gone out yet; but
    # none has gone out twice.
    assert sum(w.refunds.calls for w in workers) <= len(every)  # type: ignore[attr-defined]
    # Later rounds, both workers at once each time: the rest is sent, everything is polled.
    moment = first
    for _ in range(6):
        moment += timedelta(minutes=5)
        results = _at_once(2, lambda i, at=moment: run_tick(workers[i], at))
        assert all(kind == "ok" for kind, _ in results), results
    # And both workers trying the outbox alone, once more, find nothing left to send.
    _at_once(2, lambda i: drain_outbox(workers[i], moment))

    assert sum(w.refunds.calls for w in workers) == len(every)  # type: ignore[attr-defined]
    paid = entries(uow, "refund_paid")
    assert len(paid) == len(set(paid)) == len(every)
    for created in every:
        (record,) = refunds(uow, created.ticket_no)
        assert len(sim_rows(uow, record.out_refund_no)) == 1
        assert ticket(uow, created.ticket_no).status is TicketStatus.REFUNDED
    with uow:
        assert uow.session.scalar(select(func.count(SimRefund.id))) == len(every)
        assert uow.session.scalar(select(func.count(RefundRow.id))) == len(every)
        refunded = uow.session.scalars(select(OrderRow.refunded_fen).where(OrderRow.refunded_fen > 0)).all()
    assert sorted(refunded) == sorted(t.quoted_fen for t in every)
    assert_books_balance(uow)


def test_the_database_refuses_refunding_more_than_was_captured(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    bought = buy_one(uow, channel, make_user, now)
    statement = update(OrderRow).where(OrderRow.order_no == bought.order_no)
    with engine.begin() as conn:  # the whole amount is allowed
        conn.execute(statement.values(refunded_fen=OrderRow.amount_fen))
    with pytest.raises(IntegrityError, match=r"refund_within_captured|CHECK constraint"), engine.begin() as conn:
        conn.execute(statement.values(refunded_fen=OrderRow.amount_fen + 1))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(statement.values(refunded_fen=-1))
    assert refunded_fen(uow, bought.order_no) == bought.amount_fen


def test_simulator_answers_a_resend_with_the_same_refund(engine: Engine, now: datetime) -> None:
    bank = SimulatorRefunds(make_session_factory(engine))
    first = bank.request_refund("RTEST01", "PTEST", 100, now)
    again = bank.request_refund("RTEST01", "PTEST", 100, now + timedelta(minutes=1))
    assert first.refund_id == again.refund_id
    assert bank.calls == 2
    assert len(sim_rows(UnitOfWork(make_session_factory(engine)), "RTEST01")) == 1
