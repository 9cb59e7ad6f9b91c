"""A mass refund run by several processes at once: each batch works on a claim (a range of the
run's orders) that no other transaction holds, so two processes never take the same orders; a
claim left unfinished by a process that died is taken by the next batch; the run is done only once
every claim is finished, and its totals add up every batch's."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine, func, select, text

from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.mass_refunds import ItemOutcome, RunStatus
from kameng.domain.users import Role
from kameng.operator import mass_runner
from kameng.operator.mass_models import MassRefundClaim, MassRefundItem
from kameng.operator.mass_queries import get_run
from kameng.operator.mass_refunds import _claim, run_batch, start_run
from kameng.operator.mass_runner import drive, helpers
from kameng.payouts.models import RefundRow
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import assert_books_balance, buy
from tests.support.tickets import CALENDAR, staff

pytestmark = pytest.mark.usefixtures("catalog")
MERCHANT = 1


def _shop(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime, n: int) -> None:
    for _ in range(n):
        buy(uow, channel, make_user().id, "annual-card", now)  # type: ignore[attr-defined]


def _per_order(uow: UnitOfWork, column: object, order_column: object) -> dict[int, int]:
    with uow:
        rows = uow.session.execute(select(order_column, func.count(column)).group_by(order_column)).all()  # type: ignore[call-overload]
    return {int(order): int(n) for order, n in rows}


def test_two_processes_run_one_run_and_pay_each_order_once(
    engine: Engine,
    uow_factory: Callable[[], UnitOfWork],
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    _shop(uow, channel, make_user, now, 13)
    later = now + timedelta(days=40)
    run = start_run(uow, staff(uow, later, Role.OPERATOR, "operator"), MERCHANT, later, CALENDAR)

    with helpers(engine, uow_factory, run.id, lambda: later, CALENDAR, 2, processes=2) as count:
        result = drive(uow_factory, run.id, lambda: later, CALENDAR, 2)

    assert count == (1 if engine.dialect.name == "sqlite" else 2)  # SQLite: one writer, one process
    assert (result.status, result.orders_done) == (RunStatus.DONE, 13)
    assert set(_per_order(uow, MassRefundItem.id, MassRefundItem.order_id).values()) == {1}
    refunds = _per_order(uow, RefundRow.id, RefundRow.order_id)
    assert len(refunds) == 13
    assert set(refunds.values()) == {1}
    with uow:
        session = uow.session
        claims = session.scalars(select(MassRefundClaim).order_by(MassRefundClaim.first_order_id)).all()
        paid = session.scalar(
            select(func.sum(MassRefundItem.amount_fen)).where(MassRefundItem.outcome == ItemOutcome.PAID)
        )
    assert all(claim.finished_at is not None for claim in claims)
    assert all(a.last_order_id < b.first_order_id for a, b in pairwise(claims))  # disjoint
    done = get_run(uow, run.id)
    assert (done.orders_done, done.paid_count, done.paid_fen, done.batches) == (13, 13, paid, 7)
    assert_books_balance(uow)


@pytest.mark.postgres
def test_a_claim_held_elsewhere_is_skipped_and_one_left_unfinished_is_taken_again(
    engine: Engine,
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    _shop(uow, channel, make_user, now, 5)
    later = now + timedelta(days=40)
    run = start_run(uow, staff(uow, later, Role.OPERATOR, "operator"), MERCHANT, later, CALENDAR)
    # A claim of the first two orders, taken by another process.
    assert _claim(uow, run.id, later, 2) is None
    with engine.connect() as other:  # another process's batch in flight on that claim
        other.execute(text("SELECT id FROM mass_refund_claims FOR UPDATE"))
        assert run_batch(uow, run.id, later, CALENDAR, 2).processed == 2  # the next two orders
        assert run_batch(uow, run.id, later, CALENDAR, 2).processed == 1  # and the last
        waiting = run_batch(uow, run.id, later, CALENDAR, 2)
        # Nothing left to claim, but the held claim is unfinished: the run is not done.
        assert (waiting.status, waiting.waiting, waiting.orders_done) == (RunStatus.RUNNING, True, 3)
        other.rollback()  # the process died: its lock is gone with its connection
    taken = run_batch(uow, run.id, later, CALENDAR, 2)
    assert (taken.processed, taken.orders_done) == (2, 5)
    assert run_batch(uow, run.id, later, CALENDAR, 2).status is RunStatus.DONE
    assert set(_per_order(uow, MassRefundItem.id, MassRefundItem.order_id).values()) == {1}
    assert set(_per_order(uow, RefundRow.id, RefundRow.order_id).values()) == {1}


@pytest.mark.postgres
def test_a_helper_that_never_ends_is_stopped_after_the_grace_and_the_block_returns(
    engine: Engine,
    uow_factory: Callable[[], UnitOfWork],
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _shop(uow, channel, make_user, now, 3)
    later = now + timedelta(days=40)
    run = start_run(uow, staff(uow, later, Role.OPERATOR, "operator"), MERCHANT, later, CALENDAR)
    # A helper stuck for good, as one forked while another thread held a lock it then needs.
    monkeypatch.setattr(mass_runner, "_help", lambda *args: time.sleep(3600))
    monkeypatch.setattr(mass_runner, "HELPER_GRACE_SECONDS", 0.5)
    started = time.monotonic()

    with helpers(engine, uow_factory, run.id, lambda: later, CALENDAR, 2, processes=2) as count:
        result = drive(uow_factory, run.id, lambda: later, CALENDAR, 2)

    assert count == 2
    assert (result.status, result.orders_done) == (RunStatus.DONE, 3)  # this process did it all
    assert time.monotonic() - started < 30
    assert multiprocessing.active_children() == []
