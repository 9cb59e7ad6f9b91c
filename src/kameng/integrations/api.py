"""The integrators' API: API keys (made by an operator), and what a key opens, by scope.

Every route under ``/api/v1/integrations/`` other than the keys' own takes
``Authorization: Bearer km_live_…`` with the scope it names (an operator's own token works too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from kameng.aftersales.review import approve, reject
from kameng.aftersales.schemas import ApproveIn, RejectIn, TicketDetailOut, detail_of
from kameng.integrations.keys import Scope, create_key, list_keys, revoke_key
from kameng.integrations.models import ApiKey
from kameng.orders.queries import find_orders, order_view
from kameng.orders.schemas import OrderOut, order_fields
from kameng.platform.access import Viewer
from kameng.platform.inputs import CHOICE, DisplayName, text_validator
from kameng.web.auth import CurrentUser, scoped
from kameng.web.deps import ContainerDep, viewer_of
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import IdPath, OrderNo, TicketNo

router = APIRouter(prefix="/api/v1/integrations")

KEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: ERROR_RESPONSE,
    403: ERROR_RESPONSE,
    404: ERROR_RESPONSE,
    422: ERROR_RESPONSE,
}

ScopeName = Annotated[str, Field(min_length=1, max_length=CHOICE.max_length), text_validator(CHOICE)]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName = Field(min_length=1, description="Who the key is for, e.g. the ERP")
    scopes: list[ScopeName] = Field(
        min_length=1, max_length=len(Scope), description="Any of: " + ", ".join(scope.value for scope in Scope)
    )


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash")


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


# --------------------------------------------------------------------------------------------
# Keys (an operator's own token)


@router.post(
    "/api-keys",
    tags=["integrations"],
    summary="Make an API key (operators)",
    status_code=status.HTTP_201_CREATED,
    responses=KEY_RESPONSES,
)
def create_api_key(body: ApiKeyIn, user: CurrentUser, container: ContainerDep) -> NewApiKeyOut:
    made = create_key(container.uow(), viewer_of(user), body.name, body.scopes, container.now())
    return NewApiKeyOut(**key_out(made.key).model_dump(), key=made.secret)


@router.get("/api-keys", tags=["integrations"], summary="The API keys (operators)", responses=KEY_RESPONSES)
def get_api_keys(user: CurrentUser, container: ContainerDep) -> list[ApiKeyOut]:
    return [key_out(key) for key in list_keys(container.uow(), viewer_of(user))]


@router.delete(
    "/api-keys/{key_id}", tags=["integrations"], summary="Revoke an API key (operators)", responses=KEY_RESPONSES
)
def delete_api_key(key_id: IdPath, user: CurrentUser, container: ContainerDep) -> ApiKeyOut:
    """The key opens nothing from the next request on; revoking it again answers the same."""
    return key_out(revoke_key(container.uow(), viewer_of(user), key_id, container.now()))


# --------------------------------------------------------------------------------------------
# What keys open

OrdersReader = Annotated[Viewer, scoped(Scope.ORDERS_READ)]
RefundsReader = Annotated[Viewer, scoped(Scope.REFUNDS_READ)]
RefundsWriter = Annotated[Viewer, scoped(Scope.REFUNDS_WRITE)]


@router.get("/orders", tags=["integrations"], summary="Orders, newest first (orders:read)", responses=KEY_RESPONSES)
def integrator_orders(
    viewer: OrdersReader, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[OrderOut]:
    return [OrderOut(**order_fields(order)) for order in find_orders(container.uow(), viewer, "", limit)]


@router.get("/orders/{order_no}", tags=["integrations"], summary="One order (orders:read)", responses=KEY_RESPONSES)
def integrator_order(order_no: OrderNo, viewer: OrdersReader, container: ContainerDep) -> OrderOut:
    view = order_view(container.uow(), viewer, order_no, container.now(), container.calendar)
    return OrderOut(**order_fields(view.order))


@router.get(
    "/tickets/{ticket_no}",
    tags=["integrations"],
    summary="A refund request with its refunds (refunds:read)",
    responses=KEY_RESPONSES,
)
def integrator_ticket(ticket_no: TicketNo, viewer: RefundsReader, container: ContainerDep) -> TicketDetailOut:
    return detail_of(container.uow(), viewer, ticket_no)


@router.post(
    "/tickets/{ticket_no}/approve",
    tags=["integrations"],
    summary="Approve a refund request (refunds:write)",
    responses={**KEY_RESPONSES, 409: ERROR_RESPONSE},
)
def integrator_approve(
    ticket_no: TicketNo, viewer: RefundsWriter, container: ContainerDep, body: ApproveIn | None = None
) -> TicketDetailOut:
    body = body or ApproveIn()
    approve(
        container.uow(),
        viewer,
        ticket_no,
        container.now(),
        container.calendar,
        amount_fen=body.amount_fen,
        reason=body.reason,
    )
    return detail_of(container.uow(), viewer, ticket_no)


@router.post(
    "/tickets/{ticket_no}/reject",
    tags=["integrations"],
    summary="Reject a refund request, citing a rule (refunds:write)",
    responses={**KEY_RESPONSES, 409: ERROR_RESPONSE},
)
def integrator_reject(
    ticket_no: TicketNo, body: RejectIn, viewer: RefundsWriter, container: ContainerDep
) -> TicketDetailOut:
    reject(container.uow(), viewer, ticket_no, body.rule, body.comment, container.now(), container.calendar)
    return detail_of(container.uow(), viewer, ticket_no)
