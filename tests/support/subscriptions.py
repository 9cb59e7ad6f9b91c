"""A consumer with an auto-renewing monthly pass, and readers of what renewals left behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from kameng.accounts.models import User
from kameng.channels.simulator.models import SimCharge
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.users import Role
from kameng.messages.models import MessageRow
from kameng.orders.models import MembershipRow, OrderRow
from kameng.orders.usage import record_usage
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow
from tests.support.shop import buy


@dataclass(frozen=True)
class Subscribed:
    user: User
    viewer: Viewer
    order_no: str
    sub_no: str
    renews_at: datetime


def subscribe(
    uow: UnitOfWork,
    channel: SimulatorChannel,
    user: User,
    now: datetime,
    slug: str = "monthly-pass",
    coupon_code: str | None = None,
) -> Subscribed:
    """``user`` buys ``slug`` with auto-renewal at ``now`` (with ``coupon_code``, if given) and
    activates it a minute later."""
    placed = buy(uow, channel, user.id, slug, now, auto_renew=True, coupon_code=coupon_code)
    viewer = Viewer(user.id, Role.CONSUMER)
    record_usage(uow, viewer, placed.order_no, "activate", now + timedelta(minutes=1))
    return Subscribed(user, viewer, placed.order_no, f"S{placed.order_no}", membership(uow, placed.order_no).renews_at)  # type: ignore[arg-type]


def membership(uow: UnitOfWork, order_no: str) -> MembershipRow:
    with uow:
        row = uow.session.scalar(
            select(MembershipRow)
            .join(OrderRow, OrderRow.id == MembershipRow.order_id)
            .where(OrderRow.order_no == order_no)
        )
        assert row is not None
        return row


def sub_row(uow: UnitOfWork, sub_no: str) -> SubscriptionRow:
    with uow:
        row = uow.session.scalar(select(SubscriptionRow).where(SubscriptionRow.sub_no == sub_no))
        assert row is not None
        return row


def charges(uow: UnitOfWork, sub_no: str) -> list[RenewalChargeRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(RenewalChargeRow)
                .join(SubscriptionRow, SubscriptionRow.id == RenewalChargeRow.subscription_id)
                .where(SubscriptionRow.sub_no == sub_no)
                .order_by(RenewalChargeRow.period)
            )
        )


def bank_charges(uow: UnitOfWork, sub_no: str) -> list[SimCharge]:
    """What "the bank" (the simulator) took or refused for this subscription."""
    with uow:
        return list(
            uow.session.scalars(select(SimCharge).where(SimCharge.agreement_no == sub_no).order_by(SimCharge.id))
        )


def messages(uow: UnitOfWork, user_id: int, kind: str | None = None) -> list[MessageRow]:
    with uow:
        query = select(MessageRow).where(MessageRow.user_id == user_id).order_by(MessageRow.id)
        if kind is not None:
            query = query.where(MessageRow.kind == kind)
        return list(uow.session.scalars(query))


def count(uow: UnitOfWork, model: type, *where: object) -> int:
    with uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]
