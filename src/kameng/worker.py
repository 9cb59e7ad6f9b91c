"""The worker tick: everything that happens because time passed. Safe to run in any number of
processes at once: each step claims its rows with SKIP LOCKED and changes them through the
state machines, so a row is handled once."""

from __future__ import annotations

from datetime import datetime

from kameng.aftersales.deadlines import run_deadlines
from kameng.container import Container
from kameng.messages.tasks import deliver_message_handler
from kameng.orders.payments import expire_unpaid_orders
from kameng.orders.usage import expire_memberships
from kameng.payouts.services import poll_refunds
from kameng.payouts.tasks import send_refund_handler
from kameng.platform.outbox import Handler, OutboxKind, process_outbox


def outbox_handlers(container: Container) -> dict[str, Handler]:
    """Each outbox kind with the handler of the feature that owns it."""
    return {
        OutboxKind.SEND_REFUND: send_refund_handler(container.uow, container.refunds, container.calendar),
        OutboxKind.DELIVER_MESSAGE: deliver_message_handler(container.uow, container.sender),
    }


def drain_outbox(container: Container, now: datetime) -> int:
    return process_outbox(container.uow, now, outbox_handlers(container))


def run_tick(container: Container, now: datetime) -> dict[str, int]:
    result = {
        "orders_expired": expire_unpaid_orders(container.uow(), now),
        "memberships_expired": expire_memberships(container.uow(), now),
    }
    result.update(run_deadlines(container.uow(), now, container.calendar))
    result["outbox_done"] = drain_outbox(container, now)
    result["refunds_polled"] = poll_refunds(container.uow, now, container.refunds, container.calendar)
    return result
