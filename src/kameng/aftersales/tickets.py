"""What every after-sales step shares: moving a ticket through its table (with its timeline
row), applying a step's plan, telling the consumer, and locking the rows a step changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from kameng.aftersales import audit
from kameng.aftersales.models import Ticket
from kameng.domain.aftersales import Note, Notice, Plan, Refused
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Reason
from kameng.domain.money import format_yuan
from kameng.domain.refund import Quote
from kameng.domain.tickets import APPEAL_WINDOW, TICKET, TicketStatus, priority_of
from kameng.messages.notices import NoticeEvent, notify_operators
from kameng.messages.services import tell
from kameng.orders.history import order_events, quote_for, sold_product_of
from kameng.orders.models import OrderRow
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.ids import take_id
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.platform.i18n import LANGS, Msg, translate
from kameng.webhooks.events import EventType, emit

# --------------------------------------------------------------------------------------------
# Shared steps


def _quote_now(
    uow: UnitOfWork, order: OrderRow, reason: Reason, now: datetime, calendar: WorkCalendar
) -> dict[str, Any] | None:
    # Several transitions in one transaction share one quote (same order state, same moment).
    memo_key = ("quote", order.id, order.status, reason, now)
    if memo_key not in uow.memo:
        quote = quote_for(order, order_events(uow, order.id, order.user_id), now, reason, calendar)
        uow.memo[memo_key] = quote.to_dict() if quote else None
    cached: dict[str, Any] | None = uow.memo[memo_key]
    return cached


def new_ticket(
    uow: UnitOfWork,
    order: OrderRow,
    quote: Quote,
    reason: Reason,
    description: str,
    ticket_no: str,
    idempotency_key: str | None,
    now: datetime,
) -> Ticket:
    """A submitted ticket about ``order`` carrying the engine's quote, added to the session, for a
    consumer's request and a mass refund alike. Its id is the one drawn ahead when the caller drew
    one (:mod:`kameng.platform.db.ids`); without (SQLite) the flush gives it."""
    ticket = Ticket(
        id=take_id(uow, "tickets"),
        ticket_no=ticket_no,
        order_id=order.id,
        user_id=order.user_id,
        reason=reason,
        description=description,
        status=TicketStatus.SUBMITTED,
        decision=quote.decision,
        rules=",".join(quote.rules),
        quote=quote.to_dict(),
        quoted_fen=quote.refund,
        priority=priority_of(reason),
        idempotency_key=idempotency_key,
        timeline_head="",
        timeline_rows=0,
        created_at=now,
        updated_at=now,
    )
    ticket.order = order
    uow.session.add(ticket)
    return ticket


def remember_quote(uow: UnitOfWork, order: OrderRow, reason: Reason, now: datetime, quote: Quote) -> None:
    """The quote a step has already computed serves every timeline row of that step."""
    uow.memo[("quote", order.id, order.status, reason, now)] = quote.to_dict()


def apply_plan(
    uow: UnitOfWork, ticket: Ticket, plan: Plan, now: datetime, calendar: WorkCalendar, actor: Viewer | None
) -> None:
    """Store one step's plan (domain/aftersales.py) on the ticket: its moves through the transition
    table, what it decided, and the messages to the consumer, in the caller's transaction."""
    for move in plan.moves:
        by = actor if move.by_person else None
        move_ticket(uow, ticket, move.action, now, calendar, by, move.comment, move.amount_fen, move.note)
    if plan.approved_fen is not None:
        ticket.approved_fen, ticket.decided_at = plan.approved_fen, now
    if plan.reject_rule is not None:
        ticket.reject_rule, ticket.reject_comment, ticket.decided_at = plan.reject_rule, plan.reject_comment or "", now
    if plan.opens_appeal_window:
        ticket.appeal_until = now + APPEAL_WINDOW
    for notice in plan.notices:
        notify(uow, ticket, notice, now)


def refused(error: Refused) -> InvalidInput:
    """A step the domain refused, as the error a person reads."""
    return InvalidInput(ErrorCode(error.code), error.key, error.field, **error.params)


def ensure_allowed(ticket: Ticket, action: str) -> None:
    """The ticket's table allows ``action`` now, or a Conflict naming its state: checked before a
    step weighs anything else, so a step that lost a race is told the ticket moved on."""
    if not TICKET.allows(ticket.status, action):
        raise Conflict(
            ErrorCode.INVALID_TRANSITION,
            "error.invalid_transition",
            "status",
            status=Msg(f"ts_{ticket.status.value}"),
        )


