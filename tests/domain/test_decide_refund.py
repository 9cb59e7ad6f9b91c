"""``decide_refund`` (the engine's decision alone, what the policy simulation replays) against
``quote_refund`` (the full quote): the same route, refund, rule ids, price and period on generated
cases of every kind, and on the worked examples of the shared scenario files.

Both walk the same decision table (``_decide``); these tests hold that nothing the full quote adds
(lines, explanation, dates) changes what was decided, and that the lines a quote shows add up to the
refund the decision gives.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kameng.domain.model import Decision, Policy, ProductKind, Proration, Reason, RefundRequest
from kameng.domain.refund import Decided, Quote, decide_refund, quote_refund
from kameng.domain.scenario import parse_scenario
from kameng.platform.documents import load_document

from .factories import CALENDAR, TZ, activated, at, membership, order, policy
from .test_properties import Case, cases

SHARED_SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"
OWN_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios" / "files"


def both(case: Case, policy: Policy | None = None) -> tuple[Decided, Quote]:
    product, drawn, order, events, request = case
    used = policy or drawn
    decided = decide_refund(product, used, order, events, request, TZ)
    quote = quote_refund(product, used, order, events, request, CALENDAR, TZ)
    return decided, quote


def assert_same(decided: Decided, quote: Quote) -> None:
    assert decided.decision is quote.decision
    assert decided.refund == quote.refund
    assert decided.rules == quote.rules
    assert decided.paid == quote.paid
    assert decided.period_index == quote.period_index
    assert sum(line.amount for line in quote.lines) == decided.refund


@settings(max_examples=500, deadline=None)
@given(cases())
def test_the_decision_alone_equals_the_full_quotes_route_and_amounts(case: Case) -> None:
    assert_same(*both(case))


@settings(max_examples=200, deadline=None)
@given(cases(), st.sampled_from(Reason))
def test_every_reason_on_the_same_order_decides_as_the_full_quote(case: Case, reason: Reason) -> None:
    # The statutory rules and §3a's "better of the two" are where the two entry points could part:
    # each reason on the same order, the policy outcome winning or not.
    product, policy, order, events, request = case
    assert_same(*both((product, policy, order, events, replace(request, reason=reason))))


@settings(max_examples=200, deadline=None)
@given(cases().filter(lambda case: case[0].kind is ProductKind.MEMBERSHIP), st.sampled_from(Proration))
def test_memberships_decide_as_the_full_quote_under_each_proration(case: Case, proration: Proration) -> None:
    product, policy = case[0], case[1]
    if proration is Proration.BY_MONTH and (product.term is None or product.term.months is None):
        return  # refused by the policy editor: by_month on a term in days
    if proration is Proration.BY_BENEFIT and not product.total_benefits:
        return  # refused by the policy editor: no countable benefits
    assert_same(*both(case, replace(policy, proration=proration)))


def scenario_files() -> list[Path]:
    return [*sorted(SHARED_SCENARIOS.glob("*.yaml")), *sorted(OWN_SCENARIOS.glob("*.yaml"))]


@pytest.mark.parametrize("path", scenario_files(), ids=lambda path: path.name)
def test_the_worked_examples_decide_as_their_full_quotes(path: Path) -> None:
    scenario = parse_scenario(load_document(path.read_text(encoding="utf-8"), path.name))
    case = (scenario.product, scenario.policy, scenario.order, list(scenario.events), scenario.request)
    decided = decide_refund(*case, scenario.timezone)
    quote = quote_refund(*case, CALENDAR, scenario.timezone)
    assert_same(decided, quote)


def test_a_different_decision_is_told_apart() -> None:
    # The comparison itself can fail: a refund one fen off, or another route, is caught.
    product = membership("12m", "199.00")
    case = (
        product,
        policy(proration="by_month"),
        order("199.00", "2026-01-01 10:00"),
        [activated("2026-01-01 11:00")],
        RefundRequest(at("2026-03-01 10:00"), Reason.CHANGED_MIND),
    )
    decided, quote = both(case)
    assert_same(decided, quote)
    assert decided.decision is Decision.REVIEW
    assert decided.refund == 16583  # 199.00 less 2 of 12 months begun, no fee
    with pytest.raises(AssertionError):
        assert_same(decided._replace(refund=decided.refund + 1), quote)
    with pytest.raises(AssertionError):
        assert_same(decided._replace(decision=Decision.AUTO_APPROVE), quote)
