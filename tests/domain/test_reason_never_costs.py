"""RULES.md §3a: the reason never costs the consumer.

When a statutory rule (S1–S5) decides, the engine also decides the same request as a change of
mind (the policy rules, same order, same moment) and answers with the better of the two: the
larger refund; on equal refunds the faster decision (auto_approve, then review, then reject); on a
full tie the statutory outcome. ``rules`` names the deciding rule first and the other second.

Unless a test says otherwise the order is a 30-day card for 30.00, paid 2026-04-01 10:00
(a Wednesday) by Alipay, under the default policy (7 days' cooling-off, full_if_unused, by_day).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from kameng.domain.model import Decision, Reason
from kameng.domain.rules import STATUTORY_RULES

from .factories import activated, event, membership, order, policy, quote, recharge, used, virtual_goods
from .test_properties import Case, cases, run

AUTO, REVIEW, REJECT = Decision.AUTO_APPROVE, Decision.REVIEW, Decision.REJECT
SPEED = {AUTO: 0, REVIEW: 1, REJECT: 2}
STATUTORY_REASONS = (
    Reason.NOT_DELIVERED,
    Reason.RENEWAL_WITHOUT_NOTICE,
    Reason.PLATFORM_FAULT,
    Reason.NOT_AS_DESCRIBED,
    Reason.MERCHANT_GONE,
)


# --- the two examples of §3a -----------------------------------------------------------------


def test_platform_fault_on_a_never_activated_membership_is_p1_one_click_and_full() -> None:
    q = quote(at_="2026-04-02 10:00", reason="platform_fault")
    assert (q.decision, q.refund, q.rules) == (AUTO, 3000, ("P1", "S3"))
    # The dates follow P1: money back on the usual Alipay days, no review deadline.
    assert q.review_due is None
    assert q.arrival is not None
    assert (q.arrival.earliest, q.arrival.latest) == (date(2026, 4, 3), date(2026, 4, 8))
    # Said in plain words: the reason as chosen, both rules by their plain names, why P1.
    assert q.explanation_zh.startswith("您选择的原因是「平台故障」")
    assert "「S3 平台违约全额退」需人工审核" in q.explanation_zh
    assert "「P1 未激活全额退」无需人工审核" in q.explanation_zh
    assert "会员尚未激活" in q.explanation_zh
    assert q.explanation_en.startswith("You chose “Platform fault”")
    assert "S3 (platform fault: full refund)" in q.explanation_en
    assert "P1 (not activated: full refund)" in q.explanation_en
    assert "faster" in q.explanation_en


def test_merchant_gone_inside_an_unused_cooling_off_window_is_p6_in_full_not_s5_prorated() -> None:
    events = [activated("2026-04-01 11:00"), event("merchant_gone", "2026-04-02 12:00")]
    q = quote(at_="2026-04-03 10:00", reason="merchant_gone", events=events)
    # S5 alone: auto_approve, 30.00 less 2 of 30 days = 28.00. P6: review, 30.00. More money wins,
    # even though it is slower.
    assert (q.decision, q.refund, q.rules) == (REVIEW, 3000, ("P6", "S5"))
    assert [line.code for line in q.lines] == ["paid"]
    assert "按「S5 商家失联平台先赔」可退 28.00 元,按「P6 冷静期未使用全额退」可退 30.00 元" in q.explanation_zh
    assert "under S5 (merchant gone: the platform pays) the refund would be 28.00" in q.explanation_en
    assert "it is 30.00, which is more" in q.explanation_en


# --- the order of the tie-breaks ---------------------------------------------------------------


def test_a_larger_refund_wins_over_a_faster_decision() -> None:
    # A recorded merchant_gone would approve at once (S5), but for less than P6 pays after review.
    events = [activated("2026-04-01 11:00"), event("merchant_gone", "2026-04-01 12:00")]
    q = quote(at_="2026-04-05 10:00", reason="merchant_gone", events=events)
    assert (q.decision, q.rules) == (REVIEW, ("P6", "S5"))
    assert q.refund == 3000


def test_the_statutory_rule_keeps_a_larger_refund_even_when_the_policy_would_be_faster() -> None:
    # Delivered game card, "not delivered": S1 sends it to a person for the full 50.00; P3 would
    # refuse at once. Refusing is never "better".
    q = quote(
        virtual_goods(),
        at_="2026-04-02 10:00",
        reason="not_delivered",
        order_=order("50.00"),
        events=[event("delivered", "2026-04-01 10:01")],
    )
    assert (q.decision, q.refund, q.rules) == (REVIEW, 5000, ("S1", "P3"))
    assert not q.explanation_zh.startswith("您选择的原因是")


def test_on_equal_refunds_the_faster_decision_wins() -> None:
    # Not as described, game card not yet delivered: S4 reviews 50.00, P2 refunds 50.00 at once.
    q = quote(virtual_goods(), at_="2026-04-02 10:00", reason="not_as_described", order_=order("50.00"))
    assert (q.decision, q.refund, q.rules) == (AUTO, 5000, ("P2", "S4"))
    assert "同为 50.00 元,对您更快" in q.explanation_zh
    # "not_delivered" with a delivered record but a membership never activated: S1 reviews, P1 is
    # one click for the same amount.
    q = quote(at_="2026-04-02 10:00", reason="not_delivered", events=[event("delivered", "2026-04-01 10:01")])
    assert (q.decision, q.refund, q.rules) == (AUTO, 3000, ("P1", "S1"))


def test_a_statutory_rule_faster_for_the_same_amount_keeps_deciding() -> None:
    # Renewed without a reminder, renewal unused and inside its cooling-off window: S2 one click,
    # P6 would review the same 25.00.
    monthly = membership("1m", "25.00")
    events = [activated("2026-04-15 10:01"), event("renewed", "2026-05-15 10:00", amount="25.00")]
    q = quote(
        monthly,
        at_="2026-05-16 10:00",
        reason="renewal_without_notice",
        order_=order("25.00", "2026-04-15 10:00"),
        events=events,
    )
    assert (q.decision, q.refund, q.rules) == (AUTO, 2500, ("S2", "P6"))


def test_on_a_full_tie_the_statutory_outcome_decides() -> None:
    # Nothing delivered, nothing activated: S1 and P1 both refund 30.00 at once.
    q = quote(at_="2026-04-02 10:00", reason="not_delivered")
    assert (q.decision, q.refund, q.rules) == (AUTO, 3000, ("S1", "P1"))
    assert q.explanation_zh.startswith("未到账(S1)")
    # Activated, unused, in the window: S4 and P6 both review 30.00; S4 decides, so its review
    # deadline is the statutory one (2 working days), not the policy's 10.
    q = quote(
        at_="2026-04-02 10:00",
        reason="not_as_described",
        rules=policy(review_business_days=10),
        events=[activated("2026-04-01 10:30")],
    )
    assert (q.decision, q.refund, q.rules) == (REVIEW, 3000, ("S4", "P6"))
    assert q.review_due == date(2026, 4, 7)  # Fri 04-03, then Tue 04-07 after the Qingming days off


def test_a_zero_refund_approved_by_s5_stays_ahead_of_a_p5_rejection() -> None:
    # The merchant vanished the moment the term ended, and the request comes a day later: S5
    # approves 0.00 (the whole term was used; notes, gap A), P5 rejects 0.00. The same amount, and
    # approving comes before rejecting in §3a's order.
    events = [activated("2026-04-01 10:00"), event("merchant_gone", "2026-05-01 10:00")]
    q = quote(at_="2026-05-02 09:00", reason="merchant_gone", events=events)
    assert (q.decision, q.refund, q.rules) == (AUTO, 0, ("S5", "P5"))


# --- dates and the ticket's reason -------------------------------------------------------------


def test_the_review_deadline_follows_the_deciding_policy_rule() -> None:
    # P6 decides instead of S5 (more money), so the policy's own 5 working days apply, not the
    # statutory cap of 2 (RULES.md §3a: "the review deadline ... follow[s] the deciding rule").
    events = [activated("2026-04-01 11:00")]
    q = quote(at_="2026-04-08 09:00", reason="merchant_gone", rules=policy(review_business_days=5), events=events)
    assert q.rules == ("P6", "S5")
    assert q.review_due == date(2026, 4, 15)  # Wed 04-08 + 5 working days


def test_a_top_up_left_untouched_is_refunded_in_one_click_whatever_the_reason() -> None:
    # Merchant gone, nothing recorded yet: S5 would go to a person; R1 refunds the cash at once.
    q = quote(recharge(), at_="2026-04-02 10:00", reason="merchant_gone", order_=order("100.00", bonus="20.00"))
    assert (q.decision, q.refund, q.rules) == (AUTO, 10000, ("R1", "S5"))


def test_a_reason_without_a_statutory_rule_is_decided_once_and_names_one_rule() -> None:
    for reason in ("changed_mind", "mistaken_purchase", "duplicate_purchase"):
        q = quote(
            at_="2026-04-20 10:00", reason=reason, events=[activated("2026-04-01 10:30"), used("2026-04-02 10:00")]
        )
        assert q.rules == ("P9",)
    # S2 with the latest period not a renewal does not match: the policy rules alone decide.
    assert quote(at_="2026-04-02 10:00", reason="renewal_without_notice").rules == ("P1",)


# --- the property ------------------------------------------------------------------------------


@st.composite
def statutory_cases(draw: st.DrawFn) -> Case:
    product, rules, paid, events, request = draw(cases())
    return product, rules, paid, events, replace(request, reason=draw(st.sampled_from(STATUTORY_REASONS)))


def _as_changed_mind(case: Case) -> Case:
    product, rules, paid, events, request = case
    return product, rules, paid, events, replace(request, reason=Reason.CHANGED_MIND)


@settings(max_examples=400, deadline=None)
@given(statutory_cases())
def test_a_statutory_reason_never_does_worse_than_changing_ones_mind(case: Case) -> None:
    q, mind = run(case), run(_as_changed_mind(case))
    if len(q.rules) == 2:
        # A statutory rule matched, and was compared with the change-of-mind outcome: one of the
        # two rules is statutory, the other is what changing one's mind would have got.
        assert sum(rule in STATUTORY_RULES for rule in q.rules) == 1
        assert mind.rules[0] in q.rules
    else:
        assert q.rules == mind.rules  # no statutory rule matched (S2 without its facts)
    assert q.refund >= mind.refund
    if q.refund == mind.refund:
        assert SPEED[q.decision] <= SPEED[mind.decision]
    # Stronger than §3a asks, and promised in the refund terms (domain/terms.py): never slower
    # either. A larger statutory refund cannot meet a one-click policy outcome (those are all
    # full refunds), and a statutory review is never given more days than the policy's.
    assert SPEED[q.decision] <= SPEED[mind.decision]
    if q.review_due is not None and mind.review_due is not None:
        assert q.review_due <= mind.review_due


@settings(max_examples=200, deadline=None)
@given(statutory_cases())
def test_the_policy_outcome_decides_only_when_it_is_strictly_better(case: Case) -> None:
    q, mind = run(case), run(_as_changed_mind(case))
    if len(q.rules) == 2 and q.rules[0] not in STATUTORY_RULES:
        # The policy won, so it is exactly the change-of-mind answer in amount and decision, and
        # the explanation says why.
        assert (q.decision, q.refund, q.rules[0]) == (mind.decision, mind.refund, mind.rules[0])
        assert q.explanation_zh.startswith("您选择的原因是")
        assert q.explanation_en.startswith("You chose")
        assert q.review_due == mind.review_due
        assert q.arrival == mind.arrival
