"""What every request handler needs, as typed dependencies: the container, the viewer, CSRF.

The container is built once per app by the composition root and kept on ``app.state``; nothing
is built at import time. Tests replace ``container.clock`` to move time.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, Response
from pydantic import BaseModel

from kameng.accounts import sessions
from kameng.accounts.models import User
from kameng.accounts.sessions import SessionKind
from kameng.container import Container
from kameng.domain.users import Role
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.i18n import Lang, pick_lang


async def get_container(request: Request) -> Container:
    # async: FastAPI runs a plain ``def`` dependency on a worker thread, a hop per request for
    # an attribute read.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def json_answer(model: BaseModel, status_code: int) -> Response:
    """``model`` as the JSON answer, ready to send. A route that returns a model has FastAPI
    validate it again against the response model and encode it in two passes; a hot route that
    builds its model from its own typed fields returns it this way instead (and names its
    ``response_model`` in the decorator, so the OpenAPI document is unchanged)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def request_lang(request: Request) -> Lang:
    return pick_lang(request.query_params.get("lang") or request.cookies.get("lang"))


LangDep = Annotated[Lang, Depends(request_lang)]

# Required on every API call that creates something: a retry with the same key gets the first
# answer, never a second order or ticket.
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=inputs.IDEMPOTENCY_KEY.max_length,
        description="Any unique string per operation; a retry with the same key returns the first result",
    ),
    inputs.text_validator(inputs.IDEMPOTENCY_KEY),
]


# The session cookie (signed by SessionMiddleware) holds the server-side session's secret under
# this key, beside the CSRF token, the language and draft tokens; who is signed in is known only
# from the ``auth_sessions`` row, so ending the row signs the cookie out at once.
SESSION_SECRET = "sid"
_UNRESOLVED = object()


def page_session(request: Request, container: ContainerDep) -> sessions.Resolved | None:
    """The live server-side session of this browser, or None. Looked up once per request."""
    cached: sessions.Resolved | object | None = getattr(request.state, "resolved_session", _UNRESOLVED)
    if cached is None or isinstance(cached, sessions.Resolved):
        return cached
    secret = request.session.get(SESSION_SECRET)
    resolved = (
        sessions.resolve(container.engine, SessionKind.PAGE, secret, datetime.now(UTC))
        if isinstance(secret, str)
        else None
    )
    request.state.resolved_session = resolved
    return resolved


def session_user(request: Request, container: ContainerDep) -> User | None:
    """The signed-in user from the server-side session the cookie names, or None."""
    resolved = page_session(request, container)
    return resolved.user if resolved is not None else None


OptionalUser = Annotated[User | None, Depends(session_user)]


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (the proxy's, unless proxy headers are trusted)."""
    return request.client.host if request.client is not None else ""


def viewer_of(user: User) -> Viewer:
    return Viewer(user.id, user.role)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; forms carry it in a hidden field."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


class CsrfRejected(Exception):
    """A page's form came back without the session's token: the session expired (its cookie is
    gone), or the person signed out and in again elsewhere. Answered by ``web/errors.py``, which
    keeps the form's ``keep`` fields as a draft and sends the person to sign in (or straight back
    to ``back``, the form's page, a path pattern filled from the request's path parameters)."""

    def __init__(self, keep: tuple[str, ...] = (), back: str | None = None) -> None:
        super().__init__("CSRF token missing or wrong")
        self.keep, self.back = keep, back


async def _verify_csrf(request: Request, keep: tuple[str, ...] = (), back: str | None = None) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise CsrfRejected(keep, back)


async def check_csrf(request: Request) -> None:
    """Every state-changing page request must echo the session's token (form field or header)."""
    await _verify_csrf(request)


CsrfChecked = Depends(check_csrf)


def csrf_keeping(*keep: str, back: str) -> Any:
    """``CsrfChecked`` for a form whose text is worth keeping: if the token is refused, the fields
    named in ``keep`` (never a password or card data) are kept and the person comes back to
    ``back`` (e.g. ``"/tickets/{ticket_no}"``) with them filled in."""

    async def check_csrf_keeping(request: Request) -> None:
        await _verify_csrf(request, keep, back)

    return Depends(check_csrf_keeping)


def require_staff(user: OptionalUser) -> User:
    if user is None or user.role is Role.CONSUMER:
        raise HTTPException(status_code=404)
    return user


def require_operator(user: OptionalUser) -> User:
    """The operator's console is for operators only; anyone else finds nothing there (404)."""
    if user is None or user.role is not Role.OPERATOR:
        raise HTTPException(status_code=404)
    return user
