"""The staff's after-sales pages: the staff home, the review queue with its filters and pages, the
supervisors' lanes, and a ticket as staff work it (approve, reject, ask for more)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.aftersales.queries import ticket_view
from kameng.aftersales.queue import queue_counts, staff_queue
from kameng.aftersales.queue_filters import ENGINE_RULES, LANES, QUEUE_STATUSES, QueueQuery, queue_query, rule_name
from kameng.aftersales.refunds import retry_refund
from kameng.aftersales.review import approve, ask_info, reject
from kameng.container import Container
from kameng.domain.aftersales import CITABLE_RULES
from kameng.domain.model import Reason
from kameng.domain.tickets import SlaState
from kameng.domain.users import Role
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from kameng.platform.i18n import Lang
from kameng.web import drafts
from kameng.web.deps import ContainerDep, csrf_keeping, request_lang, viewer_of
from kameng.web.forms import StaffUser, form_text, form_typed, redirect, take_flash
from kameng.web.params import Action, TicketNo
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

REASONS = [r.value for r in Reason]
SUPERVISOR_LANES = frozenset({"escalated", "appeals"})
STAFF_ACTIONS = ("approve", "reject", "ask_info", "retry_refund")

# --------------------------------------------------------------------------------------------
# Staff


QUEUE_FILTERS = ("status", "reason", "rule", "priority", "sla", "q")
HOME_ROWS = 10


def _may_see_lane(staff: User, lane: str | None) -> None:
    if lane in SUPERVISOR_LANES and staff.role not in {Role.SUPERVISOR, Role.OPERATOR}:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")


def _queue_context(container: Container, lang: Lang) -> dict[str, object]:
    """What the queue's table and filter form need besides the rows."""
    return {
        "statuses": QUEUE_STATUSES,
        "reasons": REASONS,
        "rules": [(rule, rule_name(rule, lang)) for rule in ENGINE_RULES],
        "sla_states": [state.value for state in SlaState],
        "rule_name": rule_name,
        "now": container.now(),
    }


def _queue_page(request: Request, container: Container, staff: User, lane: str | None) -> HTMLResponse:
    """The queue under the filters in the address; a filter that is not on the list is refused
    beside the form, which keeps what was typed."""
    _may_see_lane(staff, lane)
    params = request.query_params
    values = {name: params.get(name, "").strip() for name in QUEUE_FILTERS}
    overdue = params.get("overdue", "") in {"1", "true", "on"}
    lang = request_lang(request)
    error: dict[str, str] | None = None
    status = 200
    try:
        query = queue_query(**values, overdue=overdue, lane=lane, cursor=params.get("cursor"))
        page = staff_queue(container.uow(), viewer_of(staff), query, container.now())
        items, next_cursor, prev_cursor = page.items, page.next_cursor, page.prev_cursor
    except InvalidInput as refused:
        error = {"field": refused.field or "form", "message": refused.message(lang)}
        items, next_cursor, prev_cursor, status = [], None, None, refused.status
        query = QueueQuery()
    kept = {name: value for name, value in values.items() if value}
    if overdue:
        kept["overdue"] = "1"
    path = request.url.path

    def link(cursor: str | None) -> str | None:
        return f"{path}?{urlencode({**kept, 'cursor': cursor})}" if cursor else None

    context = {
        **_queue_context(container, lang),
        "items": items,
        "lane": lane,
        "values": values,
        "overdue_only": overdue,
        "query": query,
        "error": error,
        "next_url": link(next_cursor),
        "prev_url": link(prev_cursor),
        "flash": take_flash(request),
    }
    return render(request, "aftersales/staff_tickets.html", context, status=status, user=staff)


@router.get("/staff", response_class=HTMLResponse)
def staff_home(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    """Where staff land after signing in: how the queue stands against its deadlines, and its top."""
    viewer, now = viewer_of(staff), container.now()
    counts = queue_counts(container.uow(), viewer, now)
    page = staff_queue(container.uow(), viewer, queue_query(), now, limit=HOME_ROWS)
    context = {
        **_queue_context(container, request_lang(request)),
        "counts": counts,
        "by_sla": counts.by_sla(),
        "items": page.items,
        "more": page.next_cursor is not None,
        "lane": None,
    }
    return render(request, "aftersales/staff_home.html", context, user=staff)


@router.get("/staff/tickets", response_class=HTMLResponse)
def staff_queue_page(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    lane = request.query_params.get("lane") or None
    return _queue_page(request, container, staff, lane if lane in LANES else None)


@router.get("/staff/escalations", response_class=HTMLResponse)
def staff_escalations(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    return _queue_page(request, container, staff, "escalated")


@router.get("/staff/appeals", response_class=HTMLResponse)
def staff_appeals(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    return _queue_page(request, container, staff, "appeals")


@router.get("/staff/tickets/{ticket_no}", response_class=HTMLResponse)
def staff_ticket(
    ticket_no: TicketNo, request: Request, container: ContainerDep, staff: User = StaffUser
) -> HTMLResponse:
    view = ticket_view(container.uow(), viewer_of(staff), ticket_no)
    flashed = take_flash(request)
    context = {
        "view": view,
        "tk": view.ticket,
        "now": container.now(),
        "flash": flashed,
        "typed": drafts.typed_back(request, staff, f"/staff/tickets/{ticket_no}", STAFF_ACTIONS, flashed),
        "rules": CITABLE_RULES,  # in RULES.md's order, each shown by its plain name
    }
    return render(request, "aftersales/staff_ticket.html", context, user=staff)


@router.post(
    "/staff/tickets/{ticket_no}/{action}",
    dependencies=[csrf_keeping("comment", "amount", "reason", "rule", back="/staff/tickets/{ticket_no}")],
)
async def staff_action(
    ticket_no: TicketNo, action: Action, request: Request, container: ContainerDep, staff: User = StaffUser
) -> Response:
    if action not in STAFF_ACTIONS:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    form = await request.form()
    uow, viewer, now, calendar = container.uow(), viewer_of(staff), container.now(), container.calendar
    values = {name: form_typed(form, name) for name in ("comment", "amount", "reason", "rule")}
    try:
        comment = form_text(form, "comment", inputs.COMMENT)
        if action == "approve":
            amount_text = form_text(form, "amount", inputs.AMOUNT_TEXT)
            # The one decimal parser, worded for money: "NaN", "1e3" or "9.999" are refused, named.
            amount = inputs.yuan_input(amount_text, "amount") if amount_text else None
            reason = form_text(form, "reason", inputs.COMMENT)
            approve(uow, viewer, ticket_no, now, calendar, amount_fen=amount, reason=reason)
        elif action == "reject":
            reject(uow, viewer, ticket_no, form_text(form, "rule", inputs.RULE_ID), comment, now, calendar)
        elif action == "ask_info":
            ask_info(uow, viewer, ticket_no, comment, now, calendar)
        else:
            retry_refund(uow, viewer, ticket_no, now, calendar)
    except ServiceError as error:
        if isinstance(error, NotFound):
            raise
        drafts.flash_keeping(request, error, request.url.path, action, values)
    return redirect(f"/staff/tickets/{ticket_no}")


__all__ = ["router"]
