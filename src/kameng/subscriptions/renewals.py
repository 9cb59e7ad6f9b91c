"""Renewals, as time passes: the sweep that finds what is due (reminders, charge requests), and
the charge itself (:mod:`kameng.subscriptions.charges`), asked of the channel from the outbox
and applied once.

Any number of workers may run the sweep at once: subscriptions are claimed with SKIP LOCKED, a
renewal's charge row is unique per (subscription, period), and a subscription with a charge under
way is left alone. The channel is called outside any transaction, with an ``out_trade_no``
derived from the subscription, the period and the attempt, so a worker killed between claiming
the charge and applying the answer leaves an outbox row that another worker runs again, and the
channel answers the same charge the second time instead of taking the money twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from kameng.domain.model import EventType
from kameng.domain.money import format_yuan
from kameng.domain.refund import RENEWAL_NOTICE_DAYS
from kameng.domain.states import MembershipStatus, OrderStatus
from kameng.domain.subscriptions import (
    SUBSCRIPTION,
    RenewalChargeStatus,
    SubscriptionStatus,
    notice_qualifies,
)
from kameng.messages.services import tell
from kameng.orders.history import add_order_event
from kameng.orders.models import MembershipRow, OrderRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import localtime
from kameng.platform.outbox import OutboxKind, enqueue
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow

UowFactory = Callable[[], UnitOfWork]
INSERT_PAGE = 16


@dataclass(frozen=True, slots=True)
class RenewalRules:
    reminder_days: int = 7
    max_attempts: int = 3
    retry_hours: int = 24


def charge_out_trade_no(sub_no: str, period: int, attempt: int) -> str:
    """Our key at the channel for one attempt at one renewal: N + the order number, the period,
    the attempt. The same attempt asked twice is the same charge."""
    return f"N{sub_no[1:]}{period:03d}{attempt:02d}"


# --------------------------------------------------------------------------------------------
# The sweep


def sweep_renewals(uow_factory: UowFactory, now: datetime, rules: RenewalRules, batch: int = 500) -> dict[str, int]:
    """Everything due by ``now``: reminders of renewals within the reminder window, charge
    requests for renewals whose time has come, and retries of failed charges."""
    figures = {"renewal_reminders": 0, "renewal_charges": 0, "renewals_ended": 0, "renewal_retries": 0}
    horizon = now + timedelta(days=max(rules.reminder_days, RENEWAL_NOTICE_DAYS))
    after: tuple[datetime, int] | None = None  # keyset: each sweep reads the window once
    while True:
        with uow_factory() as uow:
            # Small multi-row INSERT pages: a statement this short is parsed once by the driver and
            # then reused, where a 1,000-row page is parsed anew each time (most of a batch's cost).
            uow.session.connection(execution_options={"insertmanyvalues_page_size": INSERT_PAGE})
            query = (
                select(SubscriptionRow, MembershipRow, OrderRow)
                .join(MembershipRow, MembershipRow.order_id == SubscriptionRow.order_id)
                .join(OrderRow, OrderRow.id == SubscriptionRow.order_id)
                .where(
                    SubscriptionRow.status == SubscriptionStatus.ACTIVE,
                    SubscriptionRow.pending_charge_id.is_(None),
                    MembershipRow.auto_renew.is_(True),
                    MembershipRow.renews_at <= horizon,
                    or_(
                        SubscriptionRow.reminded_for.is_(None),
                        SubscriptionRow.reminded_for != MembershipRow.renews_at,
                        MembershipRow.renews_at <= now,
                    ),
                )
            )
            if after is not None:
                query = query.where(
                    or_(
                        MembershipRow.renews_at > after[0],
                        and_(MembershipRow.renews_at == after[0], SubscriptionRow.id > after[1]),
                    )
                )
            rows = uow.session.execute(
                query.order_by(MembershipRow.renews_at, SubscriptionRow.id)
                .limit(batch)
                .with_for_update(of=SubscriptionRow, skip_locked=True)
            ).all()
            requested: list[tuple[SubscriptionRow, RenewalChargeRow]] = []
            if rows:
                last_sub, last_membership, _ = rows[-1]
                assert last_membership.renews_at is not None
                after = (last_membership.renews_at, last_sub.id)
            for sub, membership, order in rows:
                figures[_sweep_one(uow, sub, membership, order, now, requested)] += 1
            _queue_charges(uow, requested, now)
            uow.commit()
        if len(rows) < batch:
            break
    figures["renewal_retries"] = _queue_retries(uow_factory, now, batch)
    return figures


def _sweep_one(
    uow: UnitOfWork,
    sub: SubscriptionRow,
    membership: MembershipRow,
    order: OrderRow,
    now: datetime,
    requested: list[tuple[SubscriptionRow, RenewalChargeRow]],
) -> str:
    assert membership.renews_at is not None
    if order.status is not OrderStatus.PAID or membership.status is MembershipStatus.CLOSED:
        # Refunded or closed since: nothing is left to renew (the refund switched it off too).
        sub.status = SUBSCRIPTION.apply(sub.status, "end")
        sub.ended_at = sub.updated_at = now
        membership.auto_renew = False
        membership.renews_at = None
        return "renewals_ended"
    if membership.renews_at <= now:
        requested.append((sub, _new_charge(uow, sub, order, membership.renews_at, now)))
        return "renewal_charges"
    _remind(uow, sub, order, membership.renews_at, now)
    return "renewal_reminders"


def _remind(uow: UnitOfWork, sub: SubscriptionRow, order: OrderRow, renews_at: datetime, now: datetime) -> None:
    """The reminder: in the app, by e-mail and SMS (one message, delivered from the outbox), and
    a ``renewal_notice`` event on the order, the evidence S2 reads."""
    sub.reminded_for, sub.reminded_at, sub.updated_at = renews_at, now, now
    add_order_event(uow, order, EventType.RENEWAL_NOTICE, now, None, None, amount_fen=sub.price_fen)
    product = order.product
    tell(
        uow,
        sub.user_id,
        f"renewal_notice:{sub.id}:{sub.renewals + 1}",
        "renewal_notice",
        "sub.msg.reminder",
        {
            "product": {"zh": product.name_zh, "en": product.name_en},
            "date": localtime(renews_at),
            "amount": format_yuan(sub.price_fen),
            "order_no": order.order_no,
        },
        now,
    )


def _new_charge(
    uow: UnitOfWork, sub: SubscriptionRow, order: OrderRow, renews_at: datetime, now: datetime
) -> RenewalChargeRow:
    period = sub.renewals + 1
    period_start = sub.period_started_at or order.paid_at
    assert period_start is not None
    reminded = sub.reminded_at if sub.reminded_for == renews_at else None
    charge = RenewalChargeRow(
        subscription_id=sub.id,
        user_id=sub.user_id,
        order_id=sub.order_id,
        period=period,
        out_trade_no=charge_out_trade_no(sub.sub_no, period, 1),
        amount_fen=sub.price_fen,
        status=RenewalChargeStatus.PENDING,
        renews_at=renews_at,
        # The renewal takes effect when charged, at the latest now: a reminder that qualifies
        # for the scheduled time qualifies for any later one too.
        noticed=notice_qualifies(reminded, period_start, renews_at),
        attempts=0,
        created_at=now,
    )
    uow.session.add(charge)
    return charge


def _queue_charges(uow: UnitOfWork, requested: list[tuple[SubscriptionRow, RenewalChargeRow]], now: datetime) -> None:
    """One flush for the batch's new charges (their ids), then each queued for the channel."""
    if not requested:
        return
    uow.session.flush()
    for sub, charge in requested:
        sub.pending_charge_id = charge.id
        sub.updated_at = now
        enqueue(uow, OutboxKind.CHARGE_RENEWAL, f"charge_renewal:{charge.id}:1", {"charge_id": charge.id}, now)


def _queue_retries(uow_factory: UowFactory, now: datetime, batch: int) -> int:
    queued = 0
    while True:
        with uow_factory() as uow:
            charges = uow.session.scalars(
                select(RenewalChargeRow)
                .where(RenewalChargeRow.status == RenewalChargeStatus.PENDING, RenewalChargeRow.next_attempt_at <= now)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            for charge in charges:
                charge.next_attempt_at = None
                key = f"charge_renewal:{charge.id}:{charge.attempts + 1}"
                enqueue(uow, OutboxKind.CHARGE_RENEWAL, key, {"charge_id": charge.id}, now)
            uow.commit()
            queued += len(charges)
        if len(charges) < batch:
            return queued
