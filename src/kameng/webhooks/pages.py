"""The operator's webhook pages: endpoints, one endpoint with its deliveries, one delivery's log
with a "send again" button."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from kameng.accounts.models import User
from kameng.platform.errors import InvalidInput
from kameng.web.deps import ContainerDep, CsrfChecked, request_lang, viewer_of
from kameng.web.drafts import note
from kameng.web.forms import StaffUser, field_error, form_text, form_typed, redirect
from kameng.web.params import IdPath
from kameng.web.templating import render
from kameng.webhooks import endpoints
from kameng.webhooks.events import EventType

router = APIRouter(include_in_schema=False)

EVENT_TYPES = [event.value for event in EventType]


def _list_page(
    request: Request,
    container: ContainerDep,
    staff: User,
    errors: dict[str, str] | None = None,
    values: dict[str, object] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "endpoints": endpoints.list_endpoints(container.uow(), viewer_of(staff)),
        "event_types": EVENT_TYPES,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "webhooks/endpoints.html", context, status=status, user=staff)


@router.get("/staff/webhooks", response_class=HTMLResponse)
def endpoints_page(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    return _list_page(request, container, staff)


def _chosen_events(form: FormData) -> list[str]:
    return [value for value in form.getlist("event_types") if isinstance(value, str)]


@router.post("/staff/webhooks", dependencies=[CsrfChecked])
async def create_endpoint(request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    form = await request.form()
    chosen = _chosen_events(form)
    values: dict[str, object] = {
        "url": form_typed(form, "url"),
        "description": form_typed(form, "description"),
        "event_types": chosen,
    }
    try:
        made = endpoints.create_endpoint(
            container.uow(),
            viewer_of(staff),
            form_text(form, "url", endpoints.URL),
            chosen,
            form_text(form, "description", endpoints.DESCRIPTION),
            container.now(),
            allow_private=not container.settings.production,
        )
    except InvalidInput as error:
        errors = field_error(error, request_lang(request))
        return _list_page(request, container, staff, errors=errors, values=values, status=error.status)
    return redirect(f"/staff/webhooks/{made.id}")


@router.get("/staff/webhooks/{endpoint_id}", response_class=HTMLResponse)
def endpoint_page(endpoint_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    viewer = viewer_of(staff)
    endpoint = endpoints.get_endpoint(container.uow(), viewer, endpoint_id)
    context = {
        "endpoint": endpoint,
        "deliveries": endpoints.deliveries(container.uow(), viewer, endpoint_id),
        "event_types": EVENT_TYPES,
        "overlap": endpoint.previous_secret_until is not None and endpoint.previous_secret_until > container.now(),
    }
    response = render(request, "webhooks/endpoint.html", context, user=staff)
    response.headers["cache-control"] = "no-store"  # the page shows the signing secret
    return response


@router.post("/staff/webhooks/{endpoint_id}/events", dependencies=[CsrfChecked])
async def change_events(
    endpoint_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser
) -> Response:
    form = await request.form()
    try:
        endpoints.update_endpoint(
            container.uow(), viewer_of(staff), endpoint_id, container.now(), event_types=_chosen_events(form)
        )
    except InvalidInput:
        note(request, "webhooks.notice.event_required")
        return redirect(f"/staff/webhooks/{endpoint_id}")
    note(request, "webhooks.notice.saved")
    return redirect(f"/staff/webhooks/{endpoint_id}")


@router.post("/staff/webhooks/{endpoint_id}/enable", dependencies=[CsrfChecked])
def enable(endpoint_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    endpoints.update_endpoint(container.uow(), viewer_of(staff), endpoint_id, container.now(), enabled=True)
    note(request, "webhooks.notice.enabled")
    return redirect(f"/staff/webhooks/{endpoint_id}")


@router.post("/staff/webhooks/{endpoint_id}/disable", dependencies=[CsrfChecked])
def disable(endpoint_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    endpoints.update_endpoint(container.uow(), viewer_of(staff), endpoint_id, container.now(), enabled=False)
    note(request, "webhooks.notice.disabled")
    return redirect(f"/staff/webhooks/{endpoint_id}")


@router.post("/staff/webhooks/{endpoint_id}/rotate", dependencies=[CsrfChecked])
def rotate(endpoint_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    endpoints.rotate_secret(container.uow(), viewer_of(staff), endpoint_id, container.now())
    note(request, "webhooks.notice.rotated")
    return redirect(f"/staff/webhooks/{endpoint_id}")


@router.get("/staff/webhooks/deliveries/{delivery_id}", response_class=HTMLResponse)
def delivery_page(delivery_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    log = endpoints.delivery_log(container.uow(), viewer_of(staff), delivery_id)
    return render(request, "webhooks/delivery.html", {"log": log}, user=staff)


@router.post("/staff/webhooks/deliveries/{delivery_id}/resend", dependencies=[CsrfChecked])
def resend(delivery_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    copy = endpoints.send_again(container.uow(), viewer_of(staff), delivery_id, container.now())
    note(request, "webhooks.notice.resent")
    return redirect(f"/staff/webhooks/deliveries/{copy.id}")
