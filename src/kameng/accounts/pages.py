"""Sign-up, sign-in and sign-out pages; the session cookie names the user."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts import services as accounts
from kameng.accounts import sessions
from kameng.accounts.models import User
from kameng.accounts.sessions import SessionKind
from kameng.platform import inputs
from kameng.platform.errors import Conflict, InvalidInput
from kameng.platform.i18n import translate
from kameng.web.auth import wall_now
from kameng.web.deps import (
    SESSION_SECRET,
    ContainerDep,
    CsrfChecked,
    OptionalUser,
    client_address,
    page_session,
    request_lang,
    viewer_of,
)
from kameng.web.drafts import DRAFTS, note
from kameng.web.forms import field_error, form_text, form_typed, redirect, safe_next, to_login
from kameng.web.params import IdPath, LocalPathQuery
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
    _start_session(request, container, created)
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
    _start_session(request, container, found)
    return redirect(next_url or home_of(found))


def _start_session(request: Request, container: ContainerDep, user: User) -> None:
    # A fresh session on sign-in: nothing (not even the CSRF token) carries over from before it,
    # except the language and the tokens of drafts kept when the old session expired (web/drafts.py),
    # so that signing in again brings the person back to their form with its text. The cookie
    # holds the new server-side session's secret, never the user's id.
    carried = {key: request.session[key] for key in ("lang", DRAFTS) if request.session.get(key)}
    _end_current(request, container)
    started = sessions.start(
        container.uow(),
        user.id,
        SessionKind.PAGE,
        wall_now(),
        request.headers.get("user-agent", ""),
        client_address(request),
    )
    request.session.clear()
    request.session[SESSION_SECRET] = started.secret
    request.session.update(carried)


def _end_current(request: Request, container: ContainerDep) -> None:
    secret = request.session.get(SESSION_SECRET)
    if isinstance(secret, str):
        sessions.end_by_secret(container.uow(), SessionKind.PAGE, secret, wall_now())


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, container: ContainerDep) -> Response:
    _end_current(request, container)
    request.session.clear()
    return redirect("/")


# --------------------------------------------------------------------------------------------
# My sessions and my password


def _sessions_page(
    request: Request, container: ContainerDep, user: User, status: int = 200, **extra: object
) -> Response:
    current = page_session(request, container)
    rows = sessions.live_sessions(container.uow(), viewer_of(user), wall_now())
    context = {
        "sessions": rows,
        "current_id": current.session_id if current else None,
        "values": {},
        "errors": {},
        **extra,
    }
    return render(request, "accounts/sessions.html", context, status=status, user=user)


@router.get("/account/sessions", response_class=HTMLResponse)
def my_sessions(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    """Where the person is signed in (pages and API tokens), each with a button to end it."""
    if user is None:
        return to_login(request)
    return _sessions_page(request, container, user)


@router.post("/account/sessions/{session_id}/end", dependencies=[CsrfChecked])
def end_session(session_id: IdPath, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    sessions.end_own(container.uow(), viewer_of(user), session_id, wall_now())
    current = page_session(request, container)
    if current is not None and current.session_id == session_id:
        request.session.clear()
        return redirect("/")
    note(request, "integrations.notice.session_ended")
    return redirect("/account/sessions")


@router.post("/account/sessions/end-others", dependencies=[CsrfChecked])
def end_other_sessions(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    current = page_session(request, container)
    sessions.end_others(container.uow(), viewer_of(user), current.session_id if current else None, wall_now())
    note(request, "integrations.notice.others_ended")
    return redirect("/account/sessions")


@router.post("/account/password", dependencies=[CsrfChecked])
async def change_password(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    """A new password; every other session and API token of the person ends at once."""
    if user is None:
        return to_login(request)
    form = await request.form()
    current = page_session(request, container)
    try:
        accounts.change_password(
            container.uow(),
            user.id,
            form_text(form, "current_password", inputs.PASSWORD),
            form_text(form, "new_password", inputs.PASSWORD),
            wall_now(),
            keep_session=current.session_id if current else None,
        )
    except InvalidInput as error:
        errors = field_error(error, request_lang(request))
        return _sessions_page(request, container, user, status=error.status, errors=errors)
    note(request, "integrations.notice.password_changed")
    return redirect("/account/sessions")
