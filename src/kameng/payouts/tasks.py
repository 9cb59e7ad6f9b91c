"""The outbox handler that sends a refund to its channel (``OutboxKind.SEND_REFUND``).

The channel is called with the refund's own ``out_refund_no``, derived from our row, so a resend
after a crash is answered with the refund the channel already holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kameng.channels.ports import RefundChannel
from kameng.domain.calendar import WorkCalendar
from kameng.payouts.orphans import send_orphan_refund
from kameng.payouts.services import send_refund
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import Handler, OutboxTask


def send_refund_handler(
    uow_factory: Callable[[], UnitOfWork], channel: RefundChannel, calendar: WorkCalendar
) -> Handler:
    def send(task: OutboxTask, now: datetime) -> None:
        send_refund(uow_factory, int(str(task.payload["refund_id"])), now, channel, calendar)

    return send


def refund_orphan_handler(uow_factory: Callable[[], UnitOfWork], channel: RefundChannel) -> Handler:
    """``OutboxKind.REFUND_ORPHAN``: raises while the channel is still processing, so the outbox
    asks again on its back-off with the same refund number."""

    def send(task: OutboxTask, now: datetime) -> None:
        send_orphan_refund(uow_factory, int(str(task.payload["orphan_id"])), now, channel)

    return send
