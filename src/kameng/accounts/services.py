"""Sign-up and sign-in. Passwords are hashed with argon2; identifiers are phone or e-mail."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.accounts.sessions import EndReason, end_all
from kameng.domain.users import Role
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.platform.ledger_models import BalanceRow

PHONE = re.compile(r"^1[3-9]\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()


def normalise_identifier(identifier: str) -> tuple[str | None, str | None]:
    """``(phone, email)`` from what a person typed; exactly one is set."""
    identifier = inputs.clean_text(identifier, inputs.IDENTIFIER, "identifier")
    text = identifier.replace(" ", "").replace("-", "")
    if text.startswith("+86"):
        text = text[3:]
    if PHONE.match(text):
        return text, None
    email = identifier.lower()
    if EMAIL.match(email):
        return None, email
    raise InvalidInput(ErrorCode.BAD_IDENTIFIER, "error.bad_identifier", "identifier")


def sign_up(
    uow: UnitOfWork,
    identifier: str,
    password: str,
    now: datetime,
    display_name: str = "",
    role: Role = Role.CONSUMER,
) -> User:
    phone, email = normalise_identifier(identifier)
    display_name = inputs.clean_text(display_name, inputs.DISPLAY_NAME, "display_name")
    password = _new_password(password, "password")
    with uow:
        session = uow.session
        condition = User.phone == phone if phone else User.email == email
        taken = session.scalar(select(User.id).where(condition))
        if taken is not None:
            raise Conflict(ErrorCode.IDENTIFIER_TAKEN, "error.identifier_taken", "identifier")
        user = User(
            phone=phone,
            email=email,
            password_hash=hasher().hash(password),
            role=role,
            display_name=display_name,
            created_at=now,
        )
        session.add(user)
        session.flush()
        session.add(BalanceRow(user_id=user.id, cash_fen=0, bonus_fen=0, updated_at=now))
        uow.commit()
        return user


def authenticate(uow: UnitOfWork, identifier: str, password: str) -> User | None:
    """The user when the password matches, else None (the same answer for unknown and wrong)."""
    try:
        phone, email = normalise_identifier(identifier)
    except InvalidInput:
        return None
    with uow:
        condition = User.phone == phone if phone else User.email == email
        user = uow.session.scalar(select(User).where(condition))
        if user is None or user.disabled_at is not None:
            hasher().hash(password)  # spend the same time as a real check: no user enumeration
            return None
        try:
            hasher().verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hasher().hash(password)
            uow.commit()
        return user


def get_user(uow: UnitOfWork, user_id: int) -> User | None:
    with uow:
        return uow.session.get(User, user_id)


def _new_password(password: str, field: str) -> str:
    password = inputs.clean_text(password, inputs.PASSWORD, field)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(ErrorCode.WEAK_PASSWORD, "error.weak_password", field, min_length=MIN_PASSWORD)
    return password


def change_password(
    uow: UnitOfWork, user_id: int, current: str, new: str, at: datetime, keep_session: int | None = None
) -> int:
    """Set a new password after checking the current one, and end every other session and API
    token of the person at once (whoever knew the old password is signed out everywhere).
    ``keep_session`` is the session the change was made from, which stays signed in. Returns how
    many sessions and tokens were ended."""
    current = inputs.clean_text(current, inputs.PASSWORD, "current_password")
    new = _new_password(new, "new_password")
    with uow:
        user = uow.session.get(User, user_id, with_for_update=True)
        if user is None or user.disabled_at is not None:
            raise not_found("integrations_account")
        try:
            hasher().verify(user.password_hash, current)
        except (VerificationError, InvalidHashError):
            raise InvalidInput(ErrorCode.BAD_CREDENTIALS, "error.bad_credentials", "current_password") from None
        user.password_hash = hasher().hash(new)
        ended = end_all(uow, user.id, at, EndReason.PASSWORD_CHANGED, keep=keep_session)
        uow.commit()
        return ended


def disable_user(uow: UnitOfWork, operator: Viewer, user_id: int, at: datetime) -> User:
    """An operator disables an account (a staff member who left): it can no longer sign in, and
    every session and API token it holds ends now. Disabling twice changes nothing more."""
    if operator.role is not Role.OPERATOR:
        raise not_found("integrations_account")
    if operator.user_id == user_id:
        raise Conflict(ErrorCode.SAME_PERSON, "error.integrations_disable_self", "user_id")
    with uow:
        user = uow.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise not_found("integrations_account")
        if user.disabled_at is None:
            user.disabled_at = at
        end_all(uow, user.id, at, EndReason.ACCOUNT_DISABLED)
        uow.commit()
        return user
