"""RULES.md, rule by rule and option by option: each test is one case of the decision table.

Unless a test says otherwise the order is a 30-day card for 30.00, paid 2026-04-01 10:00
(a Wednesday) by Alipay, under the default policy (7 days' cooling-off, full_if_unused, by_day,
no fee, review in 2 working days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kameng.domain.model import Decision, Policy, Reason, RefundRequest, Term
from kameng.domain.refund import Quote, add_months, quote_refund, term_end

from .factories import (
    CALENDAR,
    TZ,
    activated,
    amounts,
    at,
    event,
    membership,
    order,
    policy,
    quote,
    recharge,
    used,
    virtual_goods,
)

AUTO, REVIEW, REJECT = Decision.AUTO_APPROVE, Decision.REVIEW, Decision.REJECT


# A monthly card bought 2026-04-15 10:00, activated a minute later, renewed a month on.
MONTHLY = membership("1m", "25.00")
MONTHLY_ORDER = order("25.00", "2026-04-15 10:00")
RENEWED = [activated("2026-04-15 10:01"), event("renewed", "2026-05-15 10:00", amount="25.00")]


def assert_quote(q: Quote, decision: Decision, refund: str, rule: str) -> None:
    got = (q.decision, q.to_dict()["refund"], q.rules[0])
    assert got == (decision, refund, rule), q.explanation_en
    assert sum(line.amount for line in q.lines) == q.refund


# --- S1 not_delivered ----------------------------------------------------------------------------


def test_not_delivered_with_no_delivery_or_activation_is_refunded_in_full_at_once() -> None:
    q = quote(at_="2026-04-10 10:00", reason="not_delivered")
    assert_quote(q, AUTO, "30.00", "S1")
    assert q.arrival is not None
    assert (q.arrival.earliest, q.arrival.latest) == (date(2026, 4, 13), date(2026, 4, 15))
    assert q.review_due is None


def test_not_delivered_for_an_activated_membership_goes_to_a_person_for_the_full_amount() -> None:
    q = quote(at_="2026-04-10 10:00", reason="not_delivered", events=[activated("2026-04-01 10:30")])
    assert_quote(q, REVIEW, "30.00", "S1")
    assert q.review_due == date(2026, 4, 14)
    assert q.arrival is None


def test_not_delivered_for_delivered_goods_goes_to_review() -> None:
    q = quote(
        virtual_goods("50.00"),
        order_=order("50.00"),
        at_="2026-04-01 11:00",
        reason="not_delivered",
        events=[event("delivered", "2026-04-01 10:00")],
    )
    assert_quote(q, REVIEW, "50.00", "S1")


def test_not_delivered_counts_a_benefit_used_as_activation() -> None:
    q = quote(at_="2026-04-02 10:00", reason="not_delivered", events=[used("2026-04-01 12:00")])
    assert_quote(q, REVIEW, "30.00", "S1")


def test_not_delivered_ignores_a_trial_when_trials_do_not_activate() -> None:
    events = [event("trial_claimed", "2026-04-01 11:00")]
    counted = quote(at_="2026-04-02 10:00", reason="not_delivered", events=events)
    ignored = quote(
        at_="2026-04-02 10:00",
        reason="not_delivered",
        events=events,
        rules=policy(trial_counts_as_activation=False),
    )
    assert_quote(counted, REVIEW, "30.00", "S1")
    assert_quote(ignored, AUTO, "30.00", "S1")


def test_not_delivered_is_not_limited_by_the_end_of_the_term_or_a_fee() -> None:
    q = quote(
        at_="2026-06-01 10:00",
        reason="not_delivered",
        rules=policy(fee_percent="10"),
        events=[activated("2026-04-01 10:30")],
    )
    assert_quote(q, REVIEW, "30.00", "S1")


def test_not_delivered_on_a_renewal_goes_to_review_as_the_renewal_counts_as_activated() -> None:
    # RULES.md gap C (docs/refund-rules-notes.md, reading 12).
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=RENEWED, at_="2026-05-16 10:00", reason="not_delivered")
    assert_quote(q, REVIEW, "25.00", "S1")


def test_not_delivered_on_a_spent_top_up_is_one_click_to_the_letter() -> None:
    # RULES.md gap B: a top-up has no `delivered` event and `spent` is not activation.
    q = quote(
        recharge("100.00"),
        order_=order("100.00", "2026-03-01 10:00"),
        at_="2026-04-01 10:00",
        reason="not_delivered",
        events=[event("spent", "2026-03-05 10:00", amount="100.00")],
    )
    assert_quote(q, AUTO, "100.00", "S1")


# --- S2 renewal_without_notice -------------------------------------------------------------------


def test_a_renewal_charged_without_a_reminder_is_refunded_in_full_at_once() -> None:
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=RENEWED, at_="2026-05-16 10:00", reason="renewal_without_notice")
    assert_quote(q, AUTO, "25.00", "S2")
    assert q.period_index == 1
    assert q.lines[0].detail == "renewal no. 1"


def test_renewal_without_notice_refunds_what_the_renewal_cost_not_the_first_purchase() -> None:
    events = [activated("2026-04-15 10:01"), event("renewed", "2026-05-15 10:00", amount="19.90")]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-16 10:00", reason="renewal_without_notice")
    assert_quote(q, AUTO, "19.90", "S2")


def test_a_reminder_exactly_five_days_before_qualifies_and_the_policy_rules_decide() -> None:
    events = [*RENEWED, event("renewal_notice", "2026-05-10 10:00")]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-16 10:00", reason="renewal_without_notice")
    # The renewal is activated at its renewal time, unused, within 7 days of it: P6.
    assert_quote(q, REVIEW, "25.00", "P6")


def test_a_qualifying_reminder_sends_a_used_renewal_to_proration() -> None:
    events = [
        *RENEWED,
        event("renewal_notice", "2026-05-01 10:00"),
        used("2026-05-15 12:00"),
    ]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-16 10:00", reason="renewal_without_notice")
    # 2026-05-15 → 2026-06-15 is 31 days; one day used: 25.00 × 1/31 = 0.806… → 0.81.
    assert_quote(q, REVIEW, "24.19", "P9")


def test_a_reminder_less_than_five_days_before_the_renewal_is_too_late() -> None:
    events = [*RENEWED, event("renewal_notice", "2026-05-10 10:01")]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-16 10:00", reason="renewal_without_notice")
    assert_quote(q, AUTO, "25.00", "S2")


def test_a_reminder_sent_before_the_previous_period_began_does_not_count() -> None:
    # Second renewal on 06-15; the previous period (the first renewal) began 05-15 10:00. A
    # reminder at that very moment is not "after" it began.
    events = [
        *RENEWED,
        event("renewal_notice", "2026-05-15 10:00"),
        event("renewed", "2026-06-15 10:00", amount="25.00"),
    ]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-06-16 10:00", reason="renewal_without_notice")
    assert_quote(q, AUTO, "25.00", "S2")
    assert q.period_index == 2


def test_renewal_without_notice_on_a_first_purchase_falls_through_to_the_policy_rules() -> None:
    q = quote(MONTHLY, order_=MONTHLY_ORDER, at_="2026-04-20 10:00", reason="renewal_without_notice")
    assert_quote(q, AUTO, "25.00", "P1")


def test_renewal_without_notice_on_an_activated_first_purchase_is_prorated() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        reason="renewal_without_notice",
        events=[activated("2026-04-01 10:30"), used("2026-04-02 10:00")],
    )
    assert_quote(q, REVIEW, "21.00", "P9")


# --- S3 platform_fault ----------------------------------------------------------------------------


def test_outages_over_48_hours_are_refunded_in_full_at_once_without_fee() -> None:
    q = quote(
        at_="2026-04-20 10:00",
        reason="platform_fault",
        rules=policy(fee_percent="10", fee_min="5.00"),
        events=[
            activated("2026-04-01 10:30"),
            used("2026-04-02 10:00"),
            event("outage", "2026-04-05 00:00", hours="30"),
            event("outage", "2026-04-12 00:00", hours="18.5"),
        ],
    )
    assert_quote(q, AUTO, "30.00", "S3")
    assert amounts(q) == {"paid": "30.00"}


def test_outages_of_exactly_48_hours_go_to_a_person_for_the_full_amount() -> None:
    q = quote(
        at_="2026-04-20 10:00",
        reason="platform_fault",
        events=[activated("2026-04-01 10:30"), event("outage", "2026-04-05 00:00", hours="48")],
    )
    assert_quote(q, REVIEW, "30.00", "S3")


def test_platform_fault_without_recorded_outage_goes_to_review_even_after_the_term() -> None:
    q = quote(at_="2026-06-01 10:00", reason="platform_fault", events=[activated("2026-04-01 10:30")])
    assert_quote(q, REVIEW, "30.00", "S3")


def test_outages_recorded_after_the_request_do_not_count() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        reason="platform_fault",
        events=[activated("2026-04-01 10:30"), event("outage", "2026-04-10 10:01", hours="72")],
    )
    assert_quote(q, REVIEW, "30.00", "S3")


def test_outages_in_an_earlier_period_do_not_count_for_a_renewal() -> None:
    events = [*RENEWED, event("outage", "2026-05-01 00:00", hours="72")]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-20 10:00", reason="platform_fault")
    assert_quote(q, REVIEW, "25.00", "S3")


# --- S4 not_as_described -------------------------------------------------------------------------


def test_not_as_described_goes_to_review_for_the_full_amount_without_fee() -> None:
    q = quote(
        membership("30d", promo=True),
        at_="2026-04-20 10:00",
        reason="not_as_described",
        rules=policy(fee_percent="10"),
        events=[activated("2026-04-01 10:30"), used("2026-04-02 10:00")],
    )
    assert_quote(q, REVIEW, "30.00", "S4")
    assert amounts(q) == {"paid": "30.00"}


def test_not_as_described_for_delivered_goods_goes_to_review_not_to_the_digital_goods_rule() -> None:
    q = quote(
        virtual_goods("50.00"),
        order_=order("50.00"),
        at_="2026-04-01 11:00",
        reason="not_as_described",
        events=[event("delivered", "2026-04-01 10:00")],
    )
    assert_quote(q, REVIEW, "50.00", "S4")


# --- S5 merchant_gone ----------------------------------------------------------------------------


def test_merchant_gone_on_record_refunds_at_once_less_the_days_used_until_it_vanished() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        reason="merchant_gone",
        rules=policy(fee_percent="10"),
        events=[
            activated("2026-04-01 10:30"),
            event("merchant_gone", "2026-04-04 09:00"),  # 2.94 days after activation → 3 days
            event("merchant_gone", "2026-04-06 09:00"),  # only the first one counts
        ],
    )
    assert_quote(q, AUTO, "27.00", "S5")
    assert amounts(q) == {"paid": "30.00", "used_share": "-3.00"}
    assert q.lines[1].detail == "3 of 30 days"


def test_merchant_gone_without_a_recorded_event_goes_to_review_measured_to_the_request() -> None:
    q = quote(at_="2026-04-10 10:00", reason="merchant_gone", events=[activated("2026-04-01 10:30")])
    # 8.98 days → 9 days used.
    assert_quote(q, REVIEW, "21.00", "S5")


def test_a_merchant_gone_event_after_the_request_is_not_on_record() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        reason="merchant_gone",
        events=[activated("2026-04-01 10:30"), event("merchant_gone", "2026-04-10 10:01")],
    )
    assert_quote(q, REVIEW, "21.00", "S5")


def test_merchant_gone_before_activation_means_nothing_was_used() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        reason="merchant_gone",
        events=[event("merchant_gone", "2026-04-01 12:00"), activated("2026-04-02 10:00")],
    )
    assert_quote(q, AUTO, "30.00", "S5")


def test_merchant_gone_for_an_unactivated_membership_is_a_full_refund() -> None:
    q = quote(at_="2026-04-10 10:00", reason="merchant_gone", events=[event("merchant_gone", "2026-04-05 10:00")])
    assert_quote(q, AUTO, "30.00", "S5")


def test_merchant_gone_measures_by_month_when_the_policy_prorates_by_month() -> None:
    q = quote(
        membership("12m", "120.00"),
        order_=order("120.00", "2026-01-05 10:00"),
        rules=policy(proration="by_month"),
        at_="2026-04-01 10:00",
        reason="merchant_gone",
        events=[activated("2026-01-05 10:05"), event("merchant_gone", "2026-02-20 10:00")],
    )
    # The merchant vanished in the second month: 2 of 12 months used.
    assert_quote(q, AUTO, "100.00", "S5")


def test_merchant_gone_for_an_activated_permanent_membership_is_a_person_s_call_up_to_all() -> None:
    q = quote(
        membership("permanent", "199.00"),
        order_=order("199.00"),
        at_="2026-05-10 10:00",
        reason="merchant_gone",
        events=[activated("2026-04-01 10:30"), event("merchant_gone", "2026-05-01 10:00")],
    )
    assert_quote(q, REVIEW, "199.00", "S5")
    assert q.lines[0].detail == "the most that may be granted"


def test_merchant_gone_for_an_unactivated_permanent_membership_is_refunded_at_once() -> None:
    q = quote(
        membership("permanent", "199.00"),
        order_=order("199.00"),
        at_="2026-05-10 10:00",
        reason="merchant_gone",
        events=[event("merchant_gone", "2026-05-01 10:00")],
    )
    assert_quote(q, AUTO, "199.00", "S5")


def test_merchant_gone_for_delivered_goods_is_a_person_s_call_up_to_all() -> None:
    q = quote(
        virtual_goods("50.00"),
        order_=order("50.00"),
        at_="2026-04-05 10:00",
        reason="merchant_gone",
        events=[event("delivered", "2026-04-01 10:00"), event("merchant_gone", "2026-04-02 10:00")],
    )
    assert_quote(q, REVIEW, "50.00", "S5")


def test_merchant_gone_for_undelivered_goods_is_refunded_at_once() -> None:
    q = quote(
        virtual_goods("50.00"),
        order_=order("50.00"),
        at_="2026-04-05 10:00",
        reason="merchant_gone",
        events=[event("merchant_gone", "2026-04-02 10:00")],
    )
    assert_quote(q, AUTO, "50.00", "S5")


def test_merchant_gone_for_a_top_up_refunds_the_withdrawable_cash_without_fee() -> None:
    q = quote(
        recharge("100.00"),
        order_=order("100.00", "2026-03-01 10:00", bonus="20.00"),
        rules=policy(fee_percent="10"),
        at_="2026-04-01 10:00",
        reason="merchant_gone",
        events=[event("spent", "2026-03-05 10:00", amount="50.00"), event("merchant_gone", "2026-03-20 10:00")],
    )
    assert_quote(q, AUTO, "70.00", "S5")
    assert amounts(q) == {"paid": "100.00", "cash_spent": "-30.00"}


def test_merchant_gone_refunds_nothing_but_still_approves_once_the_term_was_used_up() -> None:
    # A gap in RULES.md kept to the letter (docs/refund-rules-notes.md): S5 says auto_approve
    # when the event is on record, even when the used share leaves 0.00.
    q = quote(
        at_="2026-06-01 10:00",
        reason="merchant_gone",
        events=[activated("2026-04-01 10:30"), event("merchant_gone", "2026-05-20 10:00")],
    )
    assert_quote(q, AUTO, "0.00", "S5")


def test_a_merchant_gone_event_from_an_earlier_period_counts_for_the_renewal() -> None:
    events = [*RENEWED, event("merchant_gone", "2026-05-01 10:00")]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-20 10:00", reason="merchant_gone")
    # It vanished before the renewal began, so nothing of the renewal was used.
    assert_quote(q, AUTO, "25.00", "S5")


# --- P1 not_activated, P2/P3 virtual goods ------------------------------------------------------


def test_an_unactivated_membership_is_refunded_in_full_with_one_click() -> None:
    q = quote(at_="2026-04-10 10:00")
    assert_quote(q, AUTO, "30.00", "P1")
    assert q.arrival is not None
    assert (q.arrival.earliest, q.arrival.latest) == (date(2026, 4, 13), date(2026, 4, 15))


def test_an_unactivated_membership_is_refunded_in_full_long_after_the_cooling_off_window() -> None:
    assert_quote(quote(at_="2027-04-10 10:00"), AUTO, "30.00", "P1")


@pytest.mark.parametrize("reason", ["changed_mind", "mistaken_purchase", "duplicate_purchase"])
def test_every_no_fault_reason_goes_straight_to_the_policy_rules(reason: str) -> None:
    assert_quote(quote(at_="2026-04-10 10:00", reason=reason), AUTO, "30.00", "P1")


@pytest.mark.parametrize(
    ("channel", "earliest", "latest"),
    [
        ("wechat", date(2026, 4, 13), date(2026, 4, 15)),
        ("alipay", date(2026, 4, 13), date(2026, 4, 15)),
        ("bank_card", date(2026, 4, 15), date(2026, 4, 17)),
        ("balance", date(2026, 4, 10), date(2026, 4, 10)),
    ],
)
def test_an_approved_refund_arrives_within_the_channel_s_working_days(
    channel: str, earliest: date, latest: date
) -> None:
    q = quote(at_="2026-04-10 10:00", order_=order(channel=channel))
    assert q.arrival is not None
    assert (q.arrival.earliest, q.arrival.latest) == (earliest, latest)


def test_undelivered_virtual_goods_are_refunded_in_full_with_one_click() -> None:
    q = quote(virtual_goods("50.00"), order_=order("50.00"), at_="2026-04-01 11:00")
    assert_quote(q, AUTO, "50.00", "P2")


def test_delivered_virtual_goods_are_outside_no_reason_return() -> None:
    q = quote(
        virtual_goods("50.00"),
        order_=order("50.00"),
        at_="2026-04-01 11:00",
        events=[event("delivered", "2026-04-01 10:00")],
    )
    assert_quote(q, REJECT, "0.00", "P3")
    assert amounts(q) == {"paid": "50.00", "not_refundable": "-50.00"}
    assert q.review_due is None
    assert q.arrival is None


# --- P4 promo, P5 expired -----------------------------------------------------------------------


def test_an_activated_promo_product_is_not_refundable_even_inside_the_cooling_off_window() -> None:
    q = quote(
        membership("30d", "9.90", promo=True),
        order_=order("9.90"),
        at_="2026-04-02 10:00",
        events=[activated("2026-04-01 10:01")],
    )
    assert_quote(q, REJECT, "0.00", "P4")
    assert amounts(q) == {"paid": "9.90", "not_refundable": "-9.90"}


def test_an_unactivated_promo_product_is_refunded_in_full() -> None:
    q = quote(membership("30d", "9.90", promo=True), order_=order("9.90"), at_="2026-04-02 10:00")
    assert_quote(q, AUTO, "9.90", "P1")


def test_no_refund_after_the_term_ends() -> None:
    q = quote(at_="2026-05-01 10:31", events=[activated("2026-04-01 10:30")])
    assert_quote(q, REJECT, "0.00", "P5")


def test_a_request_at_the_very_end_of_the_term_is_not_after_it() -> None:
    # 30 days after activation exactly: P5 does not fire, P9 measures 30 of 30 days → 0.00.
    q = quote(at_="2026-05-01 10:30", events=[activated("2026-04-01 10:30")])
    assert_quote(q, REJECT, "0.00", "P9")


def test_a_one_month_term_activated_on_january_31_ends_on_the_last_day_of_february() -> None:
    product = membership("1m", "28.00")
    paid = order("28.00", "2026-01-31 10:00")
    events = [activated("2026-01-31 10:00")]
    assert term_end(product, at("2026-01-31 10:00"), TZ) == at("2026-02-28 10:00")
    assert_quote(quote(product, order_=paid, events=events, at_="2026-02-28 10:01"), REJECT, "0.00", "P5")
    assert quote(product, order_=paid, events=events, at_="2026-02-28 10:00").rules == ("P9",)


# --- P6 cooling_off_full, P7 cooling_off_days -----------------------------------------------------


def test_an_unused_activated_membership_within_the_window_is_refunded_in_full_without_fee() -> None:
    q = quote(at_="2026-04-08 09:59", rules=policy(fee_percent="10"), events=[activated("2026-04-01 10:30")])
    assert_quote(q, REVIEW, "30.00", "P6")
    assert amounts(q) == {"paid": "30.00"}


def test_a_request_exactly_cooling_off_days_after_payment_is_not_within_the_window() -> None:
    q = quote(at_="2026-04-08 10:00", events=[activated("2026-04-01 10:30")])
    # 6.98 days since activation → 7 of 30 days used.
    assert_quote(q, REVIEW, "23.00", "P9")


def test_the_cooling_off_window_is_counted_from_payment_not_activation() -> None:
    q = quote(at_="2026-04-08 10:00", events=[activated("2026-04-05 10:00")])
    assert q.rules == ("P9",)


def test_a_used_membership_within_a_full_if_unused_window_is_prorated() -> None:
    q = quote(at_="2026-04-03 10:00", events=[activated("2026-04-01 10:30"), used("2026-04-01 11:00")])
    assert_quote(q, REVIEW, "28.00", "P9")


def test_a_zero_day_window_gives_no_cooling_off_refund() -> None:
    q = quote(at_="2026-04-01 11:00", rules=policy(cooling_off_days=0), events=[activated("2026-04-01 10:30")])
    assert_quote(q, REVIEW, "29.00", "P9")


def test_cooling_off_none_prorates_even_an_unused_membership_within_seven_days() -> None:
    q = quote(at_="2026-04-03 10:00", rules=policy(cooling_off="none"), events=[activated("2026-04-01 10:30")])
    assert_quote(q, REVIEW, "28.00", "P9")


def test_minus_used_days_deducts_the_days_used_and_no_fee_inside_the_window() -> None:
    rules = policy(cooling_off="minus_used_days", fee_percent="10", fee_min="5.00")
    events = [activated("2026-04-01 10:00"), used("2026-04-01 12:00")]
    q = quote(at_="2026-04-03 10:00", rules=rules, events=events)
    assert_quote(q, REVIEW, "28.00", "P7")
    assert amounts(q) == {"paid": "30.00", "used_share": "-2.00"}
    later = quote(at_="2026-04-03 10:01", rules=rules, events=events)
    assert_quote(later, REVIEW, "27.00", "P7")


def test_minus_used_days_measures_by_day_even_when_the_policy_prorates_by_month() -> None:
    q = quote(
        membership("1m", "28.00"),
        order_=order("28.00", "2026-01-31 10:00"),
        rules=policy(cooling_off="minus_used_days", proration="by_month"),
        at_="2026-02-02 10:00",
        events=[activated("2026-01-31 10:00")],
    )
    # 31 Jan + 1 month clamps to 28 Feb: 28 days; 2 used.
    assert_quote(q, REVIEW, "26.00", "P7")
    assert q.lines[1].detail == "2 of 28 days"


def test_minus_used_days_deducts_nothing_from_a_permanent_membership() -> None:
    q = quote(
        membership("permanent", "199.00"),
        order_=order("199.00"),
        rules=policy(cooling_off="minus_used_days"),
        at_="2026-04-03 10:00",
        events=[activated("2026-04-01 10:30"), used("2026-04-01 11:00")],
    )
    assert_quote(q, REVIEW, "199.00", "P7")
    assert amounts(q)["used_share"] == "0.00"


def test_minus_used_days_outside_the_window_falls_to_proration_with_fee() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        rules=policy(cooling_off="minus_used_days", fee_percent="10"),
        events=[activated("2026-04-01 10:30")],
    )
    # 9 of 30 days: 9.00 used, 21.00 left, fee 2.10.
    assert_quote(q, REVIEW, "18.90", "P9")


# --- P8 permanent, P9 prorated -------------------------------------------------------------------


def test_an_activated_permanent_membership_is_not_refundable_after_the_window() -> None:
    q = quote(
        membership("permanent", "199.00"),
        order_=order("199.00"),
        at_="2026-04-10 10:00",
        events=[activated("2026-04-01 10:30")],
    )
    assert_quote(q, REJECT, "0.00", "P8")
    assert amounts(q) == {"paid": "199.00", "not_refundable": "-199.00"}


def test_a_used_permanent_membership_is_not_refundable_inside_a_full_if_unused_window() -> None:
    q = quote(
        membership("permanent", "199.00"),
        order_=order("199.00"),
        at_="2026-04-02 10:00",
        events=[activated("2026-04-01 10:30"), used("2026-04-01 11:00")],
    )
    assert_quote(q, REJECT, "0.00", "P8")


def test_an_unused_permanent_membership_inside_the_window_is_refunded_in_full() -> None:
    q = quote(
        membership("permanent", "199.00"),
        order_=order("199.00"),
        at_="2026-04-02 10:00",
        events=[activated("2026-04-01 10:30")],
    )
    assert_quote(q, REVIEW, "199.00", "P6")


def test_an_activated_membership_is_prorated_by_day_and_reviewed() -> None:
    q = quote(at_="2026-04-10 10:00", events=[activated("2026-04-01 10:30"), used("2026-04-02 10:00")])
    assert_quote(q, REVIEW, "21.00", "P9")
    assert amounts(q) == {"paid": "30.00", "used_share": "-9.00", "fee": "0.00"}
    assert q.lines[1].detail == "9 of 30 days"
    assert q.review_due == date(2026, 4, 14)


def test_seed_000_thirty_day_card_three_days_used() -> None:
    q = quote(at_="2026-04-04 10:30", events=[activated("2026-04-01 10:30"), used("2026-04-02 20:00")])
    assert_quote(q, REVIEW, "27.00", "P9")
    assert q.review_due == date(2026, 4, 8)  # 4–6 April is the Qingming holiday


def test_by_day_counts_a_started_day_as_a_whole_day_and_at_least_one() -> None:
    events = [activated("2026-04-01 10:30"), used("2026-04-01 10:30")]
    assert_quote(quote(at_="2026-04-01 10:31", events=events), REVIEW, "29.00", "P9")
    assert_quote(quote(at_="2026-04-02 10:30", events=events), REVIEW, "29.00", "P9")
    assert_quote(quote(at_="2026-04-02 10:31", events=events), REVIEW, "28.00", "P9")


def test_a_request_at_the_moment_of_activation_counts_one_day_used() -> None:
    # RULES.md §4: u = ceil((r − a) / 1 day), at least 1 — also when r = a.
    q = quote(at_="2026-04-10 10:00", events=[activated("2026-04-10 10:00")])
    assert_quote(q, REVIEW, "29.00", "P9")


def test_by_day_on_a_months_term_divides_by_the_calendar_days_of_those_months() -> None:
    q = quote(
        membership("12m", "365.00"),
        order_=order("365.00", "2026-03-02 10:00"),
        rules=policy(cooling_off="none"),
        at_="2026-03-12 10:00",
        events=[activated("2026-03-02 10:00")],
    )
    assert q.lines[1].detail == "10 of 365 days"
    assert_quote(q, REVIEW, "355.00", "P9")


@pytest.mark.parametrize(
    ("activation", "months", "days"),
    [
        ("2026-01-31 10:00", 1, 28),  # 31 Jan → 28 Feb
        ("2028-01-31 10:00", 1, 29),  # leap year → 29 Feb
        ("2026-03-31 10:00", 1, 30),  # 31 Mar → 30 Apr
        ("2026-01-31 10:00", 2, 59),  # 31 Jan → 31 Mar
        ("2026-08-31 10:00", 6, 181),  # 31 Aug → 28 Feb 2027
    ],
)
def test_by_day_total_for_a_months_term_clamps_to_the_end_of_a_short_month(
    activation: str, months: int, days: int
) -> None:
    q = quote(
        membership(f"{months}m", "100.00"),
        order_=order("100.00", activation),
        rules=policy(cooling_off="none"),
        at_=activation,
        events=[activated(activation)],
    )
    assert q.lines[1].detail == f"1 of {days} days"
    assert (add_months(at(activation), months, TZ).date() - at(activation).date()).days == days


def test_seed_001_annual_card_one_month_used_by_month() -> None:
    q = quote(
        membership("12m", "100.00"),
        order_=order("100.00", "2026-03-02 10:00"),
        rules=policy(proration="by_month"),
        at_="2026-03-22 09:00",
        events=[activated("2026-03-02 12:00")],
    )
    assert_quote(q, REVIEW, "91.67", "P9")
    assert amounts(q)["used_share"] == "-8.33"
    assert q.lines[1].detail == "1 of 12 months"


def test_seed_002_three_months_used_with_a_five_percent_fee() -> None:
    q = quote(
        membership("12m", "100.00"),
        order_=order("100.00", "2026-01-05 10:00"),
        rules=policy(proration="by_month", fee_percent="5"),
        at_="2026-03-20 15:00",
        events=[activated("2026-01-05 10:05")],
    )
    assert_quote(q, REVIEW, "71.25", "P9")
    assert amounts(q) == {"paid": "100.00", "used_share": "-25.00", "fee": "-3.75"}


@pytest.mark.parametrize(
    ("request_at", "months_used"),
    [
        ("2026-02-28 10:00", 1),  # exactly a + 1 month (clamped): still the first month
        ("2026-02-28 10:01", 2),
        ("2026-03-31 10:00", 2),
        ("2026-03-31 10:01", 3),
    ],
)
def test_by_month_counts_the_months_begun_from_activation(request_at: str, months_used: int) -> None:
    q = quote(
        membership("12m", "120.00"),
        order_=order("120.00", "2026-01-31 10:00"),
        rules=policy(proration="by_month"),
        at_=request_at,
        events=[activated("2026-01-31 10:00")],
    )
    assert q.lines[1].detail == f"{months_used} of 12 months"
    assert q.refund == 12000 - 1000 * months_used


def test_by_benefit_counts_only_listed_benefits_used_before_the_request() -> None:
    q = quote(
        membership("12m", "100.00", benefits={"course": 10}),
        order_=order("100.00", "2026-03-02 10:00"),
        rules=policy(proration="by_benefit"),
        at_="2026-04-01 10:00",
        events=[
            activated("2026-03-02 10:00"),
            used("2026-03-03 10:00", "course", 3),
            used("2026-03-04 10:00", "video", 5),  # not a listed benefit
            event("benefit_used", "2026-03-05 10:00"),  # names no benefit
            used("2026-04-01 10:01", "course", 4),  # after the request
        ],
    )
    assert_quote(q, REVIEW, "70.00", "P9")
    assert q.lines[1].detail == "3 of 10 benefits"


def test_by_benefit_adds_up_every_listed_benefit() -> None:
    q = quote(
        membership("12m", "90.00", benefits={"course": 4, "live": 2}),
        order_=order("90.00", "2026-03-02 10:00"),
        rules=policy(proration="by_benefit"),
        at_="2026-04-01 10:00",
        events=[used("2026-03-03 10:00", "course"), used("2026-03-04 10:00", "live")],
    )
    assert_quote(q, REVIEW, "60.00", "P9")


def test_by_benefit_never_counts_more_than_the_benefits_there_are() -> None:
    q = quote(
        membership("12m", "100.00", benefits={"course": 10}),
        order_=order("100.00", "2026-03-02 10:00"),
        rules=policy(proration="by_benefit"),
        at_="2026-04-01 10:00",
        events=[used("2026-03-03 10:00", "course", 15)],
    )
    assert_quote(q, REJECT, "0.00", "P9")
    assert q.lines[1].detail == "10 of 10 benefits"


# --- fees ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fee", "refund"),
    [
        ({"fee_percent": "5"}, "3.75", "71.25"),
        ({"fee_percent": "3.3"}, "2.48", "72.52"),  # 2.475 → 2.48, rounded once, half-up
        ({"fee_percent": "5", "fee_min": "5.00"}, "5.00", "70.00"),
        ({"fee_percent": "5", "fee_max": "2.00"}, "2.00", "73.00"),
        ({"fee_percent": "0", "fee_min": "1.50"}, "1.50", "73.50"),
        ({"fee_percent": "100"}, "75.00", "0.00"),
        ({"fee_percent": "5", "fee_min": "3.75", "fee_max": "3.75"}, "3.75", "71.25"),
    ],
)
def test_the_fee_is_a_percent_of_what_is_left_clamped_to_min_and_max(
    options: dict[str, str], fee: str, refund: str
) -> None:
    # Seed 002's annual card: 100.00, three months used by month, 75.00 left before the fee.
    q = quote(
        membership("12m", "100.00"),
        order_=order("100.00", "2026-01-05 10:00"),
        rules=policy(
            proration="by_month",
            fee_percent=options.get("fee_percent", "0"),
            fee_min=options.get("fee_min", "0.00"),
            fee_max=options.get("fee_max"),
        ),
        at_="2026-03-20 15:00",
        events=[activated("2026-01-05 10:05")],
    )
    assert amounts(q)["used_share"] == "-25.00"
    assert amounts(q)["fee"] == f"-{fee}"
    assert q.to_dict()["refund"] == refund


def test_the_fee_is_never_more_than_what_is_left() -> None:
    # 28.5 days used of 30 → 29 days, 1.00 left; a minimum fee of 5.00 takes only that 1.00.
    q = quote(at_="2026-04-30 00:00", rules=policy(fee_min="5.00"), events=[activated("2026-04-01 10:30")])
    assert amounts(q) == {"paid": "30.00", "used_share": "-29.00", "fee": "-1.00"}
    assert_quote(q, REJECT, "0.00", "P9")


def test_a_refund_that_comes_to_nothing_is_rejected_under_p9() -> None:
    q = quote(at_="2026-05-01 10:00", events=[activated("2026-04-01 10:30")])
    assert_quote(q, REJECT, "0.00", "P9")
    assert q.review_due is None


# --- review_business_days ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_at", "days", "due"),
    [
        ("2026-04-10 10:00", 2, date(2026, 4, 14)),  # Fri → Mon, Tue
        ("2026-04-10 10:00", 5, date(2026, 4, 17)),
        ("2026-04-11 23:59", 1, date(2026, 4, 13)),  # a Saturday request: Monday
        ("2026-09-30 10:00", 2, date(2026, 10, 9)),  # National Day: 1–7 October off
        ("2026-09-30 10:00", 3, date(2026, 10, 10)),  # Saturday 10 October is a working day
    ],
)
def test_review_is_due_on_the_nth_working_day_after_the_request_day(request_at: str, days: int, due: date) -> None:
    q = quote(
        membership("12m", "120.00"),
        order_=order("120.00", "2026-03-01 10:00"),
        rules=policy(review_business_days=days),
        at_=request_at,
        events=[activated("2026-03-01 10:00")],
    )
    assert q.decision is REVIEW
    assert q.review_due == due


def test_the_request_day_is_read_in_the_scenario_time_zone() -> None:
    # 2026-04-09 17:00 UTC is 2026-04-10 01:00 in Shanghai: a Friday request, due Tuesday.
    request = RefundRequest(datetime(2026, 4, 9, 17, 0, tzinfo=UTC), Reason.CHANGED_MIND)
    q = quote_refund(membership(), Policy(), order(), (activated("2026-04-01 10:30"),), request, CALENDAR, TZ)
    assert q.review_due == date(2026, 4, 14)


# --- trial_counts_as_activation ----------------------------------------------------------------


def test_a_claimed_trial_activates_the_membership_by_default() -> None:
    q = quote(at_="2026-04-10 10:00", events=[event("trial_claimed", "2026-04-01 11:00")])
    # Activated at 11:00; 8.96 days → 9 days used.
    assert_quote(q, REVIEW, "21.00", "P9")


def test_a_claimed_trial_does_not_activate_when_the_policy_says_so() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        rules=policy(trial_counts_as_activation=False),
        events=[event("trial_claimed", "2026-04-01 11:00")],
    )
    assert_quote(q, AUTO, "30.00", "P1")


def test_a_claimed_trial_is_not_use_so_the_cooling_off_window_refunds_in_full() -> None:
    q = quote(at_="2026-04-03 10:00", events=[event("trial_claimed", "2026-04-01 11:00")])
    assert_quote(q, REVIEW, "30.00", "P6")


def test_a_benefit_used_activates_even_when_trials_do_not() -> None:
    q = quote(
        at_="2026-04-10 10:00",
        rules=policy(trial_counts_as_activation=False),
        events=[event("trial_claimed", "2026-04-01 11:00"), used("2026-04-01 12:00")],
    )
    assert_quote(q, REVIEW, "21.00", "P9")


# --- renewals ------------------------------------------------------------------------------------


def test_a_request_after_a_renewal_is_about_the_renewal_period() -> None:
    events = [*RENEWED, used("2026-04-20 10:00")]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-05-16 10:00")
    # The purchase period was used; the renewal, activated at its renewal time, was not, and its
    # cooling-off window runs from the renewal: P6, the renewal's 25.00 in full.
    assert_quote(q, REVIEW, "25.00", "P6")
    assert q.period_index == 1
    assert q.paid == 2500


def test_a_renewal_is_activated_at_its_renewal_time_without_any_event() -> None:
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=RENEWED, at_="2026-05-25 10:00")
    # Outside the renewal's 7 days; activated 2026-05-15 10:00; 10 of 31 days used.
    assert_quote(q, REVIEW, "16.94", "P9")
    assert q.lines[1].detail == "10 of 31 days"


def test_the_renewal_term_ends_one_term_after_the_renewal() -> None:
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=RENEWED, at_="2026-06-15 10:01")
    assert_quote(q, REJECT, "0.00", "P5")


def test_a_renewal_after_the_request_is_ignored() -> None:
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=RENEWED, at_="2026-05-15 09:59")
    assert q.period_index == 0
    assert q.paid == 2500
    assert q.lines[0].detail == ""


def test_the_latest_of_several_renewals_is_the_one_refunded() -> None:
    events = [
        *RENEWED,
        event("renewed", "2026-06-15 10:00", amount="22.00"),
    ]
    q = quote(MONTHLY, order_=MONTHLY_ORDER, events=events, at_="2026-06-16 10:00")
    assert_quote(q, REVIEW, "22.00", "P6")
    assert q.period_index == 2
    assert q.lines[0].detail == "renewal no. 2"


# --- events after the request ------------------------------------------------------------------


def test_events_after_the_request_are_ignored() -> None:
    q = quote(at_="2026-04-10 10:00", events=[activated("2026-04-10 10:01"), used("2026-04-11 10:00")])
    assert_quote(q, AUTO, "30.00", "P1")


def test_events_are_read_in_time_order_whatever_order_they_come_in() -> None:
    events = [used("2026-04-05 10:00"), activated("2026-04-01 10:30")]
    q = quote(at_="2026-04-10 10:00", events=events)
    assert_quote(q, REVIEW, "21.00", "P9")


# --- R1, R2 recharge -----------------------------------------------------------------------------

TOP_UP = recharge("100.00")
TOP_UP_ORDER = order("100.00", "2026-03-01 10:00", bonus="20.00")


def test_an_unspent_top_up_within_the_window_is_refunded_in_full_with_one_click() -> None:
    q = quote(TOP_UP, order_=TOP_UP_ORDER, at_="2026-03-08 09:59")
    assert_quote(q, AUTO, "100.00", "R1")


def test_the_cooling_off_option_does_not_switch_off_the_one_click_top_up_refund() -> None:
    # R1 reads only cooling_off_days; P6 (a membership rule) never catches a top-up, so an
    # unspent top-up is auto-approved, not sent to review as P6 would.
    q = quote(TOP_UP, order_=TOP_UP_ORDER, at_="2026-03-02 10:00", rules=policy(cooling_off="none"))
    assert_quote(q, AUTO, "100.00", "R1")


def test_an_unspent_top_up_exactly_at_the_window_end_is_a_withdrawal() -> None:
    q = quote(TOP_UP, order_=TOP_UP_ORDER, at_="2026-03-08 10:00")
    assert_quote(q, REVIEW, "100.00", "R2")


def test_a_top_up_with_only_zero_spending_counts_as_nothing_spent() -> None:
    q = quote(
        TOP_UP, order_=TOP_UP_ORDER, at_="2026-03-02 10:00", events=[event("spent", "2026-03-01 12:00", amount="0.00")]
    )
    assert_quote(q, AUTO, "100.00", "R1")


def test_seed_003_spending_uses_the_bonus_first_and_only_the_cash_left_comes_back() -> None:
    q = quote(
        TOP_UP, order_=TOP_UP_ORDER, at_="2026-04-01 10:00", events=[event("spent", "2026-03-05 10:00", amount="50.00")]
    )
    assert_quote(q, REVIEW, "70.00", "R2")
    assert amounts(q) == {"paid": "100.00", "cash_spent": "-30.00", "fee": "0.00"}


def test_a_spent_top_up_inside_the_window_is_a_withdrawal_not_a_one_click_refund() -> None:
    q = quote(
        TOP_UP, order_=TOP_UP_ORDER, at_="2026-03-02 10:00", events=[event("spent", "2026-03-01 12:00", amount="10.00")]
    )
    # 10.00 spent, all from the bonus: every fen of cash is withdrawable.
    assert_quote(q, REVIEW, "100.00", "R2")


def test_a_withdrawal_pays_the_fee_on_the_withdrawable_cash() -> None:
    q = quote(
        TOP_UP,
        order_=TOP_UP_ORDER,
        at_="2026-04-01 10:00",
        rules=policy(fee_percent="10", fee_max="5.00"),
        events=[event("spent", "2026-03-05 10:00", amount="50.00")],
    )
    assert amounts(q)["fee"] == "-5.00"
    assert_quote(q, REVIEW, "65.00", "R2")


@pytest.mark.parametrize("spent", ["120.00", "150.00"])
def test_a_top_up_spent_to_the_last_fen_of_cash_is_rejected_not_negative(spent: str) -> None:
    q = quote(
        TOP_UP,
        order_=TOP_UP_ORDER,
        at_="2026-04-01 10:00",
        rules=policy(fee_min="1.00"),
        events=[event("spent", "2026-03-05 10:00", amount=spent)],
    )
    assert_quote(q, REJECT, "0.00", "R2")
    assert amounts(q) == {"paid": "100.00", "cash_spent": "-100.00", "fee": "0.00"}


# --- coupons and lines ---------------------------------------------------------------------------


def test_a_forfeited_coupon_is_a_zero_line_that_says_so() -> None:
    q = quote(at_="2026-04-10 10:00", order_=order(coupon="20.00"))
    assert_quote(q, AUTO, "30.00", "P1")
    coupon = q.lines[-1]
    assert (coupon.code, coupon.amount) == ("coupon", 0)
    assert "forfeited" in coupon.detail
    assert "20.00" in coupon.detail


def test_a_refundable_coupon_is_returned_as_a_coupon_not_as_cash() -> None:
    q = quote(at_="2026-04-10 10:00", order_=order(coupon="20.00", coupon_refundable=True))
    assert q.refund == 3000
    assert q.lines[-1].to_dict() == {
        "code": "coupon",
        "amount": "0.00",
        "detail": "coupon 20.00 returned as a coupon",
        "detail_zh": "优惠券 20.00 元以优惠券形式退回",
    }


def test_a_coupon_stays_with_an_order_that_is_not_refunded() -> None:
    q = quote(
        at_="2026-05-10 10:00",
        order_=order(coupon="20.00", coupon_refundable=True),
        events=[activated("2026-04-01 10:30")],
    )
    assert_quote(q, REJECT, "0.00", "P5")
    assert q.lines[-1].code == "coupon"
    assert "stays" in q.lines[-1].detail


def test_a_coupon_spent_on_the_first_purchase_is_not_part_of_a_renewal_refund() -> None:
    paid = order("25.00", "2026-04-15 10:00", coupon="5.00", coupon_refundable=True)
    q = quote(MONTHLY, order_=paid, events=RENEWED, at_="2026-05-16 10:00")
    assert q.period_index == 1
    assert "coupon" not in amounts(q)


def test_the_json_lines_add_up_to_the_refund() -> None:
    q = quote(
        membership("12m", "100.00"),
        order_=order("100.00", "2026-01-05 10:00", coupon="10.00"),
        rules=policy(proration="by_month", fee_percent="5"),
        at_="2026-03-20 15:00",
        events=[activated("2026-01-05 10:05")],
    )
    answer = q.to_dict()
    lines = answer["lines"]
    assert isinstance(lines, list)
    assert sum(Decimal(line["amount"]) for line in lines) == Decimal(str(answer["refund"]))
    assert [line["code"] for line in lines] == ["paid", "used_share", "fee", "coupon"]


def test_every_quote_names_the_deciding_rule_and_explains_it_in_both_languages() -> None:
    q = quote(at_="2026-04-10 10:00", events=[activated("2026-04-01 10:30")])
    assert q.rules == ("P9",)
    assert "P9" in q.explanation_en
    assert "P9" in q.explanation_zh
    assert "21.00" in q.explanation_en
    assert "2026-04-14" in q.explanation_en
    assert q.to_dict()["currency"] == "CNY"


def test_a_quote_without_dates_outside_the_data_carries_no_calendar_warning() -> None:
    assert quote(at_="2026-04-10 10:00").calendar_warning is None


def test_the_term_helper_answers_none_for_a_permanent_membership() -> None:
    assert term_end(membership("permanent"), at("2026-04-01 10:00"), TZ) is None
    assert term_end(membership(Term(days=30)), at("2026-04-01 10:00"), TZ) == at("2026-05-01 10:00")
