"""Any number of workers, and workers that die: no double charge, no missed renewal.

A worker process is killed (``os._exit``, as kill -9) between claiming a renewal's charge and
asking the channel, or after the channel took the money but before our database knew; the next
worker, once the claim's lease has run out, finishes the renewal exactly once. Several sweeps at
once on PostgreSQL request each renewal once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.platform.db.uow import UnitOfWork
from kameng.subscriptions.renewals import RenewalRules, sweep_renewals
from kameng.worker import run_tick
from tests.support.shop import assert_books_balance, events, payments
from tests.support.subscriptions import bank_charges, charges, membership, messages, subscribe

CRASH_RENEWAL = Path(__file__).parent.parent / "support" / "crash_renewal.py"
SECOND = timedelta(seconds=1)
LEASE_OVER = timedelta(minutes=2)


def _tick_in_process(db_url: str, at: datetime, crash: str = "") -> dict[str, int]:
    env = {**os.environ, "KAMENG_CRASH": crash}
    done = subprocess.run(
        [sys.executable, str(CRASH_RENEWAL), db_url, at.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if crash:
        assert done.returncode == 1, done.stderr[-2000:]
        return {}
    assert done.returncode == 0, done.stderr[-2000:]
    figures: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.parametrize("crash", ["before", "after"])
def test_a_worker_killed_around_the_charge_leaves_one_renewal_and_one_charge(
    crash: str,
    db_url: str,
    catalog: UnitOfWork,
    container: Container,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    uow = container.uow
    subscribed = subscribe(uow(), channel, make_user(), now)
    run_tick(container, subscribed.renews_at - timedelta(days=7))
    due = subscribed.renews_at + SECOND

    _tick_in_process(db_url, due, crash)  # claims the charge's outbox row, then dies
    [charge] = charges(uow(), subscribed.sub_no)
    assert charge.status is RenewalChargeStatus.PENDING
    assert len(bank_charges(uow(), subscribed.sub_no)) == (1 if crash == "after" else 0)

    figures = _tick_in_process(db_url, due + SECOND)  # the lease still holds: nobody else asks
    assert figures["calls"] == 0
    figures = _tick_in_process(db_url, due + LEASE_OVER)  # another worker, after the lease
    assert figures["calls"] == 1
    _tick_in_process(db_url, due + 2 * LEASE_OVER)

    [charge] = charges(uow(), subscribed.sub_no)
    assert charge.status is RenewalChargeStatus.SUCCEEDED
    [taken] = bank_charges(uow(), subscribed.sub_no)
    assert taken.succeeded
    assert len(events(uow(), subscribed.order_no, "renewed")) == 1
    assert [p.amount_fen for p in payments(uow(), subscribed.order_no)] == [3000, 3000]
    assert len(messages(uow(), subscribed.user.id, "renewed")) == 1
    assert membership(uow(), subscribed.order_no).expires_at == subscribed.renews_at + timedelta(days=30)
    assert_books_balance(uow())


@pytest.mark.postgres
def test_sweeps_at_once_on_postgresql_request_each_renewal_and_reminder_once(
    catalog: UnitOfWork,
    container: Container,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    uow = container.uow
    subs = [subscribe(uow(), channel, make_user(), now) for _ in range(6)]
    renews_at = max(s.renews_at for s in subs)
    barrier = threading.Barrier(4, timeout=60)
    errors: list[BaseException] = []

    def sweep(at: datetime) -> None:
        try:
            barrier.wait()
            sweep_renewals(container.uow, at, RenewalRules(), batch=2)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    for at in (renews_at - timedelta(days=7), renews_at + SECOND):
        threads = [threading.Thread(target=sweep, args=(at,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    for s in subs:
        assert len(events(uow(), s.order_no, "renewal_notice")) == 1
        assert len(charges(uow(), s.sub_no)) == 1
    run_tick(container, renews_at + 2 * SECOND)
    for s in subs:
        assert len(bank_charges(uow(), s.sub_no)) == 1
        assert len(events(uow(), s.order_no, "renewed")) == 1
