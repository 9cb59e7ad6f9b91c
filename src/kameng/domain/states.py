"""Every state machine of the platform, each as one explicit transition table.

A status changes only through :meth:`StateMachine.apply`, which refuses a transition the table
does not list; services then write the timeline row for it in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class InvalidTransition(ValueError):
    def __init__(self, machine: str, current: str, action: str) -> None:
        super().__init__(f"{machine}: cannot {action} from {current}")
        self.machine, self.current, self.action = machine, current, action


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    name: str
    table: Mapping[tuple[S, str], S]

    def apply(self, current: S, action: str) -> S:
        try:
            return self.table[(current, action)]
        except KeyError:
            raise InvalidTransition(self.name, current.value, action) from None

    def allows(self, current: S, action: str) -> bool:
        return (current, action) in self.table

    def actions(self, current: S) -> list[str]:
        """What may happen next from ``current``: the table is the only rulebook, so the actions
        a page offers are drawn from here (filtered by who is asking), never worked out again."""
        return [action for (state, action) in self.table if state == current]


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


ORDER = StateMachine[OrderStatus](
    "order",
    {
        (OrderStatus.PENDING_PAYMENT, "pay"): OrderStatus.PAID,
        (OrderStatus.PENDING_PAYMENT, "expire"): OrderStatus.EXPIRED,
        (OrderStatus.PENDING_PAYMENT, "cancel"): OrderStatus.CANCELLED,
        (OrderStatus.PAID, "refund"): OrderStatus.REFUNDED,
    },
)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The money arrived after the order had expired: it is sent back, never kept or lost.
    RETURNED = "returned"


PAYMENT = StateMachine[PaymentStatus](
    "payment",
    {
        (PaymentStatus.PENDING, "succeed"): PaymentStatus.SUCCEEDED,
        (PaymentStatus.PENDING, "fail"): PaymentStatus.FAILED,
        # The payer retried in their app after a failure and it went through.
        (PaymentStatus.FAILED, "succeed"): PaymentStatus.SUCCEEDED,
        (PaymentStatus.PENDING, "return_late"): PaymentStatus.RETURNED,
        (PaymentStatus.FAILED, "return_late"): PaymentStatus.RETURNED,
    },
)


class MembershipStatus(StrEnum):
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    EXPIRED = "expired"
    CLOSED = "closed"  # refunded: benefits frozen, back to non-member


MEMBERSHIP = StateMachine[MembershipStatus](
    "membership",
    {
        (MembershipStatus.PENDING_ACTIVATION, "activate"): MembershipStatus.ACTIVE,
        (MembershipStatus.ACTIVE, "expire"): MembershipStatus.EXPIRED,
        (MembershipStatus.ACTIVE, "renew"): MembershipStatus.ACTIVE,
        (MembershipStatus.EXPIRED, "renew"): MembershipStatus.ACTIVE,
        (MembershipStatus.PENDING_ACTIVATION, "close"): MembershipStatus.CLOSED,
        (MembershipStatus.ACTIVE, "close"): MembershipStatus.CLOSED,
        (MembershipStatus.EXPIRED, "close"): MembershipStatus.CLOSED,
    },
)


class CardKeyStatus(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"  # held for an unpaid order; goes back only if never shown to anyone
    DELIVERED = "delivered"
    REVEALED = "revealed"
    REVOKED = "revoked"  # never available again, whatever happens to the order


CARD_KEY = StateMachine[CardKeyStatus](
    "card_key",
    {
        (CardKeyStatus.AVAILABLE, "reserve"): CardKeyStatus.RESERVED,
        (CardKeyStatus.RESERVED, "release"): CardKeyStatus.AVAILABLE,
        (CardKeyStatus.RESERVED, "deliver"): CardKeyStatus.DELIVERED,
        (CardKeyStatus.DELIVERED, "reveal"): CardKeyStatus.REVEALED,
        (CardKeyStatus.REVEALED, "reveal"): CardKeyStatus.REVEALED,  # shown again to its buyer
        (CardKeyStatus.DELIVERED, "revoke"): CardKeyStatus.REVOKED,
        (CardKeyStatus.REVEALED, "revoke"): CardKeyStatus.REVOKED,
    },
)


class RefundStatus(StrEnum):
    PENDING = "pending"  # decided, not yet accepted by the channel
    PROCESSING = "processing"  # the channel accepted it; we poll and wait for its callback
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # for good (card cancelled, account closed): a person must choose what next


REFUND = StateMachine[RefundStatus](
    "refund",
    {
        (RefundStatus.PENDING, "accept"): RefundStatus.PROCESSING,
        (RefundStatus.PENDING, "succeed"): RefundStatus.SUCCEEDED,  # balance refunds land at once
        (RefundStatus.PENDING, "fail"): RefundStatus.FAILED,
        (RefundStatus.PROCESSING, "succeed"): RefundStatus.SUCCEEDED,
        (RefundStatus.PROCESSING, "fail"): RefundStatus.FAILED,
    },
)

# WeChat Pay's advice for refund queries: after 1 minute, then 5, 10, 20, 30 minutes, then every 30.
REFUND_POLL_MINUTES = (1, 5, 10, 20, 30)


def refund_poll_delay_minutes(attempt: int) -> int:
    """Minutes to wait before query number ``attempt`` (0-based)."""
    return REFUND_POLL_MINUTES[min(attempt, len(REFUND_POLL_MINUTES) - 1)]
