"""The consumer's subscriptions: read them (我的会员, the order page, the API), and cancel
auto-renewal after the step-up check, effective at once, with a cancellation number and receipt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.catalog.models import ProductRow
from kameng.domain.model import OrderEventType
from kameng.domain.money import format_yuan
from kameng.domain.states import MembershipStatus, OrderStatus
from kameng.domain.subscriptions import SUBSCRIPTION, RenewalChargeStatus, SubscriptionStatus
from kameng.domain.users import Role
from kameng.messages.services import tell
from kameng.orders.history import add_order_event
from kameng.orders.models import MembershipRow, OrderRow
from kameng.orders.numbers import new_order_no
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.platform.i18n import localtime
from kameng.settings import Settings
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow
from kameng.subscriptions.stepup import CANCEL_AUTO_RENEWAL, StepUpFailed, check_code, check_password
from kameng.webhooks import events as webhooks


def renewal_offer(settings: Settings) -> dict[str, str] | None:
    """The operator's offer, shown beside the cancel button (never in its way), if configured."""
    zh, en = settings.renewal_offer_zh, settings.renewal_offer_en
    return {"zh": zh or en, "en": en or zh} if zh or en else None


@dataclass(frozen=True)
class SubscriptionView:
    row: SubscriptionRow
    order_no: str
    product: ProductRow
    membership_status: MembershipStatus | None
    expires_at: datetime | None
    renews_at: datetime | None  # the next renewal, while auto-renewal is on and the term has started
    charges: list[RenewalChargeRow]

    @property
    def status(self) -> SubscriptionStatus:
        """As the consumer should read it: a subscription whose membership was refunded or closed
        has ended, whatever its row says (the refund closes the membership, not this row)."""
        if self.row.status is SubscriptionStatus.ACTIVE and self.membership_status in {MembershipStatus.CLOSED, None}:
            return SubscriptionStatus.ENDED
        return self.row.status

    @property
    def cancellable(self) -> bool:
        return self.status is SubscriptionStatus.ACTIVE


def _views(uow: UnitOfWork, query_rows: list[SubscriptionRow]) -> list[SubscriptionView]:
    views = []
    for row in query_rows:
        order = uow.session.get(OrderRow, row.order_id)
        assert order is not None
        membership = uow.session.scalar(select(MembershipRow).where(MembershipRow.order_id == row.order_id))
        if order.status is not OrderStatus.PAID and membership is not None:
            status: MembershipStatus | None = MembershipStatus.CLOSED
        else:
            status = membership.status if membership else None
        charges = list(
            uow.session.scalars(
                select(RenewalChargeRow)
                .where(RenewalChargeRow.subscription_id == row.id)
                .order_by(RenewalChargeRow.period)
            )
        )
        renews_at = membership.renews_at if membership and membership.auto_renew else None
        views.append(
            SubscriptionView(
                row,
                order.order_no,
                order.product,
                status,
                membership.expires_at if membership else None,
                renews_at,
                charges,
            )
        )
    return views


def my_subscriptions(uow: UnitOfWork, viewer: Viewer) -> list[SubscriptionView]:
    """The viewer's subscriptions whose order was paid, newest first (我的会员)."""
    with uow:
        rows = uow.session.scalars(
            select(SubscriptionRow)
            .join(OrderRow, OrderRow.id == SubscriptionRow.order_id)
            .where(SubscriptionRow.user_id == viewer.user_id, OrderRow.paid_at.is_not(None))
            .order_by(SubscriptionRow.id.desc())
            .limit(200)
        ).all()
        return _views(uow, list(rows))


def _own(uow: UnitOfWork, viewer: Viewer, sub_no: str, lock: bool = False) -> SubscriptionRow:
    # Someone else's subscription is not found, exactly like one that does not exist.
    if not (len(sub_no) == 15 and sub_no.startswith("S") and sub_no[1:].isdigit()):
        raise not_found("subscription")
    query = select(SubscriptionRow).where(SubscriptionRow.sub_no == sub_no, SubscriptionRow.user_id == viewer.user_id)
    if lock:
        query = query.with_for_update()
    row = uow.session.scalar(query)
    if row is None:
        raise not_found("subscription")
    return row


def subscription(uow: UnitOfWork, viewer: Viewer, sub_no: str) -> SubscriptionView:
    with uow:
        return _views(uow, [_own(uow, viewer, sub_no)])[0]


def subscription_of_order(uow: UnitOfWork, order_id: int) -> SubscriptionView | None:
    """The order page's: the subscription of this order, if it was placed with auto-renewal."""
    with uow:
        row = uow.session.scalar(select(SubscriptionRow).where(SubscriptionRow.order_id == order_id))
        return _views(uow, [row])[0] if row is not None else None


@dataclass(frozen=True)
class CancelAutoRenewal:
    sub_no: str
    code: str = ""
    password: str = ""
    reason: str = ""  # optional, never a condition
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Cancelled:
    view: SubscriptionView
    replayed: bool


