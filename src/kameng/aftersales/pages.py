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
from kameng.aftersales.models import TicketTimeline
from kameng.aftersales.queries import TicketView, evidence_file, refund_progress, ticket_view
from kameng.aftersales.refunds import refund_to_balance, retry_refund
from kameng.aftersales.requests import APPEAL_MIN_CHARS, RefundRequestCommand, appeal, reply, submit_request, withdraw
from kameng.aftersales.uploads import Upload
from kameng.container import Container
from kameng.domain.model import Reason
from kameng.domain.tickets import TicketStatus
from kameng.domain.users import Role
from kameng.orders.queries import order_view
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound, ServiceError, not_found
from kameng.web import drafts
from kameng.web.deps import ContainerDep, OptionalUser, csrf_keeping, request_lang, viewer_of
from kameng.web.forms import form_key, form_text, form_typed, redirect, take_flash, to_login
from kameng.web.params import Action, ChoiceQuery, FileId, OrderNo, TicketNo
from kameng.web.rate_limits import limited
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

REASONS = [r.value for r in Reason]
# While these last, the ticket page reloads itself: the worker is about to move the ticket.
LIVE_STATUSES = frozenset(
    {TicketStatus.SUBMITTED, TicketStatus.AUTO_APPROVED, TicketStatus.APPROVED, TicketStatus.REFUNDING}
)
LIVE_REFRESH_SECONDS = 3
CONSUMER_ACTIONS = ("withdraw", "reply", "appeal", "refund_to_balance", "retry_refund")
TYPED_CONSUMER_ACTIONS = ("reply", "appeal")  # the consumer's forms with text worth keeping
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


def _reason(value: str | None) -> Reason | None:
    """The reason picked, or None for anything that is not one of ours: never a silent default."""
    return Reason(value) if value in REASONS else None


def _unknown_reason() -> InvalidInput:
    return InvalidInput(ErrorCode.UNKNOWN_REASON, "error.unknown_reason", "reason")


