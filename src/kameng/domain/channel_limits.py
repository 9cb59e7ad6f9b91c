"""The payment channels' own limits on refunds, checked before a call so that the answer is ours.

WeChat Pay refuses a refund more than 365 days after the payment, more than 50 partial refunds of
one order, and more than one refund request per order per minute; Alipay allows refunds for 12
months (365 days here too, the stricter reading). Checking first gives the person a clear reason
instead of a channel error code, and spends no request on a refund that cannot succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

REFUND_WINDOW = timedelta(days=365)
MAX_PARTIAL_REFUNDS = 50
MIN_GAP_BETWEEN_REFUNDS = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class RefundRefusal:
    """Why a refund may not be asked of the channel now. ``final`` refusals never pass (a new
    attempt would be refused too); the others pass later (``retry_after``)."""

    key: str  # a catalog key of channels_real.po
    final: bool
    retry_after: datetime | None = None


def refund_refusal(
    paid_at: datetime,
    now: datetime,
    refunds_so_far: int = 0,
    last_refund_at: datetime | None = None,
) -> RefundRefusal | None:
    """None when the channel would take the refund; else the reason it would not."""
    if now - paid_at > REFUND_WINDOW:
        return RefundRefusal("channels.refusal.too_old", final=True)
    if refunds_so_far >= MAX_PARTIAL_REFUNDS:
        return RefundRefusal("channels.refusal.too_many", final=True)
    if last_refund_at is not None and now - last_refund_at < MIN_GAP_BETWEEN_REFUNDS:
        return RefundRefusal(
            "channels.refusal.too_soon", final=False, retry_after=last_refund_at + MIN_GAP_BETWEEN_REFUNDS
        )
    return None
