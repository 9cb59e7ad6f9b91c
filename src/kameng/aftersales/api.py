"""After-sales REST API under /api/v1: refund requests, tickets, messages, evidence files.

The same conventions as :mod:`kameng.orders.api`: a bearer token names the viewer, amounts travel as
strings of yuan beside integer fen, errors are ``{"error": {code, field, message, message_zh}}``,
and a consumer asking for another consumer's ticket gets the same 404 as for one that does not
exist. Handlers parse, call one service, and shape the answer; the services own the transactions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from kameng.accounts.sessions import BearerSignIn, SessionKind
from kameng.aftersales import refunds as aftersales_refunds
from kameng.aftersales.evidence import build_evidence, render_evidence_pdf
from kameng.aftersales.models import Ticket
from kameng.aftersales.queries import evidence_file, my_tickets
from kameng.aftersales.requests import (
    APPEAL_MIN_CHARS,
    RefundRequestCommand,
    appeal,
    reply,
    submit_request_replayable,
    withdraw,
)
from kameng.aftersales.schemas import (
    MULTIPART_NOTE,
    CommentIn,
    ConsentIn,
    CreatedTicketOut,
    RefundRequestIn,
    TicketDetailOut,
    TicketOut,
    body_doc,
    detail_of,
    read_body,
    ticket_fields,
)
from kameng.aftersales.uploads import Upload
from kameng.container import Container
from kameng.platform.access import Viewer
from kameng.platform.errors import ErrorCode, InvalidInput
from kameng.web.auth import BearerSecret, CurrentUser, user_in, wall_now
from kameng.web.deps import ContainerDep, IdempotencyKey, json_answer, viewer_of
from kameng.web.direct import DirectCall, DirectRoute
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import FileId, OrderNo, TicketNo
from kameng.web.rate_limits import limited

router = APIRouter(prefix="/api/v1")


# --------------------------------------------------------------------------------------------
# Parsing bodies that may be JSON or multipart


# --------------------------------------------------------------------------------------------
# The consumer asks


@router.post(
    "/orders/{order_no}/refund-requests",
    tags=["after-sales"],
    summary="Ask for a refund",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedTicketOut,
    dependencies=[limited("refund_request")],
    responses={
        200: {
            "description": "A retry with an Idempotency-Key already used: the same ticket",
            "model": CreatedTicketOut,
        },
        404: ERROR_RESPONSE,
        409: {"description": "`ticket_open`, `not_refundable_state`, `idempotency_key_reused`"},
        422: ERROR_RESPONSE,
        429: ERROR_RESPONSE,
    },
    openapi_extra=body_doc(RefundRequestIn, files=True),
    description="The engine decides what it can at once: `auto_approve` starts the refund, `reject` says which "
    "rule and how to appeal, the rest goes to a reviewer with a due date. " + MULTIPART_NOTE,
)
async def create_refund_request(
    order_no: OrderNo,
    request: Request,
    token: BearerSecret,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    # The body is read here, on the event loop; what is wrong with it is said only once the token
    # is known good, as when the token was looked up first.
    body: tuple[dict[str, Any], list[Upload]] | RequestValidationError
    try:
        body = await read_body(request, RefundRequestIn)
    except RequestValidationError as invalid:
        body = invalid
    ticket, replayed = await run_in_threadpool(_submit_for_token, container, token, order_no, body, idempotency_key)
    return json_answer(*_answer_of(ticket, replayed))


def _answer_of(ticket: Ticket, replayed: bool) -> tuple[CreatedTicketOut, int]:
    """The answer to a refund request, 200 for a replay."""
    answer = CreatedTicketOut(**ticket_fields(ticket), quote=ticket.quote, replayed=replayed)
    return answer, status.HTTP_200_OK if replayed else status.HTTP_201_CREATED


def _answered_directly(call: DirectCall) -> tuple[CreatedTicketOut, int]:
    body: tuple[dict[str, Any], list[Upload]] = (call.body.model_dump(), [])
    return _answer_of(*_submit_for_token(call.container, call.token, call.path["order_no"], body, call.idempotency_key))


# The same route for a plain request (a bearer token, a JSON body): web/direct.py.
DIRECT_REFUND_REQUEST = DirectRoute(
    template="/api/v1/orders/{order_no}/refund-requests",
    parameters={"order_no": TypeAdapter(OrderNo)},
    body=RefundRequestIn,
    answer=_answered_directly,
    door="refund_request",
)


def _submit_for_token(
    container: Container,
    token: str,
    order_no: str,
    body: tuple[dict[str, Any], list[Upload]] | RequestValidationError,
    idempotency_key: str,
) -> tuple[Ticket, bool]:
    """The token's look-up and the request step in one worker-thread hop and one transaction (a
    hop each cost a thread switch and a trip through the event loop, per request). The step looks
    the token up with the order, in its lock's statement (accounts/sessions.BearerSignIn); a body
    that is wrong is said only once the token is known good."""
    uow = container.uow()
    with uow:
        if isinstance(body, RequestValidationError):
            user_in(uow, token)
            raise body
        fields, uploads = body
        command = RefundRequestCommand(
            order_no=order_no,
            reason=fields["reason"],
            description=fields["description"],
            uploads=uploads,
            idempotency_key=idempotency_key,
        )
        # On one database the step looks the token up in the order's lock: a statement fewer.
        # Distributed, that statement would find the order by its number before its owner is
        # known, and so could not run on one node: the token is looked up alone first.
        who: Viewer | BearerSignIn = (
            viewer_of(user_in(uow, token))
            if container.settings.distributed_database
            else BearerSignIn(SessionKind.API, token, wall_now())
        )
        return submit_request_replayable(uow, who, command, container.now(), container.calendar)


# --------------------------------------------------------------------------------------------
# Tickets


@router.get("/tickets", tags=["after-sales"], summary="My after-sales tickets (我的售后), newest first")
def get_my_tickets(
    user: CurrentUser, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[TicketOut]:
    return [TicketOut(**ticket_fields(t)) for t in my_tickets(container.uow(), viewer_of(user), limit)]


@router.get(
    "/tickets/{ticket_no}",
    tags=["after-sales"],
    summary="One ticket: timeline, evidence, refunds, what can be done now",
    responses={404: {"description": "No such ticket, or another consumer's"}},
)
def get_ticket(ticket_no: TicketNo, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    """The timeline is hash-chained (each ``hash`` covers the row and the ``prev_hash``); refunds
    carry our ``out_refund_no`` and the channel's reference."""
    return detail_of(container.uow(), viewer_of(user), ticket_no)


