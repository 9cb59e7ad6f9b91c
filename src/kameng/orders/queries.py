"""Reading orders: what a viewer may see (another consumer's order is "not found"), the order
page's view with its quote, and the actions the transition tables allow the viewer now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import (
    Reason,
)
from kameng.domain.refund import Quote
from kameng.domain.states import CARD_KEY, MEMBERSHIP, ORDER, MembershipStatus, OrderStatus
from kameng.orders.history import order_events, quote_for
from kameng.orders.models import CardKeyRow, MembershipRow, OrderEventRow, OrderRow, PaymentRow
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import not_found

# --------------------------------------------------------------------------------------------
# Reading orders


@dataclass
class OrderView:
    order: OrderRow
    payments: list[PaymentRow]
    membership: MembershipRow | None
    events: list[OrderEventRow]
    card_key: CardKeyRow | None
    quote: Quote | None = None
    quote_reason: Reason = Reason.CHANGED_MIND
    actions: list[str] = field(default_factory=list)


def visible_order(uow: UnitOfWork, viewer: Viewer, order_no: str, lock: bool = False) -> OrderRow:
    if not inputs.could_be(order_no, inputs.ORDER_NO):
        raise not_found("order")
    query = select(OrderRow).where(OrderRow.order_no == order_no)
    if not viewer.is_staff:
        query = query.where(OrderRow.user_id == viewer.user_id)
    if lock:
        query = query.with_for_update(of=OrderRow)
    order = uow.session.scalar(query)
    if order is None:
        raise not_found("order")
    return order


def list_orders(uow: UnitOfWork, viewer: Viewer, limit: int = 100) -> list[OrderRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(OrderRow)
                .where(OrderRow.user_id == viewer.user_id)
                .order_by(OrderRow.created_at.desc(), OrderRow.id.desc())
                .limit(limit)
            )
        )


def find_orders(uow: UnitOfWork, viewer: Viewer, query_text: str, limit: int = 50) -> list[OrderRow]:
    """Staff lookup by order number (or its prefix) or by the buyer's phone/e-mail."""
    if not viewer.is_staff:
        raise not_found("order")
    from kameng.accounts.models import User

    text = inputs.clean_text(query_text, inputs.SEARCH, "q")
    with uow:
        query = select(OrderRow).order_by(OrderRow.created_at.desc()).limit(limit)
        if text.isdigit() and len(text) >= 4:
            query = query.where(
                OrderRow.order_no.startswith(text) | OrderRow.user_id.in_(select(User.id).where(User.phone == text))
            )
        elif text:
            query = query.where(OrderRow.user_id.in_(select(User.id).where(User.email == text.lower())))
        return list(uow.session.scalars(query))


def order_view(
    uow: UnitOfWork,
    viewer: Viewer,
    order_no: str,
    now: datetime,
    calendar: WorkCalendar,
    reason: Reason = Reason.CHANGED_MIND,
) -> OrderView:
    with uow:
        session = uow.session
        order = visible_order(uow, viewer, order_no)
        events = order_events(uow, order.id)
        view = OrderView(
            order=order,
            payments=list(
                session.scalars(select(PaymentRow).where(PaymentRow.order_id == order.id).order_by(PaymentRow.id))
            ),
            membership=session.scalar(select(MembershipRow).where(MembershipRow.order_id == order.id)),
            events=events,
            card_key=session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id)),
            quote=quote_for(order, events, now, reason, calendar),
            quote_reason=reason,
        )
        view.actions = _available_actions(view, viewer)
        return view


# The order actions a buyer takes (``pay`` opens the channel's page); the others are the system's.
BUYER_ORDER_ACTIONS = ("pay", "cancel")


def _available_actions(view: OrderView, viewer: Viewer) -> list[str]:
    """What the page offers: what the transition tables allow now, kept to what the viewer may do.

    Benefits freeze from the moment a refund is approved (``refunded_fen``), so from then on
    nothing that uses them, and no second refund request, is offered."""
    order, membership, key = view.order, view.membership, view.card_key
    actions: list[str] = []
    if viewer.user_id == order.user_id:
        actions += [action for action in ORDER.actions(order.status) if action in BUYER_ORDER_ACTIONS]
        if order.status is OrderStatus.PAID and not order.refunded_fen:
            if membership is not None and MEMBERSHIP.allows(membership.status, "activate"):
                actions += ["activate", "claim_trial"]
            if membership is not None and membership.status is MembershipStatus.ACTIVE:
                actions.append("use_benefit")  # using a benefit changes no status
            if key is not None and CARD_KEY.allows(key.status, "reveal"):
                actions.append("reveal_key")
            if ORDER.allows(order.status, "refund"):
                actions.append("request_refund")
    if order.status is OrderStatus.PAID and viewer.is_staff:
        actions += ["record_outage", "record_merchant_gone"]
    return actions
