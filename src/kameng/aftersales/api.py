"""After-sales REST API under /api/v1: refund requests, tickets, messages, evidence files.

The same conventions as :mod:`kameng.web.api`: a bearer token names the viewer, amounts travel as
strings of yuan beside integer fen, errors are ``{"error": {code, field, message, message_zh}}``,
and a consumer asking for another consumer's ticket gets the same 404 as for one that does not
exist. Handlers parse, call one service, and shape the answer; the services own the transactions.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from kameng.accounts.models import User
from kameng.aftersales import refunds as aftersales_refunds
from kameng.aftersales.evidence import build_evidence, render_evidence_pdf
from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.aftersales.queries import TicketView, evidence_file, my_tickets, review_queue, ticket_view
from kameng.aftersales.requests import RefundRequestCommand, appeal, reply, submit_request_replayable, withdraw
from kameng.aftersales.review import approve, ask_info, reject
from kameng.aftersales.uploads import Upload
from kameng.container import Container
from kameng.domain.model import Reason
from kameng.domain.money import MoneyError, format_yuan, parse_yuan
from kameng.orders.api import EventOut, _event_out
from kameng.payouts.models import RefundRow
from kameng.platform.errors import InvalidInput
from kameng.web.auth import CurrentUser, viewer
from kameng.web.deps import ContainerDep, IdempotencyKey
from kameng.web.errors import ERROR_RESPONSE

router = APIRouter(prefix="/api/v1")

TicketNo = Annotated[str, Path(min_length=1, max_length=20, description="AS followed by 14 digits")]
OrderNo = Annotated[str, Path(min_length=1, max_length=20, description="14 digits")]

MULTIPART_NOTE = (
    "JSON, or multipart/form-data with the same fields and up to 6 files named `evidence` "
    "(images, PDF or UTF-8 text, at most 5 MB each; the type is read from the bytes, not the name)."
)


# --------------------------------------------------------------------------------------------
# Models


class RefundRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why the consumer asks; the engine's rules depend on it")
    description: str = Field(default="", max_length=2000)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2000)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: bool = Field(description="Must be true: the consumer agrees to take the money as platform balance")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str | None = Field(
        default=None, max_length=20, description='Yuan, e.g. "91.67"; leave out to approve the quoted amount'
    )
    amount_fen: int | None = Field(default=None, ge=0, description="The same amount in fen (either one)")
    reason: str = Field(default="", max_length=2000, description="Required when the amount differs from the quote")

    @model_validator(mode="after")
    def _amounts_agree(self) -> ApproveIn:
        if self.amount is not None:
            try:
                fen = parse_yuan(self.amount)
            except MoneyError as error:
                raise ValueError(f"amount {error}") from None
            if self.amount_fen is not None and self.amount_fen != fen:
                raise ValueError("amount and amount_fen disagree; send one of them")
            self.amount_fen = fen
        return self


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str = Field(min_length=1, max_length=10, description="The rule id cited, e.g. P3")
    comment: str = Field(min_length=1, max_length=2000, description="One sentence the consumer will read")


class AskInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=2000, description="What the consumer should add")


class TicketOut(BaseModel):
    ticket_no: str
    order_no: str
    status: str
    reason: str
    decision: str = Field(description="The engine's decision at submission: auto_approve, review or reject")
    rules: list[str]
    quoted: str
    quoted_fen: int
    approved: str | None
    approved_fen: int | None
    priority: int = Field(description="0 is the priority lane (merchant gone, platform fault)")
    due_at: datetime | None
    paused_at: datetime | None = Field(description="Set while the review clock is paused (needs_info)")
    escalated_at: datetime | None
    breached: bool
    auto_approve_at: datetime | None
    decided_at: datetime | None
    reject_rule: str | None
    reject_comment: str
    appeal_until: datetime | None
    created_at: datetime
    updated_at: datetime


class CreatedTicketOut(TicketOut):
    quote: dict[str, Any] = Field(description="The engine's quote at submission (SCENARIOS.md shape)")
    replayed: bool = Field(description="True when an earlier request with the same Idempotency-Key made it")


class TimelineOut(BaseModel):
    seq: int
    at: datetime
    actor_role: str
    action: str
    from_status: str | None
    to_status: str
    comment: str
    amount: str | None
    amount_fen: int | None
    quote_refund: str | None = Field(description="What the engine would refund at that moment")
    prev_hash: str
    hash: str


class EvidenceOut(BaseModel):
    id: int
    filename: str
    content_type: str = Field(description="Read from the bytes, not the name")
    size: int
    sha256: str
    uploaded_by_consumer: bool
    created_at: datetime
    url: str


class RefundOut(BaseModel):
    out_refund_no: str = Field(description="Our refund number: the channel's idempotency key")
    out_trade_no: str
    channel: str
    channel_refund_no: str | None = Field(description="The channel's reference, on the refund receipt")
    amount: str
    amount_fen: int
    status: str
    attempts: int
    failure: str | None
    created_at: datetime
    accepted_at: datetime | None
    settled_at: datetime | None


class TicketDetailOut(TicketOut):
    description: str
    approve_reason: str
    quote: dict[str, Any]
    timeline: list[TimelineOut]
    evidence: list[EvidenceOut]
    refunds: list[RefundOut]
    events: list[EventOut] = Field(description="The order's usage events, as the engine reads them")
    actions: list[str] = Field(description="What this viewer may do now")


# --------------------------------------------------------------------------------------------
# Shaping


def _ticket_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_no": ticket.ticket_no,
        "order_no": ticket.order.order_no,
        "status": ticket.status.value,
        "reason": ticket.reason.value,
        "decision": ticket.decision.value,
        "rules": [rule for rule in ticket.rules.split(",") if rule],
        "quoted": format_yuan(ticket.quoted_fen),
        "quoted_fen": ticket.quoted_fen,
        "approved": format_yuan(ticket.approved_fen) if ticket.approved_fen is not None else None,
        "approved_fen": ticket.approved_fen,
        "priority": ticket.priority,
        "due_at": ticket.due_at,
        "paused_at": ticket.paused_at,
        "escalated_at": ticket.escalated_at,
        "breached": ticket.breached,
        "auto_approve_at": ticket.auto_approve_at,
        "decided_at": ticket.decided_at,
        "reject_rule": ticket.reject_rule,
        "reject_comment": ticket.reject_comment,
        "appeal_until": ticket.appeal_until,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def _timeline_out(row: TicketTimeline) -> TimelineOut:
    refund = row.quote.get("refund") if row.quote else None
    return TimelineOut(
        seq=row.seq,
        at=row.at,
        actor_role=row.actor_role,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        comment=row.comment,
        amount=format_yuan(row.amount_fen) if row.amount_fen is not None else None,
        amount_fen=row.amount_fen,
        quote_refund=str(refund) if refund is not None else None,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _evidence_out(ticket: Ticket, row: EvidenceFile) -> EvidenceOut:
    return EvidenceOut(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_by_consumer=row.uploaded_by == ticket.user_id,
        created_at=row.created_at,
        url=f"/api/v1/tickets/{ticket.ticket_no}/files/{row.id}",
    )


def _refund_out(row: RefundRow) -> RefundOut:
    return RefundOut(
        out_refund_no=row.out_refund_no,
        out_trade_no=row.out_trade_no,
        channel=row.channel.value,
        channel_refund_no=row.channel_refund_no,
        amount=format_yuan(row.amount_fen),
        amount_fen=row.amount_fen,
        status=row.status.value,
        attempts=row.attempts,
        failure=row.failure,
        created_at=row.created_at,
        accepted_at=row.accepted_at,
        settled_at=row.settled_at,
    )


def _detail(view: TicketView) -> TicketDetailOut:
    ticket = view.ticket
    return TicketDetailOut(
        **_ticket_fields(ticket),
        description=ticket.description,
        approve_reason=ticket.approve_reason,
        quote=ticket.quote,
        timeline=[_timeline_out(row) for row in view.timeline],
        evidence=[_evidence_out(ticket, row) for row in view.evidence],
        refunds=[_refund_out(row) for row in view.refunds],
        events=[_event_out(row) for row in view.events],
        actions=view.actions,
    )


def _view(container: Container, user: User, ticket_no: str) -> TicketDetailOut:
    return _detail(ticket_view(container.uow(), viewer(user), ticket_no))


# --------------------------------------------------------------------------------------------
# Parsing bodies that may be JSON or multipart


async def _read_body(request: Request, model: type[BaseModel]) -> tuple[dict[str, Any], list[Upload]]:
    """The fields (validated by ``model``) and the ``evidence`` files of a JSON or multipart body."""
    content_type = request.headers.get("content-type", "")
    uploads: list[Upload] = []
    raw: Any
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        raw = {}
        for name, value in form.multi_items():
            if name == "evidence":
                if isinstance(value, str):
                    raise RequestValidationError(
                        [{"loc": ("body", "evidence"), "msg": "must be a file", "type": "value_error"}]
                    )
                upload: UploadFile = value
                uploads.append(Upload(upload.filename or "", await upload.read()))
            elif isinstance(value, str):
                raw[name] = value
    else:
        body = await request.body()
        try:
            raw = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "the body is not valid JSON", "type": "json_invalid"}]
            ) from None
    try:
        fields = model.model_validate(raw).model_dump()
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
        ) from None
    return fields, uploads


def _body_doc(model: type[BaseModel], files: bool) -> dict[str, Any]:
    schema = model.model_json_schema()
    multipart = dict(schema)
    if files:
        multipart = {
            **schema,
            "properties": {
                **schema.get("properties", {}),
                "evidence": {"type": "array", "items": {"type": "string", "format": "binary"}},
            },
        }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": multipart}},
        }
    }


# --------------------------------------------------------------------------------------------
# The consumer asks


@router.post(
    "/orders/{order_no}/refund-requests",
    tags=["after-sales"],
    summary="Ask for a refund",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "A retry with an Idempotency-Key already used: the same ticket",
            "model": CreatedTicketOut,
        },
        404: ERROR_RESPONSE,
        409: {"description": "`ticket_open`, `not_refundable_state`, `idempotency_key_reused`"},
        422: ERROR_RESPONSE,
    },
    openapi_extra=_body_doc(RefundRequestIn, files=True),
    description="The engine decides what it can at once: `auto_approve` starts the refund, `reject` says which "
    "rule and how to appeal, the rest goes to a reviewer with a due date. " + MULTIPART_NOTE,
)
async def create_refund_request(
    order_no: OrderNo,
    request: Request,
    response: Response,
    user: CurrentUser,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> CreatedTicketOut:
    fields, uploads = await _read_body(request, RefundRequestIn)
    command = RefundRequestCommand(
        order_no=order_no,
        reason=fields["reason"],
        description=fields["description"],
        uploads=uploads,
        idempotency_key=idempotency_key,
    )
    ticket, replayed = await run_in_threadpool(
        submit_request_replayable,
        container.uow(),
        viewer(user),
        command,
        container.now(),
        container.calendar,
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
    return CreatedTicketOut(**_ticket_fields(ticket), quote=ticket.quote, replayed=replayed)


# --------------------------------------------------------------------------------------------
# Tickets


@router.get("/tickets", tags=["after-sales"], summary="My after-sales tickets (我的售后), newest first")
def get_my_tickets(
    user: CurrentUser, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[TicketOut]:
    return [TicketOut(**_ticket_fields(t)) for t in my_tickets(container.uow(), viewer(user), limit)]


@router.get(
    "/tickets/{ticket_no}",
    tags=["after-sales"],
    summary="One ticket: timeline, evidence, refunds, what can be done now",
    responses={404: {"description": "No such ticket, or another consumer's"}},
)
def get_ticket(ticket_no: TicketNo, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    """The timeline is hash-chained (each ``hash`` covers the row and the ``prev_hash``); refunds
    carry our ``out_refund_no`` and the channel's reference."""
    return _view(container, user, ticket_no)


