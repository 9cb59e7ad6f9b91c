"""Where a consumer's withdrawable cash came from: their paid top-ups, each priced by the refund
engine as a change of mind (R1 within the cooling-off window with nothing spent, else R2), and
the refunds that landed in the balance because their channel failed for good. Read inside the
caller's transaction, under the lock of the consumer's balance row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from kameng.catalog.models import ProductRow
from kameng.catalog.services import policy_to_domain
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Channel, ProductKind, Reason
from kameng.domain.states import OrderStatus, RefundStatus
from kameng.domain.wallet import RULE_REFUND_IN, LegStatus, Source, SourceKind
from kameng.orders.history import order_events, quote_for
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.wallet.models import WithdrawalLegRow

# The engine's rules a top-up is priced by; any other (none expected for a change of mind) is not
# a way to take cash out.
TOP_UP_RULES = ("R1", "R2")


def _top_ups(uow: UnitOfWork, user_id: int) -> list[OrderRow]:
    query = (
        select(OrderRow)
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .where(
            OrderRow.user_id == user_id,
            OrderRow.status == OrderStatus.PAID,
            ProductRow.kind == ProductKind.RECHARGE,
        )
        .order_by(OrderRow.id)
    )
    return list(uow.session.scalars(query))


def _refunds_in(uow: UnitOfWork, user_id: int) -> list[tuple[RefundRow, OrderRow]]:
    """Refunds paid into the balance (the consumer chose it after the channel failed for good) for
    orders paid through a channel: that money is cash, and goes back to the order's channel."""
    query = (
        select(RefundRow, OrderRow)
        .join(OrderRow, OrderRow.id == RefundRow.order_id)
        .where(
            RefundRow.user_id == user_id,
            RefundRow.purpose == "ticket",
            RefundRow.channel == Channel.BALANCE,
            RefundRow.status == RefundStatus.SUCCEEDED,
            OrderRow.channel != Channel.BALANCE,
        )
        .order_by(OrderRow.id)
    )
    return [(refund, order) for refund, order in uow.session.execute(query).all()]


def _fees_kept(uow: UnitOfWork, order_ids: list[int]) -> dict[int, int]:
    """Per top-up, the fees of its legs that were not returned: the part of its withdrawable cash
    that left the balance without reaching the channel."""
    if not order_ids:
        return {}
    rows = uow.session.execute(
        select(WithdrawalLegRow.order_id, func.sum(WithdrawalLegRow.fee_fen))
        .where(
            WithdrawalLegRow.order_id.in_(order_ids),
            WithdrawalLegRow.source_kind == SourceKind.TOP_UP,
            WithdrawalLegRow.status != LegStatus.RETURNED,
        )
        .group_by(WithdrawalLegRow.order_id)
    ).all()
    return {order_id: int(total or 0) for order_id, total in rows}


def _taken_from_refunds(uow: UnitOfWork, refund_ids: list[int]) -> dict[int, int]:
    if not refund_ids:
        return {}
    rows = uow.session.execute(
        select(WithdrawalLegRow.source_refund_id, func.sum(WithdrawalLegRow.gross_fen))
        .where(WithdrawalLegRow.source_refund_id.in_(refund_ids), WithdrawalLegRow.status != LegStatus.RETURNED)
        .group_by(WithdrawalLegRow.source_refund_id)
    ).all()
    return {refund_id: int(total or 0) for refund_id, total in rows if refund_id is not None}


def withdrawal_sources(uow: UnitOfWork, user_id: int, now: datetime, calendar: WorkCalendar) -> list[Source]:
    """Every payment the consumer's cash can go back to, with what may still be withdrawn from it.

    A top-up's withdrawable cash is the engine's quote before its fee (R1: all of it; R2: paid
    less the cash already spent), less what went back already (``refunded_fen``: the legs paid or
    on their way, and any after-sales refund) and the fees those legs kept. The services call it
    holding the consumer's balance row: every change to these numbers takes that lock first."""
    sources: list[Source] = []
    top_ups = _top_ups(uow, user_id)
    fees = _fees_kept(uow, [order.id for order in top_ups])
    for order in top_ups:
        quote = quote_for(order, order_events(uow, order.id, order.user_id), now, Reason.CHANGED_MIND, calendar)
        if quote is None or not quote.rules or quote.rules[0] not in TOP_UP_RULES or order.paid_at is None:
            continue
        before_fee = sum(line.amount for line in quote.lines if line.code != "fee")
        available = before_fee - order.refunded_fen - fees.get(order.id, 0)
        sources.append(
            Source(
                kind=SourceKind.TOP_UP,
                order_id=order.id,
                channel=order.channel,
                at=order.paid_at,
                rule=quote.rules[0],
                available=max(0, available),
                paid=order.amount_fen,
                bonus=order.bonus_fen,
                policy=policy_to_domain(order.policy),
            )
        )
    refunds = _refunds_in(uow, user_id)
    taken = _taken_from_refunds(uow, [refund.id for refund, _ in refunds])
    for refund, order in refunds:
        sources.append(
            Source(
                kind=SourceKind.REFUND_IN,
                order_id=order.id,
                channel=order.channel,
                at=refund.settled_at or refund.created_at,
                rule=RULE_REFUND_IN,
                available=max(0, refund.amount_fen - taken.get(refund.id, 0)),
                refund_id=refund.id,
            )
        )
    return [source for source in sources if source.available > 0]
