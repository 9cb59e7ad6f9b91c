"""The policy simulation equals the engine, order by order, on a history made through the services:
real orders, paid, activated and used, real refund requests with their tickets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from kameng.aftersales.models import Ticket
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.catalog.models import ProductRow
from kameng.catalog.services import product_to_domain
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import Coupon, Decision, Order, Policy, Reason, RefundRequest
from kameng.domain.refund import Quote, quote_refund
from kameng.domain.users import Role
from kameng.operator import simulation
from kameng.operator.policies import Draft, draft_of
from kameng.operator.refund_history import read_ahead
from kameng.operator.simulation import SimulationResult, count_requests, simulate
from kameng.orders.history import engine_events, order_events
from kameng.orders.usage import record_usage
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import CALENDAR

pytestmark = pytest.mark.usefixtures("catalog")

PRODUCT = "annual-card"  # 199.00, 12 months by_month, 5 % fee at most 20.00


@dataclass(frozen=True)
class Case:
    """One order of the history: what happened to it, then the request (hours after payment)."""

    activate_after: timedelta | None
    request_after: timedelta
    reason: Reason


CASES = [
    Case(None, timedelta(hours=2), Reason.CHANGED_MIND),  # P1: auto, full
    Case(timedelta(hours=1), timedelta(days=3), Reason.CHANGED_MIND),  # P6: review, full
    Case(timedelta(hours=1), timedelta(days=20), Reason.CHANGED_MIND),  # P9: 1 month used, fee
    Case(timedelta(days=2), timedelta(days=70), Reason.MISTAKEN_PURCHASE),  # P9: 3 months
    Case(timedelta(hours=1), timedelta(days=200), Reason.DUPLICATE_PURCHASE),  # P9: 7 months
    Case(timedelta(hours=1), timedelta(days=40), Reason.NOT_AS_DESCRIBED),  # S4 vs P9
    Case(timedelta(hours=1), timedelta(days=45), Reason.PLATFORM_FAULT),  # S3 (no outage) vs P9
    Case(None, timedelta(days=10), Reason.PLATFORM_FAULT),  # P1 beats S3
    Case(timedelta(hours=1), timedelta(days=400), Reason.CHANGED_MIND),  # P5: expired, reject
    Case(timedelta(hours=1), timedelta(days=100), Reason.NOT_DELIVERED),  # S1 review vs P9
]


def _history(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], start: datetime) -> None:
    for index, case in enumerate(CASES):
        user = make_user()
        paid = start + timedelta(hours=index)
        placed = buy(uow, channel, user.id, PRODUCT, paid)
        buyer = Viewer(user.id, Role.CONSUMER)
        if case.activate_after is not None:
            record_usage(uow, buyer, placed.order_no, "activate", paid + case.activate_after)
        command = RefundRequestCommand(placed.order_no, case.reason, "simulation history")
        submit_request(uow, buyer, command, paid + case.request_after, CALENDAR)


def _engine_one_by_one(uow: UnitOfWork, policy: Policy) -> dict[str, Quote]:
    """The reference: each ticket's request given to the engine on its own, read through the ORM
    the way a live quote reads an order (orders.history), not through the simulation's bulk path."""
    quotes = {}
    with uow:
        for ticket in uow.session.scalars(select(Ticket).order_by(Ticket.id)):
            order = ticket.order
            assert order.paid_at is not None
            coupon = Coupon(order.coupon_fen, order.coupon_refundable) if order.coupon_fen else None
            domain_order = Order(
                order.amount_fen, order.paid_at, order.channel, order.bonus_fen, coupon, order.auto_renew
            )
            events = engine_events(order_events(uow, order.id, order.user_id))
            request = RefundRequest(max(ticket.created_at, order.paid_at), ticket.reason)
            product = product_to_domain(order.product)
            quotes[ticket.ticket_no] = quote_refund(product, policy, domain_order, events, request, CALENDAR, SHANGHAI)
    return quotes


def _run(uow: UnitOfWork, draft: Draft, since: datetime | None, chunk: int = 3) -> SimulationResult:
    return simulate(uow, draft, since, review_minutes=30, workday_minutes=420, chunk=chunk)


