"""Properties of the money rules that must hold for every order, not just the worked examples.

- a refund is never below 0.00 nor above what was paid for the period;
- the lines add up to the refund;
- for one activated membership, asking later never gives a larger prorated (P9) refund;
- each line is rounded once: it equals the half-up rounding of its exact rational, computed
  here independently of the engine (Fraction, not ``round_half_up``);
- the engine is a function: same inputs (in any order of events), same quote.
"""

from __future__ import annotations

import random
from calendar import monthrange
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

from hypothesis import given, settings
from hypothesis import strategies as st

from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import (
    PERMANENT,
    Channel,
    CoolingOff,
    Coupon,
    Event,
    EventType,
    Order,
    Policy,
    Product,
    ProductKind,
    Proration,
    Reason,
    RefundRequest,
    Term,
)
from kameng.domain.refund import Quote, quote_refund

from .factories import CALENDAR, CST, TZ

Case = tuple[Product, Policy, Order, list[Event], RefundRequest]
Membership = tuple[Product, Policy, Order, list[Event]]
PROPERTY = settings(max_examples=200, deadline=None)
ORIGIN = datetime(2026, 1, 1, 0, 0, tzinfo=CST)
MINUTES_IN_TWO_YEARS = 2 * 366 * 24 * 60
BENEFITS = ("course", "live", "video")

moments = st.integers(0, MINUTES_IN_TWO_YEARS // 2).map(lambda m: ORIGIN + timedelta(minutes=m))
fen = st.integers(0, 1_000_000)
percents = st.integers(0, 10_000).map(lambda n: Decimal(n) / 100)


@st.composite
def products(draw: st.DrawFn, kind: ProductKind | None = None) -> Product:
    kind = kind or draw(st.sampled_from(ProductKind))
    term: Term | None = None
    benefits: dict[str, int] = {}
    if kind is ProductKind.MEMBERSHIP:
        term = draw(
            st.one_of(
                st.integers(1, 400).map(lambda n: Term(days=n)),
                st.integers(1, 24).map(lambda n: Term(months=n)),
                st.just(PERMANENT),
            )
        )
        benefits = draw(st.dictionaries(st.sampled_from(BENEFITS[:2]), st.integers(1, 20), max_size=2))
    return Product(kind, draw(fen), term=term, promo=draw(st.booleans()), benefits=benefits)


@st.composite
def policies(draw: st.DrawFn, product: Product) -> Policy:
    prorations = [Proration.BY_DAY]
    if product.term is None or product.term.days is None:
        prorations.append(Proration.BY_MONTH)
    if product.benefits:
        prorations.append(Proration.BY_BENEFIT)
    fee_min = draw(st.integers(0, 2_000))
    fee_max = draw(st.one_of(st.none(), st.integers(fee_min, 10_000)))
    policy = Policy(
        cooling_off_days=draw(st.integers(0, 15)),
        cooling_off=draw(st.sampled_from(CoolingOff)),
        proration=draw(st.sampled_from(prorations)),
        fee_percent=draw(percents),
        fee_min=fee_min,
        fee_max=fee_max,
        review_business_days=draw(st.integers(1, 10)),
        trial_counts_as_activation=draw(st.booleans()),
    )
    policy.check_against(product)
    return policy


@st.composite
def events_for(draw: st.DrawFn, product: Product, start: datetime) -> list[Event]:
    types = [t for t in EventType if t is not EventType.SPENT and t is not EventType.RENEWED]
    if product.kind is ProductKind.RECHARGE:
        types.append(EventType.SPENT)
    if product.kind is ProductKind.MEMBERSHIP:
        types.append(EventType.RENEWED)
    events = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(types))
        at = start + timedelta(minutes=draw(st.integers(0, 500 * 24 * 60)))
        if kind is EventType.BENEFIT_USED:
            benefit, count = draw(st.sampled_from(BENEFITS)), draw(st.integers(1, 5))
            events.append(Event(at, kind, benefit=benefit, count=count))
        elif kind is EventType.OUTAGE:
            events.append(Event(at, kind, hours=Decimal(draw(st.integers(0, 1000))) / 10))
        elif kind in (EventType.RENEWED, EventType.SPENT):
            events.append(Event(at, kind, amount=draw(fen)))
        else:
            events.append(Event(at, kind))
    return events


