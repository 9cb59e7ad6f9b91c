"""Fifty people press "buy" at the same moment for a card with twenty keys left.

Exactly twenty orders are placed and paid, each with its own key; the other thirty are told
"sold out" (Conflict ``sold_out``) and leave no order, payment or journal line behind; the books
balance. On PostgreSQL the buyers really run in parallel (``FOR UPDATE SKIP LOCKED`` hands each
one a different key); on SQLite ``BEGIN IMMEDIATE`` queues them, which must give the same result.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from kameng.accounts.models import User
from kameng.catalog.models import ProductRow
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel
from kameng.domain.states import CardKeyStatus, OrderStatus, PaymentStatus
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.models import CardKeyRow, OrderRow, PaymentRow
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict
from kameng.platform.ledger_models import JournalEntry
from tests.support.shop import assert_books_balance

BUYERS = 50
KEYS = 20
GAME = "game-points-50"

pytestmark = pytest.mark.usefixtures("catalog")


def _leave_keys(uow: UnitOfWork, count: int) -> int:
    """Take all but ``count`` of the product's keys off sale; returns the product id."""
    with uow:
        product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == GAME))
        assert product_id is not None
        extra = select(CardKeyRow.id).where(CardKeyRow.product_id == product_id).order_by(CardKeyRow.id).offset(count)
        uow.session.execute(update(CardKeyRow).where(CardKeyRow.id.in_(extra)).values(status=CardKeyStatus.REVOKED))
        uow.commit()
        return product_id


def _buy_in_parallel(
    engine: Engine, users: list[User], channel: SimulatorChannel, now: datetime
) -> list[tuple[str, str]]:
    """Every user buys at once (a barrier releases them together) and pays what they got.
    Returns ("paid", order_no) or ("conflict", code) per buyer; anything else is re-raised."""
    factory = make_session_factory(engine)
    barrier = threading.Barrier(len(users), timeout=60)

    def one(user: User) -> tuple[str, str]:
        request = CheckoutRequest(buyer=user.id, product_slug=GAME, channel=Channel.ALIPAY, nonrefundable_ack=True)
        barrier.wait()
        try:
            placed = place_order(UnitOfWork(factory), request, now, channel)
        except Conflict as error:
            return "conflict", error.code
        assert placed.out_trade_no
        paid_at = now + timedelta(seconds=30)
        outcome = simulate_payer(UnitOfWork(factory), placed.out_trade_no, True, channel, paid_at)
        assert outcome == "paid"
        return "paid", placed.order_no

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        return list(pool.map(one, users))


def _check_exactly_twenty_sold(
    db_url: str, uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    product_id = _leave_keys(uow, KEYS)
    users = [make_user() for _ in range(BUYERS)]
    # A pool as large as the crowd, so that nobody waits for a connection instead of a lock.
    engine = make_engine(db_url, pool_size=BUYERS, max_overflow=0, pool_timeout=60)
    try:
        results = _buy_in_parallel(engine, users, channel, now)
    finally:
        engine.dispose()

    outcomes = Counter(kind for kind, _ in results)
    assert outcomes == {"paid": KEYS, "conflict": BUYERS - KEYS}
    assert {code for kind, code in results if kind == "conflict"} == {"sold_out"}
    paid_numbers = {number for kind, number in results if kind == "paid"}
    with uow:
        session = uow.session
        placed = session.scalars(select(OrderRow).where(OrderRow.product_id == product_id)).all()
        assert {o.order_no for o in placed} == paid_numbers  # the refused left no order behind
        assert {o.status for o in placed} == {OrderStatus.PAID}
        keys = session.scalars(select(CardKeyRow).where(CardKeyRow.order_id.is_not(None))).all()
        assert len(keys) == KEYS
        assert {k.status for k in keys} == {CardKeyStatus.DELIVERED}
        assert len({k.order_id for k in keys}) == KEYS  # no order got two keys
        assert {k.order_id for k in keys} == {o.id for o in placed}  # every paid order got one
        assert len({k.fingerprint for k in keys}) == KEYS  # no key went to two orders
        available = session.scalar(
            select(func.count(CardKeyRow.id)).where(
                CardKeyRow.product_id == product_id, CardKeyRow.status == CardKeyStatus.AVAILABLE
            )
        )
        assert available == 0
        pays = session.scalars(select(PaymentRow)).all()
        assert len(pays) == KEYS
        assert {p.status for p in pays} == {PaymentStatus.SUCCEEDED}
        assert session.scalar(select(func.count(JournalEntry.id))) == KEYS
        buyers = {o.user_id for o in placed}
    refused = {u.id for u in users} - buyers
    assert len(refused) == BUYERS - KEYS
    with uow:
        nothing = uow.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.user_id.in_(refused)))
        assert nothing == 0  # nothing charged to anyone who was refused
    assert_books_balance(uow)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_fifty_parallel_buyers_of_twenty_keys_on_postgresql(
    db_url: str, uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    _check_exactly_twenty_sold(db_url, uow, channel, make_user, now)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_fifty_queued_buyers_of_twenty_keys_on_sqlite(
    db_url: str, uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    _check_exactly_twenty_sold(db_url, uow, channel, make_user, now)
