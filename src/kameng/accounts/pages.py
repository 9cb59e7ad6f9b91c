"""Sign-up, sign-in and sign-out pages; the session cookie names the user."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts import services as accounts
from kameng.accounts.models import User
from kameng.platform import inputs
from kameng.platform.errors import Conflict, InvalidInput
from kameng.platform.i18n import translate
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang
from kameng.web.forms import field_error, form_text, form_typed, redirect, safe_next
from kameng.web.params import LocalPathQuery
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

# --------------------------------------------------------------------------------------------
# Accounts


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "accounts/signup.html", {"values": {}, "errors": {}}, user=user)


@router.post("/signup", dependencies=[CsrfChecked])
async def signup(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    values = {"identifier": form_typed(form, "identifier"), "display_name": form_typed(form, "display_name")}
    try:
        created = accounts.sign_up(
            container.uow(),
            form_text(form, "identifier", inputs.IDENTIFIER),
            form_text(form, "password", inputs.PASSWORD),
            container.now(),
            display_name=form_text(form, "display_name", inputs.DISPLAY_NAME),
        )
    except (InvalidInput, Conflict) as error:
        errors = field_error(error, request_lang(request))
        return render(request, "accounts/signup.html", {"values": values, "errors": errors}, status=error.status)
    _start_session(request, created)
    return redirect("/")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser, next: LocalPathQuery = "") -> HTMLResponse:
    next_url = safe_next(next)
    return render(request, "accounts/login.html", {"values": {}, "errors": {}, "next": next_url}, user=user)


@router.post("/login", dependencies=[CsrfChecked])
async def login(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    next_url = safe_next(form.get("next"))
    values = {"identifier": form_typed(form, "identifier")}
    try:
        identifier = form_text(form, "identifier", inputs.IDENTIFIER)
        password = form_text(form, "password", inputs.PASSWORD)
    except InvalidInput as error:
        context = {"values": values, "errors": field_error(error, request_lang(request)), "next": next_url}
        return render(request, "accounts/login.html", context, status=error.status)
    found = accounts.authenticate(container.uow(), identifier, password)
    if found is None:
        errors = {"password": translate("bad_login", request_lang(request))}
        context = {"values": values, "errors": errors, "next": next_url}
        return render(request, "accounts/login.html", context, status=401)
    _start_session(request, found)
    return redirect(next_url)


def _start_session(request: Request, user: User) -> None:
    # A fresh session on sign-in: nothing (not even the CSRF token) carries over from before it.
    lang = request.session.get("lang")
    request.session.clear()
    request.session["user_id"] = user.id
    if lang:
        request.session["lang"] = lang


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return redirect("/")
