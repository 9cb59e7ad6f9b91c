"""A renewal's own refund. Each renewal charge is a refundable amount of its own, paid out
against its own trade: the S2 refund of a renewal (RULES.md: charged without a qualifying
reminder, refunded in full at once) is capped by what that charge captured, not by the
purchase, and names the renewal's ``out_trade_no`` at the channel, not the first trade's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select

from kameng.domain.model import EventType
from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.orders.history import EventFacts
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode
from kameng.subscriptions.models import RenewalChargeRow


def renewal_asked_about(uow: UnitOfWork, order_id: int, user_id: int, asked_at: datetime) -> RenewalChargeRow | None:
    """The renewal a refund request made at ``asked_at`` is about, locked: the latest charge that
    had succeeded by then (the engine's periods begin at the same ``renewed`` events, stamped with
    the charge's ``settled_at``). None: the request is about the purchase."""
    return uow.session.scalar(_RENEWAL_ASKED_ABOUT, {"order_id": order_id, "user_id": user_id, "asked_at": asked_at})


def may_be_about_a_renewal(events: Iterable[EventFacts], asked_at: datetime) -> bool:
    """Whether a refund request made at ``asked_at`` can be about a renewal at all, from the
    order's events that its quote has just read: only when one of them is a ``renewed`` event by
    then. A renewal charge succeeds in one place (``charges._renewed``), which writes that event in
    the same transaction, stamped with the charge's ``settled_at``. An order without one (nearly
    every order) has no renewal to find or lock, and the request asks nothing more."""
    return any(event.type == EventType.RENEWED and event.at <= asked_at for event in events)


# Built once: every approved refund request runs it.
_RENEWAL_ASKED_ABOUT = (
    select(RenewalChargeRow)
    .where(
        RenewalChargeRow.order_id == bindparam("order_id"),
        RenewalChargeRow.user_id == bindparam("user_id"),
        RenewalChargeRow.status == RenewalChargeStatus.SUCCEEDED,
        RenewalChargeRow.settled_at <= bindparam("asked_at"),
    )
    .order_by(RenewalChargeRow.settled_at.desc(), RenewalChargeRow.id.desc())
    .limit(1)
    .with_for_update()
)


def renewals_asked_about(
    uow: UnitOfWork, orders: Iterable[tuple[int, int]], asked_at: datetime
) -> dict[int, RenewalChargeRow]:
    """:func:`renewal_asked_about` for many orders (``(order_id, user_id)`` pairs) at once, in one
    query, locked: the order ids that have such a renewal, each with the latest. An order missing
    from the answer has none (its request is about the purchase)."""
    pairs = set(orders)
    if not pairs:
        return {}
    charges = uow.session.scalars(
        select(RenewalChargeRow)
        .where(
            RenewalChargeRow.order_id.in_({order_id for order_id, _ in pairs}),
            RenewalChargeRow.user_id.in_({user_id for _, user_id in pairs}),
            RenewalChargeRow.status == RenewalChargeStatus.SUCCEEDED,
            RenewalChargeRow.settled_at <= asked_at,
        )
        .order_by(RenewalChargeRow.settled_at, RenewalChargeRow.id)
        .with_for_update()
    )
    # In ascending order, so the last one kept per order is the latest.
    return {charge.order_id: charge for charge in charges if (charge.order_id, charge.user_id) in pairs}


def refundable_of(charge: RenewalChargeRow) -> int:
    """What of this renewal can still be refunded: what it captured, less what went back."""
    return charge.amount_fen - charge.refunded_fen


def reserve_renewal_refund(charge: RenewalChargeRow, amount: int) -> None:
    """Reserve ``amount`` of this renewal for a refund, never beyond what it captured."""
    if amount > refundable_of(charge):
        raise Conflict(ErrorCode.EXCEEDS_CAPTURED, "error.exceeds_captured", "amount")
    charge.refunded_fen += amount
