"""The worker tick: everything that happens because time passed. Safe to run in any number of
processes at once: each step claims its rows with SKIP LOCKED and changes them through the
state machines, so a row is handled once."""

from __future__ import annotations

from datetime import datetime

from kameng.aftersales.deadlines import run_deadlines
from kameng.container import Container
from kameng.orders.payments import expire_unpaid_orders
from kameng.orders.usage import expire_memberships
from kameng.payouts.services import poll_refunds
from kameng.platform.outbox_worker import process_outbox


def run_tick(container: Container, now: datetime) -> dict[str, int]:
    result = {
        "orders_expired": expire_unpaid_orders(container.uow(), now),
        "memberships_expired": expire_memberships(container.uow(), now),
    }
    result.update(run_deadlines(container.uow(), now, container.calendar))
    result["outbox_done"] = process_outbox(container.uow, now, container.refunds, container.sender, container.calendar)
    result["refunds_polled"] = poll_refunds(container.uow, now, container.refunds, container.calendar)
    return result
