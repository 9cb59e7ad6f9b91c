"""The worker tick: everything that happens because time passed. Safe to run in any number of
processes at once: each step claims its rows with SKIP LOCKED and changes them through the
state machines, so a row is handled once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kameng.adapters.channels.refunds import RefundChannel
from kameng.adapters.db.uow import UnitOfWork
from kameng.adapters.notify import Sender
from kameng.domain.calendar import WorkCalendar
from kameng.services.aftersales import run_deadlines
from kameng.services.orders import expire_memberships, expire_unpaid_orders
from kameng.services.payouts import poll_refunds, process_outbox


@dataclass
class WorkerDeps:
    uow_factory: Callable[[], UnitOfWork]
    calendar: WorkCalendar
    refunds: RefundChannel
    sender: Sender


def run_tick(deps: WorkerDeps, now: datetime) -> dict[str, int]:
    result = {
        "orders_expired": expire_unpaid_orders(deps.uow_factory(), now),
        "memberships_expired": expire_memberships(deps.uow_factory(), now),
    }
    result.update(run_deadlines(deps.uow_factory(), now, deps.calendar))
    result["outbox_done"] = process_outbox(deps.uow_factory, now, deps.refunds, deps.sender, deps.calendar)
    result["refunds_polled"] = poll_refunds(deps.uow_factory, now, deps.refunds, deps.calendar)
    return result