@st.composite
def cases(draw: st.DrawFn) -> Case:
    product = draw(products())
    policy = draw(policies(product))
    paid_at = draw(moments)
    coupon = draw(st.one_of(st.none(), st.builds(Coupon, fen, st.booleans())))
    bonus = draw(fen) if product.kind is ProductKind.RECHARGE else 0
    order = Order(draw(fen), paid_at, draw(st.sampled_from(Channel)), bonus=bonus, coupon=coupon)
    events = draw(events_for(product, paid_at))
    request_at = paid_at + timedelta(minutes=draw(st.integers(0, 500 * 24 * 60)))
    return product, policy, order, events, RefundRequest(request_at, draw(st.sampled_from(Reason)))


def run(case: Case, calendar: WorkCalendar = CALENDAR) -> Quote:
    product, policy, order, events, request = case
    return quote_refund(product, policy, order, events, request, calendar, TZ)


# --- bounds and lines --------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_a_refund_is_never_negative_nor_above_what_was_paid(case: Case) -> None:
    q = run(case)
    assert 0 <= q.refund <= q.paid
    assert q.to_dict()["refund"] == f"{q.refund // 100}.{q.refund % 100:02d}"


@PROPERTY
@given(cases())
def test_the_lines_always_add_up_to_the_refund(case: Case) -> None:
    q = run(case)
    assert sum(line.amount for line in q.lines) == q.refund
    assert q.lines[0].code == "paid"
    assert all(line.amount == 0 for line in q.lines if line.code == "coupon")
    assert all(line.amount <= 0 for line in q.lines[1:])


@PROPERTY
@given(cases())
def test_every_decision_carries_its_rule_and_the_dates_that_go_with_it(case: Case) -> None:
    q = run(case)
    known = {f"S{n}" for n in range(1, 6)} | {f"P{n}" for n in range(1, 10)} | {"R1", "R2"}
    assert len(q.rules) >= 1
    assert q.rules[0] in known
    assert (q.review_due is not None) == (q.decision.value == "review")
    assert (q.arrival is not None) == (q.decision.value == "auto_approve")
    request_day = case[4].at.astimezone(TZ).date()
    if q.review_due is not None:
        assert q.review_due > request_day
    if q.arrival is not None:
        assert request_day <= q.arrival.earliest <= q.arrival.latest
    if q.decision.value == "reject":
        assert q.refund == 0


# --- monotonic in time -------------------------------------------------------------------------


@st.composite
def activated_memberships(draw: st.DrawFn) -> Membership:
    term = draw(
        st.one_of(st.integers(1, 400).map(lambda n: Term(days=n)), st.integers(1, 24).map(lambda n: Term(months=n)))
    )
    benefits = draw(st.dictionaries(st.sampled_from(BENEFITS[:2]), st.integers(1, 20), max_size=2))
    product = Product(ProductKind.MEMBERSHIP, draw(fen), term=term, benefits=benefits)
    policy = draw(policies(product))
    # No cooling-off refund, so every request after activation is decided by P9 (or P5 at the end).
    policy = Policy(
        cooling_off_days=0,
        cooling_off=policy.cooling_off,
        proration=policy.proration,
        fee_percent=policy.fee_percent,
        fee_min=policy.fee_min,
        fee_max=policy.fee_max,
    )
    paid_at = draw(moments)
    order = Order(draw(fen), paid_at, Channel.ALIPAY)
    activation = paid_at + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    events = [Event(activation, EventType.ACTIVATED)]
    for _ in range(draw(st.integers(0, 6))):
        at = activation + timedelta(minutes=draw(st.integers(0, 400 * 24 * 60)))
        benefit, count = draw(st.sampled_from(BENEFITS)), draw(st.integers(1, 5))
        events.append(Event(at, EventType.BENEFIT_USED, benefit=benefit, count=count))
    return product, policy, order, events


