"""The users table: consumers and staff, with their role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    String,
)
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
