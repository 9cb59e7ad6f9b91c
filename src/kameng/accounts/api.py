"""Accounts over the REST API: sign-up and bearer tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from kameng.accounts import sessions
from kameng.accounts.services import authenticate, change_password, disable_user, sign_up
from kameng.platform.errors import ErrorCode, Unauthorized
from kameng.platform.inputs import DisplayName, Identifier, Password
from kameng.web.auth import CurrentSession, CurrentUser, issue_token, wall_now
from kameng.web.deps import ContainerDep, viewer_of
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import IdPath
from kameng.web.rate_limits import limited

router = APIRouter(prefix="/api/v1")


class TokenRequest(BaseModel):
    identifier: Identifier = Field(examples=["13800000001"])
    password: Password = Field(examples=["kameng-demo-2026"])


class SignupRequest(TokenRequest):
    display_name: DisplayName = Field(default="", description="Shown in the page header; at most 30 characters")


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


class SignupOut(TokenOut):
    user_id: int
    role: str


# --------------------------------------------------------------------------------------------
# Auth


@router.post(
    "/auth/token",
    tags=["auth"],
    summary="Get a bearer token",
    responses={401: ERROR_RESPONSE, 429: ERROR_RESPONSE},
    dependencies=[limited("token", by_identifier=True)],
)
def create_token(body: TokenRequest, request: Request, container: ContainerDep) -> TokenOut:
    """Exchange a phone number or e-mail and password for a token, valid for 24 hours unless
    revoked (sign-out, a password change, or ended from the sessions list)."""
    user = authenticate(container.uow(), body.identifier, body.password)
    if user is None:
        raise Unauthorized(ErrorCode.BAD_CREDENTIALS, "error.bad_credentials", "identifier")
    token, expires_at = issue_token(container, user.id, request)
    return TokenOut(token=token, expires_at=expires_at)


@router.post(
    "/auth/signup",
    tags=["auth"],
    summary="Sign up as a consumer",
    status_code=status.HTTP_201_CREATED,
    responses={409: ERROR_RESPONSE, 422: ERROR_RESPONSE, 429: ERROR_RESPONSE},
    dependencies=[limited("sign_up")],
)
def create_account(body: SignupRequest, request: Request, container: ContainerDep) -> SignupOut:
    """A new consumer account (phone number or e-mail, password of 8+ characters), with a token."""
    user = sign_up(container.uow(), body.identifier, body.password, container.now(), display_name=body.display_name)
    token, expires_at = issue_token(container, user.id, request)
    return SignupOut(user_id=user.id, role=user.role.value, token=token, expires_at=expires_at)


class PasswordChange(BaseModel):
    current_password: Password
    new_password: Password = Field(description="At least 8 characters")


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(description="Sessions and tokens ended elsewhere (this token stays valid)")


class SessionOut(BaseModel):
    id: int
    kind: str = Field(description="page (a browser) or api (a token)")
    user_agent: str
    address: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool


class DisabledOut(BaseModel):
    user_id: int
    disabled_at: datetime


@router.post(
    "/auth/logout",
    tags=["auth"],
    summary="Revoke this token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: ERROR_RESPONSE},
)
def revoke_token(session: CurrentSession, container: ContainerDep) -> Response:
    """Sign out: this token answers 401 from now on; the person's other sessions go on."""
    sessions.end_own(container.uow(), viewer_of(session.user), session.session_id, wall_now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/password",
    tags=["auth"],
    summary="Change my password (ends every other session and token)",
    responses={401: ERROR_RESPONSE, 422: ERROR_RESPONSE},
)
def change_my_password(body: PasswordChange, session: CurrentSession, container: ContainerDep) -> PasswordChanged:
    ended = change_password(
        container.uow(),
        session.user.id,
        body.current_password,
        body.new_password,
        wall_now(),
        keep_session=session.session_id,
    )
    return PasswordChanged(sessions_ended=ended)


@router.get("/auth/sessions", tags=["auth"], summary="Where I am signed in", responses={401: ERROR_RESPONSE})
def list_my_sessions(session: CurrentSession, container: ContainerDep) -> list[SessionOut]:
    rows = sessions.live_sessions(container.uow(), viewer_of(session.user), wall_now())
    return [
        SessionOut(
            id=row.id,
            kind=row.kind,
            user_agent=row.user_agent,
            address=row.address,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            current=row.id == session.session_id,
        )
        for row in rows
    ]


@router.delete(
    "/auth/sessions/{session_id}",
    tags=["auth"],
    summary="End one of my sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: ERROR_RESPONSE, 404: ERROR_RESPONSE},
)
def end_my_session(session_id: IdPath, session: CurrentSession, container: ContainerDep) -> Response:
    sessions.end_own(container.uow(), viewer_of(session.user), session_id, wall_now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/staff/users/{user_id}/disable",
    tags=["staff"],
    summary="Disable an account (operators): every session and token of it ends at once",
    responses={401: ERROR_RESPONSE, 404: ERROR_RESPONSE, 409: ERROR_RESPONSE},
)
def disable_account(user_id: IdPath, user: CurrentUser, container: ContainerDep) -> DisabledOut:
    disabled = disable_user(container.uow(), viewer_of(user), user_id, wall_now())
    assert disabled.disabled_at is not None
    return DisabledOut(user_id=disabled.id, disabled_at=disabled.disabled_at)