@PROPERTY
@given(activated_memberships(), st.lists(st.integers(0, 800 * 24 * 60), min_size=2, max_size=6))
def test_asking_later_never_gives_a_larger_prorated_refund(membership: Membership, offsets: list[int]) -> None:
    product, policy, order, events = membership
    activation = events[0].at
    refunds = []
    for minutes in sorted(offsets):
        request = RefundRequest(activation + timedelta(minutes=minutes), Reason.CHANGED_MIND)
        q = quote_refund(product, policy, order, events, request, CALENDAR, TZ)
        assert q.rules[0] in {"P9", "P5"}
        refunds.append(q.refund)
    assert refunds == sorted(refunds, reverse=True)


# --- rounding once per line --------------------------------------------------------------------


def half_up(value: Fraction) -> int:
    """Independent of the engine: the nearest integer to a non-negative rational, halves up."""
    assert value >= 0
    return floor(value + Fraction(1, 2))


def plus_months(moment: datetime, months: int) -> datetime:
    local = moment.astimezone(TZ)
    year, month = local.year + (local.month - 1 + months) // 12, (local.month - 1 + months) % 12 + 1
    return local.replace(year=year, month=month, day=min(local.day, monthrange(year, month)[1]))


@PROPERTY
@given(activated_memberships(), st.integers(0, 800 * 24 * 60))
def test_each_line_is_the_half_up_rounding_of_its_exact_rational(membership: Membership, minutes: int) -> None:
    product, policy, order, events = membership
    a = events[0].at
    r = a + timedelta(minutes=minutes)
    request = RefundRequest(r, Reason.CHANGED_MIND)
    q = quote_refund(product, policy, order, events, request, CALENDAR, TZ)
    if q.rules[0] != "P9":
        return
    term = product.term
    assert term is not None
    paid = order.paid
    exact: Fraction
    if policy.proration is Proration.BY_DAY:
        if term.days is not None:
            total = term.days
        else:
            total = (plus_months(a, term.months or 0).date() - a.astimezone(TZ).date()).days
        used = min(max(ceil((r - a) / timedelta(days=1)), 1), total)
        exact = Fraction(paid * used, total)
    elif policy.proration is Proration.BY_MONTH:
        months = term.months or 0
        used = next((k for k in range(1, months + 1) if plus_months(a, k) >= r), months)
        exact = Fraction(paid * used, months)
    else:
        total = sum(product.benefits.values())
        count = sum(
            e.count for e in events if e.type is EventType.BENEFIT_USED and e.at <= r and e.benefit in product.benefits
        )
        exact = Fraction(paid * min(count, total), total)
    used_share = half_up(exact)
    left = paid - used_share
    fee = half_up(Fraction(policy.fee_percent) / 100 * left)
    fee = max(fee, policy.fee_min)
    if policy.fee_max is not None:
        fee = min(fee, policy.fee_max)
    fee = min(fee, left)
    assert [(line.code, line.amount) for line in q.lines] == [
        ("paid", paid),
        ("used_share", -used_share),
        ("fee", -fee),
    ]
    assert q.refund == left - fee


# --- a pure function ---------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_the_same_inputs_give_the_same_quote(case: Case) -> None:
    assert run(case) == run(case)
    assert run(case, WorkCalendar()).to_dict() == run(case).to_dict()


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_in_which_events_are_given_does_not_matter(case: Case, shuffler: random.Random) -> None:
    product, policy, order, events, request = case
    # Distinct times (a second apart at most): the order of two events at the very same instant
    # is the one thing sorting cannot recover.
    events = [replace(e, at=e.at + timedelta(seconds=i)) for i, e in enumerate(events)]
    shuffled = list(events)
    shuffler.shuffle(shuffled)
    assert run((product, policy, order, shuffled, request)) == run((product, policy, order, events, request))
