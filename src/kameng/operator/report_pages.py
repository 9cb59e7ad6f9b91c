"""The operator's reports page (``/operator/reports``): each report's chart and table over a date
range, and each one's CSV (``/operator/reports/<name>.csv``), the same figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.container import Container
from kameng.domain.money import format_yuan
from kameng.operator import charts, exports
from kameng.operator.console import MAX_FIELD, OperatorUser, download, query_values, refusal
from kameng.operator.reports import REPORTS, Reports, build_reports, period
from kameng.platform.errors import InvalidInput
from kameng.platform.i18n import Lang, label, translate
from kameng.web.deps import ContainerDep, request_lang, viewer_of
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _minutes(value: int | None, lang: Lang) -> str:
    if value is None:
        return "—"
    if value < 120:
        return translate("op.report.minutes", lang, n=value)
    if value < 48 * 60:
        return translate("op.report.hours", lang, n=f"{value / 60:.1f}")
    return translate("op.report.days", lang, n=f"{value / 1440:.1f}")


def report_tables(result: Reports, lang: Lang) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Each report as a header and rows: the page's tables and the CSVs are the same figures."""
    t = translate
    products = [
        [
            p.name_zh if lang == "zh" else p.name_en,
            p.paid_orders,
            p.refunded_orders,
            _percent(p.rate),
            exports.yuan(p.paid_fen),
            exports.yuan(p.refunded_fen),
        ]
        for p in result.by_product
    ]
    reasons = [
        [label("reason", r.reason, lang), r.tickets, r.approved, _percent(r.rate), exports.yuan(r.approved_fen)]
        for r in result.by_reason
    ]
    routes = [
        [label("decision", r.route, lang), r.total, r.approved, r.rejected, r.open, r.withdrawn] for r in result.routes
    ]
    timings = [[t(f"op.report.timing.{x.what}", lang), x.count, x.p50, x.p90] for x in result.timings]
    breaches = [
        [day.isoformat(), opened, breached]
        for day, opened, breached in zip(
            result.breaches.days, result.breaches.series["opened"], result.breaches.series["breached"], strict=True
        )
    ]
    a = result.appeals
    appeals = [[a.total, a.pending, a.upheld, a.overturned, a.other]]
    r = result.renewals.series
    renewals = [
        [day.isoformat(), ok, failed, cancelled]
        for day, ok, failed, cancelled in zip(
            result.renewals.days, r["renewal_succeeded"], r["renewal_failed"], r["cancelled"], strict=True
        )
    ]
    books = result.ledger
    ledger = [
        [
            t("op.report.ledger.ok" if books.ok else "op.report.ledger.bad", lang),
            books.entries,
            books.lines,
            books.total_fen,
            len(books.unbalanced),
            len(books.balance_mismatches),
        ]
    ]

    def head(*keys: str) -> list[str]:
        return [t(f"op.report.col.{key}", lang) for key in keys]

    return {
        "refunds_by_product": (
            head("product", "paid_orders", "refunded_orders", "rate", "paid", "refunded"),
            products,
        ),
        "refunds_by_reason": (head("reason", "tickets", "approved", "rate", "approved_amount"), reasons),
        "decisions": (head("route", "total", "approved", "rejected", "open", "withdrawn"), routes),
        "timings": (head("measure", "count", "p50_minutes", "p90_minutes"), timings),
        "breaches": (head("day", "opened", "breached"), breaches),
        "appeals": (head("total", "pending", "upheld", "overturned", "other"), appeals),
        "renewals": (head("day", "renewed", "renewal_failed", "cancelled"), renewals),
        "ledger": (head("result", "entries", "lines", "sum_fen", "unbalanced", "mismatches"), ledger),
    }


