"""Each report's figures on a seeded history (tests/operator/reports_history.py), on SQLite and
PostgreSQL; the charts' SVG; the ranges refused; the ledger check's verdict."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

import pytest

from kameng.accounts.models import User
from kameng.domain.users import Role
from kameng.operator import charts
from kameng.operator.reports import Reports, build_reports, percentile, period
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound
from kameng.platform.ledger_models import JournalEntry, JournalLine
from tests.operator.reports_history import seed_history

OPERATOR = Viewer(1, Role.OPERATOR)


@pytest.fixture
def reports(catalog: UnitOfWork, make_user: Callable[..., User], now: datetime) -> Reports:
    seed_history(catalog, make_user, now)
    return build_reports(catalog, OPERATOR, period("", "", now))


def test_the_default_period_is_the_last_30_beijing_days(now: datetime) -> None:
    span = period(None, None, now)
    assert (span.first.isoformat(), span.last.isoformat()) == ("2026-02-01", "2026-03-02")
    assert len(span.days()) == 30


def test_refund_rate_by_product(reports: Reports) -> None:
    by_slug = {p.slug: p for p in reports.by_product}
    annual, monthly = by_slug["annual-card"], by_slug["monthly-pass"]
    assert (annual.paid_orders, annual.refunded_orders, annual.paid_fen, annual.refunded_fen) == (
        4,
        2,
        4 * 39900,
        39900 + 10000,
    )
    assert annual.rate == 0.5
    # The unpaid monthly pass is not a paid order.
    assert (monthly.paid_orders, monthly.refunded_orders, monthly.rate) == (1, 0, 0.0)
    assert set(by_slug) == {"annual-card", "monthly-pass"}


def test_refunds_by_reason(reports: Reports) -> None:
    by_reason = {r.reason: (r.tickets, r.approved, r.approved_fen) for r in reports.by_reason}
    assert by_reason["changed_mind"] == (2, 1, 39900)
    assert by_reason["not_as_described"] == (1, 1, 10000)
    assert by_reason["platform_fault"] == (1, 1, 5000)
    assert by_reason["not_delivered"] == (1, 0, 0)
    assert by_reason["merchant_gone"] == (0, 0, 0)


def test_decisions_by_route(reports: Reports) -> None:
    routes = {r.route: (r.total, r.approved, r.rejected, r.open, r.withdrawn) for r in reports.routes}
    assert routes == {
        "auto_approve": (1, 1, 0, 0, 0),
        "review": (3, 1, 1, 1, 0),
        "reject": (1, 1, 0, 0, 0),
    }


def test_time_to_decision_and_to_money(reports: Reports) -> None:
    decision, money = reports.timings
    # Decided after 0, 10, 4 and 20 hours; one still open.
    assert (decision.count, decision.p50, decision.p90) == (4, 240, 1200)
    # Money after 2 and 30 hours; the third approved refund has not arrived.
    assert (money.count, money.p50, money.p90) == (2, 120, 1800)


def test_deadline_breaches_per_day(reports: Reports) -> None:
    daily = reports.breaches
    assert daily.total("opened") == 5
    assert daily.total("breached") == 2
    by_day = dict(zip([d.isoformat() for d in daily.days], daily.series["breached"], strict=True))
    assert by_day["2026-02-22"] == 1
    assert by_day["2026-02-24"] == 1


def test_appeals_and_their_outcomes(reports: Reports) -> None:
    a = reports.appeals
    assert (a.total, a.pending, a.upheld, a.overturned, a.other) == (2, 0, 1, 1, 0)


def test_renewals_and_cancellations(reports: Reports) -> None:
    daily = reports.renewals
    assert daily.total("renewal_succeeded") == 1
    assert daily.total("renewal_failed") == 1
    assert daily.total("cancelled") == 1
    by_day = dict(zip([d.isoformat() for d in daily.days], daily.series["cancelled"], strict=True))
    assert by_day["2026-03-01"] == 1


def test_a_period_before_the_history_is_empty(
    catalog: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    seed_history(catalog, make_user, now)
    result = build_reports(catalog, OPERATOR, period("2025-01-01", "2025-01-31", now))
    assert result.by_product == []
    assert all(r.total == 0 for r in result.routes)
    assert result.timings[0].p50 is None
    assert result.appeals.total == 0


def test_the_ledger_check_is_the_books_check(uow: UnitOfWork, now: datetime, reports: Reports) -> None:
    assert reports.ledger.ok
    with uow:
        entry = JournalEntry(kind="test", key="lopsided", created_at=now)
        entry.lines = [JournalLine(account="channel:wechat", amount_fen=100)]
        uow.session.add(entry)
        uow.commit()
    result = build_reports(uow, OPERATOR, period("", "", now))
    assert not result.ledger.ok
    assert result.ledger.unbalanced == ["lopsided: 100"]


@pytest.mark.parametrize(
    ("date_from", "date_to", "field"),
    [
        ("2024-01-01", "2026-03-01", "date_to"),  # more than a year
        ("2026-13-01", "", "date_from"),
        ("", "not-a-date", "date_to"),
        ("2026-03-02", "2026-03-01", "date_to"),
    ],
)
def test_bad_ranges_are_refused(date_from: str, date_to: str, field: str, now: datetime) -> None:
    with pytest.raises(InvalidInput) as refused:
        period(date_from, date_to, now)
    assert refused.value.field == field


def test_only_an_operator_reads_the_reports(uow: UnitOfWork, now: datetime) -> None:
    with pytest.raises(NotFound):
        build_reports(uow, Viewer(1, Role.SUPERVISOR), period("", "", now))


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([(5, 1)], 0.9) == 5
    assert percentile([(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1), (8, 1), (9, 1), (10, 1)], 0.9) == 9
    assert percentile([(10, 9), (1000, 1)], 0.5) == 10


def test_the_charts_are_self_contained_svg_with_escaped_labels() -> None:
    bars = charts.bar_chart("退款率 <b>", [("<script>alert(1)</script>", 50.0), ("年卡", 25.0)], chart_id="c1")
    tree = ET.fromstring(str(bars))
    ns = "{http://www.w3.org/2000/svg}"
    widths = [float(rect.get("width", "0")) for rect in tree.iter(f"{ns}rect") if rect.get("class") == "bar"]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert "<script>" not in str(bars)
    assert "http" not in str(bars).replace("http://www.w3.org/2000/svg", "")
    lines = charts.line_chart("每日", ["03-01", "03-02", "03-03"], [("新工单", [1, 3, 2]), ("超时", [0, 1, 0])])
    polylines = list(ET.fromstring(str(lines)).iter(f"{ns}polyline"))
    assert [p.get("data-series") for p in polylines] == ["新工单", "超时"]
    assert len(polylines[0].get("points", "").split()) == 3
    # An empty chart still draws its axes, and nothing divides by zero.
    assert ET.fromstring(str(charts.bar_chart("空", []))).tag == f"{ns}svg"
    assert ET.fromstring(str(charts.line_chart("空", [], []))).tag == f"{ns}svg"