@router.get(
    "/tickets/{ticket_no}/files/{file_id}",
    tags=["after-sales"],
    summary="Download one evidence file",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: ERROR_RESPONSE},
)
def get_evidence_file(
    ticket_no: TicketNo,
    file_id: FileId,
    user: CurrentUser,
    container: ContainerDep,
) -> Response:
    """Served as an attachment with the type sniffed at upload, never rendered inline."""
    row = evidence_file(container.uow(), viewer_of(user), ticket_no, file_id)
    return Response(
        content=row.data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{url_quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/tickets/{ticket_no}/evidence",
    tags=["after-sales"],
    summary="The evidence file as JSON: order, payments, usage, timeline, rules, messages",
    responses={404: {"description": "No such ticket, or another consumer's"}},
)
def get_evidence_json(ticket_no: TicketNo, user: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """Everything a complaint needs, with the timeline's hashes and whether they still match."""
    return build_evidence(container.uow(), viewer_of(user), ticket_no, container.now())


@router.get(
    "/tickets/{ticket_no}/evidence.pdf",
    tags=["after-sales"],
    summary="The evidence file as one PDF (Chinese by default)",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        404: {"description": "No such ticket, or another consumer's"},
    },
)
def get_evidence_pdf(
    ticket_no: TicketNo,
    user: CurrentUser,
    container: ContainerDep,
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    data = build_evidence(container.uow(), viewer_of(user), ticket_no, container.now())
    return Response(
        content=render_evidence_pdf(data, lang),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{ticket_no}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such ticket, or another consumer's"},
    409: {"description": "`invalid_transition`: not possible in the ticket's current status"},
    422: ERROR_RESPONSE,
}


@router.post(
    "/tickets/{ticket_no}/withdraw",
    tags=["after-sales"],
    summary="Withdraw before a decision",
    responses=ACTION_RESPONSES,
)
def withdraw_ticket(ticket_no: TicketNo, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    withdraw(container.uow(), viewer_of(user), ticket_no, container.now(), container.calendar)
    return detail_of(container.uow(), viewer_of(user), ticket_no)


@router.post(
    "/tickets/{ticket_no}/reply",
    tags=["after-sales"],
    summary="Answer a request for information, with more evidence",
    responses=ACTION_RESPONSES,
    openapi_extra=body_doc(CommentIn, files=True),
    description="The review clock, paused while the ticket needed information, starts again with the working days "
    "that were left. " + MULTIPART_NOTE,
)
async def reply_ticket(
    ticket_no: TicketNo, request: Request, user: CurrentUser, container: ContainerDep
) -> TicketDetailOut:
    fields, uploads = await read_body(request, CommentIn)
    await run_in_threadpool(
        reply,
        container.uow(),
        viewer_of(user),
        ticket_no,
        fields["comment"],
        uploads,
        container.now(),
        container.calendar,
    )
    return await run_in_threadpool(detail_of, container.uow(), viewer_of(user), ticket_no)


@router.post(
    "/tickets/{ticket_no}/appeal",
    tags=["after-sales"],
    summary="Appeal a rejection within 15 days, with evidence",
    responses=ACTION_RESPONSES,
    openapi_extra=body_doc(CommentIn, files=True),
    description="A supervisor other than the one who rejected decides the appeal. The `comment` says why "
    f"(at least {APPEAL_MIN_CHARS} characters; `too_short` otherwise); the files join the ticket's evidence. "
    + MULTIPART_NOTE,
)
async def appeal_ticket(
    ticket_no: TicketNo, request: Request, user: CurrentUser, container: ContainerDep
) -> TicketDetailOut:
    fields, uploads = await read_body(request, CommentIn)
    await run_in_threadpool(
        appeal,
        container.uow(),
        viewer_of(user),
        ticket_no,
        fields["comment"],
        uploads,
        container.now(),
        container.calendar,
    )
    return await run_in_threadpool(detail_of, container.uow(), viewer_of(user), ticket_no)


@router.post(
    "/tickets/{ticket_no}/refund-to-balance",
    tags=["after-sales"],
    summary="Take a failed refund as platform balance (with consent)",
    responses=ACTION_RESPONSES,
)
def refund_to_balance(
    ticket_no: TicketNo, body: ConsentIn, user: CurrentUser, container: ContainerDep
) -> TicketDetailOut:
    """Only after the original channel failed for good, and only when the consumer says
    ``{"consent": true}``; the platform never does this on its own."""
    if body.consent is not True:
        raise InvalidInput(ErrorCode.CONSENT_REQUIRED, "error.consent_required.2", "consent")
    aftersales_refunds.refund_to_balance(
        container.uow(), viewer_of(user), ticket_no, container.now(), container.calendar
    )
    return detail_of(container.uow(), viewer_of(user), ticket_no)


@router.post(
    "/tickets/{ticket_no}/retry-refund",
    tags=["after-sales"],
    summary="Send a failed refund to the original channel again",
    responses=ACTION_RESPONSES,
)
def retry_refund(ticket_no: TicketNo, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    aftersales_refunds.retry_refund(container.uow(), viewer_of(user), ticket_no, container.now(), container.calendar)
    return detail_of(container.uow(), viewer_of(user), ticket_no)