def _request_page(
    request: Request,
    container: Container,
    user: User,
    order_no: str,
    reason: Reason | None,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    """The quote for ``reason`` above the form; with no valid reason, the form keeps its text and
    waits for one to be picked (there is no quote to show, so nothing can be sent yet)."""
    view = order_view(
        container.uow(), viewer_of(user), order_no, container.now(), container.calendar, reason or Reason.CHANGED_MIND
    )
    if view.order.user_id != user.id:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.3")
    context = {
        "view": view,
        "reason": reason.value if reason else None,
        "reasons": REASONS,
        "values": values,
        "errors": errors,
    }
    return render(request, "aftersales/refund_request.html", context, status=status, user=user)


def _refund_form_action(order_no: str) -> str:
    return f"/orders/{order_no}/refund"


@router.get("/orders/{order_no}/refund", response_class=HTMLResponse)
def refund_form(
    order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser, reason: ChoiceQuery = ""
) -> Response:
    if user is None:
        return to_login(request)
    view = order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    if view.order.user_id == user.id and "request_refund" not in view.actions:
        # Refunded, a refund under way, or never paid: the order page says which, in words.
        return redirect(f"/orders/{order_no}")
    # Text typed before the session expired, or before an unknown reason was refused, comes back.
    kept = drafts.restore(request, _refund_form_action(order_no), user.id)
    asked = reason or kept.get("reason") or Reason.CHANGED_MIND.value
    chosen = _reason(asked)
    refused = None if chosen else _unknown_reason()
    errors = {"reason": refused.message(request_lang(request))} if refused else {}
    # A fresh key per rendered form: a double click or a resent POST finds the first ticket.
    values = {
        "description": kept.get("description", ""),
        "idempotency_key": kept.get("idempotency_key", "")[:80] or uuid.uuid4().hex,
    }
    status = refused.status if refused else 200
    return _request_page(request, container, user, order_no, chosen, values, errors, status=status)


@router.post(
    "/orders/{order_no}/refund",
    dependencies=[
        limited("refund_request"),
        csrf_keeping("description", "reason", "idempotency_key", back="/orders/{order_no}/refund"),
    ],
)
async def refund_submit(order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    # What was typed, shown again if anything is refused; a fresh key for the next try.
    values = {"description": form_typed(form, "description"), "idempotency_key": uuid.uuid4().hex}
    lang = request_lang(request)
    try:
        reason = _reason(form_text(form, "reason", inputs.CHOICE))
    except InvalidInput as bad:  # not even text a list could hold (a NUL, say): nothing is kept
        refusal = {"reason": bad.message(lang)}
        return _request_page(request, container, user, order_no, None, values, refusal, status=bad.status)
    if reason is None:
        # Shown again with the text, and kept, so that picking a reason (which reloads the page
        # with its quote) does not lose it.
        drafts.keep(request, _refund_form_action(order_no), values)
        error = _unknown_reason()
        errors = {"reason": error.message(lang)}
        return _request_page(request, container, user, order_no, None, values, errors, status=error.status)
    try:
        # The reason is one of ours (checked above), so it needs no other rule.
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
                confirmed_one_click_fen=_confirmed_fen(form_text(form, "confirmed_fen", inputs.CHOICE)),
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


def _confirmed_fen(text: str) -> int | None:
    """The amount a one-click confirmation showed (fen), or None from the full form. A value that
    is not a plain amount confirms nothing the engine could offer, so the quote is shown again."""
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) <= 15 else -1


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
    flash = take_flash(request)
    context = {
        "view": view,
        "tk": view.ticket,
        "done": done,
        "stopped": stopped,
        "live": view.ticket.status in LIVE_STATUSES,
        "refresh": LIVE_REFRESH_SECONDS,
        "receipt": receipt,
        "flash": flash,
        "typed": drafts.typed_back(request, user, f"/tickets/{ticket_no}", TYPED_CONSUMER_ACTIONS, flash),
        "question": _question(view),
        "appeal_min": APPEAL_MIN_CHARS,
        "now": container.now(),
        "evidence_export": True,
    }
    return render(request, "aftersales/ticket.html", context, user=user)


@router.get("/tickets/{ticket_no}/receipt", response_class=HTMLResponse)
def ticket_receipt(ticket_no: TicketNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    """The refund receipt (退款凭证): a page to print or keep, once the money has arrived."""
    if user is None:
        return to_login(request)
    progress = refund_progress(container.uow(), viewer_of(user), ticket_no, container.calendar)
    if progress.arrived is None:
        raise not_found("receipt")
    context = {"progress": progress, "tk": progress.ticket, "refund": progress.arrived, "now": container.now()}
    return render(request, "aftersales/receipt.html", context, user=user)


def _question(view: TicketView) -> TicketTimeline | None:
    """The staff's latest request for information, while the ticket waits on the consumer's reply."""
    if view.ticket.status is not TicketStatus.NEEDS_INFO:
        return None
    return next((row for row in reversed(view.timeline) if row.action == "ask_info"), None)


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


@router.post("/tickets/{ticket_no}/{action}", dependencies=[csrf_keeping("comment", back="/tickets/{ticket_no}")])
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
            appeal(uow, viewer, ticket_no, comment, await _uploads(form, "evidence"), now, calendar)
        elif action == "refund_to_balance":
            if form.get("consent") != "1":
                raise InvalidInput(ErrorCode.CONSENT_REQUIRED, "error.consent_required", "consent")
            refund_to_balance(uow, viewer, ticket_no, now, calendar)
        else:
            retry_refund(uow, viewer, ticket_no, now, calendar)
    except ServiceError as error:
        if isinstance(error, NotFound):
            raise
        drafts.flash_keeping(request, error, request.url.path, action, {"comment": typed})
    return redirect(f"/tickets/{ticket_no}")


__all__ = ["router"]
