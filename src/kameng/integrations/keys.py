"""API keys: made, listed and revoked by an operator; checked on every request that carries one.

A key is ``km_live_`` and 43 random URL-safe characters (256 bits): a plain SHA-256 of it is
enough to store (nothing to brute-force, unlike a password). A key acts for the operator who made
it, within its scopes; a revoked key, or one whose maker was disabled, opens nothing from the next
request on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.accounts.sessions import secret_hash
from kameng.domain.users import Role
from kameng.integrations.models import ApiKey
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, not_found

KEY_PREFIX = "km_live_"
VISIBLE = len(KEY_PREFIX) + 6  # what the list shows of a key
KEY_NAME = inputs.TextRule(60, min_length=1)
# "last used" is written at most this often.
TOUCH_SECONDS = 60


class Scope(StrEnum):
    """What a key may do. Stored by value in the key's row."""

    ORDERS_READ = "orders:read"
    REFUNDS_READ = "refunds:read"
    REFUNDS_WRITE = "refunds:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


def parse_scopes(values: Iterable[str], field: str = "scopes") -> list[Scope]:
    chosen: list[Scope] = []
    for value in values:
        try:
            scope = Scope(value)
        except ValueError:
            raise InvalidInput(ErrorCode.BAD_SCOPE, "error.integrations_bad_scope", field) from None
        if scope not in chosen:
            chosen.append(scope)
    if not chosen:
        raise InvalidInput(ErrorCode.REQUIRED, "error.integrations_scope_required", field)
    return sorted(chosen)


def _require_operator(viewer: Viewer) -> None:
    if viewer.role is not Role.OPERATOR:
        raise not_found("integrations_api_key")


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once, to the operator who made it


def create_key(uow: UnitOfWork, operator: Viewer, name: str, scopes: Iterable[str], now: datetime) -> NewKey:
    _require_operator(operator)
    name = inputs.clean_text(name, KEY_NAME, "name")
    chosen = parse_scopes(scopes)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with uow:
        key = ApiKey(
            name=name,
            prefix=secret[:VISIBLE],
            secret_hash=secret_hash(secret),
            scopes=[scope.value for scope in chosen],
            created_by=operator.user_id,
            created_at=now,
        )
        uow.session.add(key)
        uow.commit()
        return NewKey(key, secret)


def list_keys(uow: UnitOfWork, operator: Viewer) -> list[ApiKey]:
    _require_operator(operator)
    with uow:
        return list(uow.session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())))


def revoke_key(uow: UnitOfWork, operator: Viewer, key_id: int, now: datetime) -> ApiKey:
    """Revoke a key; revoking it again changes nothing (the first time is kept)."""
    _require_operator(operator)
    with uow:
        key = uow.session.get(ApiKey, key_id, with_for_update=True)
        if key is None:
            raise not_found("integrations_api_key")
        if key.revoked_at is None:
            key.revoked_at = now
        uow.commit()
        return key


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a key speaks for, and what it may do."""

    key_id: int
    viewer: Viewer
    scopes: frozenset[Scope]


def looks_like_key(secret: str) -> bool:
    return secret.startswith(KEY_PREFIX)


def resolve_key(uow: UnitOfWork, secret: str, at: datetime) -> KeyHolder | None:
    """The holder of a live key, or None (unknown, revoked, or its maker disabled)."""
    if not looks_like_key(secret) or len(secret) > 200:
        return None
    with uow:
        found = uow.session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.created_by)
            .where(ApiKey.secret_hash == secret_hash(secret))
        ).one_or_none()
        if found is None:
            return None
        key, maker = found
        if key.revoked_at is not None or maker.disabled_at is not None or maker.role is not Role.OPERATOR:
            return None
        if key.last_used_at is None or (at - key.last_used_at).total_seconds() >= TOUCH_SECONDS:
            key.last_used_at = at
            uow.commit()
        known = {scope.value for scope in Scope}
        scopes = frozenset(Scope(value) for value in key.scopes if value in known)
        return KeyHolder(key.id, Viewer(maker.id, maker.role), scopes)
