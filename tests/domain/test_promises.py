"""What the pages promise, decided from the engine's quotes: how activating changes a refund, the
coupon a refund gives back, and when the money of an approval arrives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kameng.domain.model import Channel, Coupon, Decision, Policy, Product, Proration
from kameng.domain.promises import ActivationChange, ActivationEffect, activation_change, returned_coupon_expiry
from kameng.domain.refund import ArrivalWindow, arrival_window, coupon_returned
from tests.domain.factories import CALENDAR, activated, at, event, membership, order, policy, quote

PAID = "2026-04-01 10:00"
NOW = "2026-04-02 10:00"  # a day after paying: inside the default 7-day cooling-off window


def _change(
    product: Product | None = None, rules: Policy | None = None, starting: str = "activated", paid: str = "30.00"
) -> ActivationChange | None:
    """Activating (or claiming a trial) a day after paying, on a 30-day card by default."""
    bought = order(paid, PAID)
    before = quote(product, at_=NOW, rules=rules, order_=bought)
    after = quote(product, at_=NOW, rules=rules, order_=bought, events=[event(starting, NOW)])
    return activation_change(before, after, (rules or policy()).proration)


def test_a_promo_product_becomes_non_refundable() -> None:
    change = _change(membership(promo=True))
    assert change is not None
    assert change.effect is ActivationEffect.NON_REFUNDABLE
    assert (change.before.refund, change.after.refund, change.after.rules[0]) == (3000, 0, "P4")


def test_inside_the_window_the_same_money_needs_a_person() -> None:
    change = _change()
    assert change is not None
    assert change.effect is ActivationEffect.REVIEW
    assert change.before.decision is Decision.AUTO_APPROVE
    assert change.after.decision is Decision.REVIEW
    assert change.after.refund == change.before.refund == 3000


def test_minus_used_days_prorates_by_day_whatever_the_policy_measures() -> None:
    rules = policy(cooling_off="minus_used_days", proration="by_month")
    change = _change(membership("3m", "60.00"), rules, paid="60.00")
    assert change is not None
    assert change.effect is ActivationEffect.PRORATED
    assert change.basis is Proration.BY_DAY  # P7 counts days
    assert change.after.rules[0] == "P7"
    assert change.after.refund < change.before.refund


def test_without_a_window_the_used_share_comes_off_at_once() -> None:
    rules = policy(cooling_off_days=0, proration="by_month")
    change = _change(membership("12m", "120.00"), rules, paid="120.00")
    assert change is not None
    assert (change.effect, change.basis, change.after.rules[0]) == (ActivationEffect.PRORATED, Proration.BY_MONTH, "P9")
    assert change.after.refund == 11000  # one month of twelve used


def test_a_trial_that_does_not_count_as_activation_changes_nothing() -> None:
    assert _change(rules=policy(trial_counts_as_activation=False), starting="trial_claimed") is None
    counted = _change(starting="trial_claimed")
    assert counted is not None
    assert counted.effect is ActivationEffect.REVIEW


def test_an_order_already_activated_changes_nothing() -> None:
    before = quote(at_=NOW, events=[activated(PAID)])
    after = quote(at_=NOW, events=[activated(PAID), activated(NOW)])
    assert activation_change(before, after, Proration.BY_DAY) is None


@pytest.mark.parametrize(
    ("coupon", "refund", "returned"),
    [
        (Coupon(1000, refundable=True), 2000, True),
        (Coupon(1000, refundable=True), 0, False),  # nothing refunded: the order keeps it
        (Coupon(1000, refundable=False), 2000, False),
        (None, 2000, False),
    ],
)
def test_the_coupon_comes_back_only_refundable_and_with_money(
    coupon: Coupon | None, refund: int, returned: bool
) -> None:
    assert coupon_returned(coupon, refund) is returned


def test_the_quote_says_what_the_rule_does() -> None:
    with_coupon = order("20.00", PAID, coupon="10.00", coupon_refundable=True)
    [line] = [line for line in quote(at_=NOW, order_=with_coupon).lines if line.code == "coupon"]
    assert line.detail_zh == "优惠券 10.00 元以优惠券形式退回"


def test_a_returned_coupon_keeps_the_time_it_had_left() -> None:
    used, back = at("2026-04-01 10:00"), at("2026-04-05 12:00")
    assert returned_coupon_expiry(None, used, back) is None
    assert returned_coupon_expiry(used + timedelta(days=10), used, back) == back + timedelta(days=10)


def test_the_money_of_an_approval_arrives_in_the_channels_working_days() -> None:
    friday = date(2026, 3, 6)
    assert arrival_window(Channel.ALIPAY, friday, CALENDAR)[0] == ArrivalWindow(date(2026, 3, 9), date(2026, 3, 11))
    assert arrival_window(Channel.BANK_CARD, friday, CALENDAR)[0] == ArrivalWindow(date(2026, 3, 11), date(2026, 3, 13))
    assert arrival_window(Channel.BALANCE, friday, CALENDAR)[0] == ArrivalWindow(friday, friday)
