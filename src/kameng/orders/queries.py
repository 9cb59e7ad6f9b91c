"""Reading orders: what a viewer may see (another consumer's order is "not found"), the order
page's view with its quote, the actions the transition tables allow the viewer now, and what
activating would do to the refund."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

# The order page reads the state of the order's after-sales ticket (written by aftersales): the
# actions it offers depend on whether a refund is under way, for the pages and the API alike.
from kameng.aftersales.models import Ticket
from kameng.catalog.services import policy_to_domain
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import (
    EventType,
    Reason,
)
from kameng.domain.promises import ActivationChange, activation_change
from kameng.domain.refund import Quote
from kameng.domain.states import CARD_KEY, MEMBERSHIP, ORDER, MembershipStatus, OrderStatus
from kameng.domain.tickets import CLOSED, REFUND_UNDER_WAY, TicketStatus
from kameng.orders.history import order_events, quote_for
from kameng.orders.models import CardKeyRow, MembershipRow, OrderEventRow, OrderRow, PaymentRow
from kameng.payouts.models import RefundRow
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
    # The order's latest after-sales ticket, if any: its number and where it stands.
    ticket_no: str | None = None
    ticket_status: TicketStatus | None = None
    # Money that arrived after the order had expired, on its way back (no ticket involved).
    late_refunds: list[RefundRow] = field(default_factory=list)

    @property
    def refund_under_way(self) -> bool:
        """A refund is approved (benefits frozen) or a ticket may still grant one."""
        return bool(self.order.refunded_fen) or self.ticket_status in REFUND_UNDER_WAY


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


# The order page's reads of the order's own rows, built once.
_PAYMENTS = (
    select(PaymentRow)
    .where(PaymentRow.order_id == bindparam("order_id"), PaymentRow.user_id == bindparam("user_id"))
    .order_by(PaymentRow.id)
)
_MEMBERSHIP = select(MembershipRow).where(
    MembershipRow.order_id == bindparam("order_id"), MembershipRow.user_id == bindparam("user_id")
)
_LATE_REFUNDS = (
    select(RefundRow)
    .where(
        RefundRow.order_id == bindparam("order_id"),
        RefundRow.user_id == bindparam("user_id"),
        RefundRow.purpose == "late_payment",
    )
    .order_by(RefundRow.id)
)


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
        events = order_events(uow, order.id, order.user_id)
        # Each read names the owner too: on a distributed database it then runs on one node
        # (docs/scaling.md, tests/test_scaling.py).
        owned = {"order_id": order.id, "user_id": order.user_id}
        view = OrderView(
            order=order,
            payments=list(session.scalars(_PAYMENTS, owned)),
            membership=session.scalar(_MEMBERSHIP, owned),
            events=events,
            card_key=session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id)),
            quote=quote_for(order, events, now, reason, calendar),
            quote_reason=reason,
            late_refunds=list(session.scalars(_LATE_REFUNDS, owned)),
        )
        latest = latest_ticket(uow, order)
        if latest is not None:
            view.ticket_no, view.ticket_status = latest
        view.actions = available_actions(view, viewer)
        return view


def latest_ticket(uow: UnitOfWork, order: OrderRow) -> tuple[str, TicketStatus] | None:
    """The number and status of the order's most recent after-sales ticket."""
    row = uow.session.execute(
        select(Ticket.ticket_no, Ticket.status)
        .where(Ticket.user_id == order.user_id, Ticket.order_id == order.id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (row.ticket_no, row.status)


# The order actions a buyer takes (``pay`` opens the channel's page); the others are the system's.
BUYER_ORDER_ACTIONS = ("pay", "cancel")


def available_actions(view: OrderView, viewer: Viewer) -> list[str]:
    """What the page offers: what the transition tables allow now, kept to what the viewer may do.

    Benefits freeze from the moment a refund is approved (``refunded_fen``), so from then on
    nothing that uses them is offered. While a ticket may still grant a refund (in review, needs
    information, appealed, approved, refunding, failed and waiting for the consumer's choice),
    nothing that starts them is offered either: the refund being decided was quoted on an unused
    membership. A ticket not closed (a rejection can still be appealed) takes no second request."""
    order, membership, key = view.order, view.membership, view.card_key
    actions: list[str] = []
    if viewer.user_id == order.user_id:
        actions += [action for action in ORDER.actions(order.status) if action in BUYER_ORDER_ACTIONS]
        startable = membership is not None and MEMBERSHIP.allows(membership.status, "activate")
        if order.status is OrderStatus.PAID and startable and not view.refund_under_way:
            actions += ["activate", "claim_trial"]
        if order.status is OrderStatus.PAID and not order.refunded_fen:
            if membership is not None and membership.status is MembershipStatus.ACTIVE:
                actions.append("use_benefit")  # using a benefit changes no status
            if key is not None and CARD_KEY.allows(key.status, "reveal"):
                actions.append("reveal_key")
            ticket_open = view.ticket_status is not None and view.ticket_status not in CLOSED
            if ORDER.allows(order.status, "refund") and not ticket_open:
                actions.append("request_refund")
    if order.status is OrderStatus.PAID and viewer.is_staff:
        actions += ["record_outage", "record_merchant_gone"]
    return actions


# --------------------------------------------------------------------------------------------
# Before activating: what it does to the refund

# What the order page's usage buttons record, as the engine's events.
STARTING_EVENTS = {"activate": EventType.ACTIVATED, "claim_trial": EventType.TRIAL_CLAIMED}


@dataclass
class ActivationPreview:
    view: OrderView
    action: str
    change: ActivationChange | None  # None: the refund stays as it is
    cooling_off_ends: datetime | None  # the no-reason window's end, for the words of rule P6


def activation_preview(
    uow: UnitOfWork, viewer: Viewer, order_no: str, action: str, now: datetime, calendar: WorkCalendar
) -> ActivationPreview:
    """The refund as it is and as it would be right after ``action`` (activate, claim a trial),
    both quoted by the engine at ``now``, and how they differ."""
    return preview_activation(order_view(uow, viewer, order_no, now, calendar), action, now, calendar)


def preview_activation(view: OrderView, action: str, now: datetime, calendar: WorkCalendar) -> ActivationPreview:
    """:func:`activation_preview` of an order view already read (at ``now``)."""
    order = view.order  # read with its product and policy: the engine needs no session
    after = quote_for(order, view.events, now, Reason.CHANGED_MIND, calendar, assume=STARTING_EVENTS[action])
    policy = policy_to_domain(order.policy)
    change: ActivationChange | None = None
    if view.quote is not None and after is not None:
        change = activation_change(view.quote, after, policy.proration)
    ends = (
        order.paid_at + timedelta(days=policy.cooling_off_days)
        if order.paid_at is not None and policy.cooling_off_days
        else None
    )
    return ActivationPreview(view, action, change, ends)
