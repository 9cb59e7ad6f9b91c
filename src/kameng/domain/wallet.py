"""The wallet's rules (PRODUCT.md item 11, RULES.md R1 and R2, seed 003): how much of a consumer's
cash can be withdrawn, from which payments, at what fee, and the states of a withdrawal.

A withdrawal is paid back to the original channels, newest payment first: each payment the cash
came from is a *source* (a top-up, priced by the refund engine's R1 or R2; or a refund that
landed in the balance because its channel failed for good, which is the consumer's own cash and
carries no fee). The plan takes from each source in turn until the amount asked for is covered;
each part taken is a *leg*, paid out as its own refund. Pure: no database, no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kameng.domain.model import Channel, Decision, Policy
from kameng.domain.money import share
from kameng.domain.refund import clamp_fee
from kameng.domain.states import StateMachine


class WithdrawalStatus(StrEnum):
    IN_REVIEW = "in_review"  # the amount is held; a person looks at the live quote
    PAYING = "paying"  # approved: the legs are on their way
    DONE = "done"  # every leg has an answer (paid, or returned to the balance)
    REJECTED = "rejected"  # the hold went back to the balance
    CANCELLED = "cancelled"  # the consumer took it back before review


WITHDRAWAL = StateMachine[WithdrawalStatus](
    "withdrawal",
    {
        (WithdrawalStatus.IN_REVIEW, "approve"): WithdrawalStatus.PAYING,
        (WithdrawalStatus.IN_REVIEW, "reject"): WithdrawalStatus.REJECTED,
        (WithdrawalStatus.IN_REVIEW, "cancel"): WithdrawalStatus.CANCELLED,
        (WithdrawalStatus.PAYING, "settle"): WithdrawalStatus.DONE,
    },
)


class LegStatus(StrEnum):
    SENT = "sent"
    PAID = "paid"
    RETURNED = "returned"  # the channel refused for good: the leg's money is cash in the balance again


WITHDRAWAL_LEG = StateMachine[LegStatus](
    "withdrawal_leg",
    {
        (LegStatus.SENT, "pay"): LegStatus.PAID,
        (LegStatus.SENT, "return"): LegStatus.RETURNED,
    },
)


class SourceKind(StrEnum):
    TOP_UP = "top_up"
    REFUND_IN = "refund_in"


# The rule a leg is priced by: the engine's R1 (cooling-off, full, no fee) or R2 (withdrawable
# cash less the fee), or a refund already owed to the consumer (no rule of the engine, no fee).
RULE_REFUND_IN = "refund_in"


@dataclass(frozen=True, slots=True)
class Source:
    """One payment the consumer's cash came from, and how much of it can still go back."""

    kind: SourceKind
    order_id: int
    channel: Channel
    at: datetime  # when the money came in: the order of the legs, newest first
    rule: str  # "R1", "R2" or RULE_REFUND_IN
    available: int  # fen that may still be withdrawn from it, before the fee
    paid: int = 0  # a top-up's cash paid, for the bonus R1 takes back with it
    bonus: int = 0  # a top-up's bonus credit
    policy: Policy | None = None  # the fee of an R2 source
    refund_id: int | None = None  # a refund-in source: the refund that landed in the balance


@dataclass(frozen=True, slots=True)
class Leg:
    source: Source
    gross: int  # taken from the held cash
    fee: int  # the platform's income (R2 only)
    bonus_taken: int  # bonus credit withdrawn with an R1 top-up (R1: "赠送余额一并收回")

    @property
    def net(self) -> int:
        """What reaches the consumer's channel."""
        return self.gross - self.fee


@dataclass(frozen=True, slots=True)
class WithdrawalPlan:
    asked: int
    legs: tuple[Leg, ...]

    @property
    def covered(self) -> int:
        return sum(leg.gross for leg in self.legs)

    @property
    def shortfall(self) -> int:
        """Asked for but not covered by any source, or only by a part the fee would eat whole
        (released back to the balance on approval)."""
        return self.asked - self.covered

    @property
    def fee(self) -> int:
        return sum(leg.fee for leg in self.legs)

    @property
    def payout(self) -> int:
        return sum(leg.net for leg in self.legs)

    @property
    def bonus_taken(self) -> int:
        return sum(leg.bonus_taken for leg in self.legs)

    @property
    def decision(self) -> Decision:
        """R2 is reviewed by a person (RULES.md R2); R1 and refunds already owed are paid at once."""
        if self.payout <= 0:
            return Decision.REJECT
        return Decision.REVIEW if any(leg.source.rule == "R2" for leg in self.legs) else Decision.AUTO_APPROVE


def newest_first(sources: list[Source]) -> list[Source]:
    return sorted(sources, key=lambda source: (source.at, source.order_id), reverse=True)


def withdrawable(sources: list[Source], cash: int) -> int:
    """What may be asked for: the sources' total, never more than the cash in the balance (held
    money and bonus credit are not cash)."""
    return max(0, min(cash, sum(source.available for source in sources)))


def plan_withdrawal(sources: list[Source], asked: int) -> WithdrawalPlan:
    """Take ``asked`` fen from the sources, newest payment first. An R2 part pays the policy's fee
    on what it takes (the engine's ``clamp_fee``, the same rule as a whole top-up's R2 quote);
    an R1 part takes back its share of the top-up's bonus credit."""
    left = asked
    legs: list[Leg] = []
    for source in newest_first(sources):
        if left <= 0:
            break
        take = min(left, source.available)
        if take <= 0:
            continue
        fee = clamp_fee(source.policy, take) if source.rule == "R2" and source.policy is not None else 0
        if take - fee <= 0:
            continue  # a part the fee would eat whole is not taken: nothing would reach the consumer
        bonus_taken = share(source.bonus, take, source.paid) if source.rule == "R1" and source.paid > 0 else 0
        legs.append(Leg(source, take, fee, bonus_taken))
        left -= take
    return WithdrawalPlan(asked, tuple(legs))
