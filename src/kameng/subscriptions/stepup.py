"""The step-up check before a cancellation takes effect: a 6-digit code sent by SMS, or the
password. Codes are stored as a keyed hash, valid 5 minutes, at most 5 attempts each, at most one a
minute and 10 a rolling day per phone, compared in constant time; at most 5 wrong passwords a
rolling 15 minutes per account; every limit is answered with
what to do and how long to wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.accounts.services import hasher
from kameng.domain.subscriptions import (
    CODE_DAY,
    CODE_MAX_ATTEMPTS,
    CODE_VALID_FOR,
    PASSWORD_MAX_FAILURES,
    PASSWORD_WINDOW,
    code_matches,
    hash_code,
    is_code_shaped,
    new_code,
    password_wait,
    wait_for_new_code,
)
from kameng.domain.users import mask_phone
from kameng.messages.senders import Outgoing, Sender
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, TooManyRequests, not_found
from kameng.platform.i18n import DEFAULT_LANG, translate
from kameng.subscriptions.models import SmsCodeRow, StepUpFailureRow

CANCEL_AUTO_RENEWAL = "cancel_auto_renewal"


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str  # masked
    expires_at: datetime
    resend_after_seconds: int


def send_code(uow: UnitOfWork, sender: Sender, user_id: int, purpose: str, now: datetime, secret: str) -> CodeSent:
    """Send a new code to the user's phone, if the limits allow. The code's hash is committed
    before the SMS leaves, so a code that arrives can always be checked."""
    with uow:
        # The user's row is the lock: two requests at once cannot both pass the per-minute limit.
        user = uow.session.scalar(select(User).where(User.id == user_id).with_for_update())
        if user is None:
            raise not_found("user")
        if not user.phone:
            raise InvalidInput(ErrorCode.NO_PHONE, "sub.error.no_phone", "code")
        phone = user.phone
        sent = uow.session.scalars(
            select(SmsCodeRow.sent_at).where(SmsCodeRow.phone == phone, SmsCodeRow.sent_at > now - CODE_DAY)
        ).all()
        wait = wait_for_new_code(sent, now)
        if wait is not None and wait.limit == "per_minute":
            raise TooManyRequests(wait.seconds, ErrorCode.CODE_TOO_SOON, "sub.error.code_too_soon", "code")
        if wait is not None:
            hours = -(-wait.seconds // 3600)
            raise TooManyRequests(
                wait.seconds, ErrorCode.CODE_DAILY_LIMIT, "sub.error.code_daily_limit", "code", hours=hours
            )
        code = new_code()
        row = SmsCodeRow(
            user_id=user_id,
            phone=phone,
            purpose=purpose,
            code_hash=hash_code(secret, phone, purpose, code),
            sent_at=now,
            expires_at=now + CODE_VALID_FOR,
            attempts=0,
        )
        uow.session.add(row)
        uow.session.flush()
        key = f"sms_code:{row.id}"
        uow.commit()
    minutes = int(CODE_VALID_FOR.total_seconds() // 60)
    # Sent now, not through the outbox: the person is waiting for it, and the outbox would keep
    # the code itself in a table. A failed send is asked again by the person after a minute.
    sender.send(Outgoing(key, phone, None, translate("sub.sms_code", DEFAULT_LANG, code=code, minutes=minutes)))
    return CodeSent(mask_phone(phone), now + CODE_VALID_FOR, 60)


class StepUpFailed(Exception):
    """The check failed after counting the attempt: the caller commits the count, then raises
    ``error``."""

    def __init__(self, error: InvalidInput | TooManyRequests) -> None:
        super().__init__(str(error))
        self.error = error


def check_code(uow: UnitOfWork, user: User, purpose: str, code: str, now: datetime, secret: str) -> None:
    """Inside the caller's transaction: the latest unused code for ``purpose`` must match. A wrong
    code counts an attempt (raised as :class:`StepUpFailed`, so the caller keeps the count)."""
    code = code.strip()
    if not is_code_shaped(code):
        raise InvalidInput(ErrorCode.CODE_WRONG, "sub.error.code_shape", "code")
    row = uow.session.scalar(
        select(SmsCodeRow)
        .where(SmsCodeRow.user_id == user.id, SmsCodeRow.purpose == purpose, SmsCodeRow.used_at.is_(None))
        .order_by(SmsCodeRow.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.expires_at <= now:
        raise InvalidInput(ErrorCode.CODE_EXPIRED, "sub.error.code_expired", "code")
    if row.attempts >= CODE_MAX_ATTEMPTS:
        raise InvalidInput(ErrorCode.CODE_ATTEMPTS_USED, "sub.error.code_attempts_used", "code")
    row.attempts += 1
    if not code_matches(secret, row.phone, purpose, code, row.code_hash):
        left = CODE_MAX_ATTEMPTS - row.attempts
        if left == 0:
            raise StepUpFailed(InvalidInput(ErrorCode.CODE_ATTEMPTS_USED, "sub.error.code_attempts_used", "code"))
        raise StepUpFailed(InvalidInput(ErrorCode.CODE_WRONG, "sub.error.code_wrong", "code", left=left))
    row.used_at = now


def check_password(uow: UnitOfWork, user: User, purpose: str, password: str, now: datetime) -> None:
    """Inside the caller's transaction: the account's password, at most 5 wrong ones in a rolling
    15 minutes. A wrong one is recorded (raised as :class:`StepUpFailed`, so the caller keeps the
    record); past the limit the answer is 429 with the seconds to wait, before any check."""
    # The user's row is the lock: two guesses at once cannot both slip under the limit.
    uow.session.scalar(select(User.id).where(User.id == user.id).with_for_update())
    failed = uow.session.scalars(
        select(StepUpFailureRow.at).where(
            StepUpFailureRow.user_id == user.id,
            StepUpFailureRow.method == "password",
            StepUpFailureRow.at > now - PASSWORD_WINDOW,
        )
    ).all()
    wait = password_wait(failed, now)
    if wait is not None:
        raise _password_locked(wait)
    try:
        hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        uow.session.add(StepUpFailureRow(user_id=user.id, method="password", purpose=purpose, at=now))
        wait = password_wait([*failed, now], now)
        if wait is not None:
            raise StepUpFailed(_password_locked(wait)) from None
        left = PASSWORD_MAX_FAILURES - len(failed) - 1
        raise StepUpFailed(
            InvalidInput(ErrorCode.STEP_UP_FAILED, "sub.error.password_wrong_left", "password", left=left)
        ) from None


def _password_locked(wait: int) -> TooManyRequests:
    minutes = -(-wait // 60)
    return TooManyRequests(
        wait, ErrorCode.PASSWORD_ATTEMPTS_USED, "sub.error.password_attempts_used", "password", minutes=minutes
    )
