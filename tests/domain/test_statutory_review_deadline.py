"""A policy may slow its own reviews, never a statutory one (RULES.md §3; notes, gap F)."""

from __future__ import annotations

from datetime import date

from .factories import activated, policy, quote


def test_a_long_policy_review_setting_applies_to_policy_reviews() -> None:
    q = quote(at_="2026-04-20 10:00", rules=policy(review_business_days=10), events=[activated("2026-04-01 10:30")])
    assert q.rules == ("P9",)
    assert q.review_due == date(2026, 5, 7)  # ten working days, Labour Day holiday skipped


def test_a_statutory_review_keeps_the_default_two_working_days_whatever_the_policy() -> None:
    q = quote(
        at_="2026-04-20 10:00",
        reason="not_as_described",
        rules=policy(review_business_days=10),
        events=[activated("2026-04-01 10:30")],
    )
    # §3a: the change-of-mind outcome (P9, prorated) is compared and loses to S4's full refund,
    # so it is named second; S4 decides, and its deadline is the statutory one.
    assert q.rules == ("S4", "P9")
    assert q.review_due == date(2026, 4, 22)


def test_a_policy_faster_than_the_default_also_speeds_up_statutory_reviews() -> None:
    q = quote(
        at_="2026-04-20 10:00",
        reason="platform_fault",
        rules=policy(review_business_days=1),
        events=[activated("2026-04-01 10:30")],
    )
    assert q.rules == ("S3", "P9")  # §3a: P9 is compared and loses (less than the full refund)
    assert q.review_due == date(2026, 4, 21)