def move_ticket(
    uow: UnitOfWork,
    ticket: Ticket,
    action: str,
    now: datetime,
    calendar: WorkCalendar,
    actor: Viewer | None,
    comment: str = "",
    amount_fen: int | None = None,
    note: Note | None = None,
) -> None:
    """The only way a ticket changes status: the table says yes (or the caller gets a Conflict
    naming the state), and the timeline records it."""
    ensure_allowed(ticket, action)
    new_status = TICKET.apply(ticket.status, action)
    audit.append(
        uow,
        ticket,
        at=now,
        actor_id=actor.user_id if actor else None,
        actor_role=actor.role.value if actor else "system",
        action=action,
        from_status=ticket.status.value,
        to_status=new_status.value,
        comment=comment,
        amount_fen=amount_fen,
        quote=_quote_now(uow, ticket.order, ticket.reason, now, calendar),
        note=note.to_dict() if note else None,
    )
    _tell_integrators(uow, ticket, action, new_status, now, amount_fen)
    ticket.status = new_status
    ticket.updated_at = now


# The webhook event each move stands for (the first move out of "submitted" also says that a
# refund was requested, whatever the engine decided).
WEBHOOK_EVENTS = {
    "auto_approve": EventType.REFUND_APPROVED,
    "approve": EventType.REFUND_APPROVED,
    "approve_overdue": EventType.REFUND_APPROVED,
    "reject": EventType.REFUND_REJECTED,
    "reject_final": EventType.REFUND_REJECTED,
    "refund_succeeded": EventType.REFUND_ARRIVED,
    "refund_failed": EventType.REFUND_FAILED,
    "escalate": EventType.TICKET_ESCALATED,
}


def _tell_integrators(
    uow: UnitOfWork, ticket: Ticket, action: str, new_status: TicketStatus, now: datetime, amount_fen: int | None
) -> None:
    events = []
    if ticket.status is TicketStatus.SUBMITTED and action != "withdraw":
        events.append(EventType.REFUND_REQUESTED)
    if action in WEBHOOK_EVENTS:
        events.append(WEBHOOK_EVENTS[action])
    data = {
        "ticket_no": ticket.ticket_no,
        "order_no": ticket.order.order_no,
        "status": new_status.value,
        "reason": ticket.reason.value,
        "quoted_fen": ticket.quoted_fen,
        "amount_fen": amount_fen if amount_fen is not None else (ticket.approved_fen or ticket.quoted_fen),
    }
    for event in events:
        emit(uow, event, ticket.ticket_no, data, now)
    if action == "refund_failed":
        key = f"refund_failed:{ticket.id}:{ticket.timeline_rows}"
        notify_operators(uow, NoticeEvent.REFUND_FAILED, key, {"ticket_no": ticket.ticket_no}, now)


def notify(uow: UnitOfWork, ticket: Ticket, notice: Notice, now: datetime) -> None:
    """Tell the consumer: the in-app message is written now, with the change that causes it, and its
    delivery by SMS is queued for after the commit.

    The key is derived from the ticket's timeline position, so it needs no query; the ticket row
    is locked by every caller, so two transactions never take the same position."""
    key = f"notify:{ticket.id}:{ticket.timeline_rows}:{notice.kind}"
    texts = message_texts(ticket, notice, sold_product_of(uow, ticket.order).names)
    tell(uow, ticket.user_id, key, notice.kind, notice.key, notice.params, now, ticket_id=ticket.id, texts=texts)


def message_texts(ticket: Ticket, notice: Notice, names: dict[str, str]) -> dict[str, str]:
    """The notice in every language, headed by the product and the amount it is about, so that a
    message read on its own (in the list, or as an SMS) says which purchase and how much.

    A notice that names its amount itself is headed by the product only. Otherwise the amount is
    the refund once one is approved, else the quote, or, when the quote is nothing (a rejection by
    rule), what was paid. ``names``: the product's name in each language."""
    if "amount" in notice.params:
        frame, amount = "notice.frame", None
    elif ticket.approved_fen is not None:
        frame, amount = "notice.frame_amount", ("notice.amount_refund", ticket.approved_fen)
    elif ticket.quoted_fen:
        frame, amount = "notice.frame_amount", ("notice.amount_quoted", ticket.quoted_fen)
    else:
        frame, amount = "notice.frame_amount", ("notice.amount_paid", ticket.order.amount_fen)
    texts: dict[str, str] = {}
    for lang in LANGS:
        params: dict[str, object] = {"product": names, "text": translate(notice.key, lang, **notice.params)}
        if amount is not None:
            params["amount"] = translate(amount[0], lang, amount=format_yuan(amount[1]))
        texts[lang] = translate(frame, lang, **params)
    return texts


def lock_ticket(uow: UnitOfWork, viewer: Viewer, ticket_no: str) -> Ticket:
    if not inputs.could_be(ticket_no, inputs.TICKET_NO):
        raise not_found("ticket")
    query = select(Ticket).where(Ticket.ticket_no == ticket_no).with_for_update(of=Ticket)
    if not viewer.is_staff:
        query = query.where(Ticket.user_id == viewer.user_id)
    ticket = uow.session.scalar(query)
    if ticket is None:
        raise not_found("ticket")
    return ticket


def lock_order(uow: UnitOfWork, order_id: int) -> OrderRow:
    order = uow.session.scalar(select(OrderRow).where(OrderRow.id == order_id).with_for_update(of=OrderRow))
    assert order is not None
    return order
