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
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, Select, bindparam, inspect, select, true, update
from sqlalchemy.orm import InstrumentedAttribute

from kameng.accounts.models import AuthSession, User
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import not_found, unauthorized

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
    touched: bool = False  # "last seen" written by this look-up, not yet committed


# Only what the check needs of the session row, and the user's row: one narrow Core query, no ORM
# objects loaded into a session and no unit of work around it.
_USER_FIELDS = tuple((prop.key, prop.columns[0]) for prop in inspect(User).column_attrs)
_LOOKUP = (
    select(
        AuthSession.id.label("session_id"),
        AuthSession.ended_at,
        AuthSession.expires_at,
        AuthSession.last_seen_at,
        *(column.label(f"user_{key}") for key, column in _USER_FIELDS),
    )
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.secret_hash == bindparam("secret_hash"), AuthSession.kind == bindparam("kind"))
)


def resolve(engine: Engine, kind: SessionKind, secret: str, at: datetime) -> Resolved | None:
    """The user a live session's secret signs in, or None (unknown, ended, expired, disabled).

    Every request asks, so this is one Core query on a pooled connection: no ORM session, no
    objects in an identity map. Its transaction ends in a commit, whether it wrote "last seen" or
    only read: a rollback would make psycopg forget the connection's prepared statements, and a
    commit of a transaction that only read writes nothing (platform/db/reads.py).
    Nothing is cached: an ended row refuses the very next request."""
    with engine.connect() as connection:
        found = resolve_on(connection, kind, secret, at)
        connection.commit()
        return found


def resolve_on(connection: Connection, kind: SessionKind, secret: str, at: datetime) -> Resolved | None:
    """:func:`resolve` inside the caller's transaction on ``connection``, which the caller ends
    (a hot write route's request step commits it with its own rows: one transaction per request,
    and no rollback that would make psycopg forget the connection's prepared statements). A
    "last seen" written here is written with the caller's commit, or not at all; the next request
    then writes it."""
    if not secret or len(secret) > MOST_SECRET_CHARS:
        return None
    found = connection.execute(_LOOKUP, {"secret_hash": secret_hash(secret), "kind": kind.value}).first()
    if found is None:
        return None
    row = found._mapping
    if not _live(row["ended_at"], row["expires_at"], row["user_disabled_at"], at):
        return None
    touched = _touch_if_due(connection, row["session_id"], row["last_seen_at"], at)
    # A detached User as before (the callers read its fields; none saves it).
    user = User(**{key: row[f"user_{key}"] for key, _ in _USER_FIELDS})
    return Resolved(user, row["session_id"], touched)


# A secret longer than this is no secret of ours: refused without a look-up.
MOST_SECRET_CHARS = 200


def _live(ended_at: datetime | None, expires_at: datetime, disabled_at: datetime | None, at: datetime) -> bool:
    return ended_at is None and expires_at > at and disabled_at is None


def _touch_if_due(connection: Connection, session_id: int, last_seen_at: datetime, at: datetime) -> bool:
    if at - last_seen_at < TOUCH_EVERY:
        return False
    connection.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=at))
    return True


@dataclass(frozen=True, slots=True)
class BearerSignIn:
    """A bearer secret not looked up yet. A hot write step joins the look-up to its first
    statement (:func:`signed_in_on`) instead of running it alone: a statement fewer per request,
    each of which cost the step more than its query. Nothing is cached either way."""

    kind: SessionKind
    secret: str
    at: datetime

    def parameters(self) -> dict[str, str]:
        """The joined look-up's bound parameters."""
        return {"secret_hash": secret_hash(self.secret), "kind": self.kind.value}


# The session a bearer secret names and its user, one row at most (the hash is unique). The limit
# keeps the planner from folding this into the statement it is joined to: folded, it reached the
# session through the owner's index and read each of the owner's sessions.
_SIGNER = (
    select(
        AuthSession.user_id.label("signer_user_id"),
        AuthSession.id.label("signer_session_id"),
        AuthSession.ended_at.label("signer_ended_at"),
        AuthSession.expires_at.label("signer_expires_at"),
        AuthSession.last_seen_at.label("signer_last_seen_at"),
        User.role.label("signer_role"),
        User.disabled_at.label("signer_disabled_at"),
    )
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.secret_hash == bindparam("secret_hash"), AuthSession.kind == bindparam("kind"))
    .limit(1)
    .subquery("signer")
)


def signed_in_on(
    statement: Select[*tuple[Any, ...]], owner: ColumnElement[int] | InstrumentedAttribute[int]
) -> Select[Any]:
    """``statement`` joined to the session its :class:`BearerSignIn`'s secret names, and to that
    session's user, on ``owner`` (the row's owner column): only rows of the secret's holder come
    back, each with what :func:`signed_in` reads."""
    return statement.join(_SIGNER, _SIGNER.c.signer_user_id == owner).add_columns(*_SIGNER.c)


# The signer's user id, for the parts of a statement joined by :func:`signed_in_beside`.
SIGNER_USER_ID = _SIGNER.c.signer_user_id


def signed_in_beside(statement: Select[*tuple[Any, ...]]) -> Select[Any]:
    """``statement`` with the session its :class:`BearerSignIn`'s secret names, and that session's
    user, beside each of its rows, for rows that are nobody's own (a product for sale): nothing
    joins them, and the statement's other parts name the signer's user as :data:`SIGNER_USER_ID`.
    No row comes back when the secret names no session; each row carries what :func:`signed_in`
    reads."""
    return statement.join(_SIGNER, true()).add_columns(*_SIGNER.c)


def signed_in(connection: Connection, row: Row[Any] | None, sign_in: BearerSignIn) -> Viewer:
    """Who ``sign_in`` signs in, as :func:`resolve_on` answers it, or 401. Read from ``row`` when
    the statement joined to the secret's look-up (:func:`signed_in_on`, :func:`signed_in_beside`)
    found one; looked up alone when it found none, which says nothing of the secret (no row of its
    holder, or no holder). "Last seen" is written when due, with the caller's commit."""
    if row is None:
        resolved = resolve_on(connection, sign_in.kind, sign_in.secret, sign_in.at)
        if resolved is None:
            raise unauthorized()
        return Viewer(resolved.user.id, resolved.user.role)
    if not _live(row.signer_ended_at, row.signer_expires_at, row.signer_disabled_at, sign_in.at):
        raise unauthorized()
    _touch_if_due(connection, row.signer_session_id, row.signer_last_seen_at, sign_in.at)
    return Viewer(row.signer_user_id, row.signer_role)


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