def report_charts(result: Reports, lang: Lang) -> dict[str, Any]:
    t = translate
    days = [day.strftime("%m-%d") for day in result.span.days()]
    return {
        "refunds_by_product": charts.bar_chart(
            t("op.report.chart.product_rate", lang),
            [(p.name_zh if lang == "zh" else p.name_en, p.rate * 100) for p in result.by_product],
            value_label=lambda v: f"{v:.0f}%",
            chart_id="chart-product-rate",
        ),
        "refunds_by_reason": charts.bar_chart(
            t("op.report.chart.reason_amount", lang),
            [(label("reason", r.reason, lang), r.approved_fen / 100) for r in result.by_reason],
            value_label=lambda v: format_yuan(round(v * 100)),
            chart_id="chart-reason-amount",
        ),
        "decisions": charts.bar_chart(
            t("op.report.chart.routes", lang),
            [(label("decision", r.route, lang), r.total) for r in result.routes],
            chart_id="chart-routes",
        ),
        "timings": charts.bar_chart(
            t("op.report.chart.timings", lang),
            [
                (f"{t(f'op.report.timing.{x.what}', lang)} {q}", (getattr(x, q) or 0) / 60)
                for x in result.timings
                for q in ("p50", "p90")
            ],
            value_label=lambda v: t("op.report.hours", lang, n=f"{v:.1f}"),
            chart_id="chart-timings",
        ),
        "breaches": charts.line_chart(
            t("op.report.chart.breaches", lang),
            days,
            [
                (t("op.report.col.opened", lang), result.breaches.series["opened"]),
                (t("op.report.col.breached", lang), result.breaches.series["breached"]),
            ],
            chart_id="chart-breaches",
        ),
        "appeals": charts.bar_chart(
            t("op.report.chart.appeals", lang),
            [
                (t("op.report.col.pending", lang), result.appeals.pending),
                (t("op.report.col.upheld", lang), result.appeals.upheld),
                (t("op.report.col.overturned", lang), result.appeals.overturned),
            ],
            chart_id="chart-appeals",
        ),
        "renewals": charts.line_chart(
            t("op.report.chart.renewals", lang),
            days,
            [
                (t("op.report.col.renewed", lang), result.renewals.series["renewal_succeeded"]),
                (t("op.report.col.renewal_failed", lang), result.renewals.series["renewal_failed"]),
                (t("op.report.col.cancelled", lang), result.renewals.series["cancelled"]),
            ],
            chart_id="chart-renewals",
        ),
    }


def _report_input(request: Request, container: Container, operator: User) -> Reports:
    values = query_values(request, ("date_from", "date_to"))
    span = period(values["date_from"], values["date_to"], container.now())
    return build_reports(container.uow(), viewer_of(operator), span)


@router.get("/operator/reports", response_class=HTMLResponse)
def reports_page(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    lang = request_lang(request)
    values = {
        "date_from": request.query_params.get("date_from", "")[:MAX_FIELD],
        "date_to": request.query_params.get("date_to", "")[:MAX_FIELD],
    }
    try:
        result = _report_input(request, container, operator)
    except InvalidInput as refused:
        refused_context = {"values": values, "error": refusal(refused, lang), "result": None, "reports": REPORTS}
        return render(request, "operator/reports/reports.html", refused_context, status=refused.status, user=operator)
    kept = urlencode({name: value for name, value in values.items() if value})
    context: dict[str, Any] = {
        "values": values,
        "error": None,
        "result": result,
        "tables": report_tables(result, lang),
        "charts": report_charts(result, lang),
        "query": kept,
        "minutes": lambda value: _minutes(value, lang),
    }
    return render(request, "operator/reports/reports.html", context, user=operator)


# The reports' CSVs, one fixed address each (no path parameter: nothing typed reaches a lookup).
CSV_REPORTS = (
    "refunds_by_product",
    "refunds_by_reason",
    "decisions",
    "timings",
    "breaches",
    "appeals",
    "renewals",
    "ledger",
)


def _report_csv(name: str) -> Callable[..., Response]:
    def report_csv(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
        lang = request_lang(request)
        result = _report_input(request, container, operator)
        header, rows = report_tables(result, lang)[name]
        span = f"{result.span.first:%Y%m%d}-{result.span.last:%Y%m%d}"
        return download(exports.csv_stream(header, rows), f"{name}-{span}.csv", exports.CSV_MEDIA_TYPE)

    report_csv.__name__ = f"report_csv_{name}"
    return report_csv


for _name in CSV_REPORTS:
    router.add_api_route(f"/operator/reports/{_name}.csv", _report_csv(_name), methods=["GET"], response_model=None)
