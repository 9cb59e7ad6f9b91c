"""Payouts, on SQLite and PostgreSQL: a refund's way through the channel simulator, failure and
delay on demand, the consumer's choice of the balance, a retry under a new refund number; and a
worker process killed between its commit and the channel call (or between the call and recording
the answer): on restart the refund is sent exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kameng.aftersales.queries import ticket_view
from kameng.aftersales.refunds import refund_to_balance, retry_refund
from kameng.aftersales.review import approve
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel
from kameng.domain.states import MembershipStatus, OrderStatus, RefundStatus
from kameng.domain.tickets import TicketStatus
from kameng.orders.models import MembershipRow, OrderRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import OutboxRow
from kameng.worker import run_tick
from tests.support.shop import assert_books_balance, balance
from tests.support.tickets import (
    CALENDAR,
    Bought,
    actions,
    buy_one,
    entries,
    refunds,
    sim_rows,
    staff,
    submit,
    ticket,
    worker,
)

pytestmark = pytest.mark.usefixtures("catalog")
CRASH_WORKER = Path(__file__).parent.parent / "support" / "crash_worker.py"


def _approved(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> tuple[Bought, str]:
    agent = staff(uow, now)
    bought = buy_one(uow, channel, make_user, now)
    created = submit(uow, bought, now + timedelta(minutes=1))
    approve(uow, agent, created.ticket_no, now + timedelta(hours=1), CALENDAR)
    return bought, created.ticket_no


def test_a_refund_arrives_and_the_order_is_closed(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    deps = worker(engine)
    bought, ticket_no = _approved(uow, channel, make_user, now)
    deps.refunds.set_behavior(bought.out_trade_no, "delay", 3600)  # type: ignore[attr-defined]
    sent = now + timedelta(hours=2)
    run_tick(deps, sent)
    (record,) = refunds(uow, ticket_no)
    assert record.status is RefundStatus.PROCESSING
    run_tick(deps, sent + timedelta(minutes=30))  # polled: the bank is still working on it
    assert ticket(uow, ticket_no).status is TicketStatus.REFUNDING
    run_tick(deps, sent + timedelta(hours=2))
    (record,) = refunds(uow, ticket_no)
    assert record.status is RefundStatus.SUCCEEDED
    assert record.channel_refund_no == sim_rows(uow, record.out_refund_no)[0].refund_id  # the receipt
    assert record.settled_at is not None
    assert ticket(uow, ticket_no).status is TicketStatus.REFUNDED
    with uow:
        order = uow.session.scalar(select(OrderRow).where(OrderRow.order_no == bought.order_no))
        assert order is not None
        assert order.status is OrderStatus.REFUNDED
        assert order.auto_renew is False
        membership = uow.session.scalar(select(MembershipRow).where(MembershipRow.order_id == order.id))
        assert membership is not None
        assert membership.status is MembershipStatus.CLOSED
    assert deps.refunds.calls == 1  # type: ignore[attr-defined]
    assert_books_balance(uow)


def test_a_failed_refund_goes_to_the_balance_only_when_the_consumer_asks(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    deps = worker(engine)
    agent = staff(uow, now, name="a2")
    bought = buy_one(uow, channel, make_user, now)
    deps.refunds.set_behavior(bought.out_trade_no, "fail")  # type: ignore[attr-defined]
    created = submit(uow, bought, now + timedelta(minutes=1))
    approve(uow, agent, created.ticket_no, now + timedelta(hours=1), CALENDAR)
    sent = now + timedelta(hours=2)
    run_tick(deps, sent)
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUND_FAILED
    (failed,) = refunds(uow, created.ticket_no)
    assert failed.status is RefundStatus.FAILED
    assert failed.failure
    # Days of worker ticks change nothing: the balance is never chosen for the consumer.
    for days in (1, 5, 30):
        run_tick(deps, sent + timedelta(days=days))
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUND_FAILED
    assert len(refunds(uow, created.ticket_no)) == 1
    assert balance(uow, bought.consumer.user_id) == (0, 0)
    view = ticket_view(uow, bought.consumer, created.ticket_no)
    assert {"refund_to_balance", "retry_refund"} <= set(view.actions)

    refund_to_balance(uow, bought.consumer, created.ticket_no, sent + timedelta(days=31), CALENDAR)
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUNDED
    _first, second = refunds(uow, created.ticket_no)
    assert (second.channel, second.status, second.amount_fen) == (
        Channel.BALANCE,
        RefundStatus.SUCCEEDED,
        failed.amount_fen,
    )
    assert balance(uow, bought.consumer.user_id) == (failed.amount_fen, 0)
    assert entries(uow, "refund_paid") == [f"refund_paid:{second.id}"]
    assert actions(uow, created.ticket_no)[-3:] == ["refund_failed", "refund_to_balance", "refund_succeeded"]
    assert deps.refunds.calls == 1  # type: ignore[attr-defined]
    assert_books_balance(uow)


def test_a_retry_uses_a_new_refund_number(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    deps = worker(engine)
    agent = staff(uow, now, name="a3")
    bought = buy_one(uow, channel, make_user, now)
    deps.refunds.set_behavior(bought.out_trade_no, "fail")  # type: ignore[attr-defined]
    created = submit(uow, bought, now + timedelta(minutes=1))
    approve(uow, agent, created.ticket_no, now + timedelta(hours=1), CALENDAR)
    sent = now + timedelta(hours=2)
    run_tick(deps, sent)
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUND_FAILED
    deps.refunds.set_behavior(bought.out_trade_no, "ok")  # type: ignore[attr-defined]  # the card works again
    retry_refund(uow, agent, created.ticket_no, sent + timedelta(hours=1), CALENDAR)
    run_tick(deps, sent + timedelta(hours=1, minutes=1))
    run_tick(deps, sent + timedelta(hours=2))
    first, second = refunds(uow, created.ticket_no)
    assert first.out_refund_no != second.out_refund_no
    assert (first.status, second.status) == (RefundStatus.FAILED, RefundStatus.SUCCEEDED)
    assert [row.status for row in sim_rows(uow)] == ["ABNORMAL", "SUCCESS"]
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUNDED
    assert entries(uow, "refund_paid") == [f"refund_paid:{second.id}"]
    assert_books_balance(uow)


# --------------------------------------------------------------------------------------------
# Crashes


def _worker_process(db_url: str, at: datetime, crash: str = "") -> dict[str, Any] | None:
    """One tick in a separate Python process; None when it died as told."""
    env = {**os.environ, "KAMENG_CRASH": crash}
    done = subprocess.run(
        [sys.executable, str(CRASH_WORKER), db_url, at.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if crash:
        assert done.returncode == 1, done.stderr[-2000:]
        return None
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _send_row(uow: UnitOfWork) -> OutboxRow:
    with uow:
        row = uow.session.scalar(select(OutboxRow).where(OutboxRow.kind == "send_refund"))
        assert row is not None
        return row


@pytest.mark.parametrize("crash", ["before", "after"])
def test_a_worker_killed_around_the_channel_call_sends_the_refund_once(
    crash: str,
    db_url: str,
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    _, ticket_no = _approved(uow, channel, make_user, now)
    (record,) = refunds(uow, ticket_no)
    crashed_at = now + timedelta(hours=2)

    assert _worker_process(db_url, crashed_at, crash) is None
    claim = _send_row(uow)
    assert claim.attempts == 1  # the claim was committed before the process died
    assert claim.done_at is None
    assert refunds(uow, ticket_no)[0].status is RefundStatus.PENDING  # we never learnt the answer
    assert len(sim_rows(uow)) == (0 if crash == "before" else 1)

    # Another worker within the lease leaves the row alone.
    assert _worker_process(db_url, crashed_at + timedelta(seconds=30))["calls"] == 0  # type: ignore[index]
    assert len(sim_rows(uow)) == (0 if crash == "before" else 1)

    # After the lease: sent (again, with the same out_refund_no), once.
    assert _worker_process(db_url, crashed_at + timedelta(seconds=61))["calls"] == 1  # type: ignore[index]
    assert _send_row(uow).done_at is not None
    (sim,) = sim_rows(uow)
    assert sim.out_refund_no == record.out_refund_no
    (after,) = refunds(uow, ticket_no)
    # Sent for the first time it is accepted; resent, the bank answers with the refund it already
    # holds, settled by now.
    assert after.status is (RefundStatus.PROCESSING if crash == "before" else RefundStatus.SUCCEEDED)
    assert after.channel_refund_no == sim.refund_id

    # A poll later the money has arrived; nothing was sent again.
    assert _worker_process(db_url, crashed_at + timedelta(minutes=10))["calls"] == 0  # type: ignore[index]
    assert ticket(uow, ticket_no).status is TicketStatus.REFUNDED
    assert len(sim_rows(uow, record.out_refund_no)) == 1
    assert entries(uow, "refund_paid") == [f"refund_paid:{record.id}"]
    assert_books_balance(uow)