@router.get(
    "/tickets/{ticket_no}/files/{file_id}",
    tags=["after-sales"],
    summary="Download one evidence file",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: ERROR_RESPONSE},
)
def get_evidence_file(
    ticket_no: TicketNo,
    file_id: Annotated[int, Path(ge=1)],
    user: CurrentUser,
    container: ContainerDep,
) -> Response:
    """Served as an attachment with the type sniffed at upload, never rendered inline."""
    row = evidence_file(container.uow(), viewer(user), ticket_no, file_id)
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
    return build_evidence(container.uow(), viewer(user), ticket_no, container.now())


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
    data = build_evidence(container.uow(), viewer(user), ticket_no, container.now())
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
    withdraw(container.uow(), viewer(user), ticket_no, container.now(), container.calendar)
    return _view(container, user, ticket_no)


@router.post(
    "/tickets/{ticket_no}/reply",
    tags=["after-sales"],
    summary="Answer a request for information, with more evidence",
    responses=ACTION_RESPONSES,
    openapi_extra=_body_doc(CommentIn, files=True),
    description="The review clock, paused while the ticket needed information, starts again with the working days "
    "that were left. " + MULTIPART_NOTE,
)
async def reply_ticket(
    ticket_no: TicketNo, request: Request, user: CurrentUser, container: ContainerDep
) -> TicketDetailOut:
    fields, uploads = await _read_body(request, CommentIn)
    await run_in_threadpool(
        reply,
        container.uow(),
        viewer(user),
        ticket_no,
        fields["comment"],
        uploads,
        container.now(),
        container.calendar,
    )
    return await run_in_threadpool(_view, container, user, ticket_no)


