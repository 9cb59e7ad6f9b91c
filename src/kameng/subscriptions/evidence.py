"""The auto-renewal's lines in an order's evidence file: the consent with the terms shown, each
renewal charge, and the cancellation (number, time, how it was confirmed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from kameng.platform.db.uow import UnitOfWork
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def auto_renewal_evidence(uow: UnitOfWork, order_id: int) -> dict[str, Any] | None:
    """Inside the caller's transaction; None for an order placed without auto-renewal."""
    row = uow.session.scalar(select(SubscriptionRow).where(SubscriptionRow.order_id == order_id))
    if row is None:
        return None
    charges = uow.session.scalars(
        select(RenewalChargeRow).where(RenewalChargeRow.subscription_id == row.id).order_by(RenewalChargeRow.period)
    )
    return {
        "subscription_no": row.sub_no,
        "status": row.status.value,
        "consent_at": _time(row.consent_at),
        "consent_terms": row.consent_terms,
        "renewal_price_fen": row.price_fen,
        "reminded_at": _time(row.reminded_at),
        "renewals": [
            {
                "period": charge.period,
                "amount_fen": charge.amount_fen,
                "refunded_fen": charge.refunded_fen,
                "out_trade_no": charge.out_trade_no,
                "status": charge.status.value,
                "attempts": charge.attempts,
                "reminder_before_it": charge.noticed,
                "settled_at": _time(charge.settled_at),
            }
            for charge in charges
        ],
        "cancellation": {
            "cancellation_no": row.cancellation_no,
            "cancelled_at": _time(row.cancelled_at),
            "confirmed_by": row.cancel_step_up,
            "reason": row.cancel_reason,
        }
        if row.cancellation_no
        else None,
    }
