"""A renewal's own refund. Each renewal charge is a refundable amount of its own, paid out
against its own trade: the S2 refund of a renewal (RULES.md: charged without a qualifying
reminder, refunded in full at once) is capped by what that charge captured, not by the
purchase, and names the renewal's ``out_trade_no`` at the channel, not the first trade's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode
from kameng.subscriptions.models import RenewalChargeRow


def renewal_asked_about(uow: UnitOfWork, order_id: int, user_id: int, asked_at: datetime) -> RenewalChargeRow | None:
    """The renewal a refund request made at ``asked_at`` is about, locked: the latest charge that
    had succeeded by then (the engine's periods begin at the same ``renewed`` events, stamped with
    the charge's ``settled_at``). None: the request is about the purchase."""
    return uow.session.scalar(
        select(RenewalChargeRow)
        .where(
            RenewalChargeRow.order_id == order_id,
            RenewalChargeRow.user_id == user_id,
            RenewalChargeRow.status == RenewalChargeStatus.SUCCEEDED,
            RenewalChargeRow.settled_at <= asked_at,
        )
        .order_by(RenewalChargeRow.settled_at.desc(), RenewalChargeRow.id.desc())
        .limit(1)
        .with_for_update()
    )


def refundable_of(charge: RenewalChargeRow) -> int:
    """What of this renewal can still be refunded: what it captured, less what went back."""
    return charge.amount_fen - charge.refunded_fen


def reserve_renewal_refund(charge: RenewalChargeRow, amount: int) -> None:
    """Reserve ``amount`` of this renewal for a refund, never beyond what it captured."""
    if amount > refundable_of(charge):
        raise Conflict(ErrorCode.EXCEEDS_CAPTURED, "error.exceeds_captured", "amount")
    charge.refunded_fen += amount
