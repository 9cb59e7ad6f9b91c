"""TODO kameng.aftersales.review"""

from __future__ import annotations

from datetime import datetime

from kameng.aftersales.models import Ticket
from kameng.aftersales.refunds import start_money
from kameng.aftersales.tickets import lock_order, lock_ticket, move_ticket, notify
from kameng.domain.calendar import WorkCalendar
from kameng.domain.money import format_yuan
from kameng.domain.tickets import (
    APPEAL_WINDOW,
    TicketStatus,
)
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, InvalidInput, not_found

# Rule ids a reviewer may cite when rejecting (RULES.md), plus E1 for missing/false evidence.
CITABLE_RULES = frozenset({"P3", "P4", "P5", "P8", "P9", "R2", "S1", "S3", "S4", "S5", "E1"})


def require(viewer: Viewer, *roles: Role) -> None:
    if viewer.role not in roles:
        raise not_found("售后单", "Ticket")


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
    with uow:
        ticket = lock_ticket(uow, staff, ticket_no)
        if ticket.status is TicketStatus.APPEALED:
            _check_appeal_decider(ticket, staff)
        order = lock_order(uow, ticket.order_id)
        amount = ticket.quoted_fen if amount_fen is None else amount_fen
        if amount != ticket.quoted_fen and not reason.strip():
            raise InvalidInput(
                "reason_required",
                "金额与报价不同时须说明理由",
                "Give a reason for an amount other than the quote",
                "reason",
            )
        if not 0 <= amount <= order.amount_fen - order.refunded_fen:
            raise InvalidInput(
                "amount_out_of_range",
                f"金额须在 0.00 与 {format_yuan(order.amount_fen - order.refunded_fen)} 元之间",
                f"The amount must be between 0.00 and {format_yuan(order.amount_fen - order.refunded_fen)}",
                "amount",
            )
        move_ticket(uow, ticket, "approve", now, calendar, staff, reason.strip(), amount)
        ticket.approved_fen, ticket.approve_reason = amount, reason.strip()
        ticket.decided_by, ticket.decided_at = staff.user_id, now
        start_money(uow, ticket, order, amount, now, calendar)
        uow.commit()
        return ticket


def reject(
    uow: UnitOfWork, staff: Viewer, ticket_no: str, rule: str, comment: str, now: datetime, calendar: WorkCalendar
) -> Ticket:
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    rule = rule.strip().upper()
    if rule not in CITABLE_RULES:
        raise InvalidInput(
            "rule_required", "驳回须引用规则编号", f"Cite one of the rules: {', '.join(sorted(CITABLE_RULES))}", "rule"
        )
    if len(comment.strip()) < 5:
        raise InvalidInput(
            "comment_required", "请写一句驳回理由", "Write a sentence explaining the rejection", "comment"
        )
    with uow:
        ticket = lock_ticket(uow, staff, ticket_no)
        action = "reject"
        if ticket.status is TicketStatus.APPEALED:
            _check_appeal_decider(ticket, staff)
            action = "reject_final"
        move_ticket(uow, ticket, action, now, calendar, staff, f"{rule}: {comment.strip()}")
        ticket.reject_rule, ticket.reject_comment = rule, comment.strip()
        ticket.decided_by, ticket.decided_at = staff.user_id, now
        if action == "reject":
            ticket.rejected_by = staff.user_id
            ticket.appeal_until = now + APPEAL_WINDOW
            notify(
                uow,
                ticket,
                "rejected",
                now,
                f"申请未通过(规则 {rule}):{comment.strip()}。可在 15 天内申诉。",
                f"Not approved (rule {rule}): {comment.strip()}. You may appeal within 15 days.",
            )
        else:
            notify(
                uow,
                ticket,
                "rejected_final",
                now,
                f"申诉未通过(规则 {rule}):{comment.strip()}。",
                f"Appeal not upheld (rule {rule}): {comment.strip()}.",
            )
        uow.commit()
        return ticket


def _check_appeal_decider(ticket: Ticket, staff: Viewer) -> None:
    if staff.role is not Role.SUPERVISOR:
        raise Conflict("supervisor_only", "申诉须由主管处理", "Appeals are decided by a supervisor", "role")
    if ticket.rejected_by == staff.user_id:
        raise Conflict(
            "same_person",
            "申诉须由驳回人以外的主管处理",
            "An appeal must be decided by someone other than who rejected it",
            "role",
        )


def ask_info(
    uow: UnitOfWork, staff: Viewer, ticket_no: str, comment: str, now: datetime, calendar: WorkCalendar
) -> Ticket:
    """Ask the consumer for more: the review clock pauses until they reply."""
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    if len(comment.strip()) < 2:
        raise InvalidInput("comment_required", "请说明需要补充什么", "Say what is needed", "comment")
    with uow:
        ticket = lock_ticket(uow, staff, ticket_no)
        move_ticket(uow, ticket, "ask_info", now, calendar, staff, comment.strip())
        ticket.paused_at = now
        notify(
            uow,
            ticket,
            "needs_info",
            now,
            f"客服需要您补充材料:{comment.strip()}",
            f"We need more information: {comment.strip()}",
        )
        uow.commit()
        return ticket
