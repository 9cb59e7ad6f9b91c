"""A renewal's charge, asked of the channel from the outbox and applied once (see
:mod:`kameng.subscriptions.renewals` for the sweep that requests it).

The channel is called outside any transaction; the answer is applied in a new one that locks the
charge and does nothing if this attempt's answer was applied already. A refused charge is tried
again later under a new ``out_trade_no`` until the attempts run out, then the subscription lapses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from kameng.catalog.services import product_to_domain
from kameng.channels.ports import ChargeAnswer, RecurringCharges
from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import EventType, OrderEventType
from kameng.domain.money import format_yuan
from kameng.domain.refund import term_end
from kameng.domain.states import MEMBERSHIP, MembershipStatus, PaymentStatus
from kameng.domain.subscriptions import (
    RENEWAL_CHARGE,
    SUBSCRIPTION,
    RenewalChargeStatus,
    SubscriptionStatus,
    next_attempt_at,
)
from kameng.messages.services import tell
from kameng.orders.history import add_order_event
from kameng.orders.models import MembershipRow, OrderRow, PaymentRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import localtime
from kameng.platform.ledger import post_entry
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow
from kameng.subscriptions.renewals import RenewalRules, UowFactory, charge_out_trade_no
from kameng.webhooks import events as webhooks

# A charge this close to the old term's end continues it without a gap.
ON_TIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class _Ask:
    agreement_no: str
    out_trade_no: str
    amount_fen: int


def charge_renewal(
    uow_factory: UowFactory, charges: RecurringCharges, charge_id: int, now: datetime, rules: RenewalRules
) -> str:
    """One attempt at a renewal's charge: read it (short transaction), ask the channel (outside
    any), apply the answer (a new transaction, once). Returns what happened."""
    with uow_factory() as uow:
        ask = _ready(uow, charge_id, now)
        if ask is None:
            return "skipped"
    answer = charges.charge(ask.agreement_no, ask.out_trade_no, ask.amount_fen, now)
    with uow_factory() as uow:
        outcome = _apply(uow, charge_id, ask, answer, now, rules)
        uow.commit()
        return outcome


def _ready(uow: UnitOfWork, charge_id: int, now: datetime) -> _Ask | None:
    charge = uow.session.scalar(select(RenewalChargeRow).where(RenewalChargeRow.id == charge_id).with_for_update())
    if charge is None or charge.status is not RenewalChargeStatus.PENDING or charge.next_attempt_at is not None:
        return None  # applied already, cancelled, or waiting for its retry time
    sub = uow.session.get(SubscriptionRow, charge.subscription_id)
    assert sub is not None
    if sub.status is not SubscriptionStatus.ACTIVE:
        charge.status = RENEWAL_CHARGE.apply(charge.status, "cancel")
        sub.pending_charge_id = None
        uow.commit()
        return None
    return _Ask(sub.sub_no, charge.out_trade_no, charge.amount_fen)


def _apply(uow: UnitOfWork, charge_id: int, ask: _Ask, answer: ChargeAnswer, now: datetime, rules: RenewalRules) -> str:
    session = uow.session
    charge = session.scalar(select(RenewalChargeRow).where(RenewalChargeRow.id == charge_id).with_for_update())
    assert charge is not None
    if charge.status is not RenewalChargeStatus.PENDING or charge.out_trade_no != ask.out_trade_no:
        return "already_applied"  # another worker applied this attempt's answer first
    sub = session.scalar(select(SubscriptionRow).where(SubscriptionRow.id == charge.subscription_id).with_for_update())
    order = session.scalar(select(OrderRow).where(OrderRow.id == charge.order_id).with_for_update(of=OrderRow))
    membership = session.scalar(
        select(MembershipRow).where(MembershipRow.order_id == charge.order_id).with_for_update()
    )
    assert sub is not None
    assert order is not None
    assert membership is not None
    charge.attempts += 1
    if answer.succeeded:
        _renewed(uow, charge, sub, order, membership, answer, now)
        return "renewed"
    charge.failure = (answer.failure or "refused")[:200]
    retry_at = next_attempt_at(now, charge.attempts, rules.max_attempts, rules.retry_hours)
    add_order_event(
        uow,
        order,
        OrderEventType.RENEWAL_CHARGE_FAILED,
        now,
        None,
        None,
        amount_fen=charge.amount_fen,
        note=charge.failure,
    )
    if retry_at is not None and sub.status is SubscriptionStatus.ACTIVE:
        charge.next_attempt_at = retry_at
        charge.out_trade_no = charge_out_trade_no(sub.sub_no, charge.period, charge.attempts + 1)
        return "retry"
    charge.status = RENEWAL_CHARGE.apply(charge.status, "give_up")
    sub.pending_charge_id = None
    sub.updated_at = now
    if sub.status is SubscriptionStatus.ACTIVE:
        sub.status = SUBSCRIPTION.apply(sub.status, "lapse")
    order.auto_renew = False
    membership.auto_renew = False
    membership.renews_at = None
    add_order_event(uow, order, OrderEventType.AUTO_RENEW_LAPSED, now, None, None, note=f"{charge.attempts} attempts")
    product = order.product
    tell(
        uow,
        sub.user_id,
        f"auto_renew_lapsed:{charge.id}",
        "auto_renew_lapsed",
        "sub.msg.lapsed",
        {
            "product": {"zh": product.name_zh, "en": product.name_en},
            "amount": format_yuan(charge.amount_fen),
            "attempts": charge.attempts,
            "until": localtime(membership.expires_at) if membership.expires_at else "—",
        },
        now,
    )
    return "lapsed"


def _renewed(
    uow: UnitOfWork,
    charge: RenewalChargeRow,
    sub: SubscriptionRow,
    order: OrderRow,
    membership: MembershipRow,
    answer: ChargeAnswer,
    now: datetime,
) -> None:
    """The money was taken: a payment row, a `renewed` event (the engine's evidence of the new
    period), the term extended from where the last one ends, the sale in the ledger, and the
    message, which says when no qualifying reminder came first that the renewal is refundable
    in full at once (RULES.md S2)."""
    session = uow.session
    charge.status = RENEWAL_CHARGE.apply(charge.status, "succeed")
    charge.settled_at = now
    charge.channel_txn_no = answer.transaction_id
    sub.renewals = charge.period
    sub.period_started_at = now
    sub.pending_charge_id = None
    sub.updated_at = now
    payment = PaymentRow(
        order_id=order.id,
        user_id=order.user_id,
        out_trade_no=charge.out_trade_no,
        channel=order.channel,
        amount_fen=charge.amount_fen,
        status=PaymentStatus.SUCCEEDED,
        channel_txn_no=answer.transaction_id,
        created_at=now,
        settled_at=now,
    )
    session.add(payment)
    session.flush()
    add_order_event(
        uow, order, EventType.RENEWED, now, None, None, amount_fen=charge.amount_fen, note=f"period {charge.period}"
    )
    product = order.product
    # The new term follows the old one without a gap when charged on time (the expiry step may
    # have run a moment earlier); after retries, when access had stopped, it starts now instead,
    # so that no paid day lies in the past.
    old_end = membership.expires_at
    start = old_end if old_end is not None and now - old_end <= ON_TIME else now
    if membership.status in {MembershipStatus.ACTIVE, MembershipStatus.EXPIRED}:
        membership.status = MEMBERSHIP.apply(membership.status, "renew")
    membership.expires_at = term_end(product_to_domain(product), start, SHANGHAI)
    still_renewing = sub.status is SubscriptionStatus.ACTIVE
    membership.renews_at = membership.expires_at if still_renewing else None
    webhooks.emit(
        uow,
        webhooks.EventType.SUBSCRIPTION_RENEWED,
        sub.sub_no,
        {
            "subscription_no": sub.sub_no,
            "order_no": order.order_no,
            "period": charge.period,
            "amount_fen": charge.amount_fen,
            "out_trade_no": charge.out_trade_no,
        },
        now,
    )
    post_entry(
        uow,
        kind="renewal",
        key=f"renewal:{charge.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[
            (f"channel:{order.channel.value}", charge.amount_fen),
            (f"merchant_payable:{product.merchant_id}", -charge.amount_fen),
        ],
        memo=f"renewal {charge.period} of {order.order_no}",
    )
    params: dict[str, object] = {
        "product": {"zh": product.name_zh, "en": product.name_en},
        "amount": format_yuan(charge.amount_fen),
        "until": localtime(membership.expires_at) if membership.expires_at else "—",
        "order_no": order.order_no,
    }
    text_key = "sub.msg.renewed" if charge.noticed else "sub.msg.renewed_without_notice"
    tell(uow, sub.user_id, f"renewed:{charge.id}", "renewed", text_key, params, now)
