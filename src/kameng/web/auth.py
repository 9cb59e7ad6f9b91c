"""API authentication: bearer tokens issued at sign-in (revocable: each names a row of
``auth_sessions``), the integrators' API keys, and the dependencies that read them.

``CurrentUser`` is a person's token. The hot write routes take ``BearerSecret`` instead and look the
token up inside the worker thread and the transaction of their request step: one thread hop and one
transaction per request. On one database the step's first statement looks it up too
(accounts.sessions.BearerSignIn); distributed, :func:`user_in` looks it up alone first.
``scoped(scope)`` admits an API key that holds ``scope``, or an operator's own token (an operator
may do whatever a key they could make may do).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kameng.accounts import sessions
from kameng.accounts.models import User
from kameng.accounts.sessions import SessionKind
from kameng.container import Container
from kameng.domain.users import Role
from kameng.integrations.keys import Scope, looks_like_key, resolve_key
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, Forbidden, unauthorized
from kameng.web.deps import ContainerDep, client_address

# --------------------------------------------------------------------------------------------
# Tokens and the current user


def wall_now() -> datetime:
    """Sessions and tokens expire on the wall clock (see accounts/sessions.py)."""
    return datetime.now(UTC)


def issue_token(container: Container, user_id: int, request: Request | None = None) -> tuple[str, datetime]:
    """A new revocable token for ``user_id``: shown once, only its hash is kept."""
    agent = request.headers.get("user-agent", "") if request is not None else ""
    address = client_address(request) if request is not None else ""
    started = sessions.start(container.uow(), user_id, SessionKind.API, wall_now(), agent, address)
    return started.secret, started.expires_at


bearer = HTTPBearer(
    auto_error=False, description="A token from POST /api/v1/auth/token, or an integrator's API key (km_live_…)"
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _bearer_secret(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized("error.unauthorized")
    return credentials.credentials


def _live_session(container: Container, secret: str) -> sessions.Resolved:
    resolved = sessions.resolve(container.engine, SessionKind.API, secret, wall_now())
    if resolved is None:
        # One answer for unknown, expired and revoked: a stolen token reveals nothing.
        raise unauthorized()
    return resolved


def current_session(container: ContainerDep, credentials: Credentials) -> sessions.Resolved:
    return _live_session(container, _bearer_secret(credentials))


CurrentSession = Annotated[sessions.Resolved, Depends(current_session)]


async def current_user(session: CurrentSession) -> User:
    """The signed-in user from the bearer token, or 401 (async: no worker thread for a field read)."""
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


async def bearer_secret(credentials: Credentials) -> str:
    """The bearer token as sent, not yet looked up (async: read on the event loop); 401 when
    there is none. The route looks it up with :func:`user_in`."""
    return _bearer_secret(credentials)


BearerSecret = Annotated[str, Depends(bearer_secret)]


def user_in(uow: UnitOfWork, secret: str) -> User:
    """The user a :data:`BearerSecret` signs in, or 401: the same look-up as :data:`CurrentUser`
    (nothing cached, a revoked token is refused at once), as the first statement of the
    transaction the caller holds open (``with uow:``) and its request step then commits. Blocking,
    for the worker thread that goes on to run that step: one thread hop, one transaction and one
    connection per request. A transaction of its own ended in a rollback each time, and psycopg
    forgets a connection's prepared statements at every rollback, so each of the request's
    statements was parsed and planned afresh (docs/performance.md)."""
    resolved = sessions.resolve_on(uow.session.connection(), SessionKind.API, secret, wall_now())
    if resolved is None:
        raise unauthorized()
    return resolved.user


def scoped(scope: Scope) -> Any:
    """A dependency giving the :class:`Viewer` an API key with ``scope`` (or an operator's token)
    speaks for: 401 without a live key or token, 403 when it lacks the scope."""

    def viewer_with_scope(container: ContainerDep, credentials: Credentials) -> Viewer:
        secret = _bearer_secret(credentials)
        if looks_like_key(secret):
            holder = resolve_key(container.uow(), secret, wall_now())
            if holder is None:
                raise unauthorized()
            if scope not in holder.scopes:
                raise Forbidden(
                    ErrorCode.MISSING_SCOPE, "error.integrations_missing_scope", "Authorization", scope=scope.value
                )
            return holder.viewer
        resolved = _live_session(container, secret)
        if resolved.user.role is not Role.OPERATOR:
            raise Forbidden(
                ErrorCode.MISSING_SCOPE, "error.integrations_missing_scope", "Authorization", scope=scope.value
            )
        return Viewer(resolved.user.id, resolved.user.role)

    return Depends(viewer_with_scope)
