"""What the pages promise a consumer about a refund, decided from the engine's own quotes.

A page that asks "activate now?" must say exactly how the refund changes, so the answer is two
quotes of the same engine (as things are, and as if activated this moment) compared here, never
a second set of rules. The coupon a refund gives back keeps the time it had left. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kameng.domain.model import Decision, Proration
from kameng.domain.refund import Quote


class ActivationEffect(StrEnum):
    """How activating (or claiming a trial) changes the refund of an order, in one word."""

    NON_REFUNDABLE = "non_refundable"  # nothing would come back (a promo product, P4; permanent, P8)
    PRORATED = "prorated"  # the used share comes off (P7, P9)
    REVIEW = "review"  # the same money, but a person reviews it instead of one click (P6)
    CHANGED = "changed"  # any other change of the amount or the decision


@dataclass(frozen=True, slots=True)
class ActivationChange:
    effect: ActivationEffect
    before: Quote  # the refund as things are
    after: Quote  # the refund if asked for right after activating
    basis: Proration  # what a prorated refund is measured in


def activation_change(before: Quote, after: Quote, proration: Proration) -> ActivationChange | None:
    """How the refund changes if the order is activated now, or None when it does not change.

    ``after`` is the engine's quote with the activation added at the same moment, so every
    figure the page shows is the engine's. ``proration`` is the policy's; the cooling-off rule
    P7 always measures in days."""
    if (before.decision, before.refund, before.rules) == (after.decision, after.refund, after.rules):
        return None
    rule = after.rules[0]
    basis = Proration.BY_DAY if rule == "P7" else proration
    if after.refund == 0 or after.decision is Decision.REJECT:
        effect = ActivationEffect.NON_REFUNDABLE
    elif any(line.code == "used_share" and line.amount for line in after.lines):
        effect = ActivationEffect.PRORATED
    elif after.decision is not before.decision and after.refund == before.refund:
        effect = ActivationEffect.REVIEW
    else:
        effect = ActivationEffect.CHANGED
    return ActivationChange(effect, before, after, basis)


def returned_coupon_expiry(expires_at: datetime | None, used_at: datetime, returned_at: datetime) -> datetime | None:
    """A coupon given back by a refund is valid for as long as it had left when it was used: the
    consumer gets back what they gave, not a coupon that ran out while the refund was under way."""
    if expires_at is None:
        return None
    return returned_at + max(expires_at - used_at, timedelta(0))


__all__ = ["ActivationChange", "ActivationEffect", "activation_change", "returned_coupon_expiry"]
