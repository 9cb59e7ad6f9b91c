"""Deterministic generator of varied refund scenarios (design/SCENARIOS.md), for the benchmarks.

``generate(count, seed)`` returns scenario dicts, the same list for the same arguments. Each one
is built to reach one rule of RULES.md section 3 (S1–S5, P1–P9, R1–R2), chosen by a weighted draw
(the first ``len(RULE_IDS)`` scenarios take every rule once, so any count ≥ 16 covers them all),
and carries ``expect: {rules: [that rule], decision: …}`` so that ``kameng simulate --check``
on the written files also tells whether the generator and the engine agree. A statutory story
is built so that its rule decides (RULES.md §3a: the policy rules must not do better), and its
``rules`` name second what the policy rules give the same story as a change of mind: the
generator does not aim at that one, it asks the engine (:func:`compared_rule`).

Variety inside each rule is random but seeded: product kind and term, list price, coupon,
channel, policy options (consistent with the product, as a saved policy must be), time zone and
the offset the times are written in, renewals, activation by ``activated``/``benefit_used``/
``trial_claimed``, event order in the file.

Run it alone for the sanity check (every scenario parses, every rule fires, the rule fired is
the one aimed at), optionally writing the files::

    .venv/bin/python bench/gen_scenarios.py --count 10000 [--out DIR]
"""

from __future__ import annotations

import argparse
import calendar as std_calendar
import functools
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

DEFAULT_SEED = 20260301
RULE_IDS: tuple[str, ...] = (
    "S1", "S2", "S3", "S4", "S5",
    "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9",
    "R1", "R2",
)  # fmt: skip
# The mix of the generated set: roughly what a refund desk sees (most requests are about an
# activated membership or one not activated yet), yet every rule well represented.
RULE_WEIGHTS: dict[str, int] = {
    "S1": 4, "S2": 3, "S3": 4, "S4": 3, "S5": 5,
    "P1": 10, "P2": 5, "P3": 6, "P4": 4, "P5": 5, "P6": 10, "P7": 6, "P8": 4, "P9": 16,
    "R1": 5, "R2": 6,
}  # fmt: skip

Scenario = dict[str, Any]

ONE_DAY = timedelta(days=1)
ONE_HOUR = timedelta(hours=1)
TIMEZONES = ("Asia/Shanghai",) * 12 + (
    "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "Europe/London", "America/Los_Angeles", "UTC",
)  # fmt: skip
CHANNELS = ("wechat", "alipay", "alipay", "bank_card", "balance")
POLICY_REASONS = ("changed_mind",) * 5 + ("mistaken_purchase",) * 2 + ("duplicate_purchase",) * 2
BENEFIT_NAMES = ("course", "download", "video", "lounge", "coupon_pack")
# Terms as scenario data; None is `permanent`.
DAY_TERMS = (7, 15, 30, 30, 90, 180, 365)
MONTH_TERMS = (1, 1, 3, 6, 12, 12, 24)
# Paid-at moments fall in 2024-01-01 .. 2026-09-30: years the official calendar covers, though a
# long story may run into 2027 and so exercise the calendar warning.
FIRST_DAY = date(2024, 1, 1)
SPAN_DAYS = 1004


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months on the wall clock, a missing day clamped (RULES.md section 4)."""
    carry, month0 = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + carry, month0 + 1
    day = min(moment.day, std_calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass
class Term:
    days: int | None = None
    months: int | None = None

    @property
    def permanent(self) -> bool:
        return self.days is None and self.months is None

    def end(self, start: datetime) -> datetime | None:
        if self.days is not None:
            return start + self.days * ONE_DAY
        if self.months is not None:
            return add_months(start, self.months)
        return None

    def min_days(self) -> int:
        """A lower bound of the term in whole days (a month is at least 28 days)."""
        if self.days is not None:
            return self.days
        if self.months is not None:
            return 28 * self.months
        return 10_000

    def data(self) -> object:
        if self.days is not None:
            return {"days": self.days}
        if self.months is not None:
            return {"months": self.months}
        return "permanent"


@dataclass
class Story:
    """One scenario under construction; ``build`` turns it into the file's data."""

    rule: str
    decision: str | None
    tz: ZoneInfo
    write_tz: ZoneInfo
    kind: str
    paid_at: datetime
    product: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    request_at: datetime | None = None
    reason: str = "changed_mind"
    summary: str = ""


