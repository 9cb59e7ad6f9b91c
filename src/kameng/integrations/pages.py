"""The operator's API keys page: make a key (shown once), see the keys, revoke one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.integrations.keys import KEY_NAME, NewKey, Scope, create_key, list_keys, revoke_key
from kameng.platform.errors import InvalidInput
from kameng.web.deps import ContainerDep, CsrfChecked, request_lang, viewer_of
from kameng.web.drafts import note
from kameng.web.forms import StaffUser, field_error, form_text, form_typed, redirect
from kameng.web.params import IdPath
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = "integrations/keys.html"


def _page(
    request: Request,
    container: ContainerDep,
    staff: User,
    made: NewKey | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, object] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "keys": list_keys(container.uow(), viewer_of(staff)),
        "scopes": [scope.value for scope in Scope],
        "made": made,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, PAGE, context, status=status, user=staff)


@router.get("/staff/integrations", response_class=HTMLResponse)
def keys_page(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    return _page(request, container, staff)


@router.post("/staff/integrations/keys", dependencies=[CsrfChecked])
async def make_key(request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    form = await request.form()
    scopes = [value for value in form.getlist("scopes") if isinstance(value, str)]
    values: dict[str, object] = {"name": form_typed(form, "name"), "scopes": scopes}
    try:
        made = create_key(container.uow(), viewer_of(staff), form_text(form, "name", KEY_NAME), scopes, container.now())
    except InvalidInput as error:
        errors = field_error(error, request_lang(request))
        return _page(request, container, staff, errors=errors, values=values, status=error.status)
    # The key is shown in this answer only: it is not kept anywhere it could be shown again.
    response = _page(request, container, staff, made=made)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/staff/integrations/keys/{key_id}/revoke", dependencies=[CsrfChecked])
def revoke(key_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    revoke_key(container.uow(), viewer_of(staff), key_id, container.now())
    note(request, "integrations.notice.key_revoked")
    return redirect("/staff/integrations")
