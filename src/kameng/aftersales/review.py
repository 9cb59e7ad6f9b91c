"""Staff decisions on a ticket: approve (at the quote, or another amount with a reason), reject
citing a rule, ask for information; appeals go to another supervisor."""

from __future__ import annotations

from datetime import datetime

from kameng.aftersales.models import Ticket
from kameng.aftersales.refunds import refundable_fen, start_money
from kameng.aftersales.tickets import apply_plan, ensure_allowed, lock_order, lock_ticket, move_ticket, notify, refused
from kameng.domain.aftersales import Notice, Refused, plan_approval, plan_rejection
from kameng.domain.calendar import WorkCalendar
from kameng.domain.tickets import (
    TicketStatus,
)
from kameng.domain.users import Role
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found


def require(viewer: Viewer, *roles: Role) -> None:
    if viewer.role not in roles:
        raise not_found("ticket")


def approve(
    uow: UnitOfWork,
    staff: Viewer,
    ticket_no: str,
    now: datetime,
    calendar: WorkCalendar,
    amount_fen: int | None = None,
    reason: str = "",
) -> Ticket:
    """Approve at the quoted amount, or at another amount within what is still refundable, with a
    reason. An appeal is decided by a supervisor other than the one who rejected."""
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    reason = inputs.clean_text(reason, inputs.COMMENT, "reason")
    if amount_fen is not None:
        inputs.check_whole(amount_fen, "amount_fen", 0, inputs.MAX_FEN)
    with uow:
        ticket = lock_ticket(uow, staff, ticket_no)
        ensure_allowed(ticket, "approve")  # a second approver who waited for the lock: the ticket moved on
        if ticket.status is TicketStatus.APPEALED:
            _check_appeal_decider(ticket, staff)
        order = lock_order(uow, ticket.order_id)
        try:
            plan = plan_approval(ticket.quoted_fen, amount_fen, reason, refundable_fen(uow, ticket, order))
        except Refused as error:
            raise refused(error) from None
        apply_plan(uow, ticket, plan, now, calendar, staff)
        assert plan.approved_fen is not None
        ticket.approve_reason = reason
        ticket.decided_by = staff.user_id
        start_money(uow, ticket, order, plan.approved_fen, now, calendar)
        uow.commit()
        return ticket


def reject(
    uow: UnitOfWork, staff: Viewer, ticket_no: str, rule: str, comment: str, now: datetime, calendar: WorkCalendar
) -> Ticket:
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    rule = inputs.clean_text(rule, inputs.RULE_ID, "rule")
    comment = inputs.clean_text(comment, inputs.COMMENT, "comment")
    with uow:
        ticket = lock_ticket(uow, staff, ticket_no)
        try:
            plan = plan_rejection(ticket.status, rule, comment)
        except Refused as error:
            raise refused(error) from None
        if ticket.status is TicketStatus.APPEALED:
            _check_appeal_decider(ticket, staff)
        else:
            ticket.rejected_by = staff.user_id
        apply_plan(uow, ticket, plan, now, calendar, staff)
        ticket.decided_by = staff.user_id
        uow.commit()
        return ticket


def _check_appeal_decider(ticket: Ticket, staff: Viewer) -> None:
    if staff.role is not Role.SUPERVISOR:
        raise Conflict(ErrorCode.SUPERVISOR_ONLY, "error.supervisor_only", "role")
    if ticket.rejected_by == staff.user_id:
        raise Conflict(ErrorCode.SAME_PERSON, "error.same_person", "role")


def ask_info(
    uow: UnitOfWork, staff: Viewer, ticket_no: str, comment: str, now: datetime, calendar: WorkCalendar
) -> Ticket:
    """Ask the consumer for more: the review clock pauses until they reply."""
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    comment = inputs.clean_text(comment, inputs.COMMENT, "comment")
    if len(comment) < 2:
        raise InvalidInput(ErrorCode.COMMENT_REQUIRED, "error.comment_required", "comment")
    with uow:
        ticket = lock_ticket(uow, staff, ticket_no)
        move_ticket(uow, ticket, "ask_info", now, calendar, staff, comment)
        ticket.paused_at = now
        notify(uow, ticket, Notice("needs_info", "notice.needs_info", {"comment": comment}), now)
        uow.commit()
        return ticket
