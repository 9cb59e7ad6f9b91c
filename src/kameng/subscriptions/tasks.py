"""The outbox handler that asks the channel for a renewal's charge (wired by the worker)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kameng.channels.ports import RecurringCharges
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import Handler, OutboxTask
from kameng.subscriptions.charges import charge_renewal
from kameng.subscriptions.renewals import RenewalRules


def charge_renewal_handler(
    uow_factory: Callable[[], UnitOfWork], charges: RecurringCharges, rules: RenewalRules
) -> Handler:
    def charge(task: OutboxTask, now: datetime) -> None:
        charge_renewal(uow_factory, charges, int(task.payload["charge_id"]), now, rules)

    return charge
