"""After-sales: refund requests, tickets, review with deadlines, and the start of the money.

Every function is one transaction. Every status change goes through the ticket transition table
(:data:`kameng.domain.tickets.TICKET`) via :func:`_move`, which writes the hash-chained timeline
row with the quote as of that moment. Talking to a channel happens later, from the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from kameng.adapters.db.models import (
    BalanceRow,
    CardKeyRow,
    EvidenceFile,
    MembershipRow,
    OrderEventRow,
    OrderRow,
    OutboxRow,
    RefundRow,
    Ticket,
    TicketTimeline,
)
from kameng.adapters.db.uow import UnitOfWork
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Channel, Decision, ProductKind, Reason
from kameng.domain.money import format_yuan
from kameng.domain.refund import review_business_days
from kameng.domain.states import CARD_KEY, MEMBERSHIP, ORDER, REFUND, CardKeyStatus, OrderStatus, RefundStatus
from kameng.domain.tickets import (
    APPEAL_WINDOW,
    CLOSED,
    OPEN_FOR_REVIEW,
    TICKET,
    UNDECIDED,
    TicketStatus,
    auto_approve_at,
    end_of_day,
    priority_of,
    resume_due_at,
    review_due_at,
)
from kameng.domain.users import Role
from kameng.services import audit
from kameng.services.catalog import policy_to_domain
from kameng.services.errors import Conflict, InvalidInput, not_found
from kameng.services.evidence_files import Upload, check_uploads
from kameng.services.ledger import post_entry
from kameng.services.orders import (
    Viewer,
    add_order_event,
    new_order_no,
    order_events,
    payment_out_trade_no,
    quote_for,
)

# Rule ids a reviewer may cite when rejecting (RULES.md), plus E1 for missing/false evidence.
CITABLE_RULES = frozenset({"P3", "P4", "P5", "P8", "P9", "R2", "S1", "S3", "S4", "S5", "E1"})


@dataclass(frozen=True)
class RefundRequestCommand:
    order_no: str
    reason: Reason
    description: str = ""
    uploads: list[Upload] = field(default_factory=list)
    idempotency_key: str | None = None


# --------------------------------------------------------------------------------------------
# Shared steps


def _quote_now(
    uow: UnitOfWork, order: OrderRow, reason: Reason, now: datetime, calendar: WorkCalendar
) -> dict[str, Any] | None:
    # Several transitions in one transaction share one quote (same order state, same moment).
    memo_key = ("quote", order.id, order.status, reason, now)
    if memo_key not in uow.memo:
        quote = quote_for(order, order_events(uow, order.id), now, reason, calendar)
        uow.memo[memo_key] = quote.to_dict() if quote else None
    cached: dict[str, Any] | None = uow.memo[memo_key]
    return cached


def move_ticket(
    uow: UnitOfWork,
    ticket: Ticket,
    action: str,
    now: datetime,
    calendar: WorkCalendar,
    actor: Viewer | None,
    comment: str = "",
    amount_fen: int | None = None,
) -> None:
    """The only way a ticket changes status: the table says yes (or the caller gets a Conflict
    naming the state), and the timeline records it."""
    if not TICKET.allows(ticket.status, action):
        raise Conflict(
            "invalid_transition",
            f"售后单当前状态({ticket.status.value})不能执行此操作",
            f"A ticket that is {ticket.status.value} cannot {action}",
            "status",
        )
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
    )
    ticket.status = new_status
    ticket.updated_at = now


def notify(uow: UnitOfWork, ticket: Ticket, kind: str, now: datetime, zh: str, en: str) -> None:
    """Queue an in-app message (and SMS) for after the commit.

    The key is derived from the ticket's timeline position, so it needs no query; the ticket row
    is locked by every caller, so two transactions never take the same position."""
    uow.session.add(
        OutboxRow(
            kind="notify",
            key=f"notify:{ticket.id}:{ticket.timeline_rows}:{kind}",
            payload={"user_id": ticket.user_id, "ticket_id": ticket.id, "kind": kind, "zh": zh, "en": en},
            next_attempt_at=now,
            created_at=now,
        )
    )


def _lock_ticket(uow: UnitOfWork, viewer: Viewer, ticket_no: str) -> Ticket:
    query = select(Ticket).where(Ticket.ticket_no == ticket_no).with_for_update(of=Ticket)
    if not viewer.is_staff:
        query = query.where(Ticket.user_id == viewer.user_id)
    ticket = uow.session.scalar(query)
    if ticket is None:
        raise not_found("售后单", "Ticket")
    return ticket


def _lock_order(uow: UnitOfWork, order_id: int) -> OrderRow:
    order = uow.session.scalar(select(OrderRow).where(OrderRow.id == order_id).with_for_update(of=OrderRow))
    assert order is not None
    return order


def _store_uploads(uow: UnitOfWork, ticket: Ticket, uploader: Viewer, uploads: list[Upload], now: datetime) -> None:
    for item in check_uploads(uploads):
        uow.session.add(
            EvidenceFile(
                ticket_id=ticket.id,
                user_id=ticket.user_id,
                uploaded_by=uploader.user_id,
                filename=item.filename,
                content_type=item.content_type,
                size=len(item.data),
                sha256=item.sha256,
                data=item.data,
                created_at=now,
            )
        )


# --------------------------------------------------------------------------------------------
# The consumer asks


def submit_request_replayable(
    uow: UnitOfWork, viewer: Viewer, command: RefundRequestCommand, now: datetime, calendar: WorkCalendar
) -> tuple[Ticket, bool]:
    """The engine decides what it can at once; the rest becomes a ticket with a deadline.

    A retry with the same idempotency key returns the first ticket (and True: a replay); only one
    open ticket per order is allowed, so two quick clicks never make two refunds."""
    check_uploads(command.uploads)  # fail before anything is written
    if len(command.description) > 2000:
        raise InvalidInput(
            "too_long", "描述最多 2000 字", "The description is limited to 2000 characters", "description"
        )
    with uow:
        session = uow.session
        if command.idempotency_key:
            existing = session.scalar(
                select(Ticket).where(
                    Ticket.user_id == viewer.user_id, Ticket.idempotency_key == command.idempotency_key
                )
            )
            if existing is not None:
                return existing, True
        order = session.scalar(
            select(OrderRow)
            .where(OrderRow.order_no == command.order_no, OrderRow.user_id == viewer.user_id)
            .with_for_update(of=OrderRow)
        )
        if order is None:
            raise not_found("订单", "Order")
        if command.idempotency_key:
            # Look again under the order's lock: the same key sent twice at once waited here for
            # the first request's commit, and must get its ticket, not "ticket_open" (race test
            # tests/storage/test_aftersales_races.py).
            existing = session.scalar(
                select(Ticket).where(
                    Ticket.user_id == viewer.user_id, Ticket.idempotency_key == command.idempotency_key
                )
            )
            if existing is not None:
                return existing, True
        if order.status is not OrderStatus.PAID:
            raise Conflict(
                "not_refundable_state", "该订单未支付或已关闭", "The order is not paid or is already closed", "order"
            )
        open_ticket = session.scalar(
            select(Ticket.ticket_no).where(
                Ticket.order_id == order.id, Ticket.status.not_in([*CLOSED, TicketStatus.REJECTED_FINAL])
            )
        )
        if open_ticket is not None:
            raise Conflict(
                "ticket_open",
                f"该订单已有进行中的售后单 {open_ticket}",
                f"This order already has an open ticket {open_ticket}",
                "order",
            )
        quote = quote_for(order, order_events(uow, order.id), now, command.reason, calendar)
        assert quote is not None
        ticket = Ticket(
            ticket_no="AS" + new_order_no(now),
            order_id=order.id,
            user_id=order.user_id,
            reason=command.reason,
            description=command.description.strip(),
            status=TicketStatus.SUBMITTED,
            decision=quote.decision,
            rules=",".join(quote.rules),
            quote=quote.to_dict(),
            quoted_fen=quote.refund,
            priority=priority_of(command.reason),
            idempotency_key=command.idempotency_key,
            timeline_head="",
            timeline_rows=0,
            created_at=now,
            updated_at=now,
        )
        ticket.order = order
        session.add(ticket)
        session.flush()
        audit.append(
            uow,
            ticket,
            at=now,
            actor_id=viewer.user_id,
            actor_role=viewer.role.value,
            action="submit",
            from_status=None,
            to_status=TicketStatus.SUBMITTED.value,
            comment=ticket.description,
            amount_fen=quote.refund,
            quote=quote.to_dict(),
        )
        _store_uploads(uow, ticket, viewer, command.uploads, now)
        notify(
            uow,
            ticket,
            "submitted",
            now,
            f"您的售后申请 {ticket.ticket_no} 已提交。",
            f"Your after-sales request {ticket.ticket_no} has been submitted.",
        )
        if quote.decision is Decision.AUTO_APPROVE:
            move_ticket(
                uow, ticket, "auto_approve", now, calendar, None, f"规则 {quote.rules[0]} 自动同意", quote.refund
            )
            ticket.approved_fen = quote.refund
            ticket.decided_at = now
            _start_money(uow, ticket, order, quote.refund, now, calendar)
        elif quote.decision is Decision.REJECT:
            move_ticket(uow, ticket, "reject", now, calendar, None, quote.explanation_zh)
            ticket.reject_rule = quote.rules[0]
            ticket.reject_comment = quote.explanation_zh
            ticket.decided_at = now
            ticket.appeal_until = now + APPEAL_WINDOW
            notify(
                uow,
                ticket,
                "rejected",
                now,
                f"申请未通过(规则 {quote.rules[0]}):{quote.explanation_zh}",
                f"Not approved (rule {quote.rules[0]}): {quote.explanation_en}",
            )
        else:
            # The deadline promised in the quote is the ticket's deadline, to the day.
            assert quote.review_due is not None
            due = end_of_day(quote.review_due)
            ticket.due_at = due
            ticket.auto_approve_at = auto_approve_at(calendar, due)
            move_ticket(uow, ticket, "open_review", now, calendar, None)
            notify(
                uow,
                ticket,
                "in_review",
                now,
                f"申请已进入人工审核,最迟 {quote.review_due} 前处理。",
                f"Your request is with a reviewer and will be decided by {quote.review_due}.",
            )
        uow.commit()
        return ticket, False


def submit_request(
    uow: UnitOfWork, viewer: Viewer, command: RefundRequestCommand, now: datetime, calendar: WorkCalendar
) -> Ticket:
    """:func:`submit_request_replayable` for callers that need not tell a replay from a new ticket."""
    return submit_request_replayable(uow, viewer, command, now, calendar)[0]


def withdraw(uow: UnitOfWork, viewer: Viewer, ticket_no: str, now: datetime, calendar: WorkCalendar) -> Ticket:
    with uow:
        ticket = _lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("售后单", "Ticket")
        move_ticket(uow, ticket, "withdraw", now, calendar, viewer)
        uow.commit()
        return ticket


def reply(
    uow: UnitOfWork,
    viewer: Viewer,
    ticket_no: str,
    comment: str,
    uploads: list[Upload],
    now: datetime,
    calendar: WorkCalendar,
) -> Ticket:
    """The consumer answers a request for information: the review clock starts again."""
    check_uploads(uploads)
    if not comment.strip() and not uploads:
        raise InvalidInput("empty_reply", "请填写说明或上传材料", "Write a reply or attach a file", "comment")
    with uow:
        ticket = _lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("售后单", "Ticket")
        move_ticket(uow, ticket, "reply", now, calendar, viewer, comment.strip())
        if ticket.paused_at is not None and ticket.due_at is not None:
            ticket.due_at = resume_due_at(calendar, ticket.paused_at, ticket.due_at, now)
            ticket.auto_approve_at = auto_approve_at(calendar, ticket.due_at)
        ticket.paused_at = None
        _store_uploads(uow, ticket, viewer, uploads, now)
        uow.commit()
        return ticket


def appeal(
    uow: UnitOfWork, viewer: Viewer, ticket_no: str, comment: str, now: datetime, calendar: WorkCalendar
) -> Ticket:
    with uow:
        ticket = _lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("售后单", "Ticket")
        if ticket.status is TicketStatus.REJECTED and ticket.appeal_until is not None and now > ticket.appeal_until:
            raise Conflict(
                "appeal_window_closed", "已超过 15 天申诉期", "The 15-day appeal window has closed", "ticket"
            )
        move_ticket(uow, ticket, "appeal", now, calendar, viewer, comment.strip())
        days = review_business_days(policy_to_domain(ticket.order.policy), ticket.rules.split(",")[0])
        due = review_due_at(calendar, now, days)
        ticket.due_at, ticket.auto_approve_at, ticket.escalated_at = due, auto_approve_at(calendar, due), None
        notify(
            uow,
            ticket,
            "appealed",
            now,
            f"申诉已提交,主管将在 {due.date()} 前处理。",
            f"Your appeal is with a supervisor and will be decided by {due.date()}.",
        )
        uow.commit()
        return ticket


def _require(viewer: Viewer, *roles: Role) -> None:
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
    _require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    with uow:
        ticket = _lock_ticket(uow, staff, ticket_no)
        if ticket.status is TicketStatus.APPEALED:
            _check_appeal_decider(ticket, staff)
        order = _lock_order(uow, ticket.order_id)
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
        _start_money(uow, ticket, order, amount, now, calendar)
        uow.commit()
        return ticket


def reject(
    uow: UnitOfWork, staff: Viewer, ticket_no: str, rule: str, comment: str, now: datetime, calendar: WorkCalendar
) -> Ticket:
    _require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
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
        ticket = _lock_ticket(uow, staff, ticket_no)
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
    _require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    if len(comment.strip()) < 2:
        raise InvalidInput("comment_required", "请说明需要补充什么", "Say what is needed", "comment")
    with uow:
        ticket = _lock_ticket(uow, staff, ticket_no)
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


# --------------------------------------------------------------------------------------------
# Money: reserve, pay out, close


def _start_money(
    uow: UnitOfWork, ticket: Ticket, order: OrderRow, amount: int, now: datetime, calendar: WorkCalendar
) -> None:
    """Reserve the amount against what was captured, post it as owed to the consumer, and queue
    the payout. Runs inside the approving transaction."""
    session = uow.session
    if amount > order.amount_fen - order.refunded_fen:
        raise Conflict(
            "exceeds_captured", "退款金额超过可退余额", "The refund would exceed what was captured", "amount"
        )
    order.refunded_fen += amount
    product = order.product
    owed = f"refunds_payable:{order.user_id}"
    if product.kind is ProductKind.RECHARGE:
        balance = session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
        if balance is None or balance.cash_fen < amount:
            raise Conflict(
                "balance_changed", "余额已变动,请重新申请", "The balance changed since the quote; ask again", "amount"
            )
        balance.cash_fen -= amount
        balance.updated_at = now
        source = f"balance_cash:{order.user_id}"
    elif ticket.reason is Reason.MERCHANT_GONE:
        source = "platform_advance"  # 先行赔付: the platform pays now and claims from the merchant
    else:
        source = f"merchant_payable:{product.merchant_id}"
    post_entry(
        uow,
        kind="refund_approved",
        key=f"refund_approved:{ticket.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[(source, amount), (owed, -amount)],
        memo=f"ticket {ticket.ticket_no}",
    )
    notify(
        uow,
        ticket,
        "approved",
        now,
        f"退款 {format_yuan(amount)} 元已同意。",
        f"A refund of {format_yuan(amount)} is approved.",
    )
    move_ticket(uow, ticket, "start_refund", now, calendar, None, amount_fen=amount)
    if amount == 0:
        close_after_refund(uow, ticket, order, None, now, calendar)
        return
    _new_refund(uow, ticket, order, amount, order.channel, now, calendar, attempt=1)


def _new_refund(
    uow: UnitOfWork,
    ticket: Ticket,
    order: OrderRow,
    amount: int,
    channel: Channel,
    now: datetime,
    calendar: WorkCalendar,
    attempt: int | None = None,
) -> RefundRow:
    session = uow.session
    if attempt is None:
        attempt = (session.scalar(select(func.count(RefundRow.id)).where(RefundRow.ticket_id == ticket.id)) or 0) + 1
    refund = RefundRow(
        ticket_id=ticket.id,
        order_id=order.id,
        user_id=order.user_id,
        out_refund_no=f"R{ticket.ticket_no}{attempt:02d}",  # derived from our record: the idempotency key
        out_trade_no=payment_out_trade_no(order.order_no),
        channel=channel,
        amount_fen=amount,
        status=RefundStatus.PENDING,
        created_at=now,
    )
    session.add(refund)
    session.flush()
    if channel is Channel.BALANCE:
        # The platform balance is ours: the money lands at once, no channel involved.
        refund.status = REFUND.apply(refund.status, "succeed")
        refund.settled_at = now
        refund.channel_refund_no = f"BAL{refund.out_refund_no}"
        balance = session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
        if balance is None:
            balance = BalanceRow(user_id=order.user_id, cash_fen=0, bonus_fen=0, updated_at=now)
            session.add(balance)
        balance.cash_fen += amount
        balance.updated_at = now
        post_refund_paid(uow, refund, order, f"balance_cash:{order.user_id}", now)
        move_ticket(uow, ticket, "refund_succeeded", now, calendar, None, "退回平台余额", amount)
        close_after_refund(uow, ticket, order, refund, now, calendar)
        return refund
    session.add(
        OutboxRow(
            kind="send_refund",
            key=f"send_refund:{refund.id}",
            payload={"refund_id": refund.id},
            next_attempt_at=now,
            created_at=now,
        )
    )
    return refund


def post_refund_paid(uow: UnitOfWork, refund: RefundRow, order: OrderRow, paid_into: str, now: datetime) -> None:
    """The money left us: what we owed the consumer is settled into ``paid_into`` (a channel
    account, or their platform balance). Keyed by the refund, so it is posted once."""
    post_entry(
        uow,
        kind="refund_paid",
        key=f"refund_paid:{refund.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[(f"refunds_payable:{order.user_id}", refund.amount_fen), (paid_into, -refund.amount_fen)],
        memo=f"refund {refund.out_refund_no} into {paid_into}",
    )


def close_after_refund(
    uow: UnitOfWork, ticket: Ticket, order: OrderRow, refund: RefundRow | None, now: datetime, calendar: WorkCalendar
) -> None:
    """Closure (PRODUCT.md item 9): benefits frozen, back to non-member, auto-renewal off, card
    keys revoked, the order closed. Nothing keeps charging after a refund."""
    session = uow.session
    if ticket.status is TicketStatus.REFUNDING:  # a zero-amount approval: nothing to pay out
        move_ticket(uow, ticket, "refund_succeeded", now, calendar, None, "无需付款", 0)
    if refund is None:
        return
    if ORDER.allows(order.status, "refund"):
        order.status = ORDER.apply(order.status, "refund")
        order.updated_at = now
    order.auto_renew = False
    membership = session.scalar(select(MembershipRow).where(MembershipRow.order_id == order.id).with_for_update())
    if membership is not None:
        if MEMBERSHIP.allows(membership.status, "close"):
            membership.status = MEMBERSHIP.apply(membership.status, "close")
        membership.auto_renew = False
        membership.renews_at = None
    key = session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id).with_for_update())
    if key is not None and CARD_KEY.allows(key.status, "revoke"):
        key.status = CARD_KEY.apply(key.status, "revoke")
        key.revoked_at = now
    add_order_event(
        uow, order, "closed", now, None, None, amount_fen=refund.amount_fen, note=f"refund {refund.out_refund_no}"
    )
    notify(
        uow,
        ticket,
        "arrived",
        now,
        f"退款 {format_yuan(refund.amount_fen)} 元已到账,订单已关闭。",
        f"The refund of {format_yuan(refund.amount_fen)} has arrived; the order is closed.",
    )


def refund_to_balance(uow: UnitOfWork, viewer: Viewer, ticket_no: str, now: datetime, calendar: WorkCalendar) -> Ticket:
    """After a refund failed for good, and only with the consumer's own consent (this call is
    theirs alone), the money goes to the platform balance instead."""
    with uow:
        ticket = _lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("售后单", "Ticket")
        order = _lock_order(uow, ticket.order_id)
        failed = _failed_amount(uow, ticket)
        move_ticket(uow, ticket, "refund_to_balance", now, calendar, viewer, "用户同意退回平台余额", failed)
        _new_refund(uow, ticket, order, failed, Channel.BALANCE, now, calendar)
        uow.commit()
        return ticket


def retry_refund(uow: UnitOfWork, actor: Viewer, ticket_no: str, now: datetime, calendar: WorkCalendar) -> Ticket:
    """Send the failed refund again to the original channel, under a new refund number."""
    with uow:
        ticket = _lock_ticket(uow, actor, ticket_no)
        order = _lock_order(uow, ticket.order_id)
        failed = _failed_amount(uow, ticket)
        move_ticket(uow, ticket, "retry_refund", now, calendar, actor, "重新原路退款", failed)
        _new_refund(uow, ticket, order, failed, order.channel, now, calendar)
        uow.commit()
        return ticket


def _failed_amount(uow: UnitOfWork, ticket: Ticket) -> int:
    last = uow.session.scalar(
        select(RefundRow).where(RefundRow.ticket_id == ticket.id).order_by(RefundRow.id.desc()).limit(1)
    )
    if last is None or last.status is not RefundStatus.FAILED:
        raise Conflict("no_failed_refund", "没有失败的退款", "There is no failed refund to act on", "ticket")
    return last.amount_fen


# --------------------------------------------------------------------------------------------
# Deadlines (worker)


def run_deadlines(uow: UnitOfWork, now: datetime, calendar: WorkCalendar, batch: int = 50) -> dict[str, int]:
    """Escalate tickets past due; approve at the quoted amount those still undecided five working
    days later. SKIP LOCKED lets any number of workers share the work without doing it twice."""
    escalated = approved = 0
    with uow:
        session = uow.session
        stalled = session.scalars(
            select(Ticket)
            .where(Ticket.status.in_([TicketStatus.IN_REVIEW, TicketStatus.APPEALED]), Ticket.auto_approve_at <= now)
            .order_by(Ticket.priority, Ticket.auto_approve_at)
            .limit(batch)
            .with_for_update(skip_locked=True, of=Ticket)
        ).all()
        for ticket in stalled:
            order = _lock_order(uow, ticket.order_id)
            amount = min(ticket.quoted_fen, order.amount_fen - order.refunded_fen)
            move_ticket(uow, ticket, "approve_overdue", now, calendar, None, "审核超时,按报价自动同意", amount)
            ticket.approved_fen, ticket.decided_at, ticket.breached = amount, now, True
            notify(
                uow,
                ticket,
                "approved_overdue",
                now,
                "审核超时,系统已按报价自动同意退款。",
                "The review ran out of time, so the refund was approved automatically at the quoted amount.",
            )
            _start_money(uow, ticket, order, amount, now, calendar)
            approved += 1
        overdue = session.scalars(
            select(Ticket)
            .where(
                Ticket.status.in_([TicketStatus.IN_REVIEW, TicketStatus.APPEALED]),
                Ticket.due_at < now,
                Ticket.escalated_at.is_(None),
            )
            .order_by(Ticket.priority, Ticket.due_at)
            .limit(batch)
            .with_for_update(skip_locked=True, of=Ticket)
        ).all()
        for ticket in overdue:
            move_ticket(uow, ticket, "escalate", now, calendar, None, "超过审核时限,升级主管")
            ticket.escalated_at, ticket.breached = now, True
            escalated += 1
        uow.commit()
    return {"tickets_escalated": escalated, "tickets_auto_approved": approved}


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class TicketView:
    ticket: Ticket
    timeline: list[TicketTimeline]
    evidence: list[EvidenceFile]
    refunds: list[RefundRow]
    events: list[OrderEventRow]
    actions: list[str]


def ticket_view(uow: UnitOfWork, viewer: Viewer, ticket_no: str) -> TicketView:
    with uow:
        session = uow.session
        query = select(Ticket).where(Ticket.ticket_no == ticket_no)
        if not viewer.is_staff:
            query = query.where(Ticket.user_id == viewer.user_id)
        ticket = session.scalar(query)
        if ticket is None:
            raise not_found("售后单", "Ticket")
        view = TicketView(
            ticket=ticket,
            timeline=list(
                session.scalars(
                    select(TicketTimeline).where(TicketTimeline.ticket_id == ticket.id).order_by(TicketTimeline.seq)
                )
            ),
            evidence=list(
                session.scalars(
                    select(EvidenceFile).where(EvidenceFile.ticket_id == ticket.id).order_by(EvidenceFile.id)
                )
            ),
            refunds=list(
                session.scalars(select(RefundRow).where(RefundRow.ticket_id == ticket.id).order_by(RefundRow.id))
            ),
            events=order_events(uow, ticket.order_id),
            actions=[],
        )
        view.actions = _actions(view, viewer)
        return view


def _actions(view: TicketView, viewer: Viewer) -> list[str]:
    ticket, status = view.ticket, view.ticket.status
    actions = []
    if viewer.user_id == ticket.user_id:
        if status in UNDECIDED:
            actions.append("withdraw")
        if status is TicketStatus.NEEDS_INFO:
            actions.append("reply")
        if status is TicketStatus.REJECTED:
            actions.append("appeal")
        if status is TicketStatus.REFUND_FAILED:
            actions += ["refund_to_balance", "retry_refund"]
    if viewer.is_staff:
        if status is TicketStatus.IN_REVIEW:
            actions += ["approve", "reject", "ask_info"]
        if status is TicketStatus.APPEALED and viewer.role is Role.SUPERVISOR and ticket.rejected_by != viewer.user_id:
            actions += ["approve", "reject"]
        if status is TicketStatus.REFUND_FAILED:
            actions.append("retry_refund")
    return actions


def my_tickets(uow: UnitOfWork, viewer: Viewer, limit: int = 100) -> list[Ticket]:
    with uow:
        return list(
            uow.session.scalars(
                select(Ticket)
                .where(Ticket.user_id == viewer.user_id)
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(limit)
            )
        )


def review_queue(uow: UnitOfWork, staff: Viewer, lane: str = "review", limit: int = 200) -> list[Ticket]:
    """Staff queue: priority lane first, then the oldest deadline. ``lane`` is ``review`` (agents),
    ``escalated`` or ``appeals`` (supervisors)."""
    _require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    query = select(Ticket).order_by(Ticket.priority, Ticket.due_at, Ticket.id).limit(limit)
    if lane == "escalated":
        query = query.where(Ticket.escalated_at.is_not(None), Ticket.status.in_(OPEN_FOR_REVIEW))
    elif lane == "appeals":
        query = query.where(Ticket.status == TicketStatus.APPEALED)
    else:
        query = query.where(Ticket.status.in_([TicketStatus.IN_REVIEW, TicketStatus.NEEDS_INFO]))
    with uow:
        return list(uow.session.scalars(query))


def evidence_file(uow: UnitOfWork, viewer: Viewer, ticket_no: str, file_id: int) -> EvidenceFile:
    with uow:
        query = (
            select(EvidenceFile)
            .join(Ticket, Ticket.id == EvidenceFile.ticket_id)
            .where(Ticket.ticket_no == ticket_no, EvidenceFile.id == file_id)
        )
        if not viewer.is_staff:
            query = query.where(Ticket.user_id == viewer.user_id)
        row = uow.session.scalar(query)
        if row is None:
            raise not_found("文件", "File")
        return row


__all__ = ["CardKeyStatus", "RefundRequestCommand"]
