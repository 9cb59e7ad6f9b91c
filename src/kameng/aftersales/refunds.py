"""The money of an approved ticket: reserved against what was captured, posted to the ledger, paid
out through the channel (or the balance), and the order closed when it has arrived."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from kameng.aftersales.models import Ticket
from kameng.aftersales.tickets import lock_order, lock_ticket, move_ticket, notify
from kameng.catalog.models import CouponRow
from kameng.catalog.services import issue_returned_coupon
from kameng.domain.aftersales import Note, Notice, PayoutSource, payout_source
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Channel, Coupon, OrderEventType
from kameng.domain.money import format_yuan, parse_yuan
from kameng.domain.promises import returned_coupon_expiry
from kameng.domain.refund import coupon_returned
from kameng.domain.states import CARD_KEY, MEMBERSHIP, ORDER, REFUND, RefundStatus
from kameng.domain.tickets import TicketStatus
from kameng.orders.history import add_order_event, sold_product_of
from kameng.orders.models import CardKeyRow, MembershipRow, OrderRow
from kameng.orders.numbers import payment_out_trade_no
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.bulk import add_row
from kameng.platform.db.ids import take_id
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, not_found
from kameng.platform.i18n import localtime
from kameng.platform.ledger import post_entry
from kameng.platform.ledger_models import BalanceRow
from kameng.platform.outbox import OutboxKind, enqueue
from kameng.subscriptions.models import RenewalChargeRow
from kameng.subscriptions.refunds import refundable_of, renewal_asked_about, reserve_renewal_refund

# --------------------------------------------------------------------------------------------
# Money: reserve, pay out, close


class LookUp:
    """Marks a renewal not looked up yet (``None`` is an answer: the request is about the purchase)."""


LOOK_UP = LookUp()


def start_money(
    uow: UnitOfWork,
    ticket: Ticket,
    order: OrderRow,
    amount: int,
    now: datetime,
    calendar: WorkCalendar,
    renewal: RenewalChargeRow | LookUp | None = LOOK_UP,
) -> None:
    """Reserve the amount against what was captured, post it as owed to the consumer, and queue
    the payout. Runs inside the approving transaction, after the plan that approved it.
    ``renewal``: the renewal the ticket is about, when the caller has already looked it up (and
    locked it) for many tickets at once (:func:`kameng.subscriptions.refunds.renewals_asked_about`);
    by default it is looked up here."""
    session = uow.session
    if isinstance(renewal, LookUp):
        renewal = renewal_asked_about(uow, order.id, order.user_id, ticket.created_at)
    if renewal is not None:
        # A renewal is its own refundable amount, paid out against its own trade.
        reserve_renewal_refund(renewal, amount)
        out_trade_no = renewal.out_trade_no
    else:
        if amount > order.amount_fen - order.refunded_fen:
            raise Conflict(ErrorCode.EXCEEDS_CAPTURED, "error.exceeds_captured", "amount")
        order.refunded_fen += amount
        out_trade_no = payment_out_trade_no(order.order_no)
    product = sold_product_of(uow, order)
    owed = f"refunds_payable:{order.user_id}"
    source_kind = payout_source(product.kind, ticket.reason)
    if source_kind is PayoutSource.BALANCE_CASH:
        # A top-up's R2 fee leaves the balance with the refund, as the platform's income: it is
        # not left behind as spendable cash (seed 003: "1.00 stays behind after a withdrawal").
        fee = _quoted_fee(ticket)
        balance = session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
        if balance is None or balance.cash_fen < amount + fee:
            raise Conflict(ErrorCode.BALANCE_CHANGED, "error.balance_changed", "amount")
        balance.cash_fen -= amount + fee
        balance.updated_at = now
        source = f"balance_cash:{order.user_id}"
        if fee:
            post_entry(
                uow,
                kind="top_up_fee",
                key=f"top_up_fee:{ticket.id}",
                order_id=order.id,
                user_id=order.user_id,
                now=now,
                lines=[(source, fee), ("withdrawal_fee_income", -fee)],
                memo=f"fee of ticket {ticket.ticket_no}",
            )
    elif source_kind is PayoutSource.PLATFORM_ADVANCE:
        source = source_kind.value
    else:
        source = f"{source_kind.value}:{product.merchant_id}"
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
    if source_kind is PayoutSource.PLATFORM_ADVANCE and amount:
        # 先行赔付: the platform advanced the consumer's refund; the merchant owes it back.
        post_entry(
            uow,
            kind="merchant_receivable",
            key=f"merchant_receivable:{ticket.id}",
            order_id=order.id,
            user_id=order.user_id,
            now=now,
            lines=[(f"merchant_receivable:{product.merchant_id}", amount), (source, -amount)],
            memo=f"advanced for ticket {ticket.ticket_no}, owed by merchant {product.merchant_id}",
        )
    move_ticket(uow, ticket, "start_refund", now, calendar, None, amount_fen=amount)
    if amount == 0:
        close_after_refund(uow, ticket, order, None, now, calendar)
        return
    _new_refund(uow, ticket, order, amount, order.channel, out_trade_no, now, calendar, attempt=1)


def refundable_fen(uow: UnitOfWork, ticket: Ticket, order: OrderRow) -> int:
    """What the ticket's refund may still reach: the renewal it is about (its own capture), or
    else the purchase."""
    renewal = renewal_asked_about(uow, order.id, order.user_id, ticket.created_at)
    return refundable_of(renewal) if renewal is not None else order.amount_fen - order.refunded_fen


def _quoted_fee(ticket: Ticket) -> int:
    """The fee the consumer was quoted (the engine's ``fee`` line, a negative amount in yuan)."""
    return sum(
        parse_yuan(str(line.get("amount", "0")).lstrip("-"))
        for line in ticket.quote.get("lines", [])
        if line.get("code") == "fee"
    )


def _new_refund(
    uow: UnitOfWork,
    ticket: Ticket,
    order: OrderRow,
    amount: int,
    channel: Channel,
    out_trade_no: str,
    now: datetime,
    calendar: WorkCalendar,
    attempt: int | None = None,
) -> None:
    session = uow.session
    if attempt is None:
        attempt = (session.scalar(select(func.count(RefundRow.id)).where(RefundRow.ticket_id == ticket.id)) or 0) + 1
    values = {
        "id": take_id(uow, "refunds"),  # drawn ahead by the request's step or a mass refund, else None
        "ticket_id": ticket.id,
        "order_id": order.id,
        "user_id": order.user_id,
        "out_refund_no": f"R{ticket.ticket_no}{attempt:02d}",  # derived from our record: the idempotency key
        "out_trade_no": out_trade_no,  # the purchase's trade, or the renewal's it refunds
        "channel": channel,
        "amount_fen": amount,
        "status": RefundStatus.PENDING,
        "created_at": now,
    }
    if channel is not Channel.BALANCE and values["id"] is not None:
        # Only added, and named by its id: kept as values in a step that writes its own end.
        add_row(session, RefundRow, values)
        refund_id = values["id"]
    else:
        refund = RefundRow(**values)
        session.add(refund)
        if refund.id is None:
            session.flush()
        if channel is Channel.BALANCE:
            _into_balance(uow, ticket, order, refund, now, calendar)
            return
        refund_id = refund.id
    enqueue(uow, OutboxKind.SEND_REFUND, f"send_refund:{refund_id}", {"refund_id": refund_id}, now)


def _into_balance(
    uow: UnitOfWork, ticket: Ticket, order: OrderRow, refund: RefundRow, now: datetime, calendar: WorkCalendar
) -> None:
    """The platform balance is ours: the money lands at once, no channel involved."""
    session = uow.session
    refund.status = REFUND.apply(refund.status, "succeed")
    refund.settled_at = now
    refund.channel_refund_no = f"BAL{refund.out_refund_no}"
    balance = session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
    if balance is None:
        balance = BalanceRow(user_id=order.user_id, cash_fen=0, bonus_fen=0, updated_at=now)
        session.add(balance)
    balance.cash_fen += refund.amount_fen
    balance.updated_at = now
    post_refund_paid(uow, refund, order, f"balance_cash:{order.user_id}", now)
    move_ticket(
        uow,
        ticket,
        "refund_succeeded",
        now,
        calendar,
        None,
        "退回平台余额",
        refund.amount_fen,
        Note("timeline.back_to_balance"),
    )
    close_after_refund(uow, ticket, order, refund, now, calendar)


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
    keys revoked, the order closed, the coupon the quote promised back given back. Nothing keeps
    charging after a refund."""
    session = uow.session
    if ticket.status is TicketStatus.REFUNDING:  # a zero-amount approval: nothing to pay out
        move_ticket(
            uow, ticket, "refund_succeeded", now, calendar, None, "无需付款", 0, Note("timeline.nothing_to_pay")
        )
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
        uow,
        order,
        OrderEventType.CLOSED,
        now,
        None,
        None,
        amount_fen=refund.amount_fen,
        note=f"refund {refund.out_refund_no}",
    )
    coupon = _give_coupon_back(uow, ticket, order, refund, now)
    amount = format_yuan(refund.amount_fen)
    if coupon is None:
        arrived = Notice("arrived", "notice.arrived", {"amount": amount})
    else:
        about = {"amount": amount, "coupon": format_yuan(coupon.value_fen), "code": coupon.code}
        if coupon.expires_at is None:
            arrived = Notice("arrived", "notice.arrived_coupon", about)
        else:
            arrived = Notice("arrived", "notice.arrived_coupon_until", {**about, "until": localtime(coupon.expires_at)})
    notify(uow, ticket, arrived, now)


def _give_coupon_back(
    uow: UnitOfWork, ticket: Ticket, order: OrderRow, refund: RefundRow, now: datetime
) -> CouponRow | None:
    """Keep the quote's word "优惠券以优惠券形式退回": when the refund arrives, the coupon comes back
    to the consumer as a new coupon of their own (catalog/services.issue_returned_coupon says why
    not the old one released), with the time it had left when it was used.

    The ticket's quote names the coupon only when the request was about the period the coupon
    paid for (the purchase, not a renewal); whether it comes back is the engine's own rule
    (``coupon_returned``) applied to the money that arrived. The order's timeline records it, and
    so does the ledger: the sale booked the coupon as the platform's expense owed to the merchant
    (``coupon_expense`` against ``merchant_payable``); a coupon given back was not spent on this
    sale, so that is reversed, and the new coupon is booked like any other when a sale uses it.
    Keyed by the order (the coupon's code, the entry's key): a second arrival gives nothing twice."""
    if order.coupon_id is None or not any(line.get("code") == "coupon" for line in ticket.quote.get("lines", [])):
        return None
    if not coupon_returned(Coupon(order.coupon_fen, order.coupon_refundable), refund.amount_fen):
        return None
    used = uow.session.get(CouponRow, order.coupon_id)
    if used is None:
        return None
    expires_at = returned_coupon_expiry(used.expires_at, order.created_at, now)
    coupon = issue_returned_coupon(uow, used, order.user_id, order.order_no, expires_at, now)
    if coupon is None:
        return None  # given back already
    add_order_event(
        uow, order, OrderEventType.COUPON_RETURNED, now, None, None, amount_fen=coupon.value_fen, note=coupon.code
    )
    post_entry(
        uow,
        kind="coupon_returned",
        key=f"coupon_returned:{order.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[
            (f"merchant_payable:{sold_product_of(uow, order).merchant_id}", order.coupon_fen),
            ("coupon_expense", -order.coupon_fen),
        ],
        memo=f"coupon of {order.order_no} returned as {coupon.code}",
    )
    return coupon


def refund_to_balance(uow: UnitOfWork, viewer: Viewer, ticket_no: str, now: datetime, calendar: WorkCalendar) -> Ticket:
    """After a refund failed for good, and only with the consumer's own consent (this call is
    theirs alone), the money goes to the platform balance instead."""
    with uow:
        ticket = lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("ticket")
        order = lock_order(uow, ticket.order_id)
        failed = _failed_refund(uow, ticket)
        agreed = Note("timeline.balance_agreed")
        move_ticket(
            uow, ticket, "refund_to_balance", now, calendar, viewer, "用户同意退回平台余额", failed.amount_fen, agreed
        )
        _new_refund(uow, ticket, order, failed.amount_fen, Channel.BALANCE, failed.out_trade_no, now, calendar)
        _return_top_up_fee(uow, ticket, order, now)
        uow.commit()
        return ticket


def _return_top_up_fee(uow: UnitOfWork, ticket: Ticket, order: OrderRow, now: datetime) -> None:
    """A top-up's refund that ends in the balance after all was no withdrawal: its fee comes back
    with it (the platform earns no fee on money that never left)."""
    if payout_source(sold_product_of(uow, order).kind, ticket.reason) is not PayoutSource.BALANCE_CASH:
        return
    fee = _quoted_fee(ticket)
    if not fee:
        return
    balance = uow.session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
    assert balance is not None  # the refund just paid into it
    balance.cash_fen += fee
    balance.updated_at = now
    post_entry(
        uow,
        kind="top_up_fee_returned",
        key=f"top_up_fee_returned:{ticket.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[("withdrawal_fee_income", fee), (f"balance_cash:{order.user_id}", -fee)],
        memo=f"fee of ticket {ticket.ticket_no} returned with the refund into the balance",
    )


def retry_refund(uow: UnitOfWork, actor: Viewer, ticket_no: str, now: datetime, calendar: WorkCalendar) -> Ticket:
    """Send the failed refund again to the original channel, under a new refund number."""
    with uow:
        ticket = lock_ticket(uow, actor, ticket_no)
        order = lock_order(uow, ticket.order_id)
        failed = _failed_refund(uow, ticket)
        retried = Note("timeline.retried")
        move_ticket(uow, ticket, "retry_refund", now, calendar, actor, "重新原路退款", failed.amount_fen, retried)
        _new_refund(uow, ticket, order, failed.amount_fen, order.channel, failed.out_trade_no, now, calendar)
        uow.commit()
        return ticket


def _failed_refund(uow: UnitOfWork, ticket: Ticket) -> RefundRow:
    last = uow.session.scalar(
        select(RefundRow).where(RefundRow.ticket_id == ticket.id).order_by(RefundRow.id.desc()).limit(1)
    )
    if last is None or last.status is not RefundStatus.FAILED:
        raise Conflict(ErrorCode.NO_FAILED_REFUND, "error.no_failed_refund", "ticket")
    return last
