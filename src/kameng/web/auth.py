"""API authentication: bearer tokens issued at sign-in, and the ``CurrentUser`` dependency."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature as BadTokenSignature
from itsdangerous import SignatureExpired, URLSafeTimedSerializer

from kameng.accounts.models import User
from kameng.accounts.services import get_user
from kameng.container import Container
from kameng.platform.errors import ErrorCode, ServiceError
from kameng.web.deps import ContainerDep

TOKEN_SALT = "kameng-api-token"
TOKEN_TTL_SECONDS = 24 * 3600


# --------------------------------------------------------------------------------------------
# Errors


class Unauthorized(ServiceError):
    status = 401


def _unauthorized(key: str) -> Unauthorized:
    return Unauthorized(ErrorCode.UNAUTHORIZED, key, "Authorization")


# --------------------------------------------------------------------------------------------
# Tokens and the current user


def _serializer(container: Container) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(container.settings.secret_key.get_secret_value(), salt=TOKEN_SALT)


def issue_token(container: Container, user_id: int) -> tuple[str, datetime]:
    # itsdangerous stamps and checks tokens against the wall clock, so expires_at is told on that
    # clock too (not container.now(), which tests move).
    token = _serializer(container).dumps({"uid": user_id})
    return token, datetime.fromtimestamp(int(time.time()) + TOKEN_TTL_SECONDS, UTC)


bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def current_user(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The signed-in user from the bearer token, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("error.unauthorized")
    try:
        data = _serializer(container).loads(credentials.credentials, max_age=TOKEN_TTL_SECONDS)
    except SignatureExpired:
        raise _unauthorized("error.unauthorized.expired") from None
    except BadTokenSignature:
        raise _unauthorized("error.unauthorized.invalid") from None
    user_id = data.get("uid") if isinstance(data, dict) else None
    user = get_user(container.uow(), user_id) if isinstance(user_id, int) else None
    if user is None:
        raise _unauthorized("error.unauthorized.no_account")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