def test_under_the_current_policy_the_replay_gives_every_ticket_the_decision_and_amount_it_got(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    start = now - timedelta(days=500)
    _history(uow, channel, make_user, start)
    draft = draft_of(uow, {"product": PRODUCT})  # nothing changed: the draft is the current version
    result = _run(uow, draft, start)
    with uow:
        tickets = list(uow.session.scalars(select(Ticket).order_by(Ticket.id)))
    assert result.requests == len(CASES) == len(tickets)
    # What the engine decided when each request was submitted is what the replay finds.
    decisions = [t.decision for t in tickets]
    assert result.current.auto_approved == decisions.count(Decision.AUTO_APPROVE)
    assert result.current.reviewed == decisions.count(Decision.REVIEW)
    assert result.current.rejected == decisions.count(Decision.REJECT)
    assert result.current.refunded_fen == sum(t.quoted_fen for t in tickets)
    assert result.changed == 0
    assert result.changes == []
    assert {Decision.AUTO_APPROVE, Decision.REVIEW, Decision.REJECT} <= set(decisions)  # a varied history


def test_a_stricter_fee_is_simulated_exactly_as_the_engine_decides_each_request_on_its_own(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    start = now - timedelta(days=500)
    _history(uow, channel, make_user, start)
    draft = draft_of(uow, {"product": PRODUCT, "fee_percent": "20", "fee_max": "", "fee_min": "5.00"})
    changed_seen: list[str] = []
    result = simulate(
        uow, draft, start, review_minutes=30, workday_minutes=420, chunk=4,
        on_change=lambda change: changed_seen.append(change.ticket_no),
    )  # fmt: skip
    current = _engine_one_by_one(uow, draft.current)
    proposed = _engine_one_by_one(uow, draft.policy)
    for tally, quotes in ((result.current, current), (result.draft, proposed)):
        decisions = [q.decision for q in quotes.values()]
        assert tally.requests == len(quotes)
        assert tally.auto_approved == decisions.count(Decision.AUTO_APPROVE)
        assert tally.reviewed == decisions.count(Decision.REVIEW)
        assert tally.rejected == decisions.count(Decision.REJECT)
        assert tally.refunded_fen == sum(q.refund for q in quotes.values())
        assert tally.auto_refunded_fen == sum(q.refund for q in quotes.values() if q.decision is Decision.AUTO_APPROVE)
        workload = Decimal(decisions.count(Decision.REVIEW) * 30) / Decimal(420)
        assert result.person_days(tally) == workload.quantize(Decimal("0.01"))
    expected = [
        no
        for no in current
        if (current[no].decision, current[no].refund) != (proposed[no].decision, proposed[no].refund)
    ]
    assert [change.ticket_no for change in result.changes] == expected == changed_seen
    assert result.changed == len(expected) >= 3  # the prorated refunds all pay the higher fee
    for change in result.changes:
        assert change.current.refund_fen == current[change.ticket_no].refund
        assert change.draft.refund_fen == proposed[change.ticket_no].refund
        assert change.draft.rules == proposed[change.ticket_no].rules
    assert result.draft.refunded_fen < result.current.refunded_fen


def test_since_and_until_choose_the_requests_by_their_day(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    start = now - timedelta(days=500)
    _history(uow, channel, make_user, start)
    draft = draft_of(uow, {"product": PRODUCT})
    cutoff = start + timedelta(days=30)
    expected = sum(1 for case in CASES if case.request_after >= timedelta(days=30))
    assert count_requests(uow, draft.product_id, cutoff) == expected
    assert _run(uow, draft, cutoff).requests == expected
    assert _run(uow, draft, now).requests == 0


def test_another_products_requests_are_not_replayed(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    start = now - timedelta(days=500)
    _history(uow, channel, make_user, start)
    draft = draft_of(uow, {"product": "monthly-pass"})
    with uow:
        assert uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == "monthly-pass")) == draft.product_id
    assert _run(uow, draft, None).requests == 0


def test_worker_processes_give_the_same_figures_and_changes_in_the_same_order(
    uow: UnitOfWork,
    db_url: str,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = now - timedelta(days=500)
    _history(uow, channel, make_user, start)
    draft = draft_of(uow, {"product": PRODUCT, "fee_percent": "20", "fee_max": "", "cooling_off_days": "0"})
    one = simulate(uow, draft, start, review_minutes=30, workday_minutes=420, chunk=2)
    if backend == "sqlite":  # replayed in this process, whatever is asked: nothing is forked

        def no_fork(method: str) -> object:
            raise AssertionError(f"a {method} pool was started on SQLite")

        monkeypatch.setattr(simulation, "get_context", no_fork)
    heard: list[str] = []
    progress: list[int] = []
    two = simulate(
        uow, draft, start, review_minutes=30, workday_minutes=420, chunk=2, keep_changes=2,
        processes=2, database_url=db_url, on_change=lambda c: heard.append(c.ticket_no), on_chunk=progress.append,
    )  # fmt: skip
    assert two.current == one.current
    assert two.draft == one.draft
    assert two.changed == one.changed >= 3
    assert heard == [change.ticket_no for change in one.changes]
    assert two.changes == one.changes[:2]
    assert sum(progress) == len(CASES)


def test_reading_ahead_hands_on_every_chunk_in_order_and_the_readers_failure_too() -> None:
    assert list(read_ahead(iter(range(50)))) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("the database went away")

    chunks = read_ahead(failing())
    assert next(chunks) == 1
    with pytest.raises(RuntimeError, match="went away"):
        next(chunks)
    before = threading.active_count()
    for item in read_ahead(iter(range(10**6))):
        if item == 3:
            break  # the reader is told to stop and ends
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
