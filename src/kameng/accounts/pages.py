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
from kameng.web.drafts import DRAFTS
from kameng.web.forms import field_error, form_text, form_typed, redirect, safe_next
from kameng.web.params import LocalPathQuery
from kameng.web.rate_limits import limited
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

# --------------------------------------------------------------------------------------------
# Accounts


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "accounts/signup.html", {"values": {}, "errors": {}}, user=user)


@router.post("/signup", dependencies=[limited("sign_up"), CsrfChecked])
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


def home_of(user: User) -> str:
    """Where a person lands after signing in with nowhere else to go: staff on their home (the
    queue and its deadlines), consumers on their orders."""
    return "/staff" if user.role.is_staff else "/orders"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser, next: LocalPathQuery = "") -> HTMLResponse:
    # No "next" asked for: empty, so that sign-in sends each person to their own home.
    next_url = safe_next(next) if next else ""
    return render(request, "accounts/login.html", {"values": {}, "errors": {}, "next": next_url}, user=user)


@router.post("/login", dependencies=[limited("sign_in", by_identifier=True), CsrfChecked])
async def login(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    asked = form.get("next")
    next_url = safe_next(asked) if asked else ""
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
    return redirect(next_url or home_of(found))


def _start_session(request: Request, user: User) -> None:
    # A fresh session on sign-in: nothing (not even the CSRF token) carries over from before it,
    # except the language and the tokens of drafts kept when the old session expired (web/drafts.py),
    # so that signing in again brings the person back to their form with its text.
    carried = {key: request.session[key] for key in ("lang", DRAFTS) if request.session.get(key)}
    request.session.clear()
    request.session["user_id"] = user.id
    request.session.update(carried)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return redirect("/")
