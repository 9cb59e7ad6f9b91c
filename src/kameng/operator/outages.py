"""Platform events: an outage of one product, a merchant's products or the whole platform over a
time range, recorded once by an operator instead of order by order by staff.

Every affected order (a paid order whose membership was active during the range) gets its
``outage`` event with the hours of the range that fell in its membership: the evidence rule S3
reads. Recording is idempotent: the same scope and range find the outage already there, and an
order that has its event (marked with the outage's note) is never given a second one, so a
recording stopped half-way is finished by recording it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.exc import IntegrityError

from kameng.catalog.models import Merchant, ProductRow
from kameng.domain.mass_refunds import OutageScope, overlap_hours, scope_key
from kameng.domain.model import MAX_OUTAGE_HOURS, EventType
from kameng.domain.states import OrderStatus
from kameng.domain.users import Role
from kameng.operator.mass_models import OutageRow
from kameng.orders.history import add_order_event
from kameng.orders.models import MembershipRow, OrderEventRow, OrderRow
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound

BATCH = 500
TARGET = inputs.TextRule(80, min_length=1)


def outage_note(outage_id: int) -> str:
    """The note on each order's event: how a second recording knows the order has it."""
    return f"outage:{outage_id}"


@dataclass(frozen=True, slots=True)
class OutageCommand:
    scope: str
    starts_at: datetime
    ends_at: datetime
    target: str | None = None  # a product's slug or id, or a merchant's id; none for the platform
    note: str = ""


@dataclass(frozen=True, slots=True)
class Recorded:
    outage: OutageRow
    created: bool  # False: the same outage was recorded before
    orders_marked: int  # orders given their event by this call


def _scope(value: str) -> OutageScope:
    try:
        return OutageScope(value)
    except ValueError:
        raise InvalidInput(ErrorCode.BAD_SCOPE, "massrefund.error.scope", "scope") from None


def _target(uow: UnitOfWork, scope: OutageScope, target: str | None) -> tuple[int | None, int | None]:
    """(product_id, merchant_id) named by ``target``; NotFound naming the field when nothing is."""
    if scope is OutageScope.PLATFORM:
        return None, None
    text = inputs.clean_text(target or "", TARGET, "target")
    if not text:
        raise InvalidInput(ErrorCode.REQUIRED, "massrefund.error.target_required", "target")
    session = uow.session
    if scope is OutageScope.PRODUCT:
        query = select(ProductRow.id).where(ProductRow.slug == text)
        if (text.isascii() and text.isdigit()) and len(text) < 18:
            query = select(ProductRow.id).where(or_(ProductRow.slug == text, ProductRow.id == int(text)))
        product_id = session.scalar(query.limit(1))
        if product_id is None:
            raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_product", "target", product=text)
        return product_id, None
    merchant = session.get(Merchant, int(text)) if (text.isascii() and text.isdigit()) and len(text) < 18 else None
    if merchant is None:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_merchant", "target", merchant=text)
    return None, merchant.id


