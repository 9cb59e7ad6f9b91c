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
from typing import NamedTuple

from sqlalchemy import and_, insert, or_, select, update

from kameng.catalog.models import ProductRow
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
from kameng.messages.services import tell_many
from kameng.orders.history import add_order_events
from kameng.orders.models import MembershipRow, OrderRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import localtime
from kameng.platform.outbox import OutboxKind, enqueue, enqueue_many
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
#
# Set-based: each batch is claimed with one SELECT … FOR UPDATE OF subscriptions SKIP LOCKED
# that reads only the columns the sweep needs, and written with a few multi-row statements (the
# order events, the messages and their deliveries, the charges and their outbox rows, executemany
# UPDATEs of the subscriptions and memberships), never a unit of work per row. Two index ranges:
# charges by ``memberships.renews_at <= now``, reminders by ``memberships.remind_at`` (the renewal
# whose reminder is still owed, cleared once reminded), so no pass re-reads what was reminded.


class _Due(NamedTuple):
    sub_id: int
    sub_no: str
    user_id: int
    order_id: int
    order_no: str
    price_fen: int
    renewals: int
    period_started_at: datetime | None
    reminded_for: datetime | None
    reminded_at: datetime | None
    membership_id: int
    renews_at: datetime
    due: datetime
    remind_at: datetime | None
    ended: bool  # the order was refunded or closed since: nothing is left to renew
    product_id: int
    paid_at: datetime | None


def sweep_renewals(uow_factory: UowFactory, now: datetime, rules: RenewalRules, batch: int = 500) -> dict[str, int]:
    """Everything due by ``now``: charge requests for renewals whose time has come, reminders of
    renewals within the reminder window, and retries of failed charges."""
    figures = {"renewal_reminders": 0, "renewal_charges": 0, "renewals_ended": 0, "renewal_retries": 0}
    horizon = now + timedelta(days=max(rules.reminder_days, RENEWAL_NOTICE_DAYS))
    products: dict[int, dict[str, str]] = {}
    _sweep_range(uow_factory, now, now, charging=True, batch=batch, figures=figures, products=products)
    _sweep_range(uow_factory, now, horizon, charging=False, batch=batch, figures=figures, products=products)
    figures["renewal_retries"] = _queue_retries(uow_factory, now, batch)
    return figures


def _sweep_range(
    uow_factory: UowFactory,
    now: datetime,
    until: datetime,
    *,
    charging: bool,
    batch: int,
    figures: dict[str, int],
    products: dict[int, dict[str, str]],
) -> None:
    due_column = MembershipRow.renews_at if charging else MembershipRow.remind_at
    after: tuple[datetime, int] | None = None  # keyset: each pass reads its range once
    while True:
        with uow_factory() as uow:
            # Small multi-row INSERT pages: a statement this short is parsed once by the driver and
            # then reused, where a 1,000-row page is parsed anew each time.
            uow.session.connection(execution_options={"insertmanyvalues_page_size": INSERT_PAGE})
            query = (
                select(
                    SubscriptionRow.id,
                    SubscriptionRow.sub_no,
                    SubscriptionRow.user_id,
                    SubscriptionRow.order_id,
                    OrderRow.order_no,
                    SubscriptionRow.price_fen,
                    SubscriptionRow.renewals,
                    SubscriptionRow.period_started_at,
                    SubscriptionRow.reminded_for,
                    SubscriptionRow.reminded_at,
                    MembershipRow.id,
                    MembershipRow.renews_at,
                    due_column,
                    MembershipRow.remind_at,
                    or_(OrderRow.status != OrderStatus.PAID, MembershipRow.status == MembershipStatus.CLOSED),
                    OrderRow.product_id,
                    OrderRow.paid_at,
                )
                .join(MembershipRow, MembershipRow.order_id == SubscriptionRow.order_id)
                .join(OrderRow, OrderRow.id == SubscriptionRow.order_id)
                .where(
                    SubscriptionRow.status == SubscriptionStatus.ACTIVE,
                    SubscriptionRow.pending_charge_id.is_(None),
                    MembershipRow.auto_renew.is_(True),
                    due_column <= until,
                )
            )
            if not charging:
                query = query.where(MembershipRow.renews_at > now)  # the charge pass took the rest
            if after is not None:
                query = query.where(
                    or_(due_column > after[0], and_(due_column == after[0], SubscriptionRow.id > after[1]))
                )
            rows = [
                _Due._make(row)
                for row in uow.session.execute(
                    query.order_by(due_column, SubscriptionRow.id)
                    .limit(batch)
                    .with_for_update(of=SubscriptionRow, skip_locked=True)
                )
            ]
            if rows:
                after = (rows[-1].due, rows[-1].sub_id)
            ended = [row for row in rows if row.ended]
            live = [row for row in rows if not row.ended]
            _end(uow, ended, now)
            figures["renewals_ended"] += len(ended)
            if charging:
                _request_charges(uow, live, now)
                figures["renewal_charges"] += len(live)
            else:
                figures["renewal_reminders"] += _remind(uow, live, now, products)
            uow.commit()
        if len(rows) < batch:
            return


