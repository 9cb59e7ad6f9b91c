"""The operator's console pages: the dashboard (``/operator``), the order and ticket searches
with their CSV and Excel exports, the reports with their charts and CSVs, and the calendar.

Only operators see any of it; anyone else gets the site's 404 page, as if nothing were here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from kameng.accounts.models import User
from kameng.container import Container
from kameng.domain.money import format_yuan
from kameng.operator import charts, exports
from kameng.operator.calendar_admin import (
    MAX_TEXT,
    calendar_warnings,
    covered_years,
    parse_schedule,
    parse_year,
    running_calendar,
    store_schedule,
)
from kameng.operator.dashboard import SECTIONS, WarningProvider, collect_warnings
from kameng.operator.reports import REPORTS, Reports, build_reports, period
from kameng.operator.search import (
    CHANNELS,
    ORDER_STATUSES,
    REASONS,
    TICKET_STATUSES,
    Filters,
    iter_orders,
    iter_tickets,
    order_filters,
    product_choices,
    search_orders,
    search_tickets,
    ticket_filters,
)
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound
from kameng.platform.i18n import Lang, label, translate
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, require_operator, viewer_of
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

ORDER_FIELDS = ("q", "status", "product", "channel", "date_from", "date_to")
TICKET_FIELDS = ("q", "status", "product", "reason", "date_from", "date_to")
MAX_FIELD = 100  # no filter value is longer; a longer one is refused before it is read


def _operator_page(user: OptionalUser) -> User:
    """``require_operator`` for pages: the site's own 404 page, not a JSON answer."""
    try:
        return require_operator(user)
    except HTTPException:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2") from None


OperatorUser = Depends(_operator_page)


def _values(request: Request, names: Sequence[str]) -> dict[str, str]:
    values = {}
    for name in names:
        value = request.query_params.get(name, "")
        if len(value) > MAX_FIELD:
            raise InvalidInput(ErrorCode.BAD_FILTER, "op.search.error.too_long", name)
        values[name] = value.strip()
    return values


def _error(refused: InvalidInput, lang: Lang) -> dict[str, str]:
    return {"field": refused.field or "form", "message": refused.message(lang)}


# --------------------------------------------------------------------------------------------
# Dashboard


