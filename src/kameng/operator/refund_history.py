"""The refund history a policy simulation replays: every refund request (a ticket) of one product,
with what the engine needs of its order and the order's events, read in chunks.

Chunks are keyset-paged on the ticket id, each read in its own short transaction with the chunk's
events in one query: the same statements on SQLite and PostgreSQL, and memory that stays flat
whatever the history's size. ``after``/``through`` bound the ids, for a worker's slice.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Select, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from kameng.aftersales.models import Ticket
from kameng.domain.model import Coupon, Event, EventType, Order, Reason
from kameng.orders.history import EVENT_FACTS
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.platform.db.uow import UnitOfWork

DEFAULT_CHUNK = 5000
T = TypeVar("T")
_ENGINE_TYPES = [e.value for e in EventType]
_EVENT_TYPE = {e.value: e for e in EventType}


@dataclass(frozen=True, slots=True)
class Request:
    """One historical refund request, with what the engine needs of its order."""

    ticket_id: int
    ticket_no: str
    reason: Reason
    at: datetime
    order_id: int
    order_no: str
    order: Order


def _order(
    amount: int, paid_at: datetime, channel: object, bonus: int, coupon: int, refundable: bool, renew: bool
) -> Order:
    # As orders.history.quote_for builds it for a live quote: the same fields, the same coupon.
    return Order(
        paid=amount,
        paid_at=paid_at,
        channel=channel,  # type: ignore[arg-type]  # the column's enum
        bonus=bonus,
        coupon=Coupon(coupon, refundable) if coupon else None,
        auto_renew=renew,
    )


def request_query(product_id: int, since: datetime | None, until: datetime | None) -> object:
    query = (
        select(
            Ticket.id,
            Ticket.ticket_no,
            Ticket.reason,
            Ticket.created_at,
            OrderRow.id,
            OrderRow.order_no,
            OrderRow.amount_fen,
            OrderRow.paid_at,
            OrderRow.channel,
            OrderRow.bonus_fen,
            OrderRow.coupon_fen,
            OrderRow.coupon_refundable,
            OrderRow.auto_renew,
        )
        .join(OrderRow, OrderRow.id == Ticket.order_id)
        .where(OrderRow.product_id == product_id, OrderRow.paid_at.is_not(None))
    )
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if until is not None:
        query = query.where(Ticket.created_at < until)
    return query


def count_requests(uow: UnitOfWork, product_id: int, since: datetime | None, until: datetime | None = None) -> int:
    """How many requests a simulation will replay (for a progress bar)."""
    query = select(func.count()).select_from(Ticket).join(OrderRow, OrderRow.id == Ticket.order_id)
    query = query.where(OrderRow.product_id == product_id, OrderRow.paid_at.is_not(None))
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if until is not None:
        query = query.where(Ticket.created_at < until)
    with uow:
        return int(uow.session.scalar(query) or 0)


def history_chunks(
    uow: UnitOfWork,
    product_id: int,
    since: datetime | None,
    until: datetime | None = None,
    chunk: int = DEFAULT_CHUNK,
    *,
    after: int = 0,
    through: int | None = None,
) -> Iterator[list[tuple[Request, list[Event]]]]:
    """The history of refund requests of one product, ``chunk`` at a time, in ticket order, each
    with its order's events (the engine's types only, in the order they happened). Each chunk is
    read in its own short transaction, keyset-paged on the ticket id; ``after`` and ``through``
    bound the ticket ids (a slice of the history, for one worker process)."""
    base = request_query(product_id, since, until)
    if through is not None:
        base = base.where(Ticket.id <= through)  # type: ignore[attr-defined]
    while True:
        with uow:
            session = uow.session
            if _by_array(session):
                # A chunk is a few milliseconds of index probes: parallel workers started for
                # each of its two queries only cost the server CPU (65 → 42 ms a chunk).
                session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            rows = session.execute(
                base.where(Ticket.id > after).order_by(Ticket.id).limit(chunk)  # type: ignore[attr-defined]
            ).all()
            if not rows:
                return
            requests = [
                Request(
                    row[0],
                    row[1],
                    row[2],
                    max(row[3], row[7]),  # as a live quote: never before the payment
                    row[4],
                    row[5],
                    _order(row[6], row[7], row[8], row[9], row[10], row[11], row[12]),
                )
                for row in rows
            ]
            events: dict[int, list[Event]] = {request.order_id: [] for request in requests}
            event_rows = session.execute(
                _events_query(session, base, after, rows[-1][0]),
                {"order_ids": list(events)} if _by_array(session) else {},
            )
            for order_id, kind, at, benefit, count, hours, amount in event_rows:
                events[order_id].append(
                    Event(
                        at=at,
                        type=_EVENT_TYPE[kind],
                        benefit=benefit,
                        count=count,
                        hours=Decimal(hours) if hours else Decimal(0),
                        amount=amount,
                    )
                )
        after = rows[-1][0]
        yield [(request, events[request.order_id]) for request in requests]


_EVENT_COLUMNS = (OrderEventRow.order_id, *EVENT_FACTS)
_ORDER = (OrderEventRow.order_id, OrderEventRow.at, OrderEventRow.id)


def _by_array(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _events_query(
    session: Session, base: Any, after: int, last: int
) -> Select[int, str, datetime, str | None, int, str | None, int]:
    """The events of a chunk's orders, by order and time.

    On PostgreSQL the chunk's order ids go as one array parameter (``= ANY(:order_ids)``): the
    planner probes ``ix_order_events_order_at`` for each. The window of ticket ids as a subquery
    (``IN (SELECT …)``), which reads the same on both backends, was planned on PostgreSQL as a
    hash semi-join over sequential scans of ``orders`` and ``order_events``: every chunk read the
    two whole tables, the server's time grew with the history and was most of a 1,000,000-request
    run. SQLite keeps the subquery (it probes the index for it)."""
    query = select(*_EVENT_COLUMNS).where(OrderEventRow.type.in_(_ENGINE_TYPES)).order_by(*_ORDER)
    if _by_array(session):
        return query.where(OrderEventRow.order_id == any_(bindparam("order_ids", type_=ARRAY(BigInteger))))
    window = base.where(Ticket.id > after, Ticket.id <= last).with_only_columns(Ticket.order_id)
    return query.where(OrderEventRow.order_id.in_(window))


def id_bounds(
    uow: UnitOfWork, product_id: int, since: datetime | None, until: datetime | None
) -> tuple[int, int, int] | None:
    """(smallest ticket id, largest, how many) of the requests to replay; None when there are none."""
    query = request_query(product_id, since, until).with_only_columns(  # type: ignore[attr-defined]
        func.min(Ticket.id), func.max(Ticket.id), func.count()
    )
    with uow:
        low, high, count = uow.session.execute(query).one()
    return None if low is None else (int(low), int(high), int(count))


def read_ahead(chunks: Iterator[T]) -> Iterator[T]:
    """``chunks``, the next one read by a thread while the caller works on this one: the time the
    database takes to answer is hidden behind the engine's. A chunk's transaction is over before
    it is handed on, so a caller that stops early leaves the thread holding nothing but a chunk;
    it is told to stop and ends."""
    box: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in chunks:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(_END)
        except BaseException as error:  # handed to the caller, raised there
            box.put(_Failed(error))

    thread = threading.Thread(target=pump, name="refund-history-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()


_END = object()


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


__all__ = [
    "DEFAULT_CHUNK",
    "Request",
    "count_requests",
    "history_chunks",
    "id_bounds",
    "read_ahead",
    "request_query",
]
