"""Orders: checkout, payment confirmation, usage events, card keys, and the quote as of now.

Every function here opens one unit of work and commits at most once, so a failure at any point
leaves the data as it was. Consumers see only their own orders: another person's order answers
"not found", the same as an order that does not exist, so order numbers cannot be probed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kameng.adapters.channels.simulator import BadSignature, SimulatorChannel
from kameng.adapters.db.models import (
    BalanceRow,
    CardKeyRow,
    CouponRow,
    MembershipRow,
    OrderEventRow,
    OrderRow,
    OutboxRow,
    PaymentRow,
    ProductRow,
    RefundRow,
)
from kameng.adapters.db.uow import UnitOfWork
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import (
    Channel,
    Coupon,
    Event,
    EventType,
    Order,
    ProductKind,
    Reason,
    RefundRequest,
)
from kameng.domain.refund import Quote, quote_refund, term_end
from kameng.domain.states import (
    CARD_KEY,
    MEMBERSHIP,
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
from kameng.services.catalog import current_policy, policy_to_domain, product_to_domain
from kameng.services.errors import Conflict, InvalidInput, ServiceError, not_found
from kameng.services.ledger import post_entry

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAYMENT_WINDOW = timedelta(minutes=15)
DUPLICATE_WINDOW = timedelta(hours=24)
ENGINE_EVENT_TYPES = {e.value for e in EventType}


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    role: Role

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff


# --------------------------------------------------------------------------------------------
# Order numbers


def payment_out_trade_no(order_no: str) -> str:
    """Our key for an order's payment at the channel (WeChat Pay/Alipay out_trade_no), derived
    from the order number, so refunds name the trade without looking the payment up."""
    return f"P{order_no}"


def _luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return str((10 - total % 10) % 10)


def new_order_no(now: datetime) -> str:
    """14 digits a person can read aloud: date (yymmdd), 7 random digits, a check digit that
    catches a mistyped digit on the phone to customer service."""
    body = now.astimezone(SHANGHAI).strftime("%y%m%d") + f"{secrets.randbelow(10**7):07d}"
    return body + _luhn_digit(body)


def order_no_is_valid(order_no: str) -> bool:
    return len(order_no) == 14 and order_no.isdigit() and _luhn_digit(order_no[:-1]) == order_no[-1]


# --------------------------------------------------------------------------------------------
# Checkout


@dataclass(frozen=True)
class CheckoutRequest:
    user_id: int
    product_slug: str
    channel: Channel
    coupon_code: str | None = None
    auto_renew: bool = False
    nonrefundable_ack: bool = False
    duplicate_ack: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True)
class CheckoutPreview:
    product: ProductRow
    list_price_fen: int
    coupon_fen: int
    to_pay_fen: int
    duplicate_of: str | None
    needs_nonrefundable_ack: bool
    renewable: bool
    balance_cash_fen: int
    balance_bonus_fen: int


@dataclass(frozen=True)
class PlacedOrder:
    order_no: str
    status: OrderStatus
    amount_fen: int
    out_trade_no: str | None
    pay_url: str | None
    replayed: bool = False


def _product_by_slug(uow: UnitOfWork, slug: str) -> ProductRow:
    row = uow.session.scalar(select(ProductRow).where(ProductRow.slug == slug, ProductRow.active.is_(True)))
    if row is None:
        raise InvalidInput("unknown_product", "商品不存在或已下架", "No such product on sale", "product")
    return row


def _coupon(uow: UnitOfWork, code: str, user_id: int, list_price: int, now: datetime, lock: bool) -> CouponRow:
    query = select(CouponRow).where(CouponRow.code == code.strip().upper())
    if lock:
        query = query.with_for_update()
    coupon = uow.session.scalar(query)
    if coupon is None or (coupon.user_id is not None and coupon.user_id != user_id):
        raise InvalidInput("bad_coupon", "优惠券不存在", "No such coupon", "coupon")
    if coupon.used_by_order_id is not None:
        raise InvalidInput("coupon_used", "优惠券已被使用", "The coupon has already been used", "coupon")
    if coupon.expires_at is not None and coupon.expires_at <= now:
        raise InvalidInput("coupon_expired", "优惠券已过期", "The coupon has expired", "coupon")
    if list_price < coupon.min_spend_fen:
        raise InvalidInput(
            "coupon_min_spend", "未达到优惠券使用门槛", "The order does not reach the coupon's minimum", "coupon"
        )
    return coupon


def _recent_duplicate(uow: UnitOfWork, user_id: int, product_id: int, now: datetime) -> str | None:
    return uow.session.scalar(
        select(OrderRow.order_no)
        .where(
            OrderRow.user_id == user_id,
            OrderRow.product_id == product_id,
            OrderRow.status.in_([OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]),
            OrderRow.created_at > now - DUPLICATE_WINDOW,
        )
        .order_by(OrderRow.created_at.desc())
        .limit(1)
    )


def preview_checkout(
    uow: UnitOfWork, user_id: int, slug: str, coupon_code: str | None, now: datetime
) -> CheckoutPreview:
    with uow:
        product = _product_by_slug(uow, slug)
        coupon_fen = 0
        if coupon_code:
            coupon = _coupon(uow, coupon_code, user_id, product.price_fen, now, lock=False)
            coupon_fen = min(coupon.value_fen, product.price_fen)
        balance = uow.session.get(BalanceRow, user_id)
        return CheckoutPreview(
            product=product,
            list_price_fen=product.price_fen,
            coupon_fen=coupon_fen,
            to_pay_fen=product.price_fen - coupon_fen,
            duplicate_of=_recent_duplicate(uow, user_id, product.id, now),
            needs_nonrefundable_ack=product.kind is ProductKind.VIRTUAL_GOODS,
            renewable=product.renewable,
            balance_cash_fen=balance.cash_fen if balance else 0,
            balance_bonus_fen=balance.bonus_fen if balance else 0,
        )


def place_order(uow: UnitOfWork, command: CheckoutRequest, now: datetime, channel: SimulatorChannel) -> PlacedOrder:
    """Create the order (and reserve its card key); pay at once from the balance, or hand back
    the channel's pay URL. Retrying with the same idempotency key returns the same order."""
    try:
        return _place_order(uow, command, now, channel)
    except IntegrityError:
        # A concurrent retry with the same idempotency key won the insert: answer with its order.
        if command.idempotency_key is None:
            raise
        with uow:
            existing = _order_by_key(uow, command.user_id, command.idempotency_key)
            if existing is None:
                raise
            return _placed(uow, existing, channel, replayed=True)