@router.get("/operator", response_class=HTMLResponse)
def dashboard(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    providers: list[WarningProvider] = request.app.state.warning_providers
    warnings = collect_warnings(providers, container.uow, container.now())
    return render(request, "operator/dashboard/home.html", {"sections": SECTIONS, "warnings": warnings}, user=operator)


# --------------------------------------------------------------------------------------------
# Orders and tickets


def _search_page(
    request: Request, container: Container, operator: User, kind: str, fields: Sequence[str]
) -> HTMLResponse:
    lang = request_lang(request)
    error, page, status, values = None, None, 200, dict.fromkeys(fields, "")
    try:
        values = _values(request, fields)
        before = request.query_params.get("before", "")
        if kind == "orders":
            page = search_orders(container.uow(), viewer_of(operator), order_filters(**values, before=before))
        else:
            page = search_tickets(container.uow(), viewer_of(operator), ticket_filters(**values, before=before))
    except InvalidInput as refused:
        error, status = _error(refused, lang), refused.status
    kept = {name: value for name, value in values.items() if value}
    path = request.url.path
    context = {
        "kind": kind,
        "values": values,
        "error": error,
        "page": page,
        "products": product_choices(container.uow()),
        "statuses": ORDER_STATUSES if kind == "orders" else TICKET_STATUSES,
        "channels": CHANNELS,
        "reasons": REASONS,
        "next_url": f"{path}?{urlencode({**kept, 'before': page.next_before})}" if page and page.next_before else None,
        "first_url": f"{path}?{urlencode(kept)}" if request.query_params.get("before") else None,
        "csv_url": f"{path}/export.csv?{urlencode(kept)}",
        "xlsx_url": f"{path}/export.xlsx?{urlencode(kept)}",
    }
    return render(request, f"operator/orders/{kind}.html", context, status=status, user=operator)


@router.get("/operator/orders", response_class=HTMLResponse)
def orders_page(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    return _search_page(request, container, operator, "orders", ORDER_FIELDS)


@router.get("/operator/tickets", response_class=HTMLResponse)
def tickets_page(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    return _search_page(request, container, operator, "tickets", TICKET_FIELDS)


def _download(body: Iterator[bytes], name: str, media_type: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _export(
    request: Request, container: Container, operator: User, kind: str, extension: str
) -> StreamingResponse | HTMLResponse:
    lang = request_lang(request)
    fields = ORDER_FIELDS if kind == "orders" else TICKET_FIELDS
    try:
        values = _values(request, fields)
        filters: Filters = order_filters(**values) if kind == "orders" else ticket_filters(**values)
    except InvalidInput:
        # Refused on the search page, beside the field, rather than as a broken download.
        return _search_page(request, container, operator, kind, fields)
    viewer = viewer_of(operator)
    if kind == "orders":
        header = exports.order_header(lang)
        rows: Iterable[Sequence[exports.Cell]] = exports.order_rows(iter_orders(container.uow(), viewer, filters), lang)
    else:
        header = exports.ticket_header(lang)
        rows = exports.ticket_rows(iter_tickets(container.uow(), viewer, filters), lang)
    name = exports.export_name(kind, container.now(), extension)
    if extension == "csv":
        return _download(exports.csv_stream(header, rows), name, exports.CSV_MEDIA_TYPE)
    return _download(exports.xlsx_stream(kind, header, rows), name, exports.XLSX_MEDIA_TYPE)


@router.get("/operator/orders/export.csv", response_model=None)
def orders_csv(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    return _export(request, container, operator, "orders", "csv")


@router.get("/operator/orders/export.xlsx", response_model=None)
def orders_xlsx(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    return _export(request, container, operator, "orders", "xlsx")


@router.get("/operator/tickets/export.csv", response_model=None)
def tickets_csv(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    return _export(request, container, operator, "tickets", "csv")


@router.get("/operator/tickets/export.xlsx", response_model=None)
def tickets_xlsx(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    return _export(request, container, operator, "tickets", "xlsx")


# --------------------------------------------------------------------------------------------
# Reports


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
    values = _values(request, ("date_from", "date_to"))
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
        refusal = {"values": values, "error": _error(refused, lang), "result": None, "reports": REPORTS}
        return render(request, "operator/reports/reports.html", refusal, status=refused.status, user=operator)
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


@router.get("/operator/reports/{name}.csv", response_model=None)
def report_csv(name: str, request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    lang = request_lang(request)
    result = _report_input(request, container, operator)
    tables = report_tables(result, lang)
    if name not in tables:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    header, rows = tables[name]
    span = f"{result.span.first:%Y%m%d}-{result.span.last:%Y%m%d}"
    return _download(exports.csv_stream(header, rows), f"{name}-{span}.csv", exports.CSV_MEDIA_TYPE)


# --------------------------------------------------------------------------------------------
# Calendar


def _calendar_page(
    request: Request,
    container: Container,
    operator: User,
    *,
    preview: Any = None,
    error: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    loaded: int | None = None,
) -> HTMLResponse:
    context = {
        "covered": covered_years(container.uow(), container.calendar),
        "preview": preview,
        "error": error,
        "values": values or {"year": "", "text": ""},
        "loaded": loaded,
        "max_text": MAX_TEXT,
        "warnings": calendar_warnings(container.calendar, container.now()),
    }
    return render(request, "operator/calendar/calendar.html", context, status=status, user=operator)


@router.get("/operator/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    loaded = request.query_params.get("loaded", "")
    return _calendar_page(
        request, container, operator, loaded=int(loaded) if re.fullmatch(r"[0-9]{4}", loaded) else None
    )


async def _schedule_text(request: Request) -> tuple[dict[str, str], str]:
    """The form's year, and the schedule's text: the uploaded file's if one came, else the
    pasted list's. A file that is not UTF-8 text is refused by name."""
    form = await request.form()
    year_value, text_value = form.get("year"), form.get("text")
    values = {
        "year": year_value[:10] if isinstance(year_value, str) else "",
        "text": text_value[: MAX_TEXT + 1] if isinstance(text_value, str) else "",
    }
    upload = form.get("file")
    source = "pasted"
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        raw = await upload.read(MAX_TEXT * 4 + 1)
        if len(raw) > MAX_TEXT * 4:
            raise InvalidInput(ErrorCode.INVALID_REQUEST, "op.cal.error.too_long", "file", limit=MAX_TEXT)
        try:
            values["text"] = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(ErrorCode.INVALID_REQUEST, "op.cal.error.encoding", "file") from None
        source = (upload.filename or "file")[:200]
    return {**values, "source": source}, values["text"]


@router.post("/operator/calendar/preview", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def calendar_preview(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    lang = request_lang(request)
    values: dict[str, str] = {"year": "", "text": ""}
    try:
        values, text = await _schedule_text(request)
        year = parse_year(values["year"]) if values["year"].strip() else None
        schedule = parse_schedule(text, year)
    except InvalidInput as refused:
        return _calendar_page(
            request, container, operator, error=_error(refused, lang), values=values, status=refused.status
        )
    values["year"] = str(schedule.year)
    return _calendar_page(request, container, operator, preview=schedule, values=values)


@router.post("/operator/calendar/load", response_model=None, dependencies=[CsrfChecked])
async def calendar_load(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    """Store the schedule the preview showed (the preview's normalised JSON comes back), then
    rebuild this process's calendar with it."""
    lang = request_lang(request)
    form = await request.form()
    normalised, source = form.get("schedule"), form.get("source")
    try:
        if not isinstance(normalised, str):
            raise InvalidInput(ErrorCode.INVALID_REQUEST, "op.cal.error.empty", "schedule")
        schedule = parse_schedule(normalised)
        store_schedule(
            container.uow(),
            viewer_of(operator),
            schedule,
            source if isinstance(source, str) else "pasted",
            container.now(),
        )
    except InvalidInput as refused:
        return _calendar_page(request, container, operator, error=_error(refused, lang), status=refused.status)
    container.calendar = running_calendar(container.settings.calendar_file, container.uow())
    return Response(status_code=303, headers={"Location": f"/operator/calendar?loaded={schedule.year}"})
