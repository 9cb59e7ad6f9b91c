"""After-sales pages: the refund request, 我的售后, ticket pages, the staff queue.

The consumer sees the quote before anything else, then describes and attaches evidence. Every
form is a POST carrying the session's CSRF token and is answered with a redirect; a refusal from a
service comes back as a message beside the field it names (kept in the session for one page).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData, UploadFile

from kameng.accounts.models import User
from kameng.aftersales import queries as aftersales_queries
from kameng.aftersales.evidence import build_evidence, render_evidence_pdf
from kameng.aftersales.queries import evidence_file, review_queue, ticket_view
from kameng.aftersales.refunds import refund_to_balance, retry_refund
from kameng.aftersales.requests import RefundRequestCommand, appeal, reply, submit_request, withdraw
from kameng.aftersales.review import approve, ask_info, reject
from kameng.aftersales.uploads import Upload
from kameng.container import Container
from kameng.domain.aftersales import CITABLE_RULES
from kameng.domain.model import Reason
from kameng.domain.tickets import TicketStatus
from kameng.domain.users import Role
from kameng.orders.queries import order_view
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, viewer_of
from kameng.web.forms import StaffUser, flash, form_key, form_text, form_typed, redirect, take_flash, to_login
from kameng.web.params import Action, ChoiceQuery, FileId, OrderNo, TicketNo
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

REASONS = [r.value for r in Reason]
# While these last, the ticket page reloads itself: the worker is about to move the ticket.
LIVE_STATUSES = frozenset(
    {TicketStatus.SUBMITTED, TicketStatus.AUTO_APPROVED, TicketStatus.APPROVED, TicketStatus.REFUNDING}
)
LIVE_REFRESH_SECONDS = 3
LANES = ("review", "escalated", "appeals")
SUPERVISOR_LANES = frozenset({"escalated", "appeals"})
CONSUMER_ACTIONS = ("withdraw", "reply", "appeal", "refund_to_balance", "retry_refund")
STAFF_ACTIONS = ("approve", "reject", "ask_info", "retry_refund")
REQUEST_FIELDS = frozenset({"description", "order", "status"})  # shown beside their place on the form


async def _uploads(form: FormData, name: str) -> list[Upload]:
    """The files of a multipart field; an empty file input (no file chosen) is not an upload."""
    files = []
    for item in form.getlist(name):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            files.append(Upload(item.filename or "", await item.read()))
    return files


def _consumer_only(user: User) -> None:
    if user.role is not Role.CONSUMER:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")


# --------------------------------------------------------------------------------------------
# The request: quote first, then the form


def _reason(value: str | None) -> Reason:
    return Reason(value) if value in REASONS else Reason.CHANGED_MIND


def _request_page(
    request: Request,
    container: Container,
    user: User,
    order_no: str,
    reason: Reason,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    view = order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar, reason)
    if view.order.user_id != user.id:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.3")
    context = {"view": view, "reason": reason.value, "reasons": REASONS, "values": values, "errors": errors}
    return render(request, "aftersales/refund_request.html", context, status=status, user=user)


@router.get("/orders/{order_no}/refund", response_class=HTMLResponse)
def refund_form(
    order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser, reason: ChoiceQuery = ""
) -> Response:
    if user is None:
        return to_login(request)
    chosen = _reason(reason)
    # A fresh key per rendered form: a double click or a resent POST finds the first ticket.
    values = {"description": "", "idempotency_key": uuid.uuid4().hex}
    return _request_page(request, container, user, order_no, chosen, values, {})


@router.post("/orders/{order_no}/refund", dependencies=[CsrfChecked])
async def refund_submit(order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    reason = _reason(form_typed(form, "reason"))
    # What was typed, shown again if anything is refused; a fresh key for the next try.
    values = {"description": form_typed(form, "description"), "idempotency_key": uuid.uuid4().hex}
    lang = request_lang(request)
    try:
        reason = _reason(form_text(form, "reason", inputs.CHOICE))
        values["description"] = form_text(form, "description", inputs.DESCRIPTION)
        values["idempotency_key"] = form_key(form)
        uploads = await _uploads(form, "evidence")
        ticket = submit_request(
            container.uow(),
            viewer_of(user),
            RefundRequestCommand(
                order_no=order_no,
                reason=reason,
                description=values["description"],
                uploads=uploads,
                idempotency_key=values["idempotency_key"],
            ),
            container.now(),
            container.calendar,
        )
    except ServiceError as error:
        if isinstance(error, NotFound):
            raise
        field = error.field or "form"
        if field.startswith("evidence"):
            field = "evidence"
        elif field not in REQUEST_FIELDS:
            field = "form"  # a hidden field (the reason, the key): said above the form
        return _request_page(
            request, container, user, order_no, reason, values, {field: error.message(lang)}, status=error.status
        )
    return redirect(f"/tickets/{ticket.ticket_no}")


# --------------------------------------------------------------------------------------------
# 我的售后 and the ticket page


@router.get("/tickets", response_class=HTMLResponse)
def my_tickets(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    rows = aftersales_queries.my_tickets(container.uow(), viewer_of(user))
    return render(request, "aftersales/tickets.html", {"tickets": rows}, user=user)


def _progress(status: TicketStatus) -> tuple[int, bool]:
    """How many of the four steps (submitted, decided, refunding, refunded) are done, and whether
    the path stopped short of the money (rejected, withdrawn, failed)."""
    if status is TicketStatus.REFUNDED:
        return 4, False
    if status is TicketStatus.REFUNDING:
        return 3, False
    if status in {TicketStatus.AUTO_APPROVED, TicketStatus.APPROVED}:
        return 2, False
    if status in {TicketStatus.REJECTED, TicketStatus.REJECTED_FINAL, TicketStatus.REFUND_FAILED}:
        return (3 if status is TicketStatus.REFUND_FAILED else 2), True
    if status is TicketStatus.WITHDRAWN:
        return 1, True
    return 1, False


@router.get("/tickets/{ticket_no}", response_class=HTMLResponse)
def ticket_page(ticket_no: TicketNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    view = ticket_view(container.uow(), viewer_of(user), ticket_no)
    if view.ticket.user_id != user.id:
        # Staff read tickets on their own page, beside the order's usage.
        return redirect(f"/staff/tickets/{ticket_no}")
    done, stopped = _progress(view.ticket.status)
    receipt = next((r for r in reversed(view.refunds) if r.status.value == "succeeded"), None)
    context = {
        "view": view,
        "tk": view.ticket,
        "done": done,
        "stopped": stopped,
        "live": view.ticket.status in LIVE_STATUSES,
        "refresh": LIVE_REFRESH_SECONDS,
        "receipt": receipt,
        "flash": take_flash(request),
        "now": container.now(),
        "evidence_export": True,
    }
    return render(request, "aftersales/ticket.html", context, user=user)


@router.get("/tickets/{ticket_no}/files/{file_id}")
def ticket_file(
    ticket_no: TicketNo, file_id: FileId, request: Request, container: ContainerDep, user: OptionalUser
) -> Response:
    if user is None:
        return to_login(request)
    row = evidence_file(container.uow(), viewer_of(user), ticket_no, file_id)
    filename = urlquote(row.filename)
    return Response(
        row.data,
        media_type=row.content_type,  # sniffed from the bytes at upload, never taken from the name
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/tickets/{ticket_no}/evidence.json")
def ticket_evidence_json(
    ticket_no: TicketNo, request: Request, container: ContainerDep, user: OptionalUser
) -> Response:
    if user is None:
        return to_login(request)
    data = build_evidence(container.uow(), viewer_of(user), ticket_no, container.now())
    return JSONResponse(data, headers={"Content-Disposition": f'attachment; filename="evidence-{ticket_no}.json"'})


@router.get("/tickets/{ticket_no}/evidence.pdf")
def ticket_evidence_pdf(ticket_no: TicketNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    data = build_evidence(container.uow(), viewer_of(user), ticket_no, container.now())
    pdf = render_evidence_pdf(data, request_lang(request))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="evidence-{ticket_no}.pdf"'},
    )


@router.post("/tickets/{ticket_no}/{action}", dependencies=[CsrfChecked])
async def ticket_action(
    ticket_no: TicketNo, action: Action, request: Request, container: ContainerDep, user: OptionalUser
) -> Response:
    if user is None:
        return to_login(request)
    if action not in CONSUMER_ACTIONS:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    form = await request.form()
    uow, viewer, now, calendar = container.uow(), viewer_of(user), container.now(), container.calendar
    typed = form_typed(form, "comment")
    try:
        comment = form_text(form, "comment", inputs.COMMENT)
        if action == "withdraw":
            withdraw(uow, viewer, ticket_no, now, calendar)
        elif action == "reply":
            reply(uow, viewer, ticket_no, comment, await _uploads(form, "evidence"), now, calendar)
        elif action == "appeal":
            appeal(uow, viewer, ticket_no, comment, now, calendar)
        elif action == "refund_to_balance":
            if form.get("consent") != "1":
                raise InvalidInput(ErrorCode.CONSENT_REQUIRED, "error.consent_required", "consent")
            refund_to_balance(uow, viewer, ticket_no, now, calendar)
        else:
            retry_refund(uow, viewer, ticket_no, now, calendar)
    except ServiceError as error:
        if isinstance(error, NotFound):
            raise
        flash(request, error, {"comment": typed, "action": action})
    return redirect(f"/tickets/{ticket_no}")


# --------------------------------------------------------------------------------------------
# Staff


def _lane_page(request: Request, container: Container, staff: User, lane: str) -> HTMLResponse:
    if lane in SUPERVISOR_LANES and staff.role not in {Role.SUPERVISOR, Role.OPERATOR}:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    rows = review_queue(container.uow(), viewer_of(staff), lane)
    now = container.now()
    overdue = {
        row.ticket_no
        for row in rows
        if row.due_at is not None and row.status is not TicketStatus.NEEDS_INFO and row.due_at < now
    }
    context = {"tickets": rows, "lane": lane, "overdue": overdue, "flash": take_flash(request)}
    return render(request, "aftersales/staff_tickets.html", context, user=staff)


@router.get("/staff/tickets", response_class=HTMLResponse)
def staff_queue(
    request: Request, container: ContainerDep, staff: User = StaffUser, lane: ChoiceQuery = "review"
) -> HTMLResponse:
    return _lane_page(request, container, staff, lane if lane in LANES else "review")


@router.get("/staff/escalations", response_class=HTMLResponse)
def staff_escalations(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    return _lane_page(request, container, staff, "escalated")


@router.get("/staff/appeals", response_class=HTMLResponse)
def staff_appeals(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    return _lane_page(request, container, staff, "appeals")


@router.get("/staff/tickets/{ticket_no}", response_class=HTMLResponse)
def staff_ticket(
    ticket_no: TicketNo, request: Request, container: ContainerDep, staff: User = StaffUser
) -> HTMLResponse:
    view = ticket_view(container.uow(), viewer_of(staff), ticket_no)
    context = {
        "view": view,
        "tk": view.ticket,
        "now": container.now(),
        "flash": take_flash(request),
        "rules": sorted(CITABLE_RULES),
    }
    return render(request, "aftersales/staff_ticket.html", context, user=staff)


@router.post("/staff/tickets/{ticket_no}/{action}", dependencies=[CsrfChecked])
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
        values["action"] = action
        flash(request, error, values)
    return redirect(f"/staff/tickets/{ticket_no}")


__all__ = ["router"]
