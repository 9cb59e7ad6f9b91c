"""The operator's pages for platform events and mass refunds: /operator/outages (record an
outage, the outages recorded) and /operator/mass-refunds (a merchant's confirmation with the count
and total, a run's progress that refreshes itself while it runs, its summary). Forms are POSTs
carrying the CSRF token, answered with a redirect; a run started here is taken by the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.domain.calendar import SHANGHAI
from kameng.domain.mass_refunds import OutageScope, RunStatus
from kameng.operator.mass_queries import get_run, leftovers, list_runs, merchants, preview
from kameng.operator.mass_refunds import change_run, start_run
from kameng.operator.outages import TARGET, OutageCommand, list_outages, record_outage
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, require_operator, viewer_of
from kameng.web.forms import field_error, form_text, redirect
from kameng.web.params import Action, IdPath
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)
NUMBER = inputs.TextRule(20)
MOMENT = inputs.TextRule(40)


def _operator_page(user: OptionalUser) -> User:
    """``require_operator`` for pages: anyone else gets the site's own 404 page."""
    try:
        return require_operator(user)
    except HTTPException:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2") from None


OperatorUser = Depends(_operator_page)


# --------------------------------------------------------------------------------------------
# Mass refunds


def _runs_page(
    request: Request, container: ContainerDep, user: User, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context: dict[str, Any] = {
        "runs": list_runs(container.uow()),
        "merchants": merchants(container.uow()),
        "errors": errors or {},
    }
    return render(request, "operator/mass/runs.html", context, status=status, user=user)


@router.get("/operator/mass-refunds", response_class=HTMLResponse)
def runs_page(request: Request, container: ContainerDep, user: User = OperatorUser) -> Response:
    return _runs_page(request, container, user)


@router.get("/operator/mass-refunds/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, container: ContainerDep, user: User = OperatorUser) -> Response:
    merchant = request.query_params.get("merchant", "")
    note = request.query_params.get("note", "")
    try:
        note = inputs.clean_text(note, inputs.NOTE, "note")
        counted = preview(container.uow(), merchant, container.now(), container.calendar)
    except ServiceError as error:
        return _runs_page(request, container, user, field_error(error, request_lang(request)), error.status)
    return render(request, "operator/mass/confirm.html", {"preview": counted, "note": note, "errors": {}}, user=user)


@router.post("/operator/mass-refunds", dependencies=[CsrfChecked])
async def start_page(request: Request, container: ContainerDep, user: User = OperatorUser) -> Response:
    form = await request.form()
    try:
        merchant = form_text(form, "merchant", NUMBER)
        orders = form_text(form, "orders", NUMBER)
        if not (orders.isascii() and orders.isdigit()):
            raise InvalidInput(ErrorCode.BAD_NUMBER, "massrefund.error.orders", "orders")
        note = form_text(form, "note", inputs.NOTE)
        run = start_run(
            container.uow(),
            viewer_of(user),
            merchant,
            container.now(),
            container.calendar,
            note,
            confirmed_orders=int(orders),
        )
    except ServiceError as error:
        return _runs_page(request, container, user, field_error(error, request_lang(request)), error.status)
    return redirect(f"/operator/mass-refunds/{run.id}")


@router.get("/operator/mass-refunds/{run_id}", response_class=HTMLResponse)
def run_page(run_id: IdPath, request: Request, container: ContainerDep, signed_in: OptionalUser) -> Response:
    user = _operator_page(signed_in)  # after the id's check: a malformed id is answered 422 naming it
    run = get_run(container.uow(), run_id)
    rows, outcomes = leftovers(container.uow(), run.id)
    context = {"run": run, "rows": rows, "outcomes": outcomes, "running": run.status is RunStatus.RUNNING}
    return render(request, "operator/mass/run.html", context, user=user)


@router.post("/operator/mass-refunds/{run_id}/{action}", dependencies=[CsrfChecked])
def run_action(
    run_id: IdPath,
    action: Action,
    request: Request,
    container: ContainerDep,
    signed_in: OptionalUser,
) -> Response:
    user = _operator_page(signed_in)  # after the id's check: a malformed id is answered 422 naming it
    change_run(container.uow(), viewer_of(user), run_id, action[:20], container.now())
    return redirect(f"/operator/mass-refunds/{run_id}")


# --------------------------------------------------------------------------------------------
# Outages


def _moment(value: str, field: str) -> datetime:
    """A datetime-local field (Beijing time) or an ISO time with its zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(ErrorCode.OUT_OF_RANGE, "massrefund.error.bad_time", field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def _outages_page(
    request: Request,
    container: ContainerDep,
    user: User,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "outages": list_outages(container.uow()),
        "scopes": [scope.value for scope in OutageScope],
        "values": values or {"scope": "platform"},
        "errors": errors or {},
        "done": done,
    }
    return render(request, "operator/mass/outages.html", context, status=status, user=user)


@router.get("/operator/outages", response_class=HTMLResponse)
def outages_page(request: Request, container: ContainerDep, user: User = OperatorUser) -> Response:
    return _outages_page(request, container, user)


@router.post("/operator/outages", dependencies=[CsrfChecked])
async def record_page(request: Request, container: ContainerDep, user: User = OperatorUser) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, ""))[:500] for name in ("scope", "target", "starts_at", "ends_at", "note")}
    try:
        scope = form_text(form, "scope", NUMBER)
        target = form_text(form, "target", TARGET) if scope != OutageScope.PLATFORM.value else None
        starts_at = _moment(form_text(form, "starts_at", MOMENT), "starts_at")
        ends_at = _moment(form_text(form, "ends_at", MOMENT), "ends_at")
        note = form_text(form, "note", inputs.NOTE)
        done = record_outage(
            container.uow(), viewer_of(user), OutageCommand(scope, starts_at, ends_at, target, note), container.now()
        )
    except ServiceError as error:
        errors = field_error(error, request_lang(request))
        return _outages_page(request, container, user, values, errors, status=error.status)
    result = {"id": done.outage.id, "created": done.created, "marked": done.orders_marked}
    return _outages_page(request, container, user, done=result)