def _check_range(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput(ErrorCode.OUT_OF_RANGE, "massrefund.error.naive_time", "starts_at")
    if ends_at <= starts_at:
        raise InvalidInput(ErrorCode.OUT_OF_RANGE, "massrefund.error.range_order", "ends_at")
    if ends_at > now:
        raise InvalidInput(ErrorCode.OUT_OF_RANGE, "massrefund.error.range_future", "ends_at")
    if (ends_at - starts_at).total_seconds() > float(MAX_OUTAGE_HOURS) * 3600:
        raise InvalidInput(ErrorCode.OUT_OF_RANGE, "massrefund.error.range_long", "ends_at")


def record_outage(uow: UnitOfWork, actor: Viewer, command: OutageCommand, now: datetime) -> Recorded:
    """Record the outage (or find it recorded), then mark every affected order, a batch at a time."""
    if actor.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    scope = _scope(command.scope)
    note = inputs.clean_text(command.note, inputs.NOTE, "note")
    _check_range(command.starts_at, command.ends_at, now)
    key_of_scope = ""
    with uow:
        product_id, merchant_id = _target(uow, scope, command.target)
        key_of_scope = scope_key(scope, product_id if scope is OutageScope.PRODUCT else merchant_id)
        outage = _find(uow, key_of_scope, command)
        created = outage is None
        if outage is None:
            outage = OutageRow(
                scope=scope,
                scope_key=key_of_scope,
                product_id=product_id,
                merchant_id=merchant_id,
                starts_at=command.starts_at,
                ends_at=command.ends_at,
                note=note,
                recorded_by=actor.user_id or None,
                orders_marked=0,
                created_at=now,
            )
            uow.session.add(outage)
            try:
                uow.commit()
            except IntegrityError:  # recorded at the same moment by someone else: theirs it is
                created = False
    if not created:
        with uow:
            outage = _find(uow, key_of_scope, command)
            assert outage is not None
    marked = 0
    while True:
        done = _mark_batch(uow, outage.id, now)
        marked += done
        if done < BATCH:
            break
    with uow:
        fresh = uow.session.get(OutageRow, outage.id)
        assert fresh is not None
        return Recorded(fresh, created, marked)


def _find(uow: UnitOfWork, key: str, command: OutageCommand) -> OutageRow | None:
    return uow.session.scalar(
        select(OutageRow).where(
            OutageRow.scope_key == key, OutageRow.starts_at == command.starts_at, OutageRow.ends_at == command.ends_at
        )
    )


def _affected(outage: OutageRow) -> Select[OrderRow, MembershipRow]:
    """Paid orders whose membership was active during the outage and that lack its event."""
    marker = outage_note(outage.id)
    already = exists().where(
        OrderEventRow.order_id == OrderRow.id,
        OrderEventRow.user_id == OrderRow.user_id,
        OrderEventRow.type == EventType.OUTAGE.value,
        OrderEventRow.note == marker,
    )
    query = (
        select(OrderRow, MembershipRow)
        .join(MembershipRow, MembershipRow.order_id == OrderRow.id)
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .where(
            OrderRow.status == OrderStatus.PAID,
            MembershipRow.activated_at.is_not(None),
            MembershipRow.activated_at < outage.ends_at,
            or_(MembershipRow.expires_at.is_(None), MembershipRow.expires_at > outage.starts_at),
            ~already,
        )
        .order_by(OrderRow.id)
    )
    if outage.scope is OutageScope.PRODUCT:
        query = query.where(OrderRow.product_id == outage.product_id)
    elif outage.scope is OutageScope.MERCHANT:
        query = query.where(ProductRow.merchant_id == outage.merchant_id)
    return query


def _mark_batch(uow: UnitOfWork, outage_id: int, now: datetime) -> int:
    """One transaction: the next orders without the outage's event get it. The outage row is
    locked, so two recordings of it at once mark each order once."""
    with uow:
        session = uow.session
        outage = session.scalar(select(OutageRow).where(OutageRow.id == outage_id).with_for_update())
        assert outage is not None
        rows = session.execute(_affected(outage).limit(BATCH)).all()
        for order, membership in rows:
            assert membership.activated_at is not None
            hours = overlap_hours(outage.starts_at, outage.ends_at, membership.activated_at, membership.expires_at)
            add_order_event(
                uow,
                order,
                EventType.OUTAGE,
                max(outage.starts_at, membership.activated_at),
                outage.recorded_by,
                Role.OPERATOR,
                hours=hours,
                note=outage_note(outage.id),
            )
        outage.orders_marked += len(rows)
        uow.commit()
        return len(rows)


def list_outages(uow: UnitOfWork, limit: int = 100) -> list[OutageRow]:
    with uow:
        return list(uow.session.scalars(select(OutageRow).order_by(OutageRow.starts_at.desc()).limit(limit)))
