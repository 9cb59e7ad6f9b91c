"""Orders: checkout, payment confirmation, usage events, card keys, and the quote as of now.

Every function here opens one unit of work and commits at most once, so a failure at any point
leaves the data as it was. Consumers see only their own orders: another person's order answers
"not found", the same as an order that does not exist, so order numbers cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kameng.accounts.sessions import BearerSignIn, signed_in
from kameng.catalog.models import CouponRow, ProductRow
from kameng.channels.ports import PaymentChannel
from kameng.domain.model import (
    Channel,
    EventType,
    OrderEventType,
    ProductKind,
)
from kameng.domain.states import (
    CARD_KEY,
    CardKeyStatus,
    OrderStatus,
    PaymentStatus,
)
from kameng.domain.users import Role
from kameng.orders.checkout_reads import DUPLICATE_WINDOW, RECENT_DUPLICATE, checkout_reads
from kameng.orders.history import add_order_event
from kameng.orders.models import CardKeyRow, OrderEventRow, OrderRow, PaymentRow
from kameng.orders.numbers import draw_until_free, new_order_no, payment_out_trade_no
from kameng.orders.payments import SETTLEMENT_ROWS, SETTLEMENT_SERVER_IDS, settle
from kameng.platform import inputs
from kameng.platform.db.ids import take_id
from kameng.platform.db.step_end import write_step_end
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, ServiceError, not_found
from kameng.platform.ledger_models import BalanceRow
from kameng.subscriptions.consent import consent_terms, record_consent

PAYMENT_WINDOW = timedelta(minutes=15)


# --------------------------------------------------------------------------------------------
# Checkout


@dataclass(frozen=True)
class CheckoutRequest:
    # Who buys: their user id, or (the API) a bearer secret not looked up yet, which the
    # checkout's reads look up in their one statement (orders/checkout_reads.py).
    buyer: int | BearerSignIn
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
    # What the auto-renewal box agrees to, in every language (None when the product cannot renew).
    renewal_terms: dict[str, str] | None = None


@dataclass(frozen=True)
class PlacedOrder:
    order_no: str
    status: OrderStatus
    amount_fen: int
    out_trade_no: str | None
    pay_url: str | None
    replayed: bool = False


def _product_by_slug(uow: UnitOfWork, slug: str) -> ProductRow:
    slug = inputs.clean_text(slug, inputs.SLUG, "product")
    row = uow.session.scalar(select(ProductRow).where(ProductRow.slug == slug, ProductRow.active.is_(True)))
    if row is None:
        raise InvalidInput(ErrorCode.UNKNOWN_PRODUCT, "error.unknown_product", "product")
    return row


def _coupon(uow: UnitOfWork, code: str, user_id: int, list_price: int, now: datetime, lock: bool) -> CouponRow:
    code = inputs.clean_text(code, inputs.COUPON_CODE, "coupon")
    query = select(CouponRow).where(CouponRow.code == code.upper())
    if lock:
        query = query.with_for_update()
    coupon = uow.session.scalar(query)
    if coupon is None or (coupon.user_id is not None and coupon.user_id != user_id):
        raise InvalidInput(ErrorCode.BAD_COUPON, "error.bad_coupon", "coupon")
    if coupon.used_by_order_id is not None:
        raise InvalidInput(ErrorCode.COUPON_USED, "error.coupon_used", "coupon")
    if coupon.expires_at is not None and coupon.expires_at <= now:
        raise InvalidInput(ErrorCode.COUPON_EXPIRED, "error.coupon_expired", "coupon")
    if list_price < coupon.min_spend_fen:
        raise InvalidInput(ErrorCode.COUPON_MIN_SPEND, "error.coupon_min_spend", "coupon")
    return coupon


def _recent_duplicate(uow: UnitOfWork, user_id: int, product_id: int, now: datetime) -> str | None:
    since = now - DUPLICATE_WINDOW
    return uow.session.scalar(RECENT_DUPLICATE, {"user_id": user_id, "product_id": product_id, "since": since})


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
            renewal_terms=consent_terms(product)["text"] if product.renewable else None,
        )


# The rows a plain checkout adds (the order and its payment), written at its end: their ids are
# drawn with its reads (orders/checkout_reads.py).
PLACED_ROWS = frozenset({"orders", "payments"})
# What a checkout writes at its end: those, and a balance payment's settlement rows.
WRITTEN_AT_THE_END = PLACED_ROWS | SETTLEMENT_ROWS


def place_order(uow: UnitOfWork, command: CheckoutRequest, now: datetime, channel: PaymentChannel) -> PlacedOrder:
    """Create the order (and reserve its card key); pay at once from the balance, or hand back
    the channel's pay URL. Retrying with the same idempotency key returns the same order."""
    if command.idempotency_key is not None:
        key = inputs.clean_text(command.idempotency_key, inputs.IDEMPOTENCY_KEY, "idempotency_key")
        command = replace(command, idempotency_key=key)
    try:
        # The payment's out_trade_no is made from the order number (P + order_no).
        return draw_until_free(("order_no", "out_trade_no"), lambda: _place_order(uow, command, now, channel))
    except IntegrityError:
        # A concurrent retry with the same idempotency key won the insert: answer with its order.
        if command.idempotency_key is None:
            raise
        with uow:
            buyer = command.buyer
            user_id = buyer if isinstance(buyer, int) else signed_in(uow.session.connection(), None, buyer).user_id
            existing = _order_by_key(uow, user_id, command.idempotency_key)
            if existing is None:
                raise
            return _replay(uow, existing, command, channel)


