"""A withdrawal raced against a purchase from the same balance (seed 003), threads released
together by a barrier: on PostgreSQL they really run in parallel and meet at the balance row's
lock; on SQLite ``BEGIN IMMEDIATE`` queues them. Either the withdrawal holds the cash first and the
purchase is refused, or the purchase spends first and the withdrawal of the whole is refused:
the balance never goes negative, the hold holds, and the books balance."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.platform.access import Viewer
from kameng.platform.db.database import make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput
from kameng.wallet.services import request_withdrawal
from tests.wallet.support import CALENDAR, books, held, spent_top_up

CONSUMERS = 6

pytestmark = pytest.mark.usefixtures("catalog")


def test_a_withdrawal_raced_against_a_purchase_never_spends_the_held_money(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumers = [spent_top_up(uow, channel, make_user, now)[0] for _ in range(CONSUMERS)]
    assert all(held(uow, c.user_id) == (9000, 0, 0) for c in consumers)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(2 * CONSUMERS, timeout=60)
    at = now + timedelta(days=10)

    def withdraw(consumer: Viewer) -> str:
        barrier.wait()
        try:
            request_withdrawal(UnitOfWork(factory), consumer, 9000, "race", at, CALENDAR)
        except InvalidInput as error:
            return error.code
        return "withdrawn"

    def purchase(consumer: Viewer) -> str:
        request = CheckoutRequest(
            buyer=consumer.user_id, product_slug="monthly-pass", channel=Channel.BALANCE, duplicate_ack=True
        )
        barrier.wait()
        try:
            place_order(UnitOfWork(factory), request, at, channel)
        except InvalidInput as error:
            return error.code
        return "bought"

    with ThreadPoolExecutor(max_workers=2 * CONSUMERS) as pool:
        withdrawals = [pool.submit(withdraw, c) for c in consumers]
        purchases = [pool.submit(purchase, c) for c in consumers]
        outcomes = [(w.result(), p.result()) for w, p in zip(withdrawals, purchases, strict=True)]

    for consumer, outcome in zip(consumers, outcomes, strict=True):
        cash, bonus, on_hold = held(uow, consumer.user_id)
        assert min(cash, bonus, on_hold) >= 0
        if outcome == ("withdrawn", "insufficient_balance"):
            assert (cash, on_hold) == (0, 9000)  # the hold held: nothing of it was spent
        else:
            assert outcome == ("amount_out_of_range", "bought"), outcome
            assert (cash, on_hold) == (6000, 0)
    books(uow)
