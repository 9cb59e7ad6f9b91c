"""The tables. Money columns are integer fen (``*_fen``); times are aware UTC.

Every consumer-owned table carries ``user_id`` so that a later shard-by-user needs no change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

from kameng.domain.model import EventType
from kameng.platform.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER keys


def owned_by(column: str, parent: str) -> ForeignKeyConstraint:
    """``(column, user_id)`` references ``parent (id, user_id)``: a consumer's row points at the
    consumer's own parent row (a ticket at its order, a timeline row at its ticket), and the
    database refuses one whose consumer differs from the parent's.

    The row's ``user_id`` then needs no key of its own to ``users``: the parent's is checked
    already, so an insert costs one look-up where it cost two (on a real ``users`` table each is
    an index fetch; docs/performance.md). It is also the only shape of foreign key between
    tables distributed by ``user_id`` that Citus enforces (docs/scaling.md). A NULL ``column``
    checks nothing (MATCH SIMPLE): a row whose parent is optional keeps its key to ``users``."""
    return ForeignKeyConstraint([column, "user_id"], [f"{parent}.id", f"{parent}.user_id"])


def parent_key(table: str) -> Index:
    """The unique index on ``(id, user_id)`` that :func:`owned_by` keys refer to (a unique index,
    not a constraint, is enough for both PostgreSQL and SQLite, and SQLite adds it without
    rebuilding the table)."""
    return Index(f"uq_{table}_id_user", "id", "user_id", unique=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


__all__ = ["Base", "EventType", "owned_by", "parent_key"]
