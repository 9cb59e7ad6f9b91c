"""The shapes of after-sales tickets on the REST API: request and response models, and how rows map
onto them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.aftersales.queries import TicketView, ticket_view
from kameng.aftersales.uploads import Upload
from kameng.domain.model import Reason
from kameng.domain.money import format_yuan, parse_yuan
from kameng.orders.schemas import EventOut, event_out
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.inputs import Comment, Description, Fen, RequiredComment, RuleId, YuanText

# --------------------------------------------------------------------------------------------
# Models


class RefundRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why the consumer asks; the engine's rules depend on it")
    description: Description = ""


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Comment = ""


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: bool = Field(description="Must be true: the consumer agrees to take the money as platform balance")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: YuanText | None = Field(
        default=None, description='Yuan, e.g. "91.67"; leave out to approve the quoted amount'
    )
    amount_fen: Fen | None = Field(default=None, description="The same amount in fen (either one)")
    reason: Comment = Field(default="", description="Required when the amount differs from the quote")

    @field_validator("amount_fen")
    @classmethod
    def _amounts_agree(cls, value: int | None, info: ValidationInfo) -> int | None:
        amount = info.data.get("amount")
        if value is not None and amount is not None and parse_yuan(amount) != value:
            raise PydanticCustomError("amounts_disagree", "amount and amount_fen disagree; send one of them")
        return value

    @model_validator(mode="after")
    def _fen_from_yuan(self) -> ApproveIn:
        # The amount was checked by its type; here it only becomes fen.
        if self.amount is not None and self.amount_fen is None:
            self.amount_fen = parse_yuan(self.amount)
        return self


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: RuleId = Field(description="The rule id cited, e.g. P3")
    comment: RequiredComment = Field(description="One sentence the consumer will read")


class AskInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: RequiredComment = Field(description="What the consumer should add")


class TicketOut(BaseModel):
    ticket_no: str
    order_no: str
    status: str
    reason: str
    decision: str = Field(description="The engine's decision at submission: auto_approve, review or reject")
    rules: list[str] = Field(
        description="Rule ids of RULES.md, the deciding one first; when a statutory rule matched, the"
        " change-of-mind rule it was compared with second (RULES.md §3a)"
    )
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


# The queue's status filter: what waits on the viewer, everything, or one status.
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


def ticket_fields(ticket: Ticket) -> dict[str, Any]:
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


def timeline_out(row: TicketTimeline) -> TimelineOut:
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


def evidence_out(ticket: Ticket, row: EvidenceFile) -> EvidenceOut:
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


def refund_out(row: RefundRow) -> RefundOut:
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


def detail_of(uow: UnitOfWork, viewer: Viewer, ticket_no: str) -> TicketDetailOut:
    """A ticket as the viewer may see it, in the API's shape: what every ticket endpoint answers."""
    return detail(ticket_view(uow, viewer, ticket_no))


def detail(view: TicketView) -> TicketDetailOut:
    ticket = view.ticket
    return TicketDetailOut(
        **ticket_fields(ticket),
        description=ticket.description,
        approve_reason=ticket.approve_reason,
        quote=ticket.quote,
        timeline=[timeline_out(row) for row in view.timeline],
        evidence=[evidence_out(ticket, row) for row in view.evidence],
        refunds=[refund_out(row) for row in view.refunds],
        events=[event_out(row) for row in view.events],
        actions=view.actions,
    )


MULTIPART_NOTE = (
    "JSON, or multipart/form-data with the same fields and up to 6 files named `evidence` "
    "(images, PDF or UTF-8 text, at most 5 MB each; the type is read from the bytes, not the name)."
)


async def read_body(request: Request, model: type[BaseModel]) -> tuple[dict[str, Any], list[Upload]]:
    """The fields (validated by ``model``) and the ``evidence`` files of a JSON or multipart body."""
    content_type = request.headers.get("content-type", "")
    uploads: list[Upload] = []
    raw: Any
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        try:
            form = await request.form()
        except HTTPException:
            # The parser's own limits (a part header of more than 4 KB: a file name of thousands
            # of characters) or a broken body: said like any other invalid body.
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "not a valid multipart form", "type": "multipart_invalid"}]
            ) from None
        raw = {}
        for name, value in form.multi_items():
            if name == "evidence":
                if isinstance(value, str):
                    raise RequestValidationError(
                        [{"loc": ("body", "evidence"), "msg": "must be a file", "type": "file_expected"}]
                    )
                upload: UploadFile = value
                uploads.append(Upload(upload.filename or "", await upload.read()))
            elif isinstance(value, str):
                raw[name] = value
    else:
        body = await request.body()
        try:
            raw = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[… nested too deep
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


def body_doc(model: type[BaseModel], files: bool) -> dict[str, Any]:
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