@router.post(
    "/tickets/{ticket_no}/appeal",
    tags=["after-sales"],
    summary="Appeal a rejection within 15 days",
    responses=ACTION_RESPONSES,
)
def appeal_ticket(
    ticket_no: TicketNo, user: CurrentUser, container: ContainerDep, body: CommentIn | None = None
) -> TicketDetailOut:
    """A supervisor other than the one who rejected decides the appeal."""
    comment = body.comment if body else ""
    appeal(container.uow(), viewer(user), ticket_no, comment, container.now(), container.calendar)
    return _view(container, user, ticket_no)


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
        raise InvalidInput(
            "consent_required",
            "退回平台余额须您明确同意",
            'Send {"consent": true} to take the refund as platform balance',
            "consent",
        )
    aftersales_refunds.refund_to_balance(container.uow(), viewer(user), ticket_no, container.now(), container.calendar)
    return _view(container, user, ticket_no)


@router.post(
    "/tickets/{ticket_no}/retry-refund",
    tags=["after-sales"],
    summary="Send a failed refund to the original channel again",
    responses=ACTION_RESPONSES,
)
def retry_refund(ticket_no: TicketNo, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    aftersales_refunds.retry_refund(container.uow(), viewer(user), ticket_no, container.now(), container.calendar)
    return _view(container, user, ticket_no)


# --------------------------------------------------------------------------------------------
# Staff


@router.get(
    "/staff/tickets",
    tags=["after-sales staff"],
    summary="The review queue: priority lane first, then the oldest deadline",
    responses={404: {"description": "Not staff"}},
)
def get_review_queue(
    user: CurrentUser,
    container: ContainerDep,
    lane: Literal["review", "escalated", "appeals"] = "review",
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
) -> list[TicketOut]:
    """``review`` for agents; ``escalated`` and ``appeals`` for supervisors."""
    tickets = review_queue(container.uow(), viewer(user), lane, limit)
    return [TicketOut(**_ticket_fields(ticket)) for ticket in tickets]


STAFF_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such ticket, or not staff"},
    409: {"description": "`invalid_transition`; `same_person` or `supervisor_only` for appeals"},
    422: ERROR_RESPONSE,
}


