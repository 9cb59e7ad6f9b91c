"""The engine's months-begun count (RULES.md §4, by_month), found in two steps since the policy
simulation's benchmark showed the month-by-month search: it must equal the rule's own wording,
"the smallest k ≥ 1 with a + k months ≥ r, at most N", on every pair of moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kameng.domain.calendar import SHANGHAI
from kameng.domain.refund import _months_begun, add_months

# Hypothesis takes naive bounds and attaches the zone itself.
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def months_begun_by_definition(a: datetime, r: datetime, months: int) -> int:
    for k in range(1, months + 1):
        if add_months(a, k, SHANGHAI) >= r:
            return k
    return months


@settings(max_examples=3000, deadline=None)
@given(
    a=MOMENTS, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4000)), months=st.integers(1, 120)
)
def test_months_begun_equals_the_rules_definition(a: datetime, later: timedelta, months: int) -> None:
    r = a + later
    assert min(_months_begun(a, r, SHANGHAI), months) == months_begun_by_definition(a, r, months)


@settings(max_examples=2000, deadline=None)
@given(a=MOMENTS, k=st.integers(0, 60), nudge=st.sampled_from([-1, 0, 1]), months=st.integers(1, 60))
def test_months_begun_at_the_edges_of_a_month(a: datetime, k: int, nudge: int, months: int) -> None:
    r = max(a, add_months(a, k, SHANGHAI) + timedelta(microseconds=nudge))
    assert min(_months_begun(a, r, SHANGHAI), months) == months_begun_by_definition(a, r, months)