class Generator:
    """Builds one scenario per call of :meth:`scenario`; all randomness comes from ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.builders: dict[str, Callable[[Story], None]] = {
            "S1": self._s1, "S2": self._s2, "S3": self._s3, "S4": self._s4, "S5": self._s5,
            "P1": self._p1, "P2": self._p2, "P3": self._p3, "P4": self._p4, "P5": self._p5,
            "P6": self._p6, "P7": self._p7, "P8": self._p8, "P9": self._p9,
            "R1": self._r1, "R2": self._r2,
        }  # fmt: skip

    # ----------------------------------------------------------------------------------------
    # Small random pieces

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def fen(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def after(self, moment: datetime, low: timedelta, high: timedelta) -> datetime:
        """A moment in ``[moment + low, moment + high]``, to the minute."""
        minutes = self.rng.randint(int(low.total_seconds() // 60), int(high.total_seconds() // 60))
        return moment + timedelta(minutes=minutes)

    def term(self, *, permanent: bool = True, days: bool = True, months: bool = True) -> Term:
        kinds = [k for k, ok in (("days", days), ("months", months), ("permanent", permanent)) if ok]
        pick = self.rng.choice(kinds)
        if pick == "days":
            return Term(days=self.rng.choice(DAY_TERMS))
        if pick == "months":
            return Term(months=self.rng.choice(MONTH_TERMS))
        return Term()

    def new_story(self, rule: str, kind: str, decision: str | None) -> Story:
        tz = ZoneInfo(self.rng.choice(TIMEZONES))
        # Times are usually written in the scenario's own zone, sometimes in UTC or +08:00.
        write_tz = self.rng.choice((tz, tz, tz, ZoneInfo("UTC"), ZoneInfo("Asia/Shanghai")))
        day = FIRST_DAY + self.rng.randrange(SPAN_DAYS) * ONE_DAY
        clock = time(self.rng.randint(0, 23), self.rng.randint(0, 59))
        paid_at = datetime.combine(day, clock, tzinfo=tz)
        return Story(rule, decision, tz, write_tz, kind, paid_at)

    def product(self, story: Story, term: Term | None, *, promo: bool = False) -> int:
        """Fill product and order; returns the cash paid in fen."""
        price = self.rng.choice((990, 1500, 2500, 3000, 6000, 9900, 19800, 29900, 59900, 100000))
        if self.chance(0.3):
            price = self.fen(100, 200_000)
        product: dict[str, Any] = {"kind": story.kind, "price": yuan(price)}
        if self.chance(0.3):
            product["name"] = f"{story.kind} #{self.rng.randint(1, 999)}"
        if term is not None:
            product["term"] = term.data()
        if promo or self.chance(0.15):
            product["promo"] = promo
        story.product = product
        paid = price
        order: dict[str, Any] = {"paid": "", "channel": self.rng.choice(CHANNELS)}
        if price > 500 and self.chance(0.2):
            coupon = self.fen(100, min(price // 2, 5000))
            paid = price - coupon
            order["coupon"] = {"value": yuan(coupon), "refundable": self.chance(0.5)}
        order["paid"] = yuan(paid)
        order["paid_at"] = story.paid_at
        story.order = order
        return paid

    def benefits(self, story: Story) -> list[str]:
        names = self.rng.sample(BENEFIT_NAMES, self.rng.randint(1, 3))
        story.product["benefits"] = {name: self.rng.choice((1, 3, 5, 10, 12, 30)) for name in names}
        return names

    def policy(self, story: Story, term: Term | None, **fixed: object) -> None:
        """Random options valid for the product, then the ``fixed`` ones a rule needs."""
        policy: dict[str, Any] = {}
        if self.chance(0.5):
            policy["cooling_off_days"] = self.rng.choice((0, 3, 7, 7, 14, 15))
        if self.chance(0.4):
            policy["cooling_off"] = self.rng.choice(("full_if_unused", "minus_used_days", "none"))
        prorations = ["by_day"]
        if term is not None and term.days is None:
            prorations.append("by_month")
        if "benefits" in story.product:
            prorations.append("by_benefit")
        if self.chance(0.6):
            policy["proration"] = self.rng.choice(prorations)
        if self.chance(0.5):
            policy["fee_percent"] = self.rng.choice(("0", "1", "2.5", "5", "10", "0.6", "20"))
        if self.chance(0.2):
            low = self.rng.choice((0, 100, 200, 500))
            policy["fee_min"] = yuan(low)
            if self.chance(0.6):
                policy["fee_max"] = yuan(low + self.rng.choice((0, 500, 2000, 5000)))
        elif self.chance(0.1):
            policy["fee_max"] = None
        if self.chance(0.3):
            policy["review_business_days"] = self.rng.randint(1, 5)
        if self.chance(0.2):
            policy["trial_counts_as_activation"] = self.chance(0.5)
        policy.update(fixed)
        if policy or self.chance(0.5):
            story.policy = policy

    def event(self, story: Story, at: datetime, kind: str, **extra: object) -> None:
        story.events.append({"at": at, "type": kind, **extra})

    def activate(self, story: Story, at: datetime, *, used_ok: bool, benefits: Sequence[str] = ()) -> bool:
        """Record the period's activation at ``at``; returns whether it counted as use."""
        kinds = ["activated", "activated", "trial_claimed"] + (["benefit_used"] if used_ok else [])
        kind = self.rng.choice(kinds)
        if kind == "trial_claimed":
            story.policy["trial_counts_as_activation"] = True
            extra: dict[str, object] = {"benefit": benefits[0]} if benefits and self.chance(0.5) else {}
            self.event(story, at, kind, **extra)
            return False
        if kind == "benefit_used":
            self.use(story, at, benefits)
            return True
        self.event(story, at, kind)
        return False

    def use(self, story: Story, at: datetime, benefits: Sequence[str]) -> None:
        extra: dict[str, object] = {}
        if benefits:
            extra["benefit"] = self.rng.choice(benefits)
        elif self.chance(0.3):
            extra["benefit"] = self.rng.choice(BENEFIT_NAMES)
        if self.chance(0.4):
            extra["count"] = self.rng.randint(1, 4)
        self.event(story, at, "benefit_used", **extra)

    def uses(self, story: Story, start: datetime, end: datetime, benefits: Sequence[str], most: int) -> None:
        for _ in range(self.rng.randint(0, most)):
            if end - start > 2 * ONE_HOUR:
                self.use(story, self.after(start, ONE_HOUR, end - start - ONE_HOUR), benefits)

    def noise(self, story: Story, start: datetime, end: datetime) -> None:
        """Events that decide nothing for the rule aimed at: short outages, a stray notice."""
        if end - start <= 2 * ONE_HOUR:
            return
        if self.chance(0.15):
            hours = self.rng.choice(("1", "2.5", "6", "12"))
            self.event(story, self.after(start, ONE_HOUR, end - start - ONE_HOUR), "outage", hours=hours)

    def later_noise(self, story: Story) -> None:
        """Events after the request, which the engine must ignore."""
        assert story.request_at is not None
        if self.chance(0.1):
            at = self.after(story.request_at, ONE_HOUR, 30 * ONE_DAY)
            if story.kind == "recharge":
                self.event(story, at, "spent", amount=yuan(self.fen(100, 5000)))
            else:
                self.event(story, at, "merchant_gone")

    def renewals(self, story: Story, term: Term, most: int) -> datetime:
        """Zero to ``most`` renewals at the term's ends; returns the latest period's start."""
        start = story.paid_at
        count = self.rng.randint(0, most) if not term.permanent else 0
        if count:
            story.order["auto_renew"] = True
        for _ in range(count):
            end = term.end(start)
            assert end is not None
            if self.chance(0.6):  # a qualifying reminder for this renewal, 5+ days before
                self.event(
                    story,
                    self.after(start, ONE_HOUR, max(end - start - 6 * ONE_DAY, ONE_HOUR)),
                    "renewal_notice",
                )
            start = end
            paid = self.rng.choice((story.order["paid"], story.product["price"]))
            self.event(story, start, "renewed", paid=paid)
        return start

    # ----------------------------------------------------------------------------------------
    # One builder per rule

    def _policy_reason(self, story: Story) -> None:
        # renewal_without_notice on a first period is not S2's case and falls through too.
        renewal = any(e["type"] == "renewed" for e in story.events)
        story.reason = self.rng.choice(POLICY_REASONS + (() if renewal else ("renewal_without_notice",)))

    def _any_product(self, story: Story) -> tuple[Term | None, int]:
        term = self.term() if story.kind == "membership" else None
        paid = self.product(story, term)
        self.policy(story, term)
        if story.kind == "recharge" and self.chance(0.5):
            story.order["bonus"] = yuan(self.fen(100, 5000))
        return term, paid

    def _s1(self, story: Story) -> None:
        story.kind = self.rng.choice(("membership", "virtual_goods", "recharge"))
        delivered = self.chance(0.5)
        self._any_product(story)
        story.request_at = self.after(story.paid_at, timedelta(minutes=10), 20 * ONE_DAY)
        at = self.after(story.paid_at, timedelta(minutes=1), story.request_at - story.paid_at)
        if delivered:
            # RULES.md §3a: a membership delivered but never activated is P1's one click, and an
            # untouched top-up R1's, for the same full amount: faster than S1's review, so they
            # would decide. Here the records show the service received (activated, or spent).
            if story.kind == "membership":
                if self.chance(0.5):
                    self.event(story, at, "delivered")
                self.event(story, at, "activated")
            else:
                self.event(story, at, "delivered")
            if story.kind == "recharge":
                self.event(story, at, "spent", amount=yuan(self.fen(1, 5000)))
        elif story.kind == "membership" and self.chance(0.3):
            story.policy["trial_counts_as_activation"] = False  # so a trial is no activation
            self.event(story, at, "trial_claimed")
        story.reason = "not_delivered"
        story.decision = "review" if delivered else "auto_approve"
        story.summary = "delivered or activated, a person checks" if delivered else "nothing arrived"

    def _s2(self, story: Story) -> None:
        term = self.term(permanent=False)
        self.product(story, term)
        self.policy(story, term)
        story.order["auto_renew"] = True
        self.activate(story, self.after(story.paid_at, timedelta(0), 2 * ONE_HOUR), used_ok=True)
        start = story.paid_at
        for _ in range(self.rng.randint(1, 3)):
            end = term.end(start)
            assert end is not None
            previous, start = start, end
            self.event(story, start, "renewed", paid=story.order["paid"])
        # The reminder for the latest renewal is missing, too late, or belongs to an earlier one.
        how = self.rng.choice(("none", "late", "earlier"))
        if how == "late" and start - previous > 3 * ONE_DAY:
            self.event(story, self.after(start, -4 * ONE_DAY, -ONE_HOUR), "renewal_notice")
        elif how == "earlier":
            self.event(story, self.after(previous, -3 * ONE_DAY, -ONE_HOUR), "renewal_notice")
        story.request_at = self.after(start, timedelta(minutes=5), 10 * ONE_DAY)
        self.uses(story, start, story.request_at, (), 2)
        story.reason = "renewal_without_notice"
        story.decision = "auto_approve"
        story.summary = f"renewed with the reminder {how}"

    def _s3(self, story: Story) -> None:
        story.kind = self.rng.choice(("membership", "membership", "virtual_goods", "recharge"))
        term, _ = self._any_product(story)
        start = story.paid_at
        if term is not None:
            start = self.renewals(story, term, 2)
            if start == story.paid_at:
                self.activate(story, self.after(start, timedelta(0), ONE_DAY), used_ok=True)
        story.request_at = self.after(start, 3 * ONE_DAY, 60 * ONE_DAY)
        self._received(story, start)
        over = self.chance(0.5)
        total = 0
        for _ in range(self.rng.randint(1, 4)):
            hours = self.rng.randint(1, 40)
            total += hours
            at = self.after(start, ONE_HOUR, story.request_at - start - ONE_HOUR)
            self.event(story, at, "outage", hours=str(hours) if self.chance(0.5) else hours)
        if over and total <= 48:
            self.event(
                story,
                self.after(start, ONE_HOUR, story.request_at - start - ONE_HOUR),
                "outage",
                hours=f"{49 - total}.5",
            )
        if not over and total > 48:
            story.events = [e for e in story.events if e["type"] != "outage"]
            self.event(
                story,
                self.after(start, ONE_HOUR, story.request_at - start - ONE_HOUR),
                "outage",
                hours="48",
            )
        story.reason = "platform_fault"
        story.decision = "auto_approve" if over else "review"
        story.summary = "outages over 48 hours" if over else "outages of 48 hours or less"

    def _s4(self, story: Story) -> None:
        story.kind = self.rng.choice(("membership", "membership", "virtual_goods", "recharge"))
        term, _ = self._any_product(story)
        story.request_at = self.after(story.paid_at, ONE_HOUR, 200 * ONE_DAY)
        if term is not None:
            self.activate(story, self.after(story.paid_at, timedelta(0), ONE_HOUR), used_ok=True)
            self.uses(story, story.paid_at + ONE_HOUR, story.request_at, (), 3)
        self._received(story, story.paid_at)
        story.reason = "not_as_described"
        story.decision = "review"
        story.summary = "benefit missing"

    def _received(self, story: Story, start: datetime) -> None:
        """Goods delivered, a top-up partly spent: a statutory review then still decides. Goods not
        delivered (P2) or a top-up untouched (R1) would be refunded in full at once instead, which
        is faster for the same amount (RULES.md §3a)."""
        assert story.request_at is not None
        if story.kind == "virtual_goods":
            self.event(story, self.after(start, timedelta(0), ONE_HOUR), "delivered")
        elif story.kind == "recharge":
            at = self.after(start, ONE_HOUR, story.request_at - start - ONE_HOUR)
            self.event(story, at, "spent", amount=yuan(self.fen(1, 5000)))

    def _s5(self, story: Story) -> None:
        story.kind = self.rng.choice(("membership", "membership", "membership", "virtual_goods", "recharge"))
        term: Term | None = None
        benefits: list[str] = []
        if story.kind == "membership":
            term = self.term()
            self.product(story, term)
            if self.chance(0.4):
                benefits = self.benefits(story)
        else:
            self.product(story, None)
            if story.kind == "recharge" and self.chance(0.5):
                story.order["bonus"] = yuan(self.fen(100, 5000))
        self.policy(story, term)
        start = story.paid_at
        activated = delivered = False
        # RULES.md §3a: with nothing activated, delivered or spent, a merchant not (yet) recorded
        # gone is S5's review against P1/P2/R1's one click for the same full amount, and those
        # would decide; so such a story always has the merchant recorded gone.
        gone = self.chance(0.6)
        if term is not None:
            start = self.renewals(story, term, 1)
            activated = start != story.paid_at or not gone or self.chance(0.8)
            if start == story.paid_at and activated:
                self.activate(story, self.after(start, timedelta(0), ONE_DAY), used_ok=True, benefits=benefits)
        elif story.kind == "virtual_goods":
            delivered = not gone or self.chance(0.6)
            if delivered:
                self.event(story, self.after(start, timedelta(0), ONE_HOUR), "delivered")
        # After the cooling-off window: inside it P6 (full) or P7 (by day) may refund more than
        # S5's share measured by the policy's proration, and would decide.
        window = int(story.policy.get("cooling_off_days", 7))
        story.request_at = self.after(start, (window + 2) * ONE_DAY, (window + 90) * ONE_DAY)
        if activated:
            self.uses(story, start + ONE_DAY, story.request_at, benefits, 4)
        if story.kind == "recharge":
            for _ in range(self.rng.randint(0 if gone else 1, 3)):
                at = self.after(start, ONE_HOUR, story.request_at - start - ONE_HOUR)
                self.event(story, at, "spent", amount=yuan(self.fen(100, 10000)))
        if gone:
            self.event(
                story,
                self.after(start, ONE_DAY, story.request_at - start - ONE_HOUR),
                "merchant_gone",
            )
        unmeasurable = (term is not None and term.permanent and activated) or delivered
        story.decision = "review" if unmeasurable or not gone else "auto_approve"
        story.reason = "merchant_gone"
        story.summary = ("merchant gone" if gone else "merchant unreachable") + (
            ", use not measurable" if unmeasurable else ""
        )

    def _p1(self, story: Story) -> None:
        term = self.term()
        self.product(story, term, promo=self.chance(0.2))
        self.policy(story, term)
        story.request_at = self.after(story.paid_at, timedelta(minutes=5), 400 * ONE_DAY)
        if self.chance(0.3):
            # A trial claimed under a policy where that does not activate, or a delivery note.
            at = self.after(story.paid_at, timedelta(0), story.request_at - story.paid_at)
            if self.chance(0.5):
                story.policy["trial_counts_as_activation"] = False
                self.event(story, at, "trial_claimed")
            else:
                self.event(story, at, "delivered")
        self.noise(story, story.paid_at, story.request_at)
        self._policy_reason(story)
        story.decision = "auto_approve"
        story.summary = "membership not activated"

    def _p2(self, story: Story) -> None:
        self.product(story, None)
        self.policy(story, None)
        story.request_at = self.after(story.paid_at, timedelta(minutes=1), 30 * ONE_DAY)
        self.noise(story, story.paid_at, story.request_at)
        self._policy_reason(story)
        story.decision = "auto_approve"
        story.summary = "card key not delivered yet"

    def _p3(self, story: Story) -> None:
        self.product(story, None, promo=self.chance(0.2))
        self.policy(story, None)
        delivered = self.after(story.paid_at, timedelta(0), 10 * timedelta(minutes=1))
        self.event(story, delivered, "delivered")
        story.request_at = self.after(delivered, timedelta(minutes=1), 20 * ONE_DAY)
        self.noise(story, story.paid_at, story.request_at)
        self._policy_reason(story)
        story.decision = "reject"
        story.summary = "card key delivered"

    def _p4(self, story: Story) -> None:
        term = self.term()
        self.product(story, term, promo=True)
        self.policy(story, term)
        start = self.renewals(story, term, 1)
        if start == story.paid_at:
            self.activate(story, self.after(start, timedelta(0), ONE_DAY), used_ok=True)
        story.request_at = self.after(start, ONE_DAY + ONE_HOUR, 60 * ONE_DAY)
        self.uses(story, start + ONE_DAY, story.request_at, (), 2)
        self._policy_reason(story)
        story.decision = "reject"
        story.summary = "special offer activated"

    def _p5(self, story: Story) -> None:
        term = self.term(permanent=False)
        self.product(story, term)
        benefits = self.benefits(story) if self.chance(0.3) else []
        self.policy(story, term)
        start = self.renewals(story, term, 2)
        activation = start
        if start == story.paid_at:
            activation = self.after(start, timedelta(0), 3 * ONE_DAY)
            self.activate(story, activation, used_ok=True, benefits=benefits)
        end = term.end(activation)
        assert end is not None
        story.request_at = self.after(end, ONE_DAY, 120 * ONE_DAY)
        self.uses(story, activation, end, benefits, 3)
        self._policy_reason(story)
        story.decision = "reject"
        story.summary = "term over"

    def _within(self, story: Story, term: Term, start: datetime, activation: datetime) -> None:
        """Pick a cooling-off window and a request inside it, before the term ends."""
        days = self.rng.choice((3, 7, 7, 7, 14, 15))
        if days != 7 or "cooling_off_days" in story.policy or self.chance(0.3):
            story.policy["cooling_off_days"] = days
        limit = min(start + days * ONE_DAY, activation + term.min_days() * ONE_DAY)
        story.request_at = self.after(activation, timedelta(minutes=1), limit - activation - timedelta(minutes=1))

    def _membership_active(
        self, story: Story, term: Term, benefits: Sequence[str], *, used_ok: bool
    ) -> tuple[datetime, datetime, bool]:
        start = self.renewals(story, term, 1) if self.chance(0.3) else story.paid_at
        if start != story.paid_at:
            return start, start, False
        activation = self.after(start, timedelta(0), 12 * ONE_HOUR)
        used = self.activate(story, activation, used_ok=used_ok, benefits=benefits)
        return start, activation, used

    def _p6(self, story: Story) -> None:
        term = self.term()
        self.product(story, term)
        benefits = self.benefits(story) if self.chance(0.3) else []
        self.policy(story, term, cooling_off="full_if_unused")
        if story.policy.get("cooling_off_days") == 0 or self.chance(0.5):
            story.policy.pop("cooling_off", None)  # the default is full_if_unused
            story.policy.pop("cooling_off_days", None)
        start, activation, _ = self._membership_active(story, term, benefits, used_ok=False)
        self._within(story, term, start, activation)
        assert story.request_at is not None
        self.noise(story, activation, story.request_at)
        self._policy_reason(story)
        story.decision = "review"
        story.summary = "within the window, nothing used"

    def _p7(self, story: Story) -> None:
        term = self.term()
        self.product(story, term)
        benefits = self.benefits(story) if self.chance(0.3) else []
        self.policy(story, term, cooling_off="minus_used_days")
        start, activation, _ = self._membership_active(story, term, benefits, used_ok=True)
        self._within(story, term, start, activation)
        assert story.request_at is not None
        self.uses(story, activation, story.request_at, benefits, 3)
        self._policy_reason(story)
        story.decision = "review"
        story.summary = "within the window, minus the days used"

    def _after_window(
        self,
        story: Story,
        term: Term,
        start: datetime,
        activation: datetime,
        benefits: Sequence[str],
    ) -> None:
        """A request the cooling-off rules P6/P7 do not take, before the term ends."""
        end = term.end(activation)
        latest = (end - activation - ONE_HOUR) if end is not None else 800 * ONE_DAY
        how = self.rng.choice(("late", "late", "none", "zero", "used"))
        days = story.policy.get("cooling_off_days", 7)
        if how == "late" and start + (days + 1) * ONE_DAY < activation + latest:
            earliest = max(start + days * ONE_DAY, activation) + ONE_HOUR - activation
            story.request_at = self.after(activation, earliest, latest)
            self.uses(story, activation, story.request_at, benefits, 3)
            return
        if how == "zero":
            story.policy["cooling_off_days"] = 0
        elif how == "used":
            story.policy["cooling_off"] = "full_if_unused"
            story.policy.setdefault("cooling_off_days", self.rng.choice((7, 14)))
        else:
            story.policy["cooling_off"] = "none"
        story.request_at = self.after(activation, 2 * ONE_HOUR, latest)
        if how == "used":
            self.use(
                story,
                self.after(activation, ONE_HOUR, story.request_at - activation - ONE_HOUR),
                benefits,
            )
        self.uses(story, activation, story.request_at, benefits, 2)

    def _p8(self, story: Story) -> None:
        term = Term()
        self.product(story, term)
        benefits = self.benefits(story) if self.chance(0.3) else []
        self.policy(story, term)
        start, activation, _ = self._membership_active(story, term, benefits, used_ok=True)
        self._after_window(story, term, start, activation, benefits)
        self._policy_reason(story)
        story.decision = "reject"
        story.summary = "permanent membership activated"

    def _p9(self, story: Story) -> None:
        term = self.term(permanent=False)
        self.product(story, term)
        benefits = self.benefits(story) if self.chance(0.35) else []
        self.policy(story, term)
        if benefits and self.chance(0.6):
            story.policy["proration"] = "by_benefit"
        start, activation, _ = self._membership_active(story, term, benefits, used_ok=True)
        self._after_window(story, term, start, activation, benefits)
        self._policy_reason(story)
        story.decision = None  # review, or reject when nothing is left
        story.summary = "activated membership, prorated"

    def _recharge(self, story: Story) -> None:
        self.product(story, None)
        if self.chance(0.5):
            story.order["bonus"] = yuan(self.fen(100, 5000))
        self.policy(story, None)

    def _r1(self, story: Story) -> None:
        self._recharge(story)
        days = self.rng.choice((3, 7, 7, 14))
        if days != 7 or "cooling_off_days" in story.policy or self.chance(0.3):
            story.policy["cooling_off_days"] = days
        story.request_at = self.after(story.paid_at, timedelta(minutes=1), days * ONE_DAY - timedelta(minutes=1))
        self.noise(story, story.paid_at, story.request_at)
        self._policy_reason(story)
        story.decision = "auto_approve"
        story.summary = "top-up untouched, within the window"

    def _r2(self, story: Story) -> None:
        self._recharge(story)
        days = story.policy.get("cooling_off_days", 7)
        late = self.chance(0.5)
        low = days * ONE_DAY + ONE_HOUR if late else 2 * ONE_HOUR
        story.request_at = self.after(story.paid_at, low, low + 90 * ONE_DAY)
        paid = int(story.order["paid"].replace(".", ""))
        count = self.rng.randint(0 if late else 1, 4)
        for _ in range(count):
            at = self.after(story.paid_at, ONE_HOUR, story.request_at - story.paid_at - ONE_HOUR)
            self.event(story, at, "spent", amount=yuan(self.fen(1, max(paid // max(count, 1), 1))))
        self._policy_reason(story)
        story.decision = None  # review, or reject when nothing is withdrawable
        story.summary = "top-up partly spent or past the window"

    # ----------------------------------------------------------------------------------------

    def scenario(self, index: int, rule: str) -> Scenario:
        kind = {
            "P2": "virtual_goods",
            "P3": "virtual_goods",
            "R1": "recharge",
            "R2": "recharge",
        }.get(rule, "membership")
        story = self.new_story(rule, kind, None)
        self.builders[rule](story)
        self.later_noise(story)
        return build(story, index, self.rng)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _moment(value: object, story: Story) -> object:
    if isinstance(value, datetime):
        return value.astimezone(story.write_tz).isoformat()
    return value


def build(story: Story, index: int, rng: random.Random) -> Scenario:
    """The file's data: times as ISO text with offset, optional keys left out when empty."""
    assert story.request_at is not None, story.rule
    data: Scenario = {"name": f"gen {index:05d} {story.rule}: {story.summary}"}
    if str(story.tz) != "Asia/Shanghai" or rng.random() < 0.1:
        data["timezone"] = str(story.tz)
    if rng.random() < 0.1:
        data["jurisdiction"] = "CN"
    data["product"] = story.product
    if story.policy:
        data["policy"] = story.policy
    data["order"] = {key: _moment(value, story) for key, value in story.order.items()}
    events = list(story.events)
    if rng.random() < 0.5:
        events.sort(key=lambda e: e["at"])
    else:
        rng.shuffle(events)  # the engine sorts them; files need not
    events = [{key: _moment(value, story) for key, value in e.items()} for e in events]
    if events:
        data["events"] = events
    data["request"] = {"at": _moment(story.request_at, story), "reason": story.reason}
    expect: dict[str, Any] = {"rules": [story.rule]}
    if story.decision is not None:
        expect["decision"] = story.decision
    data["expect"] = expect
    return data


def rule_sequence(count: int, rng: random.Random) -> list[str]:
    """Every rule once first, then weighted draws."""
    head = list(RULE_IDS[:count])
    rules = list(RULE_WEIGHTS)
    weights = [RULE_WEIGHTS[r] for r in rules]
    return head + rng.choices(rules, weights=weights, k=max(count - len(head), 0))


def generate(count: int, seed: int = DEFAULT_SEED) -> list[Scenario]:
    """``count`` scenario dicts, identical for identical arguments."""
    rng = random.Random(seed)
    generator = Generator(rng)
    scenarios = [generator.scenario(i, rule) for i, rule in enumerate(rule_sequence(count, rng))]
    for data in scenarios:
        rules = data["expect"]["rules"]
        second = compared_rule(data) if rules[0].startswith("S") else None
        if second is not None:
            rules.append(second)
    return scenarios


def compared_rule(data: Scenario) -> str | None:
    """The rule the policy rules give a statutory story as a change of mind: the second of its
    ``rules`` under RULES.md §3a. None for a story that does not parse (the sanity check reports
    it)."""
    from kameng.domain.model import DomainError, Reason
    from kameng.domain.refund import quote_refund
    from kameng.domain.scenario import parse_scenario

    try:
        parsed = parse_scenario(data)
    except DomainError:
        return None
    request = replace(parsed.request, reason=Reason.CHANGED_MIND)
    quote = quote_refund(
        parsed.product, parsed.policy, parsed.order, parsed.events, request, _work_calendar(), parsed.timezone
    )
    return quote.rules[0]


@functools.cache
def _work_calendar() -> Any:
    from kameng.domain.calendar import WorkCalendar

    return WorkCalendar()


def target_rule(scenario: Scenario) -> str:
    rules: list[str] = scenario["expect"]["rules"]
    return rules[0]


def to_yaml(scenario: Scenario) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text: str = yaml.dump(scenario, Dumper=dumper, sort_keys=False, allow_unicode=True)
    return text


def write_yaml(scenarios: Iterable[Scenario], folder: Path) -> list[Path]:
    """One ``NNNNN.yaml`` per scenario, in generation order (the CLI sorts a folder by name)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, scenario in enumerate(scenarios):
        path = folder / f"{index:05d}.yaml"
        path.write_text(to_yaml(scenario), encoding="utf-8")
        paths.append(path)
    return paths


@dataclass
class SanityReport:
    total: int
    parse_errors: list[str]
    fired: Counter[str]
    targeted: Counter[str]
    mismatches: list[str]
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.parse_errors and not self.mismatches and not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenarios": self.total,
            "parse_errors": len(self.parse_errors),
            "rule_mismatches": len(self.mismatches),
            "rules_missing": self.missing,
            "per_rule": [{"rule": r, "targeted": self.targeted[r], "fired": self.fired[r]} for r in RULE_IDS],
            "ok": self.ok,
        }


def sanity_check(scenarios: Sequence[Scenario]) -> SanityReport:
    """Parse every scenario (in memory) and quote it; count the rules that fired.

    Also goes through YAML for every 50th scenario, the path the CLI takes.
    """
    from kameng.domain.calendar import WorkCalendar
    from kameng.domain.model import DomainError
    from kameng.domain.refund import quote_refund
    from kameng.domain.scenario import parse_scenario
    from kameng.platform.documents import load_yaml

    calendar = WorkCalendar()
    errors: list[str] = []
    mismatches: list[str] = []
    fired: Counter[str] = Counter()
    targeted: Counter[str] = Counter(target_rule(s) for s in scenarios)
    for index, data in enumerate(scenarios):
        try:
            parsed = parse_scenario(data)
            if index % 50 == 0:
                parse_scenario(load_yaml(to_yaml(data), data["name"]))
        except DomainError as error:
            errors.append(f"{data['name']}: {error}")
            continue
        quote = quote_refund(
            parsed.product,
            parsed.policy,
            parsed.order,
            parsed.events,
            parsed.request,
            calendar,
            parsed.timezone,
        )
        rule = quote.rules[0]
        fired[rule] += 1
        expect = data["expect"]
        wanted = (target_rule(data), expect.get("decision", quote.decision.value))
        if (rule, quote.decision.value) != wanted:
            mismatches.append(f"{data['name']}: aimed at {wanted}, got {(rule, quote.decision.value)}")
    missing = [r for r in RULE_IDS if not fired[r]]
    return SanityReport(len(scenarios), errors, fired, targeted, mismatches, missing)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="also write the scenarios as YAML files into this folder")
    args = parser.parse_args(argv)
    scenarios = generate(args.count, args.seed)
    report = sanity_check(scenarios)
    print(
        f"{report.total} scenarios (seed {args.seed}): {len(report.parse_errors)} parse errors,"
        f" {len(report.mismatches)} aimed at another rule than fired"
    )
    print(f"{'rule':<6}{'targeted':>10}{'fired':>10}")
    for rule in RULE_IDS:
        print(f"{rule:<6}{report.targeted[rule]:>10}{report.fired[rule]:>10}")
    for line in (report.parse_errors + report.mismatches)[:20]:
        print(f"  {line}", file=sys.stderr)
    if args.out:
        write_yaml(scenarios, args.out)
        print(f"wrote {len(scenarios)} files to {args.out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
