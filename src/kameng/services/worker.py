"""The worker tick: everything that happens because time passed. Safe to run in any number of
processes at once: each step claims its rows with SKIP LOCKED and changes them through the
state machines, so a row is handled once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kameng.adapters.db.uow import UnitOfWork
from kameng.services.orders import expire_memberships, expire_unpaid_orders


def run_tick(uow_factory: Callable[[], UnitOfWork], now: datetime) -> dict[str, int]:
    return {
        "orders_expired": expire_unpaid_orders(uow_factory(), now),
        "memberships_expired": expire_memberships(uow_factory(), now),
    }
