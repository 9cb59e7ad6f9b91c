"""The wallet's rules without a database: the legs newest payment first, R2's fee on each part,
R1's bonus taken back with it, a part the fee would eat whole left alone, and what may be asked
for never more than the cash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kameng.domain.model import Channel, Decision, Policy
from kameng.domain.wallet import RULE_REFUND_IN, Source, SourceKind, plan_withdrawal, withdrawable

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
FEE = Policy(fee_percent=Decimal(1), fee_min=100)  # the demo top-up's: 1 %, at least 1.00


def top_up(order_id: int, hours: int, rule: str, available: int, paid: int = 10000, bonus: int = 2000) -> Source:
    return Source(
        SourceKind.TOP_UP, order_id, Channel.ALIPAY, T0 + timedelta(hours=hours), rule, available, paid, bonus, FEE
    )


def test_legs_take_the_newest_payment_first() -> None:
    older, newer = top_up(1, 0, "R2", 9000), top_up(2, 5, "R2", 4000)
    plan = plan_withdrawal([older, newer], 10000)
    assert [(leg.source.order_id, leg.gross, leg.fee, leg.net) for leg in plan.legs] == [
        (2, 4000, 100, 3900),
        (1, 6000, 100, 5900),
    ]
    assert (plan.payout, plan.fee, plan.shortfall, plan.decision) == (9800, 200, 0, Decision.REVIEW)


def test_seed_003_withdrawable_90_pays_89_and_the_fee_is_1() -> None:
    plan = plan_withdrawal([top_up(1, 0, "R2", 9000)], 9000)
    assert (plan.payout, plan.fee) == (8900, 100)


def test_r1_is_paid_at_once_without_fee_and_takes_its_share_of_the_bonus() -> None:
    plan = plan_withdrawal([top_up(1, 0, "R1", 10000)], 5000)
    (leg,) = plan.legs
    assert (leg.fee, leg.net, leg.bonus_taken) == (0, 5000, 1000)
    assert plan.decision is Decision.AUTO_APPROVE


def test_a_refund_in_is_the_consumers_own_cash_no_fee_no_review() -> None:
    refund = Source(SourceKind.REFUND_IN, 7, Channel.WECHAT, T0, RULE_REFUND_IN, 3000, refund_id=3)
    plan = plan_withdrawal([refund], 3000)
    assert (plan.payout, plan.fee, plan.decision) == (3000, 0, Decision.AUTO_APPROVE)


def test_a_part_the_fee_would_eat_whole_is_not_taken() -> None:
    plan = plan_withdrawal([top_up(1, 0, "R2", 10000), top_up(2, 5, "R2", 80)], 10080)
    assert [leg.source.order_id for leg in plan.legs] == [1]
    assert plan.shortfall == 80
    assert plan_withdrawal([top_up(2, 5, "R2", 80)], 80).decision is Decision.REJECT


def test_what_may_be_asked_for_is_never_more_than_the_cash() -> None:
    sources = [top_up(1, 0, "R2", 9000), top_up(2, 5, "R2", 9000)]
    assert withdrawable(sources, 12000) == 12000
    assert withdrawable(sources, 50000) == 18000
    assert withdrawable([], 5000) == 0
