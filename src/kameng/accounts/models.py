"""The users table (consumers and staff, with their role) and the sessions that sign them in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kameng.domain.users import Role
from kameng.platform.db.base import Base, Id
from kameng.platform.db.types import status_enum


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(status_enum(Role, "user_role"), default=Role.CONSUMER)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    # Set when an operator disables the account (a staff member who left): it signs in no more.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthSession(Base):
    """One signed-in place: a page session (its id in the cookie) or an API token (the bearer).

    Only the SHA-256 of the secret is stored, so a copy of the table signs no one in. A row that
    is ``ended_at`` (sign-out, password change, the account disabled, ended from "my sessions")
    or past ``expires_at`` authenticates nothing: revocation takes effect on the next request.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user", "user_id", "ended_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8))  # "page" or "api"
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(20), default=None)