def _order_by_key(uow: UnitOfWork, user_id: int, key: str) -> OrderRow | None:
    return uow.session.scalar(select(OrderRow).where(OrderRow.user_id == user_id, OrderRow.idempotency_key == key))


def _placed(uow: UnitOfWork, order: OrderRow, channel: SimulatorChannel, replayed: bool = False) -> PlacedOrder:
    payment = uow.session.scalar(select(PaymentRow).where(PaymentRow.order_id == order.id).order_by(PaymentRow.id))
    pending = order.status is OrderStatus.PENDING_PAYMENT and payment is not None
    return PlacedOrder(
        order_no=order.order_no,
        status=order.status,
        amount_fen=order.amount_fen,
        out_trade_no=payment.out_trade_no if payment else None,
        pay_url=channel.pay_url(payment.out_trade_no) if pending and payment else None,
        replayed=replayed,
    )


def _place_order(uow: UnitOfWork, command: CheckoutRequest, now: datetime, channel: SimulatorChannel) -> PlacedOrder:
    if command.idempotency_key is not None and not 1 <= len(command.idempotency_key) <= 80:
        raise InvalidInput(
            "bad_idempotency_key", "幂等键长度须为 1–80", "Idempotency-Key must be 1–80 characters", "idempotency_key"
        )
    with uow:
        session = uow.session
        if command.idempotency_key:
            existing = _order_by_key(uow, command.user_id, command.idempotency_key)
            if existing is not None:
                return _placed(uow, existing, channel, replayed=True)
        product = _product_by_slug(uow, command.product_slug)
        if product.kind is ProductKind.VIRTUAL_GOODS and not command.nonrefundable_ack:
            raise InvalidInput(
                "nonrefundable_ack_required",
                "虚拟商品发放后不支持无理由退款,请勾选确认后再下单",
                "Delivered digital goods cannot be returned without reason: tick the confirmation to continue",
                "nonrefundable_ack",
            )
        if command.auto_renew and not product.renewable:
            raise InvalidInput(
                "not_renewable", "该商品不支持自动续费", "This product has no auto-renewal", "auto_renew"
            )
        if product.kind is ProductKind.RECHARGE and command.channel is Channel.BALANCE:
            raise InvalidInput(
                "balance_for_top_up", "不能用余额为余额充值", "A top-up cannot be paid from the balance", "channel"
            )
        duplicate = _recent_duplicate(uow, command.user_id, product.id, now)
        if duplicate and not command.duplicate_ack:
            raise Conflict(
                "duplicate_purchase",
                f"您在 24 小时内已购买过该商品(订单 {duplicate}),确认仍要再买一次吗?",
                f"You already bought this within 24 hours (order {duplicate}). Buy it again?",
                "duplicate_ack",
            )
        coupon: CouponRow | None = None
        coupon_fen = 0
        if command.coupon_code:
            coupon = _coupon(uow, command.coupon_code, command.user_id, product.price_fen, now, lock=True)
            coupon_fen = min(coupon.value_fen, product.price_fen)
        policy = current_policy(uow, product.id)
        order = OrderRow(
            order_no=new_order_no(now),
            user_id=command.user_id,
            product_id=product.id,
            policy_version_id=policy.id,
            status=OrderStatus.PENDING_PAYMENT,
            channel=command.channel,
            list_price_fen=product.price_fen,
            coupon_id=coupon.id if coupon else None,
            coupon_fen=coupon_fen,
            coupon_refundable=coupon.refundable if coupon else False,
            amount_fen=product.price_fen - coupon_fen,
            bonus_fen=product.bonus_fen if product.kind is ProductKind.RECHARGE else 0,
            expires_at=now + PAYMENT_WINDOW,
            auto_renew=command.auto_renew,
            auto_renew_consent_at=now if command.auto_renew else None,
            nonrefundable_ack_at=now
            if command.nonrefundable_ack and product.kind is ProductKind.VIRTUAL_GOODS
            else None,
            duplicate_ack_at=now if duplicate else None,
            idempotency_key=command.idempotency_key,
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        session.flush()
        if coupon is not None:
            coupon.used_by_order_id = order.id
        if product.uses_card_keys:
            _reserve_card_key(uow, product.id, order.id)
        payment = PaymentRow(
            order_id=order.id,
            user_id=order.user_id,
            out_trade_no=payment_out_trade_no(order.order_no),
            channel=command.channel,
            amount_fen=order.amount_fen,
            status=PaymentStatus.PENDING,
            created_at=now,
        )
        session.add(payment)
        session.flush()
        if command.channel is Channel.BALANCE or order.amount_fen == 0:
            bonus_part = _pay_from_balance(uow, order, now)
            _settle(uow, order, payment, transaction_id=f"BAL{order.order_no}", at=now, bonus_part=bonus_part)
        uow.commit()
        return _placed(uow, order, channel)


def _reserve_card_key(uow: UnitOfWork, product_id: int, order_id: int) -> CardKeyRow:
    # SKIP LOCKED: concurrent buyers take different keys instead of queueing on the same row.
    key = uow.session.scalar(
        select(CardKeyRow)
        .where(CardKeyRow.product_id == product_id, CardKeyRow.status == CardKeyStatus.AVAILABLE)
        .order_by(CardKeyRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if key is None:
        raise Conflict("sold_out", "该商品已售罄", "This product is sold out", "product")
    key.status = CARD_KEY.apply(key.status, "reserve")
    key.order_id = order_id
    return key


def _pay_from_balance(uow: UnitOfWork, order: OrderRow, now: datetime) -> int:
    """Spend bonus credit first, then cash (RULES.md R2), and record the spending as `spent`
    events on the top-ups it came from, oldest first: those events are what a later top-up
    refund is computed from."""
    if order.amount_fen == 0:
        return 0
    balance = uow.session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
    if balance is None or balance.cash_fen + balance.bonus_fen < order.amount_fen:
        raise InvalidInput("insufficient_balance", "余额不足", "Not enough balance", "channel")
    from_bonus = min(balance.bonus_fen, order.amount_fen)
    from_cash = order.amount_fen - from_bonus
    balance.bonus_fen -= from_bonus
    balance.cash_fen -= from_cash
    balance.updated_at = now
    remaining = order.amount_fen
    top_ups = uow.session.scalars(
        select(OrderRow)
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .where(
            OrderRow.user_id == order.user_id,
            OrderRow.status == OrderStatus.PAID,
            ProductRow.kind == ProductKind.RECHARGE,
        )
        .order_by(OrderRow.paid_at, OrderRow.id)
    ).all()
    for top_up in top_ups:
        if remaining == 0:
            break
        spent_before = sum(
            e.amount_fen
            for e in uow.session.scalars(
                select(OrderEventRow).where(
                    OrderEventRow.order_id == top_up.id, OrderEventRow.type == EventType.SPENT.value
                )
            )
        )
        capacity = top_up.amount_fen + top_up.bonus_fen - spent_before
        take = min(capacity, remaining)
        if take > 0:
            add_order_event(
                uow,
                top_up,
                EventType.SPENT.value,
                now,
                None,
                Role.CONSUMER,
                amount_fen=take,
                note=f"order {order.order_no}",
            )
            remaining -= take
    return from_bonus


def _settle(
    uow: UnitOfWork, order: OrderRow, payment: PaymentRow, transaction_id: str, at: datetime, bonus_part: int = 0
) -> None:
    """The money is ours: mark it paid, post the ledger, and hand over what was bought.

    ``bonus_part`` is how much of a balance payment came from bonus credit."""
    session = uow.session
    payment.status = PAYMENT.apply(payment.status, "succeed")
    payment.channel_txn_no = transaction_id
    payment.settled_at = at
    order.status = ORDER.apply(order.status, "pay")
    order.paid_at = at
    order.channel_txn_no = transaction_id
    order.updated_at = at
    product = order.product
    add_order_event(
        uow,
        order,
        "paid",
        at,
        order.user_id,
        Role.CONSUMER,
        amount_fen=order.amount_fen,
        note=f"{order.channel.value} {transaction_id}",
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
            raise Conflict("key_missing", "卡密缺失", "The reserved card key is missing", None)
        key.status = CARD_KEY.apply(key.status, "deliver")
        key.delivered_at = at
        add_order_event(uow, order, EventType.DELIVERED.value, at, None, Role.OPERATOR, note="card key delivered")
    elif product.kind is ProductKind.VIRTUAL_GOODS:
        add_order_event(uow, order, EventType.DELIVERED.value, at, None, Role.OPERATOR, note="points credited")


def add_order_event(
    uow: UnitOfWork,
    order: OrderRow,
    type_: str,
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
        type=type_,
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


# --------------------------------------------------------------------------------------------
# Payment confirmation (the channel's asynchronous notification)


def handle_payment_notification(
    uow: UnitOfWork, body: bytes, signature: str, channel: SimulatorChannel, now: datetime
) -> str:
    """Apply a signed notification once. Returns what happened: ``paid``, ``failed``,
    ``returned`` (arrived after the order expired: sent back), or ``duplicate`` (a replay)."""
    try:
        note = channel.verify(body, signature)
    except BadSignature as error:
        raise InvalidInput("bad_signature", "通知签名无效", f"Rejected notification: {error}", "signature") from None
    with uow:
        session = uow.session
        payment = session.scalar(
            select(PaymentRow).where(PaymentRow.out_trade_no == note.out_trade_no).with_for_update()
        )
        if payment is None:
            raise not_found("支付单", "Payment")
        if note.amount_fen != payment.amount_fen:
            raise InvalidInput(
                "amount_mismatch", "通知金额与订单不符", "Notified amount differs from the payment", "amount"
            )
        if payment.status is not PaymentStatus.PENDING and not (
            payment.status is PaymentStatus.FAILED and note.succeeded
        ):
            return "duplicate"
        order = session.scalar(select(OrderRow).where(OrderRow.id == payment.order_id).with_for_update(of=OrderRow))
        assert order is not None
        if not note.succeeded:
            payment.status = PAYMENT.apply(payment.status, "fail")
            payment.failure = (note.failure or "payment failed")[:200]
            uow.commit()
            return "failed"
        if order.status is not OrderStatus.PENDING_PAYMENT:
            _return_late_payment(uow, order, payment, note.transaction_id, now)
            uow.commit()
            return "returned"
        _settle(uow, order, payment, note.transaction_id, at=note.at)
        uow.commit()
        return "paid"


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
    uow.session.add(
        OutboxRow(
            kind="send_refund",
            key=f"send_refund:{refund.id}",
            payload={"refund_id": refund.id},
            next_attempt_at=now,
            created_at=now,
        )
    )
    add_order_event(
        uow,
        order,
        "late_payment_returning",
        now,
        None,
        Role.OPERATOR,
        amount_fen=payment.amount_fen,
        note=f"{payment.channel.value} {txn} → {refund.out_refund_no}",
    )


def simulate_payer(uow: UnitOfWork, out_trade_no: str, succeed: bool, channel: SimulatorChannel, now: datetime) -> str:
    """What the payer's app does in the simulator: pay (or fail), and the channel notifies us."""
    with uow:
        payment = uow.session.scalar(select(PaymentRow).where(PaymentRow.out_trade_no == out_trade_no))
        if payment is None:
            raise not_found("支付单", "Payment")
        amount = payment.amount_fen
    body, signature = channel.notification(out_trade_no, amount, succeed, now, None if succeed else "simulated failure")
    return handle_payment_notification(uow, body, signature, channel, now)


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
            _release_holds(uow, order)
            add_order_event(uow, order, "order_expired", now, None, Role.OPERATOR, note="payment window closed")
        uow.commit()
        return len(orders)


def cancel_unpaid_order(uow: UnitOfWork, viewer: Viewer, order_no: str, now: datetime) -> None:
    with uow:
        order = _visible_order(uow, viewer, order_no, lock=True)
        try:
            order.status = ORDER.apply(order.status, "cancel")
        except InvalidTransition:
            raise Conflict(
                "not_cancellable", "只有待支付订单可以取消", "Only an unpaid order can be cancelled", "status"
            ) from None
        order.updated_at = now
        _release_holds(uow, order)
        add_order_event(uow, order, "order_cancelled", now, viewer.user_id, viewer.role)
        uow.commit()


def _release_holds(uow: UnitOfWork, order: OrderRow) -> None:
    if order.coupon_id is not None:
        coupon = uow.session.get(CouponRow, order.coupon_id)
        if coupon is not None and coupon.used_by_order_id == order.id:
            coupon.used_by_order_id = None
    key = uow.session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id))
    if key is not None and key.status is CardKeyStatus.RESERVED:
        key.status = CARD_KEY.apply(key.status, "release")  # never shown to anyone: may be sold
        key.order_id = None


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


def _visible_order(uow: UnitOfWork, viewer: Viewer, order_no: str, lock: bool = False) -> OrderRow:
    query = select(OrderRow).where(OrderRow.order_no == order_no)
    if not viewer.is_staff:
        query = query.where(OrderRow.user_id == viewer.user_id)
    if lock:
        query = query.with_for_update(of=OrderRow)
    order = uow.session.scalar(query)
    if order is None:
        raise not_found("订单", "Order")
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
        raise not_found("订单", "Order")
    from kameng.adapters.db.models import User

    text = query_text.strip()
    with uow:
        query = select(OrderRow).order_by(OrderRow.created_at.desc()).limit(limit)
        if text.isdigit() and len(text) >= 4:
            query = query.where(
                OrderRow.order_no.startswith(text) | OrderRow.user_id.in_(select(User.id).where(User.phone == text))
            )
        elif text:
            query = query.where(OrderRow.user_id.in_(select(User.id).where(User.email == text.lower())))
        return list(uow.session.scalars(query))


def order_events(uow: UnitOfWork, order_id: int) -> list[OrderEventRow]:
    """An order's events in the order they happened: the evidence the engine reads."""
    return list(
        uow.session.scalars(
            select(OrderEventRow).where(OrderEventRow.order_id == order_id).order_by(OrderEventRow.at, OrderEventRow.id)
        )
    )


def engine_events(rows: list[OrderEventRow]) -> list[Event]:
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
    order: OrderRow, events: list[OrderEventRow], at: datetime, reason: Reason, calendar: WorkCalendar
) -> Quote | None:
    """The engine's quote for a paid order as of ``at``; None before payment."""
    if order.paid_at is None or order.status is not OrderStatus.PAID:
        return None
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
        product_to_domain(order.product),
        policy_to_domain(order.policy),
        domain_order,
        engine_events(events),
        RefundRequest(at=max(at, order.paid_at), reason=reason),
        calendar,
        SHANGHAI,
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
        order = _visible_order(uow, viewer, order_no)
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


def _available_actions(view: OrderView, viewer: Viewer) -> list[str]:
    order, membership = view.order, view.membership
    actions: list[str] = []
    if order.status is OrderStatus.PENDING_PAYMENT:
        actions += ["pay", "cancel"]
    if order.status is OrderStatus.PAID and viewer.user_id == order.user_id:
        if membership is not None and membership.status is MembershipStatus.PENDING_ACTIVATION:
            actions += ["activate", "claim_trial"]
        if membership is not None and membership.status is MembershipStatus.ACTIVE:
            actions.append("use_benefit")
        if view.card_key is not None and view.card_key.status in {CardKeyStatus.DELIVERED, CardKeyStatus.REVEALED}:
            actions.append("reveal_key")
    if order.status is OrderStatus.PAID and viewer.is_staff:
        actions += ["record_outage", "record_merchant_gone"]
    return actions


# --------------------------------------------------------------------------------------------
# Usage: what the engine reads as evidence


def record_usage(
    uow: UnitOfWork, viewer: Viewer, order_no: str, action: str, now: datetime, benefit: str | None = None
) -> OrderEventRow:
    """The buyer activates, claims a trial, or uses a benefit. Each becomes an event."""
    with uow:
        order = _visible_order(uow, viewer, order_no, lock=True)
        if order.user_id != viewer.user_id:
            raise not_found("订单", "Order")  # staff do not use a consumer's benefits
        if order.status is not OrderStatus.PAID:
            raise Conflict("not_paid", "订单未支付或已关闭", "The order is not paid or is closed", "status")
        if order.refunded_fen:
            # Benefits are frozen from the moment a refund is approved, not only when it arrives.
            raise Conflict(
                "refund_in_progress", "退款处理中,权益已冻结", "A refund is under way; benefits are frozen", "status"
            )
        membership = uow.session.scalar(
            select(MembershipRow).where(MembershipRow.order_id == order.id).with_for_update()
        )
        if membership is None:
            raise InvalidInput("not_membership", "该订单不是会员", "This order is not a membership", "action")
        product = order.product
        if action in {"activate", "claim_trial"}:
            if membership.status is not MembershipStatus.PENDING_ACTIVATION:
                raise Conflict("already_active", "会员已激活", "The membership is already active", "action")
            _activate(membership, product, now)
            type_ = EventType.ACTIVATED if action == "activate" else EventType.TRIAL_CLAIMED
            event = add_order_event(uow, order, type_.value, now, viewer.user_id, viewer.role, benefit=benefit)
        elif action == "use_benefit":
            if membership.status is MembershipStatus.PENDING_ACTIVATION:
                _activate(membership, product, now)  # first use activates (RULES.md section 1)
            if membership.status is not MembershipStatus.ACTIVE:
                raise Conflict("not_active", "会员不在有效期内", "The membership is not active", "action")
            benefits = product.benefits or {}
            if benefits and benefit not in benefits:
                raise InvalidInput(
                    "unknown_benefit", "该会员没有此项权益", "This membership has no such benefit", "benefit"
                )
            event = add_order_event(
                uow, order, EventType.BENEFIT_USED.value, now, viewer.user_id, viewer.role, benefit=benefit or "default"
            )
        else:
            raise InvalidInput("unknown_action", "未知操作", f"Unknown action {action!r}", "action")
        order.updated_at = now
        uow.commit()
        return event


def _activate(membership: MembershipRow, product: ProductRow, now: datetime) -> None:
    membership.status = MEMBERSHIP.apply(membership.status, "activate")
    membership.activated_at = now
    membership.expires_at = term_end(product_to_domain(product), now, SHANGHAI)
    if membership.auto_renew:
        membership.renews_at = membership.expires_at


def record_platform_event(
    uow: UnitOfWork,
    viewer: Viewer,
    order_no: str,
    type_: EventType,
    now: datetime,
    hours: Decimal | None = None,
    note: str = "",
) -> OrderEventRow:
    """Staff record what the platform or merchant did: an outage, a merchant gone."""
    if not viewer.is_staff:
        raise not_found("订单", "Order")
    if type_ not in {EventType.OUTAGE, EventType.MERCHANT_GONE}:
        raise InvalidInput("bad_event", "不支持的事件类型", f"Staff cannot record {type_.value}", "type")
    if type_ is EventType.OUTAGE and (hours is None or hours <= 0 or hours > 24 * 366):
        raise InvalidInput("bad_hours", "请填写中断小时数", "Give the outage length in hours (> 0)", "hours")
    with uow:
        order = _visible_order(uow, viewer, order_no, lock=True)
        event = add_order_event(uow, order, type_.value, now, viewer.user_id, viewer.role, hours=hours, note=note)
        uow.commit()
        return event


def reveal_card_key(uow: UnitOfWork, viewer: Viewer, order_no: str, now: datetime) -> str:
    """The key's code, to its buyer only; the first reveal is recorded as an event."""
    with uow:
        order = _visible_order(uow, viewer, order_no, lock=True)
        if order.user_id != viewer.user_id:
            raise not_found("订单", "Order")  # not even staff read a consumer's key
        key = uow.session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id).with_for_update())
        if key is None or key.status not in {CardKeyStatus.DELIVERED, CardKeyStatus.REVEALED}:
            raise Conflict("no_key", "没有可查看的卡密", "There is no card key to show", None)
        if key.status is CardKeyStatus.DELIVERED:
            key.status = CARD_KEY.apply(key.status, "reveal")
            key.revealed_at = now
            add_order_event(uow, order, "key_revealed", now, viewer.user_id, viewer.role)
            uow.commit()
        return key.code


def expire_memberships(uow: UnitOfWork, now: datetime, batch: int = 200) -> int:
    with uow:
        rows = uow.session.scalars(
            select(MembershipRow)
            .where(MembershipRow.status == MembershipStatus.ACTIVE, MembershipRow.expires_at <= now)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.status = MEMBERSHIP.apply(row.status, "expire")
        uow.commit()
        return len(rows)


__all__ = ["ServiceError"]
