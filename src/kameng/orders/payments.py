"""Payments: a channel's signed notification applied once, a late payment sent back, unpaid
orders expired or cancelled (their coupon and card key released)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kameng.catalog.models import CouponRow
from kameng.channels.ports import BadSignature, PaymentChannel, PaymentNotification
from kameng.domain.model import (
    Channel,
    EventType,
    OrderEventType,
    ProductKind,
)
from kameng.domain.money import format_yuan
from kameng.domain.states import (
    CARD_KEY,
    ORDER,
    PAYMENT,
    CardKeyStatus,
    InvalidTransition,
    MembershipStatus,
    OrderStatus,
    PaymentStatus,
    RefundStatus,
)
from kameng.domain.users import Role
from kameng.messages.services import tell
from kameng.orders.history import add_order_event
from kameng.orders.locked_payments import LockedPayment, ProductPaidFor, locked_payment
from kameng.orders.models import CardKeyRow, MembershipRow, OrderRow, PaymentRow
from kameng.orders.queries import visible_order
from kameng.payouts.models import RefundRow
from kameng.payouts.orphans import record_orphan
from kameng.platform.access import Viewer
from kameng.platform.db.bulk import rows_as_values
from kameng.platform.db.step_end import write_step_end
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.platform.i18n import Msg
from kameng.platform.ledger import post_entry
from kameng.platform.ledger_models import BalanceRow
from kameng.platform.outbox import OutboxKind, enqueue
from kameng.webhooks.events import EventType as WebhookEvent
from kameng.webhooks.events import emit

# What a settlement adds. The journal entry is named by its lines: its id is drawn with the lock
# (orders/locked_payments.py); the others get theirs from the database (without it, as on SQLite,
# the flush writes them all as before).
SETTLEMENT_ROWS = frozenset({"order_events", "memberships", "journal_entries", "journal_lines", "outbox"})
# Of those, the ones nothing in the settlement names: the database numbers them.
SETTLEMENT_SERVER_IDS = SETTLEMENT_ROWS - {"journal_entries"}


def settle(
    uow: UnitOfWork,
    order: OrderRow,
    payment: PaymentRow,
    product: ProductPaidFor,
    transaction_id: str,
    at: datetime,
    bonus_part: int = 0,
) -> None:
    """The money is ours: mark it paid, post the ledger, and hand over what was bought.

    ``product`` is the order's, as the step read it; ``bonus_part`` is how much of a balance
    payment came from bonus credit."""
    session = uow.session
    payment.status = PAYMENT.apply(payment.status, "succeed")
    payment.channel_txn_no = transaction_id
    payment.settled_at = at
    order.status = ORDER.apply(order.status, "pay")
    order.paid_at = at
    order.channel_txn_no = transaction_id
    order.updated_at = at
    add_order_event(
        uow,
        order,
        OrderEventType.PAID,
        at,
        order.user_id,
        Role.CONSUMER,
        amount_fen=order.amount_fen,
        note=f"{order.channel.value} {transaction_id}",
    )
    emit(
        uow,
        WebhookEvent.ORDER_PAID,
        order.order_no,
        {
            "order_no": order.order_no,
            "product": product.slug,
            "amount_fen": order.amount_fen,
            "channel": order.channel.value,
            "paid_at": at.isoformat(),
        },
        at,
    )

    source = f"channel:{order.channel.value}"
    if product.kind is ProductKind.RECHARGE:
        post_entry(
            uow,
            kind="top_up",
            key=f"payment:{payment.id}",
            order_id=order.id,
            user_id=order.user_id,
            now=at,
            lines=[
                (source, order.amount_fen),
                (f"balance_cash:{order.user_id}", -order.amount_fen),
                ("bonus_expense", order.bonus_fen),
                (f"balance_bonus:{order.user_id}", -order.bonus_fen),
            ],
            memo=f"top-up {order.order_no}",
        )
        balance = session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
        if balance is None:
            balance = BalanceRow(user_id=order.user_id, cash_fen=0, bonus_fen=0, updated_at=at)
            session.add(balance)
        balance.cash_fen += order.amount_fen
        balance.bonus_fen += order.bonus_fen
        balance.updated_at = at
    else:
        if order.channel is Channel.BALANCE:
            paying = [
                (f"balance_bonus:{order.user_id}", bonus_part),
                (f"balance_cash:{order.user_id}", order.amount_fen - bonus_part),
            ]
        else:
            paying = [(source, order.amount_fen)]
        post_entry(
            uow,
            kind="sale",
            key=f"payment:{payment.id}",
            order_id=order.id,
            user_id=order.user_id,
            now=at,
            lines=[
                *paying,
                ("coupon_expense", order.coupon_fen),
                (f"merchant_payable:{product.merchant_id}", -order.list_price_fen),
            ],
            memo=f"sale {order.order_no}",
        )
    if product.kind is ProductKind.MEMBERSHIP:
        session.add(
            MembershipRow(
                order_id=order.id,
                user_id=order.user_id,
                product_id=product.id,
                status=MembershipStatus.PENDING_ACTIVATION,
                auto_renew=order.auto_renew,
                created_at=at,
            )
        )
    elif product.kind is ProductKind.VIRTUAL_GOODS and product.uses_card_keys:
        key = session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id))
        if key is None:
            raise Conflict(ErrorCode.KEY_MISSING, "error.key_missing", None)
        key.status = CARD_KEY.apply(key.status, "deliver")
        key.delivered_at = at
        add_order_event(uow, order, EventType.DELIVERED, at, None, Role.OPERATOR, note="card key delivered")
    elif product.kind is ProductKind.VIRTUAL_GOODS:
        add_order_event(uow, order, EventType.DELIVERED, at, None, Role.OPERATOR, note="points credited")


# --------------------------------------------------------------------------------------------
# Payment confirmation (the channel's asynchronous notification)


def handle_payment_notification(
    uow: UnitOfWork, body: bytes, signature: str, channel: PaymentChannel, now: datetime
) -> str:
    """Apply a signed notification once. Returns what happened: ``paid``, ``failed``,
    ``returned`` (arrived after the order expired: sent back), or ``duplicate`` (a replay)."""
    note = verified_notification(body, signature, channel)
    with uow:
        return apply_in_open_uow(uow, note, now)


def verified_notification(body: bytes, signature: str, channel: PaymentChannel) -> PaymentNotification:
    try:
        return channel.verify(body, signature)
    except BadSignature as error:
        raise InvalidInput(ErrorCode.BAD_SIGNATURE, "error.bad_signature", "signature", error=error) from None


def apply_payment_notification(
    uow: UnitOfWork, note: PaymentNotification, now: datetime, orphans_of: str | None = None
) -> str:
    """Apply a verified payment notification once (see :func:`handle_payment_notification`).

    With ``orphans_of`` (a real channel's name), money for a trade we never opened is not refused
    but recorded and sent back (``orphan``): the channel has taken it, and nothing was sold."""
    with uow:
        return apply_in_open_uow(uow, note, now, orphans_of)


def apply_in_open_uow(
    uow: UnitOfWork,
    note: PaymentNotification,
    now: datetime,
    orphans_of: str | None = None,
    locked: LockedPayment | None = None,
) -> str:
    """:func:`apply_payment_notification` inside the caller's open unit of work, which it commits
    when something changed. ``locked`` is :func:`locked_payment` of the note's trade, when the
    caller has read it already (the simulator, which reads the amount it notifies)."""
    if locked is None:
        locked = locked_payment(uow, note.out_trade_no)
    if locked is None:
        if orphans_of is None or not note.succeeded:
            raise not_found("payment")
        result = record_orphan(uow, orphans_of, note, now)
        uow.commit()
        return result
    payment, order, product = locked
    if orphans_of is not None and payment.channel.value != orphans_of:
        raise InvalidInput(ErrorCode.CHANNEL_MISMATCH, "channels.error.channel_mismatch", "channel")
    if note.amount_fen != payment.amount_fen:
        raise InvalidInput(ErrorCode.AMOUNT_MISMATCH, "error.amount_mismatch", "amount")
    if payment.status is not PaymentStatus.PENDING and not (payment.status is PaymentStatus.FAILED and note.succeeded):
        return "duplicate"
    if orphans_of is not None:
        payment.gateway = orphans_of  # its refunds go back through this channel's adapter
    # Nothing read from here on depends on these writes: one flush at the commit, not one per read;
    # and the rows only added are kept as values, for write_step_end (platform/db/bulk.py).
    with uow.session.no_autoflush, rows_as_values(uow.session, SETTLEMENT_SERVER_IDS):
        if not note.succeeded:
            payment.status = PAYMENT.apply(payment.status, "fail")
            payment.failure = (note.failure or "payment failed")[:200]
            add_order_event(
                uow,
                order,
                OrderEventType.PAYMENT_FAILED,
                now,
                None,
                None,
                amount_fen=payment.amount_fen,
                note=payment.failure,
            )
            result = "failed"
        elif order.status is not OrderStatus.PENDING_PAYMENT:
            _return_late_payment(uow, order, payment, note.transaction_id, now)
            result = "returned"
        else:
            settle(uow, order, payment, product, note.transaction_id, at=note.at)
            result = "paid"
        # The order's and payment's changes and the new rows, rather than the flush's one statement
        # per row (nothing in the step reads their ids): on PostgreSQL one statement
        # (platform/db/step_end.py).
        write_step_end(uow.session, SETTLEMENT_ROWS, SETTLEMENT_SERVER_IDS)
    uow.commit()
    return result


def _return_late_payment(uow: UnitOfWork, order: OrderRow, payment: PaymentRow, txn: str, now: datetime) -> None:
    """Money for an order that had already expired: book it as owed back, and queue a refund to
    the channel it came from. Nobody has to ask; the refund worker sends it with the idempotency
    key ``L<out_trade_no>`` and the ledger clears when the channel confirms."""
    payment.status = PAYMENT.apply(payment.status, "return_late")
    payment.channel_txn_no = txn
    payment.settled_at = now
    post_entry(
        uow,
        kind="late_payment",
        key=f"late_payment:{payment.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[(f"channel:{payment.channel.value}", payment.amount_fen), ("late_payments", -payment.amount_fen)],
        memo=f"late payment for {order.order_no}",
    )
    refund = RefundRow(
        purpose="late_payment",
        ticket_id=None,
        order_id=order.id,
        user_id=order.user_id,
        out_refund_no=f"L{payment.out_trade_no}",
        out_trade_no=payment.out_trade_no,
        channel=payment.channel,
        amount_fen=payment.amount_fen,
        status=RefundStatus.PENDING,
        created_at=now,
    )
    uow.session.add(refund)
    uow.session.flush()
    enqueue(uow, OutboxKind.SEND_REFUND, f"send_refund:{refund.id}", {"refund_id": refund.id}, now)
    add_order_event(
        uow,
        order,
        OrderEventType.LATE_PAYMENT_RETURNING,
        now,
        None,
        Role.OPERATOR,
        amount_fen=payment.amount_fen,
        note=f"{payment.channel.value} {txn} → {refund.out_refund_no}",
    )
    # The payer saw the money leave their account for an order that was already gone: say so at
    # once, and that nothing is asked of them (the arrival is told again by the refund's answer).
    tell(
        uow,
        order.user_id,
        f"late_payment:{refund.out_refund_no}:returning",
        "late_payment_returning",
        "notice.late_payment_returning",
        late_payment_params(order, refund),
        now,
    )


def late_payment_params(order: OrderRow, refund: RefundRow) -> dict[str, object]:
    """The figures of a message about a late payment going back: the order, the amount, the channel."""
    return {
        "order_no": order.order_no,
        "amount": format_yuan(refund.amount_fen),
        "channel": Msg(f"channel_{refund.channel.value}"),
        "status": Msg(f"status_{order.status.value}"),
    }


def expire_unpaid_orders(uow: UnitOfWork, now: datetime, batch: int = 100) -> int:
    """Expire orders whose payment window closed; release their coupon and card key."""
    with uow:
        session = uow.session
        orders = session.scalars(
            select(OrderRow)
            .where(OrderRow.status == OrderStatus.PENDING_PAYMENT, OrderRow.expires_at <= now)
            .order_by(OrderRow.expires_at)
            .limit(batch)
            .with_for_update(skip_locked=True, of=OrderRow)
        ).all()
        for order in orders:
            order.status = ORDER.apply(order.status, "expire")
            order.updated_at = now
            _release_holds(uow, order, now)
            add_order_event(
                uow, order, OrderEventType.ORDER_EXPIRED, now, None, Role.OPERATOR, note="payment window closed"
            )
        uow.commit()
        return len(orders)


def cancel_unpaid_order(uow: UnitOfWork, viewer: Viewer, order_no: str, now: datetime) -> None:
    with uow:
        order = visible_order(uow, viewer, order_no, lock=True)
        try:
            order.status = ORDER.apply(order.status, "cancel")
        except InvalidTransition:
            raise Conflict(ErrorCode.NOT_CANCELLABLE, "error.not_cancellable", "status") from None
        order.updated_at = now
        _release_holds(uow, order, now)
        add_order_event(uow, order, OrderEventType.ORDER_CANCELLED, now, viewer.user_id, viewer.role)
        uow.commit()


def _release_holds(uow: UnitOfWork, order: OrderRow, now: datetime) -> None:
    if order.coupon_id is not None:
        coupon = uow.session.get(CouponRow, order.coupon_id)
        if coupon is not None and coupon.used_by_order_id == order.id:
            coupon.used_by_order_id = None
    key = uow.session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id))
    if key is not None and key.status is CardKeyStatus.RESERVED:
        key.status = CARD_KEY.apply(key.status, "release")  # never shown to anyone: may be sold
        key.order_id = None
        add_order_event(uow, order, OrderEventType.KEY_RELEASED, now, None, None, note="card key back in stock")
