"""The operator's console pages: the dashboard (``/operator``), the order and ticket searches
with their CSV and Excel exports, the reports with their charts and CSVs, and the calendar.

Only operators see any of it; anyone else gets the site's 404 page, as if nothing were here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from kameng.accounts.models import User
from kameng.container import Container
from kameng.operator import exports
from kameng.operator.console import OperatorUser, download, query_values, refusal
from kameng.operator.dashboard import SECTIONS, WarningProvider, collect_warnings
from kameng.operator.search import (
    CHANNELS,
    ORDER_STATUSES,
    REASONS,
    TICKET_STATUSES,
    Filters,
    iter_orders,
    order_filters,
    product_choices,
    search_orders,
    ticket_filters,
)
from kameng.operator.ticket_search import iter_tickets, search_tickets
from kameng.platform.errors import InvalidInput
from kameng.web.deps import ContainerDep, request_lang, viewer_of
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

ORDER_FIELDS = ("q", "status", "product", "channel", "date_from", "date_to")
TICKET_FIELDS = ("q", "status", "product", "reason", "date_from", "date_to")
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
        values = query_values(request, fields)
        before = request.query_params.get("before", "")
        if kind == "orders":
            page = search_orders(container.uow(), viewer_of(operator), order_filters(**values, before=before))
        else:
            page = search_tickets(container.uow(), viewer_of(operator), ticket_filters(**values, before=before))
    except InvalidInput as refused:
        error, status = refusal(refused, lang), refused.status
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


def _export(
    request: Request, container: Container, operator: User, kind: str, extension: str
) -> StreamingResponse | HTMLResponse:
    lang = request_lang(request)
    fields = ORDER_FIELDS if kind == "orders" else TICKET_FIELDS
    try:
        values = query_values(request, fields)
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
        return download(exports.csv_stream(header, rows), name, exports.CSV_MEDIA_TYPE)
    return download(exports.xlsx_stream(kind, header, rows), name, exports.XLSX_MEDIA_TYPE)


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
