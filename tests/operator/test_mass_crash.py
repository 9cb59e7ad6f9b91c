"""A mass refund killed half-way (os._exit in the middle of a batch, as kill -9) and restarted in
a new process (or two at once) pays each consumer exactly once: one ticket, one refund, one ledger
entry per order, and the channel asked once per refund when the worker sends them. On SQLite and
PostgreSQL (on SQLite the restart runs in one process whatever it is asked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from kameng.aftersales.models import Ticket
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.mass_refunds import RunStatus
from kameng.domain.users import Role
from kameng.operator.mass_models import MassRefundItem
from kameng.operator.mass_queries import get_run
from kameng.operator.mass_refunds import start_run
from kameng.payouts.models import RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger_models import JournalEntry
from tests.support.shop import assert_books_balance, buy, send_queued_refunds
from tests.support.tickets import CALENDAR, pending_sends, sim_rows, staff

pytestmark = pytest.mark.usefixtures("catalog")
CRASHER = Path(__file__).parent.parent / "support" / "crash_mass_refund.py"
ORDERS = 9
BATCH = 4


def _drive(
    db_url: str, run_id: int, at: datetime, crash_after: int = 0, processes: int = 1
) -> dict[str, object] | None:
    env = {**os.environ, "KAMENG_CRASH_AFTER_ORDERS": str(crash_after)}
    done = subprocess.run(
        [sys.executable, str(CRASHER), db_url, str(run_id), at.isoformat(), str(BATCH), str(processes)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if crash_after:
        assert done.returncode == 1, done.stderr[-2000:]
        return None
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _count(uow: UnitOfWork, column: object) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count(column))) or 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("processes", [1, 2])
def test_a_mass_refund_killed_half_way_and_restarted_pays_each_consumer_once(
    processes: int,
    db_url: str,
    engine: Engine,
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    for _ in range(ORDERS):
        buy(uow, channel, make_user().id, "annual-card", now)  # type: ignore[attr-defined]
    later = now + timedelta(days=40)
    run = start_run(uow, staff(uow, later, Role.OPERATOR, "operator"), 1, later, CALENDAR)

    # Killed while handling the 7th order: the first batch (4 orders) is committed, the second
    # (orders 5 to 8) dies with the process and leaves nothing behind but its claim, unfinished.
    assert _drive(db_url, run.id, later, crash_after=7) is None
    half = get_run(uow, run.id)
    assert half.status is RunStatus.RUNNING
    assert half.orders_done == BATCH
    assert _count(uow, RefundRow.id) == BATCH
    assert _count(uow, MassRefundItem.id) == BATCH

    # Restarted in a new process (with a helper: two at once): the batch that died is taken again,
    # and the run goes on to the end.
    finished = _drive(db_url, run.id, later + timedelta(minutes=5), processes=processes)
    assert finished == {"status": "done", "done": ORDERS, "total": ORDERS}
    # And again: a finished run pays nobody.
    assert _drive(db_url, run.id, later + timedelta(minutes=6), processes=processes) == finished

    with uow:
        session = uow.session
        per_order = session.execute(
            select(RefundRow.order_id, func.count(RefundRow.id)).group_by(RefundRow.order_id)
        ).all()
        assert len(per_order) == ORDERS
        assert {n for _, n in per_order} == {1}
        tickets = session.execute(select(Ticket.order_id, func.count(Ticket.id)).group_by(Ticket.order_id)).all()
        assert len(tickets) == ORDERS
        assert {n for _, n in tickets} == {1}
        approved = session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.kind == "refund_approved"))
        assert approved == ORDERS
        paid = session.scalar(select(func.sum(RefundRow.amount_fen)))
    assert get_run(uow, run.id).paid_fen == paid
    assert_books_balance(uow)

    # The worker sends each refund to the channel once.
    for minute in range(10, 20):  # a drain takes a few rows at a time, messages among them
        if not pending_sends(uow):
            break
        send_queued_refunds(engine, later + timedelta(minutes=minute))
    assert pending_sends(uow) == 0
    rows = sim_rows(uow)
    assert len(rows) == ORDERS
    assert len({row.out_refund_no for row in rows}) == ORDERS