def _order_by_key(uow: UnitOfWork, user_id: int, key: str) -> OrderRow | None:
    return uow.session.scalar(select(OrderRow).where(OrderRow.user_id == user_id, OrderRow.idempotency_key == key))


def _replay(uow: UnitOfWork, order: OrderRow, command: CheckoutRequest, channel: PaymentChannel) -> PlacedOrder:
    """The answer to a retry: the first order, if the retry asks for the same purchase. A key names
    one purchase: reusing it for another product or channel is a client bug that would otherwise be
    answered, silently, with the wrong order (checked here, so the page and the API both get it)."""
    if order.product.slug != command.product_slug or order.channel is not command.channel:
        raise Conflict(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "error.idempotency_key_reused", "idempotency_key", order_no=order.order_no
        )
    return _placed(uow, order, channel, replayed=True)


def _placed(
    uow: UnitOfWork, order: OrderRow, channel: PaymentChannel, replayed: bool = False, payment: PaymentRow | None = None
) -> PlacedOrder:
    """The answer about ``order``; ``payment`` is its first payment when the caller has it (a new
    order: read again, it would cost a statement and a transaction after the commit)."""
    if payment is None:
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


def _place_order(uow: UnitOfWork, command: CheckoutRequest, now: datetime, channel: PaymentChannel) -> PlacedOrder:
    with uow:
        session = uow.session
        reads = checkout_reads(uow, command.buyer, command.product_slug, command.idempotency_key, now)
        user_id = reads.buyer_id
        if command.idempotency_key and (reads.product is None or reads.keyed_order_id is not None):
            # A retry is answered with its order even when the product is gone since.
            existing = _order_by_key(uow, user_id, command.idempotency_key)
            if existing is not None:
                return _replay(uow, existing, command, channel)
        if reads.product is None:
            _product_by_slug(uow, command.product_slug)  # says why: not a slug, or no such product
            raise AssertionError("unreachable: the product was not found a moment ago")
        product = reads.product
        if product.kind is ProductKind.VIRTUAL_GOODS and not command.nonrefundable_ack:
            raise InvalidInput(
                ErrorCode.NONREFUNDABLE_ACK_REQUIRED, "error.nonrefundable_ack_required", "nonrefundable_ack"
            )
        if command.auto_renew and not product.renewable:
            raise InvalidInput(ErrorCode.NOT_RENEWABLE, "error.not_renewable", "auto_renew")
        if product.kind is ProductKind.RECHARGE and command.channel is Channel.BALANCE:
            raise InvalidInput(ErrorCode.BALANCE_FOR_TOP_UP, "error.balance_for_top_up", "channel")
        duplicate = reads.duplicate_of
        if duplicate and not command.duplicate_ack:
            raise Conflict(
                ErrorCode.DUPLICATE_PURCHASE, "error.duplicate_purchase", "duplicate_ack", duplicate=duplicate
            )
        coupon: CouponRow | None = None
        coupon_fen = 0
        if command.coupon_code:
            coupon = _coupon(uow, command.coupon_code, user_id, product.price_fen, now, lock=True)
            coupon_fen = min(coupon.value_fen, product.price_fen)
        if reads.policy_version_id is None:
            raise not_found("refund_policy")
        order = OrderRow(
            id=take_id(uow, "orders"),
            order_no=new_order_no(now),
            user_id=user_id,
            product_id=product.id,
            policy_version_id=reads.policy_version_id,
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
        payment = PaymentRow(
            id=take_id(uow, "payments"),
            order=order,  # written together: the order's row, then the payment naming it
            user_id=order.user_id,
            out_trade_no=payment_out_trade_no(order.order_no),
            channel=command.channel,
            amount_fen=order.amount_fen,
            status=PaymentStatus.PENDING,
            created_at=now,
        )
        session.add(payment)
        pays_now = command.channel is Channel.BALANCE or order.amount_fen == 0
        if order.id is None or coupon is not None or order.auto_renew or product.uses_card_keys or pays_now:
            session.flush()  # the rows below name the order (SQLite: the flush gives it its id)
        if coupon is not None:
            coupon.used_by_order_id = order.id
        if order.auto_renew:
            record_consent(uow, order.id, order.order_no, order.user_id, product, now)
        if product.uses_card_keys:
            _reserve_card_key(uow, product.id, order, now)
        if pays_now:
            bonus_part = _pay_from_balance(uow, order, now)
            paid_for = product.paid_for()
            settle(uow, order, payment, paid_for, f"BAL{order.order_no}", at=now, bonus_part=bonus_part)
        # A plain checkout's two rows, in one statement on PostgreSQL; after a flush, what is left.
        write_step_end(session, WRITTEN_AT_THE_END, SETTLEMENT_SERVER_IDS)
        uow.commit()
        return _placed(uow, order, channel, payment=payment)


def _reserve_card_key(uow: UnitOfWork, product_id: int, order: OrderRow, now: datetime) -> CardKeyRow:
    # SKIP LOCKED: concurrent buyers take different keys instead of queueing on the same row.
    key = uow.session.scalar(
        select(CardKeyRow)
        .where(CardKeyRow.product_id == product_id, CardKeyRow.status == CardKeyStatus.AVAILABLE)
        .order_by(CardKeyRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if key is None:
        raise Conflict(ErrorCode.SOLD_OUT, "error.sold_out", "product")
    key.status = CARD_KEY.apply(key.status, "reserve")
    key.order_id = order.id
    add_order_event(uow, order, OrderEventType.KEY_RESERVED, now, None, None, note="card key held for this order")
    return key


def _pay_from_balance(uow: UnitOfWork, order: OrderRow, now: datetime) -> int:
    """Spend bonus credit first, then cash (RULES.md R2), and record the spending as `spent`
    events on the top-ups it came from, oldest first: those events are what a later top-up
    refund is computed from."""
    if order.amount_fen == 0:
        return 0
    balance = uow.session.scalar(select(BalanceRow).where(BalanceRow.user_id == order.user_id).with_for_update())
    if balance is None or balance.cash_fen + balance.bonus_fen < order.amount_fen:
        raise InvalidInput(ErrorCode.INSUFFICIENT_BALANCE, "error.insufficient_balance", "channel")
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
                EventType.SPENT,
                now,
                None,
                Role.CONSUMER,
                amount_fen=take,
                note=f"order {order.order_no}",
            )
            remaining -= take
    return from_bonus


__all__ = ["ServiceError"]
