"""An order's history: the timeline of events every status change writes, and the refund
engine's quote for the order as of a moment, read from that history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import bindparam, insert, select

from kameng.catalog.services import SoldProduct, policy_to_domain, product_to_domain, sold_product
from kameng.domain.calendar import SHANGHAI, WorkCalendar
from kameng.domain.model import (
    Coupon,
    Event,
    EventType,
    Order,
    OrderEventType,
    Policy,
    Product,
    Reason,
    RefundRequest,
)
from kameng.domain.refund import Quote, quote_refund
from kameng.domain.states import (
    OrderStatus,
)
from kameng.domain.users import Role
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.platform.db.uow import UnitOfWork

ENGINE_EVENT_TYPES = {e.value for e in EventType}


class EventFacts(Protocol):
    """What the engine reads of an order's event: a stored row (:class:`OrderEventRow`), or the
    same columns read as a plain row where a hot step reads them beside other facts."""

    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def benefit(self) -> str | None: ...
    @property
    def count(self) -> int: ...
    @property
    def hours(self) -> str | None: ...
    @property
    def amount_fen(self) -> int: ...


# The columns of :class:`EventFacts`, in a statement's select list.
EVENT_FACTS = (
    OrderEventRow.type,
    OrderEventRow.at,
    OrderEventRow.benefit,
    OrderEventRow.count,
    OrderEventRow.hours,
    OrderEventRow.amount_fen,
)


def add_order_event(
    uow: UnitOfWork,
    order: OrderRow,
    type_: OrderEventType | EventType,
    at: datetime,
    actor_id: int | None,
    actor_role: Role | None,
    *,
    benefit: str | None = None,
    count: int = 1,
    hours: Decimal | None = None,
    amount_fen: int = 0,
    note: str = "",
) -> OrderEventRow:
    event = OrderEventRow(
        order_id=order.id,
        user_id=order.user_id,
        type=OrderEventType(type_.value).value,  # one spelling: the engine's types are among ours
        at=at,
        actor_id=actor_id,
        actor_role=actor_role.value if actor_role else "system",
        benefit=benefit,
        count=count,
        hours=str(hours) if hours is not None else None,
        amount_fen=amount_fen,
        note=note[:500],
        created_at=at,
    )
    uow.session.add(event)
    return event


def add_order_events(
    uow: UnitOfWork, rows: Sequence[Mapping[str, object]], type_: OrderEventType | EventType, at: datetime
) -> None:
    """:func:`add_order_event` for a batch of the system's events of one type (each row names its
    ``order_id``, ``user_id``, ``amount_fen`` and ``note``): one multi-row INSERT."""
    if not rows:
        return
    kind = OrderEventType(type_.value).value
    uow.session.execute(
        insert(OrderEventRow),
        [
            {
                "order_id": row["order_id"],
                "user_id": row["user_id"],
                "type": kind,
                "at": at,
                "actor_id": None,
                "actor_role": "system",
                "benefit": None,
                "count": 1,
                "hours": None,
                "amount_fen": row["amount_fen"],
                "note": str(row["note"])[:500],
                "created_at": at,
            }
            for row in rows
        ],
    )


def order_events(uow: UnitOfWork, order_id: int, user_id: int) -> list[OrderEventRow]:
    """An order's events in the order they happened: the evidence the engine reads. Filtered on
    the owner too, so that the query stays on one shard when consumer tables are distributed by
    ``user_id`` (docs/scaling.md)."""
    return list(uow.session.scalars(_ORDER_EVENTS, {"order_id": order_id, "user_id": user_id}))


# Built once: every quote runs it.
_ORDER_EVENTS = (
    select(OrderEventRow)
    .where(OrderEventRow.order_id == bindparam("order_id"), OrderEventRow.user_id == bindparam("user_id"))
    .order_by(OrderEventRow.at, OrderEventRow.id)
)


def engine_events(rows: Iterable[EventFacts]) -> list[Event]:
    events = []
    for row in rows:
        if row.type not in ENGINE_EVENT_TYPES:
            continue
        events.append(
            Event(
                at=row.at,
                type=EventType(row.type),
                benefit=row.benefit,
                count=row.count,
                hours=Decimal(row.hours) if row.hours else Decimal(0),
                amount=row.amount_fen,
            )
        )
    return events


def quote_for(
    order: OrderRow,
    events: Iterable[EventFacts],
    at: datetime,
    reason: Reason,
    calendar: WorkCalendar,
    assume: EventType | None = None,
    product: Product | None = None,
    policy: Policy | None = None,
) -> Quote | None:
    """The engine's quote for a paid order as of ``at``; None before payment.

    ``assume`` adds an event of that type at ``at`` (not stored): the quote as it would be right
    after, say, an activation, which is what a page must show before the consumer activates.
    ``product`` and ``policy``: the engine's view of the order's product and its policy version's
    terms, when the caller has them already (:func:`sold_product_of`,
    catalog.services.policy_terms); by default they are read from the order's row."""
    if order.paid_at is None or order.status is not OrderStatus.PAID:
        return None
    known = engine_events(events)
    if assume is not None:
        known.append(Event(at=max(at, order.paid_at), type=assume))
    coupon = Coupon(order.coupon_fen, order.coupon_refundable) if order.coupon_fen else None
    domain_order = Order(
        paid=order.amount_fen,
        paid_at=order.paid_at,
        channel=order.channel,
        bonus=order.bonus_fen,
        coupon=coupon,
        auto_renew=order.auto_renew,
    )
    return quote_refund(
        product if product is not None else product_to_domain(order.product),
        policy if policy is not None else policy_to_domain(order.policy),
        domain_order,
        known,
        RefundRequest(at=max(at, order.paid_at), reason=reason),
        calendar,
        SHANGHAI,
    )


def known_sold_product(uow: UnitOfWork, product_id: int, sold: SoldProduct) -> None:
    """The order's product as a step read it beside the order's lock, without its row: what
    :func:`sold_product_of` gives for the rest of the transaction."""
    uow.memo[(SoldProduct, product_id)] = sold


def sold_product_of(uow: UnitOfWork, order: OrderRow) -> SoldProduct:
    """The order's product as after-sales reads it (its merchant, its names, the engine's view):
    as the step read it with the order's lock (:func:`known_sold_product`), else from the order's
    row, once per transaction. (A product is edited only by a transaction of its own.)"""
    key = (SoldProduct, order.product_id)
    known: SoldProduct | None = uow.memo.get(key)
    if known is None:
        known = uow.memo[key] = sold_product(order.product)
    return known
