"""The operator's REST API for platform events and mass refunds under /api/v1/operator: the
confirmation's count and total, starting a run (against the count confirmed), its progress and
summary, stopping and resuming it; recording an outage (idempotent: the same scope and range
again adds nothing) and the outages recorded. Operators only: anyone else is told 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kameng.accounts.models import User
from kameng.domain.users import Role
from kameng.operator.mass_models import MassRefundRun, OutageRow
from kameng.operator.mass_queries import get_run, leftovers, preview
from kameng.operator.mass_refunds import change_run, start_run
from kameng.operator.outages import OutageCommand, list_outages, record_outage
from kameng.platform.errors import ErrorCode, NotFound
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep, viewer_of
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import IdPath

router = APIRouter(prefix="/api/v1/operator", tags=["operator: outages and mass refunds"])
Merchant = Annotated[str, Field(min_length=1, max_length=18, pattern=r"^[0-9]+$", description="The merchant's id")]
NOT_OPERATOR: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not an operator, or no such run or merchant"},
    422: ERROR_RESPONSE,
}


def _operator(user: User) -> None:
    if user.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreviewOut(BaseModel):
    merchant_id: int
    orders: int
    quoted_fen: int = Field(description="The most that may be refunded, every order quoted")
    auto_count: int
    auto_fen: int
    review_count: int
    review_fen: int
    open_tickets: int


class StartIn(Strict):
    merchant: Merchant
    confirmed_orders: int = Field(ge=0, le=10**9, description="The count shown at confirmation")
    note: str = Field(default="", max_length=500)


class LeftoverOut(BaseModel):
    order_no: str
    ticket_no: str | None
    outcome: str
    amount_fen: int
    rules: str


class RunOut(BaseModel):
    id: int
    merchant_id: int
    status: str
    orders_total: int
    orders_done: int
    quoted_fen: int
    paid_count: int
    paid_fen: int
    review_count: int
    review_fen: int
    other_count: int
    created_at: datetime
    finished_at: datetime | None
    outcomes: dict[str, int] = {}
    leftovers: list[LeftoverOut] = []


def _run_out(run: MassRefundRun, container: ContainerDep | None = None) -> RunOut:
    out = RunOut(
        id=run.id,
        merchant_id=run.merchant_id,
        status=run.status.value,
        orders_total=run.orders_total,
        orders_done=run.orders_done,
        quoted_fen=run.quoted_fen,
        paid_count=run.paid_count,
        paid_fen=run.paid_fen,
        review_count=run.review_count,
        review_fen=run.review_fen,
        other_count=run.other_count,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )
    if container is not None:
        rows, counts = leftovers(container.uow(), run.id)
        out.outcomes = counts
        out.leftovers = [
            LeftoverOut(
                order_no=r.order_no,
                ticket_no=r.ticket_no,
                outcome=r.outcome.value,
                amount_fen=r.amount_fen,
                rules=r.rules,
            )
            for r in rows
        ]
    return out


@router.get("/mass-refunds/preview", summary="What a mass refund of a merchant would do now", responses=NOT_OPERATOR)
def get_preview(user: CurrentUser, container: ContainerDep, merchant: Annotated[Merchant, Query()]) -> PreviewOut:
    _operator(user)
    p = preview(container.uow(), merchant, container.now(), container.calendar)
    return PreviewOut(
        merchant_id=p.merchant_id,
        orders=p.orders,
        quoted_fen=p.quoted_fen,
        auto_count=p.auto_count,
        auto_fen=p.auto_fen,
        review_count=p.review_count,
        review_fen=p.review_fen,
        open_tickets=p.open_tickets,
    )


@router.post(
    "/mass-refunds",
    status_code=201,
    summary="Record the merchant as gone and start its mass refund (taken by the worker)",
    responses={**NOT_OPERATOR, 409: {"description": "`quote_changed` (count changed) or a run already open"}},
)
def post_run(body: StartIn, user: CurrentUser, container: ContainerDep) -> RunOut:
    _operator(user)
    run = start_run(
        container.uow(),
        viewer_of(user),
        body.merchant,
        container.now(),
        container.calendar,
        body.note,
        confirmed_orders=body.confirmed_orders,
    )
    return _run_out(run)


@router.get("/mass-refunds/{run_id}", summary="A run's progress and summary", responses=NOT_OPERATOR)
def get_mass_run(run_id: IdPath, user: CurrentUser, container: ContainerDep) -> RunOut:
    _operator(user)
    return _run_out(get_run(container.uow(), run_id), container)


@router.post(
    "/mass-refunds/{run_id}/{action}",
    summary="Stop a run, or resume a stopped one",
    responses={**NOT_OPERATOR, 409: {"description": "Not allowed in the run's state"}},
)
def post_run_action(
    run_id: IdPath, action: Literal["stop", "resume"], user: CurrentUser, container: ContainerDep
) -> RunOut:
    _operator(user)
    return _run_out(change_run(container.uow(), viewer_of(user), run_id, action, container.now()))


class OutageIn(Strict):
    scope: Literal["product", "merchant", "platform"]
    target: str | None = Field(default=None, max_length=80, description="A product's slug or id, or a merchant's id")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field(default="", max_length=500)


class OutageOut(BaseModel):
    id: int
    scope: str
    scope_key: str
    starts_at: datetime
    ends_at: datetime
    note: str
    orders_marked: int
    created: bool | None = None
    marked_now: int | None = None


def _outage_out(row: OutageRow) -> OutageOut:
    return OutageOut(
        id=row.id,
        scope=row.scope.value,
        scope_key=row.scope_key,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        note=row.note,
        orders_marked=row.orders_marked,
    )


@router.post("/outages", summary="Record an outage; every affected order gets its outage event", responses=NOT_OPERATOR)
def post_outage(body: OutageIn, user: CurrentUser, container: ContainerDep) -> OutageOut:
    _operator(user)
    command = OutageCommand(body.scope, body.starts_at, body.ends_at, body.target, body.note)
    done = record_outage(container.uow(), viewer_of(user), command, container.now())
    out = _outage_out(done.outage)
    out.created, out.marked_now = done.created, done.orders_marked
    return out


@router.get("/outages", summary="The outages recorded, latest first", responses=NOT_OPERATOR)
def get_outages(user: CurrentUser, container: ContainerDep) -> list[OutageOut]:
    _operator(user)
    return [_outage_out(row) for row in list_outages(container.uow())]
