"""The outbox handler of a new webhook delivery: its first attempt, right after the commit that
owed it. Retries are the worker's ``webhooks`` step (``delivery.deliver_due``), on their schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import Handler, OutboxTask
from kameng.webhooks.delivery import deliver_due


def deliver_webhook_handler(uow_factory: Callable[[], UnitOfWork], timeout: float) -> Handler:
    def deliver(task: OutboxTask, now: datetime) -> None:
        # A delivery that must wait (for an earlier one about the same object, or for its endpoint
        # to be enabled) is left pending: the worker's step sends it when its turn comes.
        deliver_due(uow_factory, now, timeout, delivery_id=int(task.payload["delivery_id"]))

    return deliver