@router.post(
    "/tickets/{ticket_no}/approve",
    tags=["after-sales staff"],
    summary="Approve a refund",
    responses=STAFF_RESPONSES,
)
def approve_ticket(
    ticket_no: TicketNo, user: CurrentUser, container: ContainerDep, body: ApproveIn | None = None
) -> TicketDetailOut:
    """At the quoted amount, or another within [0, paid − already refunded] with a ``reason``.
    The payout starts at once, through the outbox."""
    body = body or ApproveIn()
    approve(
        container.uow(),
        viewer(user),
        ticket_no,
        container.now(),
        container.calendar,
        amount_fen=body.amount_fen,
        reason=body.reason,
    )
    return _view(container, user, ticket_no)


@router.post(
    "/tickets/{ticket_no}/reject",
    tags=["after-sales staff"],
    summary="Reject, citing a rule",
    responses=STAFF_RESPONSES,
)
def reject_ticket(ticket_no: TicketNo, body: RejectIn, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    """Rejecting an appeal makes the rejection final."""
    reject(container.uow(), viewer(user), ticket_no, body.rule, body.comment, container.now(), container.calendar)
    return _view(container, user, ticket_no)


@router.post(
    "/tickets/{ticket_no}/ask-info",
    tags=["after-sales staff"],
    summary="Ask the consumer for more information (pauses the clock)",
    responses=STAFF_RESPONSES,
)
def ask_info_ticket(
    ticket_no: TicketNo, body: AskInfoIn, user: CurrentUser, container: ContainerDep
) -> TicketDetailOut:
    ask_info(container.uow(), viewer(user), ticket_no, body.comment, container.now(), container.calendar)
    return _view(container, user, ticket_no)
