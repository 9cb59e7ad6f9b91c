"""Server-side sessions and revocable API tokens: one table, ``auth_sessions``.

A page session's cookie and an API token both carry only a random secret; the row keeps its
SHA-256. Every request looks the row up, so ending a row (sign-out, a password change, an operator
disabling the account, "end this session" on the sessions page) refuses the very next request.

Lifetimes run on the wall clock, like a browser's cookie expiry (the container's clock is the
business clock that tests move through days of refund deadlines; a session must not lapse then).
The callers pass that time in as ``at``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update

from kameng.accounts.models import AuthSession, User
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import not_found

PAGE_LIFETIME = timedelta(days=14)
TOKEN_LIFETIME = timedelta(hours=24)
# "Last seen" is written at most this often: a page view must not cost a write each time.
TOUCH_EVERY = timedelta(minutes=1)
TOKEN_PREFIX = "km_tok_"


class SessionKind(StrEnum):
    PAGE = "page"
    API = "api"


class EndReason(StrEnum):
    SIGNED_OUT = "signed_out"
    ENDED_BY_USER = "ended_by_user"
    PASSWORD_CHANGED = "password_changed"
    ACCOUNT_DISABLED = "account_disabled"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _printable(text: str | None, limit: int) -> str:
    # What a browser says about itself is shown on a page: no control characters, bounded.
    return "".join(ch for ch in (text or "") if ch.isprintable())[:limit]


@dataclass(frozen=True, slots=True)
class Started:
    secret: str
    session_id: int
    expires_at: datetime


def start(
    uow: UnitOfWork,
    user_id: int,
    kind: SessionKind,
    at: datetime,
    user_agent: str | None = "",
    address: str | None = "",
) -> Started:
    """A new session (or token) for ``user_id``; the secret is returned once and never stored."""
    secret = (TOKEN_PREFIX if kind is SessionKind.API else "") + secrets.token_urlsafe(32)
    lifetime = TOKEN_LIFETIME if kind is SessionKind.API else PAGE_LIFETIME
    with uow:
        row = AuthSession(
            user_id=user_id,
            kind=kind.value,
            secret_hash=secret_hash(secret),
            user_agent=_printable(user_agent, 200),
            address=_printable(address, 64),
            created_at=at,
            last_seen_at=at,
            expires_at=at + lifetime,
        )
        uow.session.add(row)
        uow.session.flush()
        started = Started(secret, row.id, row.expires_at)
        uow.commit()
        return started


@dataclass(frozen=True, slots=True)
class Resolved:
    user: User
    session_id: int


def resolve(uow: UnitOfWork, kind: SessionKind, secret: str, at: datetime) -> Resolved | None:
    """The user a live session's secret signs in, or None (unknown, ended, expired, disabled)."""
    if not secret or len(secret) > 200:
        return None
    with uow:
        found = uow.session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.secret_hash == secret_hash(secret), AuthSession.kind == kind.value)
        ).one_or_none()
        if found is None:
            return None
        row, user = found
        if row.ended_at is not None or row.expires_at <= at or user.disabled_at is not None:
            return None
        if at - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = at
            uow.commit()
        return Resolved(user, row.id)


def owner_of(uow: UnitOfWork, kind: SessionKind, secret: str) -> int | None:
    """Whose session this was, live or not: a form typed before the session ended is still theirs."""
    with uow:
        return uow.session.scalar(
            select(AuthSession.user_id).where(
                AuthSession.secret_hash == secret_hash(secret), AuthSession.kind == kind.value
            )
        )


def end_by_secret(uow: UnitOfWork, kind: SessionKind, secret: str, at: datetime) -> None:
    """Sign-out: this session (or token) ends; the person's others go on."""
    with uow:
        uow.session.execute(
            update(AuthSession)
            .where(
                AuthSession.secret_hash == secret_hash(secret),
                AuthSession.kind == kind.value,
                AuthSession.ended_at.is_(None),
            )
            .values(ended_at=at, end_reason=EndReason.SIGNED_OUT.value)
        )
        uow.commit()


def end_all(uow: UnitOfWork, user_id: int, at: datetime, reason: EndReason, keep: int | None = None) -> int:
    """End every live session and token of ``user_id`` (but ``keep``), in the caller's transaction.
    Returns how many ended."""
    query = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=at, end_reason=reason.value)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    result = uow.session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


def end_own(uow: UnitOfWork, viewer: Viewer, session_id: int, at: datetime) -> None:
    """End one of the viewer's own sessions; another person's is "not found"."""
    with uow:
        row = uow.session.get(AuthSession, session_id)
        if row is None or row.user_id != viewer.user_id:
            raise not_found("integrations_session")
        if row.ended_at is None:
            row.ended_at = at
            row.end_reason = EndReason.ENDED_BY_USER.value
        uow.commit()


def end_others(uow: UnitOfWork, viewer: Viewer, current_id: int | None, at: datetime) -> int:
    with uow:
        ended = end_all(uow, viewer.user_id, at, EndReason.ENDED_BY_USER, keep=current_id)
        uow.commit()
        return ended


def live_sessions(uow: UnitOfWork, viewer: Viewer, at: datetime) -> list[AuthSession]:
    """The viewer's live sessions and tokens, the most recently seen first."""
    with uow:
        return list(
            uow.session.scalars(
                select(AuthSession)
                .where(
                    AuthSession.user_id == viewer.user_id,
                    AuthSession.ended_at.is_(None),
                    AuthSession.expires_at > at,
                )
                .order_by(AuthSession.last_seen_at.desc(), AuthSession.id.desc())
            )
        )
