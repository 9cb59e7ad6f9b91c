"""Accounts over the REST API: sign-up and bearer tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from kameng.accounts.services import authenticate, sign_up
from kameng.platform.errors import ErrorCode
from kameng.platform.inputs import DisplayName, Identifier, Password
from kameng.web.auth import Unauthorized, issue_token
from kameng.web.deps import ContainerDep
from kameng.web.errors import ERROR_RESPONSE
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
def create_token(body: TokenRequest, container: ContainerDep) -> TokenOut:
    """Exchange a phone number or e-mail and password for a signed token, valid for 24 hours."""
    user = authenticate(container.uow(), body.identifier, body.password)
    if user is None:
        raise Unauthorized(ErrorCode.BAD_CREDENTIALS, "error.bad_credentials", "identifier")
    token, expires_at = issue_token(container, user.id)
    return TokenOut(token=token, expires_at=expires_at)


@router.post(
    "/auth/signup",
    tags=["auth"],
    summary="Sign up as a consumer",
    status_code=status.HTTP_201_CREATED,
    responses={409: ERROR_RESPONSE, 422: ERROR_RESPONSE, 429: ERROR_RESPONSE},
    dependencies=[limited("sign_up")],
)
def create_account(body: SignupRequest, container: ContainerDep) -> SignupOut:
    """A new consumer account (phone number or e-mail, password of 8+ characters), with a token."""
    user = sign_up(container.uow(), body.identifier, body.password, container.now(), display_name=body.display_name)
    token, expires_at = issue_token(container, user.id)
    return SignupOut(user_id=user.id, role=user.role.value, token=token, expires_at=expires_at)