def cancel_auto_renewal(
    uow: UnitOfWork, viewer: Viewer, command: CancelAutoRenewal, now: datetime, secret: str
) -> Cancelled:
    """Stop auto-renewal at once, after the step-up check (the SMS code, or the password). The
    membership runs to the end of its term; nothing more is charged. Safe to repeat: the same
    idempotency key, or a subscription already cancelled, answers with the first receipt."""
    reason = inputs.clean_text(command.reason, inputs.NOTE, "reason")
    with uow:
        session = uow.session
        if command.idempotency_key:
            earlier = session.scalar(
                select(SubscriptionRow).where(
                    SubscriptionRow.user_id == viewer.user_id, SubscriptionRow.cancel_key == command.idempotency_key
                )
            )
            if earlier is not None:
                if earlier.sub_no != command.sub_no:
                    raise Conflict(ErrorCode.IDEMPOTENCY_KEY_REUSED, "error.idempotency_key_reused", "Idempotency-Key")
                return Cancelled(_views(uow, [earlier])[0], replayed=True)
        row = _own(uow, viewer, command.sub_no, lock=True)
        if row.status is SubscriptionStatus.CANCELLED:
            return Cancelled(_views(uow, [row])[0], replayed=True)
        view = _views(uow, [row])[0]
        if not view.cancellable:
            raise Conflict(ErrorCode.NOT_AUTO_RENEWING, "sub.error.not_auto_renewing", "status")
        user = session.get(User, viewer.user_id)
        assert user is not None
        if command.code:
            try:
                check_code(uow, user, CANCEL_AUTO_RENEWAL, command.code, now, secret)
            except StepUpFailed as failed:
                uow.commit()  # the attempt counts, even though the cancellation does not happen
                raise failed.error from None
            step_up = "sms_code"
        elif command.password:
            try:
                check_password(uow, user, CANCEL_AUTO_RENEWAL, command.password, now)
            except StepUpFailed as failed:
                uow.commit()  # the wrong password counts, even though the cancellation does not happen
                raise failed.error from None
            step_up = "password"
        else:
            raise InvalidInput(ErrorCode.STEP_UP_REQUIRED, "sub.error.step_up_required", "code")
        _cancel(uow, row, viewer, now, reason, step_up, command.idempotency_key)
        uow.commit()
        return Cancelled(_views(uow, [row])[0], replayed=False)


def _cancel(
    uow: UnitOfWork, row: SubscriptionRow, viewer: Viewer, now: datetime, reason: str, step_up: str, key: str | None
) -> None:
    session = uow.session
    row.status = SUBSCRIPTION.apply(row.status, "cancel")
    row.cancelled_at = now
    row.cancellation_no = "C" + new_order_no(now)
    row.cancel_reason = reason or None
    row.cancel_step_up = step_up
    row.cancel_key = key
    row.updated_at = now
    if row.pending_charge_id is not None:
        charge = session.scalar(
            select(RenewalChargeRow).where(RenewalChargeRow.id == row.pending_charge_id).with_for_update()
        )
        # A retry waiting for its time is never made; an attempt already at the channel is
        # applied by its handler, which tells the consumer the renewal is refundable in full.
        if charge is not None and charge.status is RenewalChargeStatus.PENDING and charge.next_attempt_at is not None:
            charge.status = RenewalChargeStatus.CANCELLED
            charge.next_attempt_at = None
            row.pending_charge_id = None
    order = session.scalar(select(OrderRow).where(OrderRow.id == row.order_id).with_for_update(of=OrderRow))
    assert order is not None
    order.auto_renew = False
    order.updated_at = now
    membership = session.scalar(select(MembershipRow).where(MembershipRow.order_id == row.order_id).with_for_update())
    if membership is not None:
        membership.auto_renew = False
        membership.renews_at = None
    webhooks.emit(
        uow,
        webhooks.EventType.SUBSCRIPTION_CANCELLED,
        row.sub_no,
        {"subscription_no": row.sub_no, "order_no": order.order_no, "cancellation_no": row.cancellation_no},
        now,
    )
    add_order_event(
        uow,
        order,
        OrderEventType.AUTO_RENEW_CANCELLED,
        now,
        viewer.user_id,
        Role(viewer.role),
        note=f"{row.cancellation_no} ({step_up})",
    )
    product = order.product
    tell(
        uow,
        row.user_id,
        f"auto_renew_cancelled:{row.id}",
        "auto_renew_cancelled",
        "sub.msg.cancelled",
        {
            "product": {"zh": product.name_zh, "en": product.name_en},
            "no": row.cancellation_no,
            "at": localtime(now),
            "until": localtime(membership.expires_at) if membership and membership.expires_at else "—",
            "price": format_yuan(row.price_fen),
        },
        now,
    )
