"""Using what was bought: activation, trials and benefits (the evidence the refund engine reads),
platform events staff record, card keys shown to their buyer, and memberships that run out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from kameng.catalog.models import ProductRow
from kameng.catalog.services import product_to_domain
from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import (
    EventType,
    OrderEventType,
)
from kameng.domain.refund import term_end
from kameng.domain.states import (
    CARD_KEY,
    MEMBERSHIP,
    CardKeyStatus,
    MembershipStatus,
    OrderStatus,
)
from kameng.domain.tickets import REFUND_UNDER_WAY
from kameng.orders.history import add_order_event
from kameng.orders.models import CardKeyRow, MembershipRow, OrderEventRow, OrderRow
from kameng.orders.queries import latest_ticket, visible_order
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.platform.secrets_ring import card_key_ring

# --------------------------------------------------------------------------------------------
# Usage: what the engine reads as evidence


def record_usage(
    uow: UnitOfWork, viewer: Viewer, order_no: str, action: str, now: datetime, benefit: str | None = None
) -> OrderEventRow:
    """The buyer activates, claims a trial, or uses a benefit. Each becomes an event."""
    if benefit is not None:
        benefit = inputs.clean_text(benefit, inputs.BENEFIT, "benefit") or None
    with uow:
        order = visible_order(uow, viewer, order_no, lock=True)
        if order.user_id != viewer.user_id:
            raise not_found("order")  # staff do not use a consumer's benefits
        if order.status is not OrderStatus.PAID:
            raise Conflict(ErrorCode.NOT_PAID, "error.not_paid", "status")
        if order.refunded_fen:
            # Benefits are frozen from the moment a refund is approved, not only when it arrives.
            raise Conflict(ErrorCode.REFUND_IN_PROGRESS, "error.refund_in_progress", "status")
        if action in {"activate", "claim_trial"}:
            # Nor started while a ticket may still grant a refund quoted on an unused membership.
            ticket = latest_ticket(uow, order)
            if ticket is not None and ticket[1] in REFUND_UNDER_WAY:
                raise Conflict(ErrorCode.REFUND_IN_PROGRESS, "error.refund_in_progress", "status")
        membership = uow.session.scalar(
            select(MembershipRow).where(MembershipRow.order_id == order.id).with_for_update()
        )
        if membership is None:
            raise InvalidInput(ErrorCode.NOT_MEMBERSHIP, "error.not_membership", "action")
        product = order.product
        if action in {"activate", "claim_trial"}:
            if membership.status is not MembershipStatus.PENDING_ACTIVATION:
                raise Conflict(ErrorCode.ALREADY_ACTIVE, "error.already_active", "action")
            _activate(membership, product, now)
            type_ = EventType.ACTIVATED if action == "activate" else EventType.TRIAL_CLAIMED
            event = add_order_event(uow, order, type_, now, viewer.user_id, viewer.role, benefit=benefit)
        elif action == "use_benefit":
            if membership.status is MembershipStatus.PENDING_ACTIVATION:
                _activate(membership, product, now)  # first use activates (RULES.md section 1)
            if membership.status is not MembershipStatus.ACTIVE:
                raise Conflict(ErrorCode.NOT_ACTIVE, "error.not_active", "action")
            benefits = product.benefits or {}
            if benefits and benefit not in benefits:
                raise InvalidInput(ErrorCode.UNKNOWN_BENEFIT, "error.unknown_benefit", "benefit")
            event = add_order_event(
                uow, order, EventType.BENEFIT_USED, now, viewer.user_id, viewer.role, benefit=benefit or "default"
            )
        else:
            raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "error.unknown_action.2", "action")
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
        raise not_found("order")
    if type_ not in {EventType.OUTAGE, EventType.MERCHANT_GONE}:
        raise InvalidInput(ErrorCode.BAD_EVENT, "error.bad_event.2", "type")
    if type_ is EventType.OUTAGE:
        if hours is None:
            raise InvalidInput(ErrorCode.BAD_HOURS, "error.bad_hours", "hours")
        hours = inputs.decimal_input(hours, inputs.HOURS, "hours")  # NaN would fail even a comparison
    note = inputs.clean_text(note, inputs.NOTE, "note")
    with uow:
        order = visible_order(uow, viewer, order_no, lock=True)
        event = add_order_event(uow, order, type_, now, viewer.user_id, viewer.role, hours=hours, note=note)
        uow.commit()
        return event


def reveal_card_key(uow: UnitOfWork, viewer: Viewer, order_no: str, now: datetime) -> str:
    """The key's code, to its buyer only; the first reveal is recorded as an event."""
    with uow:
        order = visible_order(uow, viewer, order_no, lock=True)
        if order.user_id != viewer.user_id:
            raise not_found("order")  # not even staff read a consumer's key
        key = uow.session.scalar(select(CardKeyRow).where(CardKeyRow.order_id == order.id).with_for_update())
        if key is None or not CARD_KEY.allows(key.status, "reveal"):
            raise Conflict(ErrorCode.NO_KEY, "error.no_key", None)
        # Stored encrypted (platform/secrets_ring.py): decrypted here, for its buyer, and only here.
        code = card_key_ring(uow.session).decrypt(key.secret)
        if key.status is CardKeyStatus.DELIVERED:
            key.status = CARD_KEY.apply(key.status, "reveal")
            key.revealed_at = now
            add_order_event(uow, order, OrderEventType.KEY_REVEALED, now, viewer.user_id, viewer.role)
            uow.commit()
        return code


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
            order = uow.session.get(OrderRow, row.order_id)
            assert order is not None
            add_order_event(uow, order, OrderEventType.MEMBERSHIP_EXPIRED, now, None, None, note="term ended")
        uow.commit()
        return len(rows)
