"""Webhook endpoints and their delivery log over the API: an operator's token, or an API key with
``webhooks:manage``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from kameng.integrations.keys import Scope
from kameng.platform.access import Viewer
from kameng.web.auth import scoped
from kameng.web.deps import ContainerDep
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import IdPath
from kameng.webhooks import endpoints
from kameng.webhooks.events import EventType
from kameng.webhooks.schemas import (
    DeliveryLogOut,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecretOut,
    delivery_out,
    endpoint_out,
    endpoint_with_secret,
    log_out,
)

router = APIRouter(prefix="/api/v1/webhooks")

Manager = Annotated[Viewer, scoped(Scope.WEBHOOKS_MANAGE)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: ERROR_RESPONSE,
    403: ERROR_RESPONSE,
    404: ERROR_RESPONSE,
    422: ERROR_RESPONSE,
}


@router.get("/event-types", tags=["webhooks"], summary="The event types an endpoint may want", responses=RESPONSES)
def event_types(viewer: Manager) -> list[str]:
    return [event.value for event in EventType]


@router.post(
    "/endpoints",
    tags=["webhooks"],
    summary="Register an endpoint",
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
)
def create_endpoint(body: EndpointIn, viewer: Manager, container: ContainerDep) -> EndpointWithSecretOut:
    """Deliveries are signed per the Standard Webhooks spec with the ``secret`` in the answer."""
    made = endpoints.create_endpoint(
        container.uow(),
        viewer,
        body.url,
        body.event_types,
        body.description,
        container.now(),
        allow_private=not container.settings.production,
    )
    return endpoint_with_secret(made)


@router.get("/endpoints", tags=["webhooks"], summary="The endpoints", responses=RESPONSES)
def list_endpoints(viewer: Manager, container: ContainerDep) -> list[EndpointOut]:
    return [endpoint_out(endpoint) for endpoint in endpoints.list_endpoints(container.uow(), viewer)]


@router.get("/endpoints/{endpoint_id}", tags=["webhooks"], summary="One endpoint, with its secret", responses=RESPONSES)
def get_endpoint(endpoint_id: IdPath, viewer: Manager, container: ContainerDep) -> EndpointWithSecretOut:
    return endpoint_with_secret(endpoints.get_endpoint(container.uow(), viewer, endpoint_id))


@router.patch(
    "/endpoints/{endpoint_id}",
    tags=["webhooks"],
    summary="Change its events, or switch it on or off",
    responses=RESPONSES,
)
def patch_endpoint(endpoint_id: IdPath, body: EndpointPatch, viewer: Manager, container: ContainerDep) -> EndpointOut:
    changed = endpoints.update_endpoint(
        container.uow(), viewer, endpoint_id, container.now(), event_types=body.event_types, enabled=body.enabled
    )
    return endpoint_out(changed)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    tags=["webhooks"],
    summary="A new secret (the old one also signs for 24 hours)",
    responses=RESPONSES,
)
def rotate_secret(endpoint_id: IdPath, viewer: Manager, container: ContainerDep) -> EndpointWithSecretOut:
    return endpoint_with_secret(endpoints.rotate_secret(container.uow(), viewer, endpoint_id, container.now()))


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    tags=["webhooks"],
    summary="Its deliveries, newest first",
    responses=RESPONSES,
)
def list_deliveries(
    endpoint_id: IdPath, viewer: Manager, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[DeliveryOut]:
    return [delivery_out(row) for row in endpoints.deliveries(container.uow(), viewer, endpoint_id, limit)]


@router.get(
    "/deliveries/{delivery_id}",
    tags=["webhooks"],
    summary="A delivery with every attempt's answer",
    responses=RESPONSES,
)
def get_delivery(delivery_id: IdPath, viewer: Manager, container: ContainerDep) -> DeliveryLogOut:
    return log_out(endpoints.delivery_log(container.uow(), viewer, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/resend",
    tags=["webhooks"],
    summary="Send the same event again, as a new delivery",
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
)
def resend(delivery_id: IdPath, viewer: Manager, container: ContainerDep) -> DeliveryOut:
    return delivery_out(endpoints.send_again(container.uow(), viewer, delivery_id, container.now()))