def _end(uow: UnitOfWork, rows: list[_Due], now: datetime) -> None:
    """Refunded or closed since: the subscription ends and the membership stops renewing (the
    refund switched it off too)."""
    if not rows:
        return
    ended = SUBSCRIPTION.apply(SubscriptionStatus.ACTIVE, "end")
    session = uow.session
    session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.id.in_([row.sub_id for row in rows]))
        .values(status=ended, ended_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(MembershipRow)
        .where(MembershipRow.id.in_([row.membership_id for row in rows]))
        .values(auto_renew=False, renews_at=None, remind_at=None)
        .execution_options(synchronize_session=False)
    )


def _remind(uow: UnitOfWork, rows: list[_Due], now: datetime, products: dict[int, dict[str, str]]) -> int:
    """The reminders: in the app, by e-mail and SMS (one message each, delivered from the
    outbox), and a ``renewal_notice`` event on the order, the evidence S2 reads. A row already
    reminded for this renewal (another worker got there first) is only struck off the list."""
    if not rows:
        return 0
    session = uow.session
    owed = [row for row in rows if row.reminded_for != row.renews_at]
    session.execute(
        update(MembershipRow)
        # Never a later renewal's reminder, should one have been scheduled since the read.
        .where(MembershipRow.id.in_([row.membership_id for row in rows]), MembershipRow.remind_at <= rows[-1].due)
        .values(remind_at=None)
        .execution_options(synchronize_session=False)
    )
    if not owed:
        return 0
    _load_products(uow, products, {row.product_id for row in owed})
    add_order_events(
        uow,
        [{"order_id": row.order_id, "user_id": row.user_id, "amount_fen": row.price_fen, "note": ""} for row in owed],
        EventType.RENEWAL_NOTICE,
        now,
    )
    tell_many(
        uow,
        "renewal_notice",
        "sub.msg.reminder",
        [
            (
                row.user_id,
                f"renewal_notice:{row.sub_id}:{row.renewals + 1}",
                {
                    "product": products[row.product_id],
                    "date": localtime(row.renews_at),
                    "amount": format_yuan(row.price_fen),
                    "order_no": row.order_no,
                },
            )
            for row in owed
        ],
        now,
    )
    session.execute(
        update(SubscriptionRow),  # by primary key, one executemany: the time the message states
        [{"id": row.sub_id, "reminded_for": row.renews_at, "reminded_at": now, "updated_at": now} for row in owed],
    )
    return len(owed)


def _request_charges(uow: UnitOfWork, rows: list[_Due], now: datetime) -> None:
    """The charge requests: a ``renewal_charges`` row each (unique per subscription and period),
    the subscription marked as waiting for it, and the channel asked from the outbox."""
    if not rows:
        return
    session = uow.session
    values = []
    for row in rows:
        period = row.renewals + 1
        period_start = row.period_started_at or row.paid_at
        assert period_start is not None
        reminded = row.reminded_at if row.reminded_for == row.renews_at else None
        values.append(
            {
                "subscription_id": row.sub_id,
                "user_id": row.user_id,
                "order_id": row.order_id,
                "period": period,
                "out_trade_no": charge_out_trade_no(row.sub_no, period, 1),
                "amount_fen": row.price_fen,
                "refunded_fen": 0,
                "status": RenewalChargeStatus.PENDING,
                "renews_at": row.renews_at,
                # The renewal takes effect when charged, at the latest now: a reminder that
                # qualifies for the scheduled time qualifies for any later one too.
                "noticed": notice_qualifies(reminded, period_start, row.renews_at),
                "attempts": 0,
                "created_at": now,
            }
        )
    created = session.execute(
        insert(RenewalChargeRow)
        .execution_options(insertmanyvalues_page_size=1000)
        .returning(RenewalChargeRow.id, RenewalChargeRow.subscription_id, sort_by_parameter_order=True),
        values,
    ).all()
    session.execute(
        update(SubscriptionRow)
        .where(
            SubscriptionRow.id.in_([sub_id for _, sub_id in created]),
            RenewalChargeRow.subscription_id == SubscriptionRow.id,
            RenewalChargeRow.period == SubscriptionRow.renewals + 1,
        )
        .values(pending_charge_id=RenewalChargeRow.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    unreminded = [row.membership_id for row in rows if row.remind_at is not None]
    if unreminded:  # charged without its reminder: none is owed for this renewal any more
        session.execute(
            update(MembershipRow)
            .where(MembershipRow.id.in_(unreminded))
            .values(remind_at=None)
            .execution_options(synchronize_session=False)
        )
    enqueue_many(
        uow,
        OutboxKind.CHARGE_RENEWAL,
        [(f"charge_renewal:{charge_id}:1", {"charge_id": charge_id}) for charge_id, _ in created],
        now,
    )


def _load_products(uow: UnitOfWork, products: dict[int, dict[str, str]], wanted: set[int]) -> None:
    missing = wanted - products.keys()
    if missing:
        for product_id, name_zh, name_en in uow.session.execute(
            select(ProductRow.id, ProductRow.name_zh, ProductRow.name_en).where(ProductRow.id.in_(missing))
        ):
            products[product_id] = {"zh": name_zh, "en": name_en}


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
